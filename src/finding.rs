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
}
