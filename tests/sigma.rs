//! The Sigma rules in `sigma/` (logsource `product: picket`), checked with
//! the real tools: `sigma check` from sigma-cli, conversion to KQL (the
//! pySigma Kusto backend) and Splunk, and evaluation with pySigma's own
//! rule parser on what picket writes for every bundled capture (each
//! finding matched by exactly one rule, no other event by any).
//! `tests/sigma.sh` installs the tools with pip in a virtual environment.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn sigma_rules_check_convert_and_match_picket_findings() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let findings = tmp.path().join("findings.jsonl");
    let mut all = Vec::new();
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(root.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    pcaps.sort();
    for p in &pcaps {
        let out = Command::new(env!("CARGO_BIN_EXE_picket"))
            .args(["replay", "-q"])
            .arg(p)
            .output()
            .unwrap();
        all.extend_from_slice(&out.stdout);
    }
    std::fs::write(&findings, &all).unwrap();
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sigma-venv");
    let run = Command::new(root.join("tests/sigma.sh"))
        .arg(&venv)
        .arg(&findings)
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "tests/sigma.sh failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(tmp.path().join(f)).unwrap();
    let kusto = read("kusto.txt");
    assert!(
        kusto.contains(r#"ScanType in~ ("Aggressive Port Scan", "IP Block Sweep")"#)
            && kusto.contains(r#"Technique =~ "T1046""#)
            && kusto.contains(r#"Technique startswith "T1595""#),
        "{kusto}"
    );
    let splunk = read("splunk.txt");
    assert!(
        splunk.contains(r#"Technique="T1046""#) && splunk.contains(r#"Technique="T1595*""#),
        "{splunk}"
    );
    // Every rule matched something (the script fails otherwise), and
    // together they matched every finding once.
    let matches = read("matches.txt");
    let total: usize = matches
        .lines()
        .map(|l| l.split('\t').next().unwrap().parse::<usize>().unwrap())
        .sum();
    let lines = all.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    assert_eq!(total, lines, "{matches}");
    assert_eq!(matches.lines().count(), 4, "{matches}");
    assert!(kusto.contains(r#"Rule =~ "web-probe""#), "{kusto}");
}
