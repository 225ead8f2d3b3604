//! The SIEM formats (CEF, LEEF, EVE) say what the JSON rows say: every
//! bundled capture written in each format is parsed back here, by the
//! format's own rules (escaping, delimiters), and checked line by line,
//! field by field, against the JSON row of the same finding.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn captures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    v.sort();
    assert!(v.len() >= 10, "bundled captures missing: {v:?}");
    v
}

fn run(file: &PathBuf, format: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q", "--format", format])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(4),
        "{file:?} {format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every capture's JSON rows next to its lines in `format`.
fn pairs(format: &str) -> Vec<(Value, String)> {
    let mut all = Vec::new();
    for file in captures() {
        let json = run(&file, "json");
        let other = run(&file, format);
        assert_eq!(json.len(), other.len(), "{file:?}: {format} line count");
        for (j, o) in json.iter().zip(other) {
            all.push((serde_json::from_str(j).unwrap(), o));
        }
    }
    assert!(all.len() >= 20, "too few findings to check: {}", all.len());
    all
}

/// A JSON column as the key=value formats write it.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn high_risk(row: &Value) -> bool {
    matches!(
        row["ScanType"].as_str().unwrap(),
        "Aggressive Port Scan" | "IP Block Sweep"
    )
}

/// The moment a line stands for: DetectedAt, else LastSeen.
fn event_time(row: &Value) -> &str {
    row.get("DetectedAt")
        .unwrap_or(&row["LastSeen"])
        .as_str()
        .unwrap()
}

/// Milliseconds since the epoch, written back as RFC 3339 to the
/// millisecond, to compare with a column's first 23 characters.
fn ms_text(ms: &str) -> String {
    let ms: i64 = ms.parse().unwrap();
    picket::time::rfc3339(ms * 1_000_000, Some(picket::time::Precision::Micro))[..23].to_string()
}

/// CEF: header fields split at unescaped pipes, unescaped.
fn cef_header(line: &str) -> (Vec<String>, &str) {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => cur.push(chars.next().expect("escape at end").1),
            '|' => {
                fields.push(std::mem::take(&mut cur));
                if fields.len() == 7 {
                    return (fields, &line[i + 1..]);
                }
            }
            c => cur.push(c),
        }
    }
    panic!("short CEF header: {line}");
}

/// CEF extension: `key=value` pairs separated by spaces; a value runs to
/// the next space followed by `key=` with an unescaped `=`.
fn cef_extension(ext: &str) -> HashMap<String, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for token in ext.split(' ') {
        let starts_pair = token
            .find('=')
            .filter(|&i| i > 0 && token[..i].chars().all(|c| c.is_ascii_alphanumeric()))
            .filter(|&i| !token[..i].ends_with('\\'));
        match (starts_pair, pairs.last_mut()) {
            (Some(i), _) => pairs.push((token[..i].to_string(), token[i + 1..].to_string())),
            (None, Some((_, v))) => {
                v.push(' ');
                v.push_str(token);
            }
            (None, None) => panic!("extension starts without a key: {ext}"),
        }
    }
    let unescape = |v: &str| {
        let mut out = String::new();
        let mut it = v.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next().expect("escape at end") {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    other => out.push(other),
                }
            } else {
                assert_ne!(c, '=', "unescaped = in a value: {v}");
                out.push(c);
            }
        }
        out
    };
    let mut map = HashMap::new();
    for (k, v) in pairs {
        assert!(map.insert(k.clone(), unescape(&v)).is_none(), "{k} twice");
    }
    map
}

#[test]
fn cef_lines_carry_the_json_rows() {
    let labels = [
        ("cn1", "UniqueDestPorts"),
        ("cn2", "UniqueDestIPs"),
        ("cn3", "AttemptsPerMinute"),
        ("cs2", "PortsTargeted"),
        ("cs3", "Technique"),
        ("cs4", "TimeGenerated"),
    ];
    let mut rules = BTreeMap::new();
    for (row, line) in pairs("cef") {
        let (h, ext) = cef_header(&line);
        assert_eq!(h[0], "CEF:0");
        assert_eq!(
            (h[1].as_str(), h[2].as_str()),
            ("picket", "picket T1595 sensor")
        );
        assert_eq!(h[3], env!("CARGO_PKG_VERSION"));
        assert_eq!(h[4], row["Rule"].as_str().unwrap(), "{line}");
        assert_eq!(h[5], row["ScanType"].as_str().unwrap());
        assert_eq!(h[6], if high_risk(&row) { "8" } else { "5" });
        let x = cef_extension(ext);
        let src = row["SourceIP"].as_str().unwrap();
        let src_key = if src.contains(':') { "c6a2" } else { "src" };
        assert_eq!(x[src_key], src, "{line}");
        match row.get("TotalAttempts") {
            Some(n) => assert_eq!(x["cnt"], plain(n)),
            // A rule that counts observations, not attempts (trw).
            None => assert!(!x.contains_key("cnt"), "{line}"),
        }
        assert_eq!(x["cs1"], plain(&row["Rule"]));
        assert_eq!(x["cs1Label"], "Rule");
        for (key, column) in labels {
            match row.get(column) {
                Some(v) => {
                    assert_eq!(x[key], plain(v), "{key} in {line}");
                    assert_eq!(x[&format!("{key}Label")], column);
                }
                None => assert!(!x.contains_key(key), "{key} in {line}"),
            }
        }
        assert_eq!(
            ms_text(&x["start"]),
            row["FirstSeen"].as_str().unwrap()[..23]
        );
        assert_eq!(ms_text(&x["end"]), row["LastSeen"].as_str().unwrap()[..23]);
        assert_eq!(ms_text(&x["rt"]), event_time(&row)[..23]);
        // When the rule decided, for alerts and for rows that say it.
        match row.get("DetectedAt") {
            Some(t) => {
                assert_eq!(
                    ms_text(&x["deviceCustomDate1"]),
                    t.as_str().unwrap()[..23],
                    "{line}"
                );
                assert_eq!(x["deviceCustomDate1Label"], "DetectedAt");
            }
            None => assert!(!x.contains_key("deviceCustomDate1"), "{line}"),
        }
        let single = row.get("UniqueDestPorts").and_then(Value::as_u64) == Some(1);
        assert_eq!(x.contains_key("dpt"), single, "{line}");
        // Every other column under its own name.
        for (name, v) in row.as_object().unwrap() {
            let known = labels.iter().any(|(_, c)| c == name)
                || [
                    "SourceIP",
                    "ScanType",
                    "DeviceVendor",
                    "DeviceProduct",
                    "FirstSeen",
                    "LastSeen",
                    "DetectedAt",
                    "TotalAttempts",
                    "Rule",
                ]
                .contains(&name.as_str());
            if !known {
                assert_eq!(x[&format!("picket{name}")], plain(v), "{name} in {line}");
            }
        }
        rules.insert(h[4].clone(), ());
    }
    assert!(rules.len() >= 4, "rules seen: {rules:?}");
}

#[test]
fn leef_lines_carry_the_json_rows_and_the_qradar_risk_score() {
    let mut scores = BTreeMap::new();
    for (row, line) in pairs("leef") {
        let parts: Vec<&str> = line.splitn(7, '|').collect();
        assert_eq!(parts.len(), 7, "{line}");
        assert_eq!(
            &parts[..4],
            [
                "LEEF:2.0",
                "picket",
                "picket T1595 sensor",
                env!("CARGO_PKG_VERSION")
            ]
        );
        assert_eq!(parts[4], row["Rule"].as_str().unwrap());
        assert_eq!(parts[5], "x09", "tab, declared in the header");
        let mut attrs = HashMap::new();
        for kv in parts[6].split('\t') {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{kv:?} in {line}"));
            assert!(attrs.insert(k, v).is_none(), "{k} twice");
        }
        let risk = if high_risk(&row) { "8" } else { "4" };
        assert_eq!(attrs["RiskScore"], risk, "{line}");
        assert_eq!(attrs["sev"], risk);
        assert_eq!(attrs["cat"], row["ScanType"].as_str().unwrap());
        assert_eq!(attrs["src"], row["SourceIP"].as_str().unwrap());
        assert_eq!(attrs["devTime"], format!("{}Z", &event_time(&row)[..23]));
        assert_eq!(attrs["devTimeFormat"], "yyyy-MM-dd'T'HH:mm:ss.SSSX");
        for (name, v) in row.as_object().unwrap() {
            if !["SourceIP", "ScanType", "DeviceVendor", "DeviceProduct"].contains(&name.as_str()) {
                assert_eq!(attrs[name.as_str()], plain(v), "{name} in {line}");
            }
        }
        *scores.entry(risk).or_insert(0) += 1;
    }
    assert_eq!(scores.len(), 2, "both risk scores seen: {scores:?}");
}

#[test]
fn eve_alerts_look_like_suricatas_and_carry_the_json_rows() {
    let mut sids: HashMap<String, u64> = HashMap::new();
    for (row, line) in pairs("eve") {
        let e: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(e["event_type"], "alert");
        assert_eq!(e["src_ip"], row["SourceIP"]);
        let ts = e["timestamp"].as_str().unwrap();
        assert!(ts.ends_with("+0000") && ts.len() == 31, "{ts}");
        assert_eq!(ts[..26], event_time(&row)[..26]);
        assert_eq!(e["picket"], row, "the finding's own columns");
        let a = &e["alert"];
        assert_eq!(a["category"], "Detection of a Network Scan");
        assert_eq!(a["severity"], if high_risk(&row) { 1 } else { 2 });
        assert_eq!(a["gid"], 1);
        assert_eq!(a["action"], "allowed");
        assert!(a["signature"]
            .as_str()
            .unwrap()
            .contains(row["ScanType"].as_str().unwrap()));
        assert_eq!(a["metadata"]["mitre_technique_id"][0], row["Technique"]);
        let rule = row["Rule"].as_str().unwrap().to_string();
        let sid = a["signature_id"].as_u64().unwrap();
        assert_eq!(*sids.entry(rule).or_insert(sid), sid, "one number per rule");
        let single = row.get("UniqueDestPorts").and_then(Value::as_u64) == Some(1);
        assert_eq!(e.get("dest_port").is_some(), single, "{line}");
        if single {
            assert_eq!(e["dest_port"], row["PortsTargeted"][0]);
        }
    }
    let mut distinct: Vec<u64> = sids.values().copied().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), sids.len(), "rules share a number: {sids:?}");
    assert!(sids.len() >= 4, "{sids:?}");
}

#[test]
fn findings_name_the_sensor_and_the_input() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps/masscan-sweep.pcap");
    let path = file.to_str().unwrap().to_string();
    let run = |args: &[&str]| -> Vec<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_picket"))
            .args(["replay", "-q"])
            .args(args)
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let named = ["--sensor", "tap-1"];
    for line in run(&[&named[..], &["--format", "cef"]].concat()) {
        let x = cef_extension(cef_header(&line).1);
        assert_eq!(
            (x["dvchost"].as_str(), x["cs5"].as_str()),
            ("tap-1", path.as_str())
        );
        assert_eq!(x["cs5Label"], "Input");
    }
    for line in run(&[&named[..], &["--format", "leef"]].concat()) {
        assert!(
            line.contains("\tSensor=tap-1\t") && line.contains(&format!("\tInput={path}")),
            "{line}"
        );
    }
    for line in run(&[&named[..], &["--format", "eve"]].concat()) {
        let e: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (&e["host"], &e["input"]),
            (&Value::from("tap-1"), &Value::from(path.clone()))
        );
    }
    let json = run(&named);
    assert!(!json.is_empty());
    for line in &json {
        let row: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (&row["Sensor"], &row["Input"]),
            (&Value::from("tap-1"), &Value::from(path.clone()))
        );
    }
    // Unnamed, a JSON row is the contract's columns and Rule alone; the
    // SIEM formats name the host.
    for line in run(&[]) {
        assert!(!line.contains("\"Sensor\""), "{line}");
    }
    for line in run(&["--format", "cef"]) {
        let x = cef_extension(cef_header(&line).1);
        assert!(!x["dvchost"].is_empty() && x["dvchost"] != "tap-1");
    }
}
