//! Output stage: rows as JSON lines (the seed query's field names) or as an
//! aligned table for a person.

use std::io::{self, Write};

use serde::Serialize;

use crate::merge::Row;
use crate::time::{rfc3339, Precision};

pub const DEVICE_VENDOR: &str = "picket";
pub const DEVICE_PRODUCT: &str = "picket T1595 sensor";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line, field names as in the seed KQL query.
    Json,
    /// Aligned columns for reading in a terminal.
    Table,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonRow<'a> {
    time_generated: String,
    #[serde(rename = "SourceIP")]
    source_ip: String,
    scan_type: &'static str,
    unique_dest_ports: u32,
    #[serde(rename = "UniqueDestIPs")]
    unique_dest_ips: u32,
    total_attempts: u64,
    attempts_per_minute: u64,
    ports_targeted: &'a [u16],
    scan_duration_seconds: i64,
    first_seen: String,
    last_seen: String,
    device_vendor: &'static str,
    device_product: &'static str,
    technique: &'static str,
    rejected_attempts: u64,
    unanswered_attempts: u64,
    udp_attempts: u64,
    stealth_probes: u64,
    #[serde(rename = "UniqueDestIPsIsLowerBound")]
    unique_dest_ips_is_lower_bound: bool,
}

pub struct RowWriter {
    out: Box<dyn Write + Send>,
    format: Format,
    precision: Precision,
    header_done: bool,
}

impl RowWriter {
    pub fn new(out: Box<dyn Write + Send>, format: Format, precision: Precision) -> Self {
        RowWriter {
            out,
            format,
            precision,
            header_done: false,
        }
    }

    /// Write rows and flush, so a watcher sees each bin as it closes.
    pub fn write(&mut self, rows: &[Row]) -> io::Result<()> {
        for row in rows {
            match self.format {
                Format::Json => self.json(row)?,
                Format::Table => self.table(row)?,
            }
        }
        if !rows.is_empty() {
            self.out.flush()?;
        }
        Ok(())
    }

    fn json(&mut self, row: &Row) -> io::Result<()> {
        let j = JsonRow {
            time_generated: rfc3339(row.time_generated, None),
            source_ip: row.source_ip.to_string(),
            scan_type: row.scan_type.as_str(),
            unique_dest_ports: row.unique_dest_ports,
            unique_dest_ips: row.unique_dest_ips,
            total_attempts: row.total_attempts,
            attempts_per_minute: row.attempts_per_minute,
            ports_targeted: &row.ports_targeted,
            scan_duration_seconds: row.scan_duration_seconds,
            first_seen: rfc3339(row.first_seen, Some(self.precision)),
            last_seen: rfc3339(row.last_seen, Some(self.precision)),
            device_vendor: DEVICE_VENDOR,
            device_product: DEVICE_PRODUCT,
            technique: "T1595",
            rejected_attempts: row.rejected_attempts,
            unanswered_attempts: row.unanswered_attempts,
            udp_attempts: row.udp_attempts,
            stealth_probes: row.stealth_probes,
            unique_dest_ips_is_lower_bound: row.unique_dest_ips_is_lower_bound,
        };
        serde_json::to_writer(&mut self.out, &j)?;
        self.out.write_all(b"\n")
    }

    fn table(&mut self, row: &Row) -> io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            writeln!(
                self.out,
                "{:<20}  {:<15}  {:<20}  {:>6}  {:>5}  {:>8}  {:>6}  {:>6}  {:<8}  PORTS",
                "BIN",
                "SOURCE",
                "SCAN TYPE",
                "PORTS",
                "HOSTS",
                "ATTEMPTS",
                "PER/M",
                "SECS",
                "FIRST"
            )?;
        }
        let first = rfc3339(row.first_seen, None);
        let mut ports: Vec<String> = row
            .ports_targeted
            .iter()
            .take(12)
            .map(|p| p.to_string())
            .collect();
        if row.ports_targeted.len() > 12
            || row.unique_dest_ports as usize > row.ports_targeted.len()
        {
            ports.push("...".into());
        }
        let hosts = if row.unique_dest_ips_is_lower_bound {
            format!(">={}", row.unique_dest_ips)
        } else {
            row.unique_dest_ips.to_string()
        };
        writeln!(
            self.out,
            "{:<20}  {:<15}  {:<20}  {:>6}  {:>5}  {:>8}  {:>6}  {:>6}  {:<8}  {}",
            rfc3339(row.time_generated, None),
            row.source_ip,
            row.scan_type.as_str(),
            row.unique_dest_ports,
            hosts,
            row.total_attempts,
            row.attempts_per_minute,
            row.scan_duration_seconds,
            &first[11..19],
            ports.join(",")
        )
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
