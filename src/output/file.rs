//! The `--output FILE` sink: appended to (a restarted sensor adds to what
//! it wrote before, as Suricata does with eve.json), and reopened by path
//! when SIGHUP asks, so logrotate can move the file away and signal.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct OutputFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// Set by the SIGHUP handler; taken at the next write or flush.
    reopen: Arc<AtomicBool>,
}

fn open(path: &Path, truncate: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(path)
}

impl OutputFile {
    /// Open `path` (emptied first if `truncate`); `reopen` asks for it to
    /// be opened again by path.
    pub fn open(path: &Path, truncate: bool, reopen: Arc<AtomicBool>) -> io::Result<Self> {
        Ok(OutputFile {
            path: path.to_path_buf(),
            out: BufWriter::new(open(path, truncate)?),
            reopen,
        })
    }

    /// If asked: finish the file held, then open the path again (a new
    /// file, if it was moved away).
    fn maybe_reopen(&mut self) -> io::Result<()> {
        if self.reopen.swap(false, Ordering::Relaxed) {
            self.out.flush()?;
            let file = open(&self.path, false).map_err(|e| {
                io::Error::new(e.kind(), format!("reopening {}: {e}", self.path.display()))
            })?;
            self.out = BufWriter::new(file);
            eprintln!("picket: reopened {}", self.path.display());
        }
        Ok(())
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.maybe_reopen()?;
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.maybe_reopen()
    }
}
