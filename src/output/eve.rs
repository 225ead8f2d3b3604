//! EVE JSON, shaped like a Suricata alert (`event_type: alert`), so a
//! pipeline that already ingests Suricata's eve.json takes picket's
//! findings unchanged: `timestamp` in Suricata's form, `src_ip`,
//! `dest_port` when one port was targeted, and `alert` with a signature
//! per rule and ScanType, the network-scan category and a severity (1 high,
//! 2 medium). The finding's own columns follow in a `picket` object.

use std::io::{self, Write};

use serde::ser::{SerializeMap, Serializer};

use super::{json, Identity};
use crate::finding::Finding;
use crate::rules;
use crate::time::{rfc3339, Nanos, Precision};

/// Suricata's classification for `network-scan`.
const CATEGORY: &str = "Detection of a Network Scan";

/// Suricata's timestamp: microseconds and a numeric offset
/// (`2025-11-24T20:00:05.123456+0000`).
fn timestamp(t: Nanos) -> String {
    let s = rfc3339(t, Some(Precision::Micro));
    format!("{}+0000", s.trim_end_matches('Z'))
}

/// The `alert` object.
struct Alert<'a>(&'a Finding);

impl serde::Serialize for Alert<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("action", "allowed")?;
        m.serialize_entry("gid", &1)?;
        m.serialize_entry("signature_id", &rules::signature_id(f.rule))?;
        m.serialize_entry("rev", &1)?;
        m.serialize_entry(
            "signature",
            &format!("PICKET SCAN {} ({})", f.scan_type(), f.rule),
        )?;
        m.serialize_entry("category", CATEGORY)?;
        m.serialize_entry("severity", &if f.high_risk() { 1 } else { 2 })?;
        m.serialize_entry("metadata", &Metadata(f))?;
        m.end()
    }
}

/// ATT&CK in the metadata convention of published Suricata rule sets.
struct Metadata<'a>(&'a Finding);

impl serde::Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(crate::finding::Value::Text(t)) = self.0.get("Technique") {
            m.serialize_entry("mitre_technique_id", &[t])?;
        }
        m.serialize_entry("mitre_tactic_name", &["Reconnaissance"])?;
        m.end()
    }
}

/// The finding's own columns.
struct Columns<'a>(&'a Finding, Precision);

impl serde::Serialize for Columns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        json::columns(&mut m, self.0, self.1)?;
        m.end()
    }
}

pub fn write(
    out: &mut dyn Write,
    f: &Finding,
    precision: Precision,
    id: &Identity,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::new(&mut *out);
    let mut m = ser.serialize_map(None)?;
    m.serialize_entry("timestamp", &timestamp(f.event_time()))?;
    m.serialize_entry("event_type", "alert")?;
    m.serialize_entry("host", &id.sensor)?;
    if id.live {
        m.serialize_entry("in_iface", &id.input)?;
    } else {
        m.serialize_entry("input", &id.input)?;
    }
    m.serialize_entry("src_ip", &f.source.to_string())?;
    if let Some(p) = f.single_port() {
        m.serialize_entry("dest_port", &p)?;
    }
    m.serialize_entry("alert", &Alert(f))?;
    m.serialize_entry("picket", &Columns(f, precision))?;
    m.end()?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_look_like_suricatas() {
        assert_eq!(
            timestamp(1_764_014_405_123_456_789),
            "2025-11-24T20:00:05.123456+0000"
        );
    }
}
