//! Capture files: classic pcap (microsecond or nanosecond) and pcapng, read
//! with libpcap; several files are merged in timestamp order.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{IntoRawFd, RawFd};

use pcap::{Capture, Offline};

use super::{header_nanos, link_type, Frame, FrameSource, Next};
use crate::decode::LinkType;
use crate::error::Error;
use crate::time::{Nanos, Precision};

/// The container a file's first four bytes announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    Pcap(Precision),
    PcapNg,
}

pub fn sniff_magic(magic: [u8; 4]) -> Option<Container> {
    match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xd4c3_b2a1 => Some(Container::Pcap(Precision::Micro)),
        0xa1b2_3c4d | 0x4d3c_b2a1 => Some(Container::Pcap(Precision::Nano)),
        0x0a0d_0d0a => Some(Container::PcapNg),
        _ => None,
    }
}

/// One open capture file.
pub struct CaptureFile {
    pub name: String,
    pub link: LinkType,
    /// Sub-second precision the file carries (pcapng is taken as microseconds).
    pub precision: Precision,
    cap: Capture<Offline>,
}

impl CaptureFile {
    /// Open `path` (`-` for standard input), check its magic and link type.
    pub fn open(path: &str) -> Result<CaptureFile, Error> {
        let name = if path == "-" {
            "<stdin>".to_string()
        } else {
            path.to_string()
        };
        let (fd, magic) = if path == "-" {
            stdin_with_magic().map_err(|e| Error::input(&name, e.to_string()))?
        } else {
            open_with_magic(path).map_err(|e| Error::input(&name, describe_io(&e)))?
        };
        let container = match (magic, sniff_magic(magic)) {
            (_, Some(c)) => c,
            (m, None) => {
                // SAFETY: `fd` is ours and no longer used.
                unsafe { libc_close(fd) };
                return Err(Error::input(
                    &name,
                    format!(
                        "not a pcap or pcapng capture (starts with {:02x} {:02x} {:02x} {:02x})",
                        m[0], m[1], m[2], m[3]
                    ),
                ));
            }
        };
        // SAFETY: `fd` is an open descriptor that we hand over to libpcap,
        // which closes it with the capture.
        let cap = unsafe { Capture::from_raw_fd_with_precision(fd, pcap::Precision::Nano) }
            .map_err(|e| Error::input(&name, pcap_message(e)))?;
        let link = link_type(&name, cap.get_datalink())?;
        let precision = match container {
            Container::Pcap(p) => p,
            Container::PcapNg => Precision::Micro,
        };
        Ok(CaptureFile {
            name,
            link,
            precision,
            cap,
        })
    }

    /// The next record, `Ok(None)` at a clean end, `Err` (naming the
    /// file) if damaged.
    fn read(&mut self) -> Result<Option<Frame<'_>>, String> {
        match self.cap.next_packet() {
            Ok(p) => Ok(Some(Frame {
                ts: header_nanos(p.header, 1),
                link: self.link,
                data: p.data,
                wire_len: p.header.len,
            })),
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(format!("{}: {}", self.name, pcap_message(e))),
        }
    }
}

fn open_with_magic(path: &str) -> io::Result<(RawFd, [u8; 4])> {
    let mut f = File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut f, &mut magic)?;
    if n < 4 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("too short for a capture file ({n} bytes)"),
        ));
    }
    f.seek(SeekFrom::Start(0))?;
    Ok((f.into_raw_fd(), magic))
}

/// Standard input cannot be rewound after its magic is read, so a thread
/// feeds the magic and then the rest of stdin into a pipe for libpcap.
fn stdin_with_magic() -> io::Result<(RawFd, [u8; 4])> {
    let mut stdin = io::stdin().lock();
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut stdin, &mut magic)?;
    if n < 4 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("too short for a capture file ({n} bytes)"),
        ));
    }
    drop(stdin);
    let (reader, mut writer) = io::pipe()?;
    std::thread::Builder::new()
        .name("stdin-feed".into())
        .spawn(move || {
            // A reader that stops early closes the pipe; that ends us too.
            if writer.write_all(&magic).is_ok() {
                let _ = io::copy(&mut io::stdin().lock(), &mut writer);
            }
        })?;
    Ok((reader.into_raw_fd(), magic))
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn pcap_message(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    }
}

unsafe fn libc_close(fd: RawFd) {
    use std::os::fd::FromRawFd;
    drop(File::from_raw_fd(fd));
}

/// Several capture files as one stream in timestamp order. A damaged file
/// is reported on stderr and ends early; the others go on.
pub struct FileSet {
    files: Vec<Reader>,
    /// The reader whose head was handed out last, to be refilled.
    consumed: Option<usize>,
    damaged: usize,
}

struct Reader {
    file: CaptureFile,
    /// The next record, copied out (only when merging several files).
    head: Option<(Nanos, Vec<u8>, u32)>,
    done: bool,
}

impl FileSet {
    /// Open every path; fails on the first one that cannot be read.
    pub fn open(paths: &[String]) -> Result<FileSet, Error> {
        let files = paths
            .iter()
            .map(|p| {
                Ok(Reader {
                    file: CaptureFile::open(p)?,
                    head: None,
                    done: false,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut set = FileSet {
            files,
            consumed: None,
            damaged: 0,
        };
        if set.files.len() > 1 {
            for i in 0..set.files.len() {
                set.refill(i);
            }
        }
        Ok(set)
    }

    /// The finest precision among the files: timestamps print with it.
    pub fn precision(&self) -> Precision {
        self.files
            .iter()
            .map(|r| r.file.precision)
            .max()
            .unwrap_or(Precision::Micro)
    }

    fn refill(&mut self, i: usize) {
        let r = &mut self.files[i];
        let mut head = r.head.take().unwrap_or_else(|| (0, Vec::new(), 0));
        match r.file.read() {
            Ok(Some(f)) => {
                head.0 = f.ts;
                head.1.clear();
                head.1.extend_from_slice(f.data);
                head.2 = f.wire_len;
                r.head = Some(head);
            }
            Ok(None) => r.done = true,
            Err(msg) => {
                r.done = true;
                self.damaged += 1;
                warn_damaged(&msg);
            }
        }
    }
}

fn warn_damaged(msg: &str) {
    eprintln!(
        "picket: warning: {msg}; stopped reading it, rows for what was read are still reported"
    );
}

impl FrameSource for FileSet {
    fn next_frame(&mut self) -> Next<'_> {
        if self.files.len() == 1 {
            let (files, damaged) = (&mut self.files, &mut self.damaged);
            let r = &mut files[0];
            if r.done {
                return Next::End;
            }
            return match r.file.read() {
                Ok(Some(frame)) => Next::Frame(frame),
                Ok(None) => {
                    r.done = true;
                    Next::End
                }
                Err(msg) => {
                    r.done = true;
                    *damaged += 1;
                    warn_damaged(&msg);
                    Next::End
                }
            };
        }
        if let Some(i) = self.consumed.take() {
            self.refill(i);
        }
        // Earliest head first; ties go to the file named first.
        let next = self
            .files
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.head.as_ref().filter(|_| !r.done).map(|h| (h.0, i)))
            .min();
        match next {
            None => Next::End,
            Some((_, i)) => {
                self.consumed = Some(i);
                let r = &self.files[i];
                let (ts, data, wire_len) = r.head.as_ref().expect("head present");
                Next::Frame(Frame {
                    ts: *ts,
                    link: r.file.link,
                    data,
                    wire_len: *wire_len,
                })
            }
        }
    }

    fn damaged(&self) -> usize {
        self.damaged
    }
}
