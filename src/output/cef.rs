//! CEF (ArcSight Common Event Format, version 0): one line per finding,
//! shaped for Microsoft Sentinel's CommonSecurityLog table. The header
//! carries the rule (Signature ID), the ScanType (Name) and a severity;
//! the columns Sentinel has a place for go to their standard keys, every
//! other column to a `picket`-prefixed key (Sentinel keeps those in
//! AdditionalExtensions). The mapping table is in the README.

use std::io::{self, Write};

use super::{plain, Identity};
use crate::finding::Finding;
use crate::time::{Nanos, Precision};

/// Columns that go to standard keys (or the header), with the key and, for
/// the custom slots, the label Sentinel shows beside it.
const MAPPED: &[(&str, &str, Option<&str>)] = &[
    ("TotalAttempts", "cnt", None),
    ("UniqueDestPorts", "cn1", Some("UniqueDestPorts")),
    ("UniqueDestIPs", "cn2", Some("UniqueDestIPs")),
    ("AttemptsPerMinute", "cn3", Some("AttemptsPerMinute")),
    ("PortsTargeted", "cs2", Some("PortsTargeted")),
    ("Technique", "cs3", Some("Technique")),
    ("TimeGenerated", "cs4", Some("TimeGenerated")),
];

/// Columns the header or a fixed key already carries.
const IN_HEADER: &[&str] = &[
    "SourceIP",
    "ScanType",
    "DeviceVendor",
    "DeviceProduct",
    "FirstSeen",
    "LastSeen",
    "DetectedAt",
];

/// CEF severity (0-10): 8 (high) for the broad scans, 5 (medium) otherwise.
fn severity(f: &Finding) -> u8 {
    if f.high_risk() {
        8
    } else {
        5
    }
}

/// A header field: backslash and pipe escaped, no line breaks.
fn header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An extension value: backslash and equals sign escaped, line breaks
/// written as `\n` and `\r`.
fn value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Milliseconds since the epoch, the form `rt`, `start` and `end` take.
fn millis(t: Nanos) -> i64 {
    t.div_euclid(1_000_000)
}

pub fn write(
    out: &mut dyn Write,
    f: &Finding,
    precision: Precision,
    id: &Identity,
) -> io::Result<()> {
    let mut line = format!(
        "CEF:0|{}|{}|{}|{}|",
        super::device().map(header).join("|"),
        header(f.rule),
        header(f.scan_type()),
        severity(f),
    );
    let mut ext: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| ext.push((k.to_string(), value(&v)));
    put("rt", millis(f.event_time()).to_string());
    match f.source {
        std::net::IpAddr::V4(a) => put("src", a.to_string()),
        std::net::IpAddr::V6(a) => {
            put("c6a2", a.to_string());
            put("c6a2Label", "Source IPv6 Address".into());
        }
    }
    if let Some(t) = f.time("FirstSeen") {
        put("start", millis(t).to_string());
    }
    if let Some(t) = f.time("LastSeen") {
        put("end", millis(t).to_string());
    }
    if let Some(p) = f.single_port() {
        put("dpt", p.to_string());
    }
    put("cat", "Reconnaissance".into());
    put("dvchost", id.sensor.clone());
    if id.live {
        put("deviceInboundInterface", id.input.clone());
    }
    put("cs5", id.input.clone());
    put("cs5Label", "Input".into());
    put("cs1", f.rule.into());
    put("cs1Label", "Rule".into());
    if let Some(t) = f.detected() {
        put("deviceCustomDate1", millis(t).to_string());
        put("deviceCustomDate1Label", "DetectedAt".into());
    }
    for (name, v) in &f.fields {
        if IN_HEADER.contains(name) {
            continue;
        }
        let text = plain(v, precision);
        match MAPPED.iter().find(|(n, _, _)| n == name) {
            Some((_, key, label)) => {
                put(key, text);
                if let Some(label) = label {
                    put(&format!("{key}Label"), (*label).into());
                }
            }
            None => put(&format!("picket{name}"), text),
        }
    }
    put(
        "msg",
        format!("{} from {} ({} rule)", f.scan_type(), f.source, f.rule),
    );
    for (i, (k, v)) in ext.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(k);
        line.push('=');
        line.push_str(v);
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_cef_spec_says() {
        assert_eq!(header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(header("a\nb"), "a b");
        assert_eq!(value(r"x=1\2"), r"x\=1\\2");
        assert_eq!(value("a\r\nb"), r"a\r\nb");
        assert_eq!(value("a|b"), "a|b");
    }
}
