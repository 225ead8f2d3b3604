//! Output stage: findings of every rule, written in one of the formats,
//! each format one module.

mod cef;
mod eve;
mod file;
mod json;
mod leef;
pub mod syslog;
mod table;

use std::io::{self, Write};

pub use file::OutputFile;

use crate::finding::{Finding, Value};
use crate::time::{rfc3339, rfc3339_window, Precision};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line: the rule's columns (the seed KQL query's
    /// names for the seed rule), then `Rule`.
    Json,
    /// Aligned columns for reading in a terminal.
    Table,
    /// ArcSight CEF for Microsoft Sentinel's CommonSecurityLog (mapping in
    /// the README).
    Cef,
    /// IBM QRadar LEEF 2.0, with the QRadar seed rule's RiskScore.
    Leef,
    /// Suricata-style EVE JSON alerts, for pipelines that ingest eve.json.
    Eve,
}

impl Format {
    /// Its name on the command line.
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }
}

/// Writes findings in the chosen format, flushing after each batch so a
/// watcher sees each one as it is released.
pub struct RowWriter {
    out: Box<dyn Write + Send>,
    format: Format,
    precision: Precision,
    table: table::Table,
    /// Every finding also goes to a syslog collector.
    syslog: Option<syslog::SyslogSink>,
    identity: Identity,
}

/// Which sensor wrote a finding, from which input: so findings of several
/// sensors stay apart in one SIEM.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// `--sensor`, or the host name.
    pub sensor: String,
    /// The interface, or the files replayed.
    pub input: String,
    /// The input is a live interface.
    pub live: bool,
    /// Also in JSON rows (only when `--sensor` was given: a JSON row is
    /// otherwise exactly the seed contract's columns and `Rule`).
    pub in_json: bool,
}

/// Write one finding in `format`.
fn write_one(
    format: Format,
    table: &mut table::Table,
    out: &mut dyn Write,
    f: &Finding,
    precision: Precision,
    id: &Identity,
) -> io::Result<()> {
    match format {
        Format::Json => json::write(out, f, precision, id),
        Format::Table => table.write(out, f),
        Format::Cef => cef::write(out, f, precision, id),
        Format::Leef => leef::write(out, f, precision, id),
        Format::Eve => eve::write(out, f, precision, id),
    }
}

impl RowWriter {
    pub fn new(out: Box<dyn Write + Send>, format: Format, precision: Precision) -> Self {
        RowWriter {
            out,
            format,
            precision,
            table: table::Table::default(),
            syslog: None,
            identity: Identity::default(),
        }
    }

    /// Name the sensor and input in the findings.
    pub fn with_identity(mut self, id: Identity) -> Self {
        self.identity = id;
        self
    }

    /// Send every finding to a syslog collector too.
    pub fn with_syslog(mut self, sink: syslog::SyslogSink) -> Self {
        self.syslog = Some(sink);
        self
    }

    pub fn write(&mut self, findings: &[Finding]) -> io::Result<()> {
        for f in findings {
            write_one(
                self.format,
                &mut self.table,
                &mut self.out,
                f,
                self.precision,
                &self.identity,
            )?;
            if let Some(sink) = &mut self.syslog {
                // A table has no meaning line by line: JSON instead.
                let format = match self.format {
                    Format::Table => Format::Json,
                    other => other,
                };
                let mut body = Vec::with_capacity(512);
                write_one(
                    format,
                    &mut self.table,
                    &mut body,
                    f,
                    self.precision,
                    &self.identity,
                )?;
                while body.last() == Some(&b'\n') {
                    body.pop();
                }
                sink.send(syslog::priority(f.high_risk()), f.rule, &body);
            }
        }
        // Flushed after every batch, empty or not: a watcher sees each
        // finding as it is released, and a file sink reopens on request
        // promptly (an empty flush makes no system call).
        self.out.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Vendor, product and version, as the SIEM formats' headers name the
/// device.
fn device() -> [&'static str; 3] {
    [
        crate::rules::seed::DEVICE_VENDOR,
        crate::rules::seed::DEVICE_PRODUCT,
        env!("CARGO_PKG_VERSION"),
    ]
}

/// A column's value as text, for the key=value formats.
fn plain(v: &Value, precision: Precision) -> String {
    match v {
        Value::Text(s) => (*s).to_string(),
        Value::Count(n) => n.to_string(),
        Value::Signed(n) => n.to_string(),
        Value::Flag(b) => b.to_string(),
        Value::Ip(a) => a.to_string(),
        Value::Time(t) => rfc3339(*t, Some(precision)),
        Value::WindowTime(t) => rfc3339_window(*t),
        Value::Ports(p) => p
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(","),
        Value::Names(n) => n.join(","),
    }
}

/// This machine's name (`-` if it has none that fits a syslog header).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into `buf`.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(h) if ok && !h.is_empty() && !h.contains(' ') => h.to_string(),
        _ => "-".to_string(),
    }
}
