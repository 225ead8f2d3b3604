//! LEEF 2.0 (IBM QRadar's Log Event Extended Format): one line per
//! finding. The header's Event ID is the rule, the attributes tab-separated
//! (declared in the header as `x09`): QRadar's own keys where it has one
//! (`cat`, `devTime`, `src`, `dstPort`, `sev`), the QRadar seed rule's
//! `RiskScore`, then every column under its own name.

use std::io::{self, Write};

use super::{plain, Identity};
use crate::finding::Finding;
use crate::time::{rfc3339, Nanos, Precision};

/// Columns the header or a QRadar key already carries.
const IN_KEYS: &[&str] = &["SourceIP", "ScanType", "DeviceVendor", "DeviceProduct"];

/// The QRadar seed rule's risk score: 8 for the broad scans, 4 otherwise.
pub fn risk_score(f: &Finding) -> u8 {
    if f.high_risk() {
        8
    } else {
        4
    }
}

/// A header field: no pipes or line breaks (LEEF has no escape for them).
fn header(s: &str) -> String {
    s.replace(['|', '\r', '\n'], " ")
}

/// An attribute value: no tabs (the delimiter) or line breaks.
fn value(s: &str) -> String {
    s.replace(['\t', '\r', '\n'], " ")
}

/// RFC 3339 to the millisecond: Java's `S` counts milliseconds, so finer
/// digits would be read as more of them.
fn millisecond_time(t: Nanos) -> String {
    let whole = rfc3339(t, None);
    let ms = t.rem_euclid(1_000_000_000) / 1_000_000;
    format!("{}.{ms:03}Z", whole.trim_end_matches('Z'))
}

pub fn write(
    out: &mut dyn Write,
    f: &Finding,
    precision: Precision,
    id: &Identity,
) -> io::Result<()> {
    let mut line = format!(
        "LEEF:2.0|{}|{}|x09|",
        super::device().map(header).join("|"),
        header(f.rule),
    );
    let mut attrs: Vec<(String, String)> = vec![
        ("cat".into(), f.scan_type().into()),
        ("devTime".into(), millisecond_time(f.event_time())),
        // Java's pattern (QRadar's parser) for that form.
        ("devTimeFormat".into(), "yyyy-MM-dd'T'HH:mm:ss.SSSX".into()),
        ("src".into(), f.source.to_string()),
        ("sev".into(), risk_score(f).to_string()),
        ("RiskScore".into(), risk_score(f).to_string()),
        ("Rule".into(), f.rule.into()),
        ("Sensor".into(), id.sensor.clone()),
        ("Input".into(), id.input.clone()),
    ];
    if let Some(p) = f.single_port() {
        attrs.push(("dstPort".into(), p.to_string()));
    }
    for (name, v) in &f.fields {
        if !IN_KEYS.contains(name) {
            attrs.push(((*name).into(), plain(v, precision)));
        }
    }
    for (i, (k, v)) in attrs.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        line.push_str(k);
        line.push('=');
        line.push_str(&value(v));
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_time_is_to_the_millisecond() {
        let t = 1_764_014_405_123_456_789;
        assert_eq!(millisecond_time(t), "2025-11-24T20:00:05.123Z");
        assert_eq!(
            millisecond_time(1_764_014_405_000_000_000),
            "2025-11-24T20:00:05.000Z"
        );
    }

    #[test]
    fn nothing_breaks_the_line_or_the_header() {
        assert_eq!(header("a|b\nc"), "a b c");
        assert_eq!(value("a\tb\r\nc"), "a b  c");
    }
}
