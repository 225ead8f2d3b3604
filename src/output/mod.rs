//! Output stage: findings of every rule, written in one of the formats,
//! each format one module.

mod json;
mod table;

use std::io::{self, Write};

use crate::finding::Finding;
use crate::time::Precision;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line: the rule's columns (the seed KQL query's
    /// names for the seed rule), then `Rule`.
    Json,
    /// Aligned columns for reading in a terminal.
    Table,
}

/// Writes findings in the chosen format, flushing after each batch so a
/// watcher sees each one as it is released.
pub struct RowWriter {
    out: Box<dyn Write + Send>,
    format: Format,
    precision: Precision,
    table: table::Table,
}

impl RowWriter {
    pub fn new(out: Box<dyn Write + Send>, format: Format, precision: Precision) -> Self {
        RowWriter {
            out,
            format,
            precision,
            table: table::Table::default(),
        }
    }

    pub fn write(&mut self, findings: &[Finding]) -> io::Result<()> {
        for f in findings {
            match self.format {
                Format::Json => json::write(&mut self.out, f, self.precision)?,
                Format::Table => self.table.write(&mut self.out, f)?,
            }
        }
        if !findings.is_empty() {
            self.out.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
