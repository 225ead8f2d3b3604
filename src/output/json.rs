//! JSON lines: one object per finding, the rule's columns in order, then
//! `Rule`. The seed rule's lines carry the seed KQL query's field names.

use std::io::{self, Write};

use serde::ser::{SerializeMap, Serializer};

use super::Identity;
use crate::finding::{Finding, Value};
use crate::time::{rfc3339, rfc3339_window, Precision};

pub fn write(
    out: &mut dyn Write,
    f: &Finding,
    precision: Precision,
    id: &Identity,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::new(&mut *out);
    let mut map = ser.serialize_map(Some(f.fields.len() + 1))?;
    columns(&mut map, f, precision)?;
    if id.in_json {
        map.serialize_entry("Sensor", &id.sensor)?;
        map.serialize_entry("Input", &id.input)?;
    }
    map.end()?;
    out.write_all(b"\n")
}

/// The finding's columns, then `Rule`, into a JSON object being written.
pub fn columns<M: SerializeMap>(
    map: &mut M,
    f: &Finding,
    precision: Precision,
) -> Result<(), M::Error> {
    for (name, value) in &f.fields {
        match value {
            Value::Text(s) => map.serialize_entry(name, s)?,
            Value::Count(n) => map.serialize_entry(name, n)?,
            Value::Signed(n) => map.serialize_entry(name, n)?,
            Value::Flag(b) => map.serialize_entry(name, b)?,
            Value::Ip(a) => map.serialize_entry(name, &a.to_string())?,
            Value::Time(t) => map.serialize_entry(name, &rfc3339(*t, Some(precision)))?,
            Value::WindowTime(t) => map.serialize_entry(name, &rfc3339_window(*t))?,
            Value::Ports(p) => map.serialize_entry(name, p)?,
            Value::Names(n) => map.serialize_entry(name, n)?,
        }
    }
    map.serialize_entry("Rule", f.rule)
}
