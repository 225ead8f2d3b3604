//! Findings to a syslog collector (`--syslog udp://HOST:PORT` or
//! `tcp://HOST:PORT`): one RFC 5424 message per finding, carrying it in
//! the chosen format, over TCP with RFC 6587 octet counting. A thread of
//! its own sends, so a slow or absent collector never holds the sensor
//! up: findings wait in a bounded buffer while it is down, the sender
//! reconnects with growing pauses (0.1 s up to 5 s), and what does not
//! fit the buffer is counted and reported, never silently gone.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

/// Findings held while the collector is unreachable.
pub const BUFFER: usize = 100_000;
/// At the end of a run, how long an unreachable collector is waited for.
const LAST_WAIT: Duration = Duration::from_secs(10);
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// Where to send: parsed from `udp://HOST:PORT` or `tcp://HOST:PORT`.
#[derive(Clone, Debug)]
pub struct Target {
    transport: Transport,
    host: String,
    addr: SocketAddr,
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        let (transport, rest) = if let Some(r) = s.strip_prefix("udp://") {
            (Transport::Udp, r)
        } else if let Some(r) = s.strip_prefix("tcp://") {
            (Transport::Tcp, r)
        } else {
            return Err(format!("{s:?}: give udp://HOST:PORT or tcp://HOST:PORT"));
        };
        let addr = rest
            .to_socket_addrs()
            .map_err(|e| format!("{s:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{s:?}: no address"))?;
        Ok(Target {
            transport,
            host: rest.to_string(),
            addr,
        })
    }
}

/// The sending end, held by the output stage.
pub struct SyslogSink {
    tx: Option<Sender<Vec<u8>>>,
    dropped: Arc<AtomicU64>,
    /// Set when the run is over: an unreachable collector is then waited
    /// for `LAST_WAIT` at most.
    closing: Arc<AtomicBool>,
    sender: Option<JoinHandle<u64>>,
    target: String,
    hostname: String,
    pid: u32,
}

/// RFC 5424 PRI: facility local0 (16); warning (4) for the broad scans,
/// notice (5) for the rest.
pub fn priority(high: bool) -> u8 {
    16 * 8 + if high { 4 } else { 5 }
}

impl SyslogSink {
    pub fn start(target: &Target) -> io::Result<SyslogSink> {
        let (tx, rx) = bounded(BUFFER);
        let dropped = Arc::new(AtomicU64::new(0));
        let closing = Arc::new(AtomicBool::new(false));
        let (t, c) = (target.clone(), Arc::clone(&closing));
        let sender = std::thread::Builder::new()
            .name("syslog".into())
            .spawn(move || send_all(&t, rx, &c))?;
        Ok(SyslogSink {
            tx: Some(tx),
            dropped,
            closing,
            sender: Some(sender),
            target: format!("{:?}://{}", target.transport, target.host).to_lowercase(),
            hostname: super::host_name(),
            pid: std::process::id(),
        })
    }

    /// Queue one finding, already written in its format (`body`, one line
    /// without its newline), under `msgid` (the rule) and priority `pri`.
    pub fn send(&mut self, pri: u8, msgid: &str, body: &[u8]) {
        let now = crate::time::rfc3339(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64),
            Some(crate::time::Precision::Micro),
        );
        let mut msg = format!(
            "<{pri}>1 {now} {} picket {} {msgid} - ",
            self.hostname, self.pid
        )
        .into_bytes();
        msg.extend_from_slice(body);
        if let Some(tx) = &self.tx {
            match tx.try_send(msg) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Send what is queued (waiting a while for a collector that is down)
    /// and say on stderr what could not be delivered.
    pub fn finish(&mut self) {
        drop(self.tx.take());
        self.closing.store(true, Ordering::Relaxed);
        let unsent = self.sender.take().map_or(0, |t| t.join().unwrap_or(0));
        let dropped = self.dropped.load(Ordering::Relaxed) + unsent;
        if dropped > 0 {
            eprintln!(
                "picket: warning: {dropped} findings were not delivered to {} (collector unreachable, or more than {BUFFER} waiting)",
                self.target
            );
        }
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        if self.tx.is_some() {
            self.finish();
        }
    }
}

enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

fn connect(t: &Target) -> io::Result<Link> {
    match t.transport {
        Transport::Udp => {
            let local: SocketAddr = if t.addr.is_ipv4() {
                "0.0.0.0:0".parse().expect("an address")
            } else {
                "[::]:0".parse().expect("an address")
            };
            let s = UdpSocket::bind(local)?;
            s.connect(t.addr)?;
            Ok(Link::Udp(s))
        }
        Transport::Tcp => {
            let s = TcpStream::connect_timeout(&t.addr, Duration::from_secs(2))?;
            s.set_nodelay(true)?;
            Ok(Link::Tcp(s))
        }
    }
}

/// A collector that closed its end (a restart) is noticed before a
/// message is written into a connection that can no longer deliver it.
fn still_open(s: &mut TcpStream) -> bool {
    let _ = s.set_nonblocking(true);
    let mut byte = [0u8; 64];
    let open = match s.read(&mut byte) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    };
    let _ = s.set_nonblocking(false);
    open
}

fn deliver(link: &mut Link, msg: &[u8]) -> io::Result<()> {
    match link {
        Link::Udp(s) => s.send(msg).map(|_| ()),
        Link::Tcp(s) => {
            if !still_open(s) {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "collector closed",
                ));
            }
            // RFC 6587 octet counting: the length, a space, the message.
            let mut framed = format!("{} ", msg.len()).into_bytes();
            framed.extend_from_slice(msg);
            s.write_all(&framed)
        }
    }
}

/// The sender thread: every message in order, reconnecting as needed.
/// Returns how many were given up at the end.
fn send_all(t: &Target, rx: Receiver<Vec<u8>>, closing: &AtomicBool) -> u64 {
    let mut link: Option<Link> = None;
    let mut pending: Option<Vec<u8>> = None;
    let mut pause = FIRST_PAUSE;
    let mut closing_since: Option<Instant> = None;
    loop {
        let msg = match pending.take() {
            Some(m) => m,
            None => match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return 0,
            },
        };
        if link.is_none() {
            match connect(t) {
                Ok(l) => {
                    link = Some(l);
                    pause = FIRST_PAUSE;
                }
                Err(_) => {
                    pending = Some(msg);
                    if closing.load(Ordering::Relaxed) {
                        let since = *closing_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= LAST_WAIT {
                            return 1 + rx.len() as u64;
                        }
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(LONGEST_PAUSE);
                    continue;
                }
            }
        }
        if let Some(l) = &mut link {
            if deliver(l, &msg).is_err() {
                link = None;
                pending = Some(msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t: Target = "tcp://127.0.0.1:6514".parse().unwrap();
        assert_eq!((t.transport, t.addr.port()), (Transport::Tcp, 6514));
        let t: Target = "udp://[::1]:514".parse().unwrap();
        assert_eq!(t.transport, Transport::Udp);
        assert!("127.0.0.1:514".parse::<Target>().is_err());
        assert!("tcp://nowhere".parse::<Target>().is_err());
    }

    #[test]
    fn priorities_are_local0() {
        assert_eq!((priority(true), priority(false)), (132, 133));
    }
}
