//! What the rules report, in one shape for every rule and every output
//! format: a few fixed fields that ordering needs, then the rule's own
//! named columns in the order they are written.

use std::net::IpAddr;

use crate::time::Nanos;

/// One value of a finding's column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(&'static str),
    Count(u64),
    Signed(i64),
    Flag(bool),
    Ip(IpAddr),
    /// A capture timestamp, written with the capture's precision.
    Time(Nanos),
    /// A window boundary, written in whole seconds.
    WindowTime(Nanos),
    Ports(Vec<u16>),
    Names(Vec<&'static str>),
}

/// One line of output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule that wrote it (the `Rule` field).
    pub rule: &'static str,
    /// Start of the window it covers.
    pub window_start: Nanos,
    pub source: IpAddr,
    /// Within a window, heavier findings come first (TotalAttempts).
    pub weight: u64,
    /// For an alert written while its window was open: the capture time
    /// at which it was detected (the order such alerts are written in).
    pub detected_at: Option<Nanos>,
    /// The rule's columns, in output order.
    pub fields: Vec<(&'static str, Value)>,
}

impl Finding {
    /// The value of the column `name`, if the finding has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The `ScanType` column (every rule writes one).
    pub fn scan_type(&self) -> &'static str {
        match self.get("ScanType") {
            Some(Value::Text(t)) => t,
            _ => "Scan",
        }
    }

    /// The QRadar seed rule's risk logic, the one severity every SIEM
    /// format derives its own from: the broad scans (every port of a
    /// host, or a whole block of hosts) are high, the rest medium.
    pub fn high_risk(&self) -> bool {
        matches!(self.scan_type(), "Aggressive Port Scan" | "IP Block Sweep")
    }

    /// A capture-time column as nanoseconds.
    pub fn time(&self, name: &str) -> Option<Nanos> {
        match self.get(name) {
            Some(Value::Time(t) | Value::WindowTime(t)) => Some(*t),
            _ => None,
        }
    }

    /// When the rule decided: an alert's moment, or the `DetectedAt`
    /// column of a row that has one (trw, slow-scan).
    pub fn detected(&self) -> Option<Nanos> {
        self.detected_at.or_else(|| self.time("DetectedAt"))
    }

    /// The moment the finding stands for: when an early alert crossed its
    /// thresholds (or a rule that says when it decided, decided),
    /// otherwise the last attempt counted.
    pub fn event_time(&self) -> Nanos {
        self.detected()
            .or_else(|| self.time("LastSeen"))
            .unwrap_or(self.window_start)
    }

    /// The one port targeted, if there was exactly one.
    pub fn single_port(&self) -> Option<u16> {
        match self.get("PortsTargeted") {
            Some(Value::Ports(p)) if p.len() == 1 => {
                matches!(self.get("UniqueDestPorts"), Some(Value::Count(1))).then_some(p[0])
            }
            _ => None,
        }
    }
}
