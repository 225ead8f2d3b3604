//! Aligned columns for a person: the columns most rules share, `-` where
//! a rule has none (DETECTED: when an early alert crossed its thresholds,
//! or when a rule that says so decided, such as trw and slow-scan; TOOL:
//! the scanner the fingerprint names).

use std::io::{self, Write};

use crate::finding::{Finding, Value};
use crate::time::{rfc3339, rfc3339_window};

/// Ports listed before `...`.
const PORTS_SHOWN: usize = 12;

#[derive(Default)]
pub struct Table {
    header_done: bool,
}

fn count(f: &Finding, name: &str) -> String {
    match f.get(name) {
        Some(Value::Count(n)) => n.to_string(),
        Some(Value::Signed(n)) => n.to_string(),
        _ => "-".into(),
    }
}

impl Table {
    pub fn write(&mut self, out: &mut dyn Write, f: &Finding) -> io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            writeln!(
                out,
                "{:<20}  {:<12}  {:<15}  {:<20}  {:>6}  {:>5}  {:>8}  {:>6}  {:>6}  {:<8}  {:<8}  {:<7}  PORT LIST",
                "BIN",
                "RULE",
                "SOURCE",
                "SCAN TYPE",
                "PORTS",
                "HOSTS",
                "ATTEMPTS",
                "PER/M",
                "SECS",
                "FIRST",
                "DETECTED",
                "TOOL"
            )?;
        }
        let scan_type = match f.get("ScanType") {
            Some(Value::Text(s)) => s,
            _ => "-",
        };
        let first = match f.get("FirstSeen") {
            Some(Value::Time(t)) => rfc3339(*t, None)[11..19].to_string(),
            _ => "-".into(),
        };
        let detected = match f.detected() {
            Some(t) => rfc3339(t, None)[11..19].to_string(),
            None => "-".into(),
        };
        let tool = match f.get("Tool") {
            Some(Value::Text(t)) => t,
            _ => "-",
        };
        let mut hosts = count(f, "UniqueDestIPs");
        if f.get("UniqueDestIPsIsLowerBound") == Some(&Value::Flag(true)) {
            hosts = format!(">={hosts}");
        }
        let ports = match f.get("PortsTargeted") {
            Some(Value::Ports(p)) => {
                let mut shown: Vec<String> =
                    p.iter().take(PORTS_SHOWN).map(|p| p.to_string()).collect();
                let distinct = match f.get("UniqueDestPorts") {
                    Some(Value::Count(n)) => *n as usize,
                    _ => p.len(),
                };
                if p.len() > PORTS_SHOWN || distinct > p.len() {
                    shown.push("...".into());
                }
                shown.join(",")
            }
            _ => "-".into(),
        };
        writeln!(
            out,
            "{:<20}  {:<12}  {:<15}  {:<20}  {:>6}  {:>5}  {:>8}  {:>6}  {:>6}  {:<8}  {:<8}  {:<7}  {}",
            rfc3339_window(f.window_start),
            f.rule,
            f.source,
            scan_type,
            count(f, "UniqueDestPorts"),
            hosts,
            count(f, "TotalAttempts"),
            count(f, "AttemptsPerMinute"),
            count(f, "ScanDurationSeconds"),
            first,
            detected,
            tool,
            ports
        )
    }
}
