//! Live capture from a network interface with libpcap.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pcap::{Active, Capture, Device};

use super::{header_nanos, link_type, Frame, FrameSource, Next};
use crate::decode::LinkType;
use crate::error::Error;

#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub promiscuous: bool,
    pub snaplen: i32,
    /// Kernel ring size in bytes. libpcap's 2 MiB default loses packets
    /// in bursts; we ask for more.
    pub buffer_bytes: i32,
    /// A BPF filter expression, applied in the kernel.
    pub filter: Option<String>,
    /// How long a read waits before reporting a quiet link, in ms.
    pub read_timeout_ms: i32,
    /// Join this PACKET_FANOUT group (several sockets on one interface,
    /// each getting its share of the flows).
    pub fanout: Option<u16>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            promiscuous: true,
            snaplen: 256,
            buffer_bytes: 64 << 20,
            filter: None,
            read_timeout_ms: 100,
            fanout: None,
        }
    }
}

pub struct LiveCapture {
    name: String,
    /// How long to wait in poll(2) for packets before reporting `Idle`.
    wait_ms: i32,
    /// The capture's descriptor, for poll(2).
    fd: std::os::fd::RawFd,
    link: LinkType,
    cap: Capture<Active>,
    stop: Arc<AtomicBool>,
    damaged: usize,
}

impl LiveCapture {
    /// The interface's link layer, by tcpdump's name for it.
    pub fn link_name(&self) -> &'static str {
        self.link.name()
    }

    /// Open `iface`; `stop` ends the capture cleanly when set.
    pub fn open(iface: &str, opts: &LiveOptions, stop: Arc<AtomicBool>) -> Result<Self, Error> {
        let what = format!("interface {iface}");
        let devices = Device::list().map_err(|e| classify(&what, e))?;
        if !devices.iter().any(|d| d.name == iface) {
            let names: Vec<String> = devices.into_iter().map(|d| d.name).collect();
            return Err(Error::input(
                &what,
                format!("no such interface (available: {})", names.join(", ")),
            ));
        }
        let mut cap = Capture::from_device(iface)
            .map_err(|e| classify(&what, e))?
            .promisc(opts.promiscuous)
            .snaplen(opts.snaplen)
            .buffer_size(opts.buffer_bytes)
            .timeout(opts.read_timeout_ms)
            .open()
            .map_err(|e| classify(&what, e))?
            // libpcap's read timeout may never fire on a silent link
            // (TPACKET_V3): read without blocking and wait in poll(2)
            // ourselves, so Ctrl-C and the wall clock are always seen.
            .setnonblock()
            .map_err(|e| classify(&what, e))?;
        if let Some(f) = &opts.filter {
            cap.filter(f, true)
                .map_err(|e| Error::Usage(format!("bad BPF filter {f:?}: {}", message(e))))?;
        }
        if let Some(group) = opts.fanout {
            join_fanout(cap.as_raw_fd(), group).map_err(|e| {
                Error::input(
                    &what,
                    format!("cannot join packet fanout group {group}: {e}"),
                )
            })?;
        }
        let link = link_type(&what, cap.get_datalink())?;
        Ok(LiveCapture {
            name: what,
            wait_ms: opts.read_timeout_ms,
            fd: cap.as_raw_fd(),
            link,
            cap,
            stop,
            damaged: 0,
        })
    }
}

/// Socket option and modes from linux/if_packet.h.
const PACKET_FANOUT: libc::c_int = 18;
/// Pick the socket by the packet's flow hash. The kernel orders the
/// addresses and ports before hashing, so both directions of a flow (a
/// probe and its SYN-ACK or RST) reach the same socket, in order.
const PACKET_FANOUT_HASH: u32 = 0;
/// Reassemble IP fragments before hashing (fragments carry no ports).
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;

/// Put the packet socket `fd` into fanout group `group` (hash mode).
fn join_fanout(fd: std::os::fd::RawFd, group: u16) -> std::io::Result<()> {
    let arg: u32 = u32::from(group) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    // SAFETY: a valid descriptor and a 4-byte option value that outlives
    // the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            PACKET_FANOUT,
            &arg as *const u32 as *const libc::c_void,
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn message(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    }
}

fn classify(what: &str, e: pcap::Error) -> Error {
    let msg = message(e);
    let lower = msg.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        Error::Permission {
            what: what.to_string(),
            why: msg,
        }
    } else {
        Error::input(what, msg)
    }
}

impl FrameSource for LiveCapture {
    fn next_frame(&mut self) -> Next<'_> {
        if self.stop.load(Ordering::Relaxed) {
            return Next::End;
        }
        let (cap, damaged) = (&mut self.cap, &mut self.damaged);
        match cap.next_packet() {
            // Non-blocking: nothing buffered now. Wait for the socket.
            Err(pcap::Error::TimeoutExpired) => {
                let mut pfd = libc::pollfd {
                    fd: self.fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the duration of the call.
                unsafe { libc::poll(&mut pfd, 1, self.wait_ms) };
                Next::Idle
            }
            Ok(p) => Next::Frame(Frame {
                ts: header_nanos(p.header, 1000, false),
                link: self.link,
                data: p.data,
                wire_len: p.header.len,
            }),
            Err(pcap::Error::NoMorePackets) => Next::End,
            Err(e) => {
                *damaged += 1;
                eprintln!(
                    "picket: warning: {}: {}; capture stopped",
                    self.name,
                    message(e)
                );
                Next::End
            }
        }
    }

    fn is_live(&self) -> bool {
        true
    }

    fn kernel_drops(&mut self) -> Option<u64> {
        let s = self.cap.stats().ok()?;
        Some(s.dropped as u64 + s.if_dropped as u64)
    }

    fn damaged(&self) -> usize {
        self.damaged
    }
}
