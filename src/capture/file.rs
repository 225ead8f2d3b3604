//! Capture files: classic pcap (microsecond or nanosecond) and pcapng;
//! several files are merged in timestamp order. Classic pcap files are
//! memory-mapped ([`super::mapped`]); pcapng and standard input go through
//! libpcap, which can also read everything (`Reader::Libpcap`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pcap::{Capture, Offline};

use super::mapped::MappedPcap;
use super::sorted::SortedFrames;
use super::{header_nanos, link_type, Frame, FrameSource, Next, Pause};
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

/// Which reader takes classic pcap files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Reader {
    /// Memory-map classic pcap files; libpcap for pcapng and stdin.
    #[default]
    Auto,
    /// libpcap for everything (the reference).
    Libpcap,
}

/// One open capture file.
pub struct CaptureFile {
    pub name: String,
    pub link: LinkType,
    /// Sub-second precision the file carries (pcapng is taken as microseconds).
    pub precision: Precision,
    /// Nanoseconds per unit of libpcap's sub-second field, and whether the
    /// file is classic pcap (unsigned 32-bit seconds).
    unit: Nanos,
    classic: bool,
    /// Bytes, for a regular file (not a stream).
    size: Option<u64>,
    body: Body,
}

enum Body {
    Libpcap(Capture<Offline>),
    Mapped(MappedPcap),
    /// Read whole and sorted by time (it was stored out of order).
    Sorted(SortedFrames),
}

/// Memory for sorting files stored out of time order, for all the files
/// of one replay together: enough for captures of test runs and public
/// samples; beyond it a file is read as stored (and its late probes are
/// counted and warned about).
pub const SORT_BUDGET: u64 = 256 << 20;

impl CaptureFile {
    /// Open `path` (`-` for standard input), check its magic and link type.
    /// Open `path` (`-`: standard input). A stream (stdin, a FIFO) is fed
    /// to libpcap by a thread that gives up once `stop` is set, so a
    /// stalled input cannot hold a stop back.
    pub fn open(path: &str, reader: Reader, stop: &Arc<AtomicBool>) -> Result<CaptureFile, Error> {
        let name = if path == "-" {
            "<stdin>".to_string()
        } else {
            path.to_string()
        };
        if path == "-" {
            // Descriptor 0 itself, unbuffered: no bytes may hide in a
            // buffer that poll(2) cannot see.
            let mut stdin = io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map(File::from)
                .map_err(|e| Error::input(&name, e.to_string()))?;
            let magic = read_magic(&mut stdin).map_err(|e| Error::input(&name, e.to_string()))?;
            let container = container(&name, magic)?;
            let fd = stream(magic, stdin, stop).map_err(|e| Error::input(&name, e.to_string()))?;
            return Self::libpcap_stream(name, fd, container);
        }
        let (file, magic) =
            open_with_magic(path).map_err(|e| Error::input(&name, describe_io(&e)))?;
        let container = container(&name, magic)?;
        let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
        if !regular {
            // A FIFO, a process substitution (`<(...)`), a device: it
            // cannot be mapped or rewound, so it is read as a stream.
            let fd = stream(magic, file, stop).map_err(|e| Error::input(&name, e.to_string()))?;
            return Self::libpcap_stream(name, fd, container);
        }
        if let (Container::Pcap(_), Reader::Auto) = (container, reader) {
            let mapped = MappedPcap::open(&name, &file)?;
            return Ok(CaptureFile {
                name,
                link: mapped.link,
                precision: mapped.precision,
                unit: 1,
                classic: true,
                size: file.metadata().ok().map(|m| m.len()),
                body: Body::Mapped(mapped),
            });
        }
        let size = file.metadata().ok().map(|m| m.len());
        drop(file);
        // By path: libpcap closes the file itself if it rejects it.
        let cap = Capture::from_file_with_precision(path, libpcap_precision(container))
            .map_err(|e| Error::input(&name, pcap_message(e)))?;
        let mut f = Self::libpcap(name, cap, container)?;
        f.size = size;
        Ok(f)
    }

    /// A regular file that fits in `budget` (taken from it) and is stored
    /// out of time order is read whole and handed out sorted by time
    /// (a note on stderr says so). True if it was.
    pub fn sort_if_out_of_order(&mut self, budget: &mut u64) -> bool {
        let Some(size) = self.size.filter(|&s| s <= *budget) else {
            return false;
        };
        if let Body::Mapped(m) = &self.body {
            if m.in_time_order() {
                return false;
            }
        }
        // libpcap's reader can only be asked by reading: read it whole.
        let mut sorted = SortedFrames::new(self.link);
        loop {
            match self.read() {
                Ok(Some(f)) => sorted.push(&f),
                Ok(None) => break,
                Err(msg) => {
                    sorted.end_in_damage(msg);
                    break;
                }
            }
        }
        *budget -= size.min(*budget);
        let out_of_order = sorted.out_of_order();
        if out_of_order {
            let n = sorted.sort();
            eprintln!(
                "picket: note: {} is not stored in time order; its {n} records are read sorted by timestamp",
                self.name
            );
        }
        // In order (libpcap's, read to find out): handed out as read.
        self.body = Body::Sorted(sorted);
        out_of_order
    }

    /// libpcap over a stream's pipe `fd`.
    fn libpcap_stream(name: String, fd: RawFd, container: Container) -> Result<CaptureFile, Error> {
        // SAFETY: `fd` is an open descriptor that we hand over to libpcap,
        // which closes it with the capture.
        match unsafe { Capture::from_raw_fd_with_precision(fd, libpcap_precision(container)) } {
            Ok(cap) => Self::libpcap(name, cap, container),
            Err(e) => {
                // libpcap rejected the stream and left the descriptor open
                // (its FILE is not reachable from here): close it, so that
                // a caller opening many bad streams does not run out.
                // SAFETY: nothing else uses `fd` from here on.
                unsafe { libc::close(fd) };
                Err(Error::input(&name, pcap_message(e)))
            }
        }
    }

    fn libpcap(
        name: String,
        cap: Capture<Offline>,
        container: Container,
    ) -> Result<CaptureFile, Error> {
        let link = link_type(&name, cap.get_datalink())?;
        let precision = match container {
            Container::Pcap(p) => p,
            Container::PcapNg => Precision::Micro,
        };
        Ok(CaptureFile {
            name,
            link,
            precision,
            size: None,
            unit: match libpcap_precision(container) {
                pcap::Precision::Micro => 1000,
                pcap::Precision::Nano => 1,
            },
            classic: container != Container::PcapNg,
            body: Body::Libpcap(cap),
        })
    }

    /// The next record, `Ok(None)` at a clean end, `Err` (naming the
    /// file) if damaged.
    #[inline]
    fn read(&mut self) -> Result<Option<Frame<'_>>, String> {
        let cap = match &mut self.body {
            Body::Mapped(m) => return m.read().map_err(|e| format!("{}: {e}", self.name)),
            Body::Sorted(s) => return s.read(),
            Body::Libpcap(cap) => cap,
        };
        match cap.next_packet() {
            Ok(p) => Ok(Some(Frame {
                ts: header_nanos(p.header, self.unit, self.classic),
                link: self.link,
                data: p.data,
                wire_len: p.header.len,
            })),
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(format!("{}: {}", self.name, pcap_message(e))),
        }
    }
}

/// The precision libpcap reads a container with: a classic file's own, so
/// that libpcap hands its sub-second field over unconverted and a value
/// out of range is seen as such (converting it first gave a wrong time).
fn libpcap_precision(c: Container) -> pcap::Precision {
    match c {
        Container::Pcap(Precision::Micro) => pcap::Precision::Micro,
        Container::Pcap(Precision::Nano) | Container::PcapNg => pcap::Precision::Nano,
    }
}

/// Name the container a file's magic announces, or refuse it.
fn container(name: &str, m: [u8; 4]) -> Result<Container, Error> {
    sniff_magic(m).ok_or_else(|| {
        Error::input(
            name,
            format!(
                "not a pcap or pcapng capture (starts with {:02x} {:02x} {:02x} {:02x})",
                m[0], m[1], m[2], m[3]
            ),
        )
    })
}

fn open_with_magic(path: &str) -> io::Result<(File, [u8; 4])> {
    let mut f = File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    let magic = read_magic(&mut f)?;
    Ok((f, magic))
}

/// A stream (standard input, a FIFO) cannot be rewound after its magic is
/// read, so a thread feeds the magic and then the rest into a pipe for
/// libpcap; the pipe's read end. The thread waits for input in poll(2),
/// a tenth of a second at a time, and closes the pipe once `stop` is set:
/// libpcap then sees the end, and a stop is never held back by an input
/// that stalls.
fn stream(magic: [u8; 4], mut input: File, stop: &Arc<AtomicBool>) -> io::Result<RawFd> {
    let (reader, mut writer) = io::pipe()?;
    let stop = Arc::clone(stop);
    std::thread::Builder::new()
        .name("stream-feed".into())
        .spawn(move || {
            feed(magic, &mut input, &mut writer, &stop);
            // The input first: once libpcap sees the pipe's end (and may
            // reject the stream), nothing of ours holds the input open any
            // more (a FIFO's next writer must not find this stale reader).
            drop(input);
            drop(writer);
        })?;
    Ok(reader.into_raw_fd())
}

/// Copy `input` into the pipe until it ends, the pipe's reader leaves, or
/// `stop` is set (checked every 100 ms while the input is quiet).
fn feed(magic: [u8; 4], input: &mut File, writer: &mut io::PipeWriter, stop: &AtomicBool) {
    // A reader that stops early closes the pipe; that ends us too.
    if writer.write_all(&magic).is_err() {
        return;
    }
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: input.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
        if ready == 0
            || (ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted)
        {
            continue;
        }
        match input.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if writer.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn read_magic(r: &mut impl Read) -> io::Result<[u8; 4]> {
    let mut magic = [0u8; 4];
    let n = read_up_to(r, &mut magic)?;
    if n < 4 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("too short for a capture file ({n} bytes)"),
        ));
    }
    Ok(magic)
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

/// Several capture files as one stream in timestamp order. A damaged file
/// is reported on stderr and ends early; the others go on.
pub struct FileSet {
    files: Vec<Input>,
    /// The reader whose head was handed out last, to be refilled.
    consumed: Option<usize>,
    damaged: usize,
    /// Set when the run is asked to stop: a read cut short then is the
    /// stop's doing, not damage.
    stop: Arc<AtomicBool>,
}

struct Input {
    file: CaptureFile,
    /// The next record, copied out (only when merging several files).
    head: Option<(Nanos, Vec<u8>, u32)>,
    done: bool,
}

impl FileSet {
    /// Open every path; fails on the first one that cannot be read.
    pub fn open(paths: &[String], reader: Reader) -> Result<FileSet, Error> {
        Self::open_until(paths, reader, &Arc::new(AtomicBool::new(false)))
    }

    /// The same, for a run that ends early once `stop` is set.
    pub fn open_until(
        paths: &[String],
        reader: Reader,
        stop: &Arc<AtomicBool>,
    ) -> Result<FileSet, Error> {
        let mut files = paths
            .iter()
            .map(|p| {
                Ok(Input {
                    file: CaptureFile::open(p, reader, stop)?,
                    head: None,
                    done: false,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut budget = SORT_BUDGET;
        for input in &mut files {
            input.file.sort_if_out_of_order(&mut budget);
        }
        let mut set = FileSet {
            files,
            consumed: None,
            damaged: 0,
            stop: Arc::clone(stop),
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
                damage(&mut self.damaged, &self.stop, &msg);
            }
        }
    }
}

/// A file ended in damage: count and say so, unless the run was being
/// stopped (then the cut is the stop's doing).
#[cold]
fn damage(damaged: &mut usize, stop: &AtomicBool, msg: &str) {
    if stop.load(Ordering::Relaxed) {
        return;
    }
    *damaged += 1;
    eprintln!(
        "picket: warning: {msg}; stopped reading it, rows for what was read are still reported"
    );
}

impl FrameSource for FileSet {
    #[inline]
    fn next_frame(&mut self) -> Next<'_> {
        if self.files.len() == 1 {
            let (files, damaged, stop) = (&mut self.files, &mut self.damaged, &self.stop);
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
                    damage(damaged, stop, &msg);
                    Next::End
                }
            };
        }
        self.next_merged()
    }

    #[inline]
    fn frames<F: FnMut(Frame<'_>)>(&mut self, max: usize, sink: &mut F) -> Pause {
        if let [r] = &mut self.files[..] {
            if let (Body::Mapped(m), false) = (&mut r.file.body, r.done) {
                return match m.frames(max, sink) {
                    Ok(true) => Pause::More,
                    Ok(false) => {
                        r.done = true;
                        Pause::End
                    }
                    Err(msg) => {
                        r.done = true;
                        damage(
                            &mut self.damaged,
                            &self.stop,
                            &format!("{}: {msg}", r.file.name),
                        );
                        Pause::End
                    }
                };
            }
        }
        super::one_by_one(self, max, sink)
    }

    fn damaged(&self) -> usize {
        self.damaged
    }
}

impl FileSet {
    /// Several files: hand out the earliest head (kept out of line, so the
    /// one-file case stays small enough to inline into the capture loop).
    #[inline(never)]
    fn next_merged(&mut self) -> Next<'_> {
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
}
