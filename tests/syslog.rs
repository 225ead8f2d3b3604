//! Findings to a real syslog collector: Debian's rsyslog, started here
//! with a configuration of its own on a loopback port, restarted while
//! picket runs; every finding must arrive, once.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Rsyslog {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Rsyslog {
    fn new(dir: &Path) -> Rsyslog {
        // A free port, for this test alone.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = format!(
            r#"global(workDirectory="{dir}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{port}")
template(name="finding" type="string" string="%msgid% %msg%\n")
*.* action(type="omfile" file="{dir}/received.log" template="finding")
"#,
            dir = dir.display()
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            port,
            child: None,
        };
        r.start();
        r
    }

    fn start(&mut self) {
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd (Debian's rsyslog)");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "rsyslogd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn received(&self) -> String {
        std::fs::read_to_string(self.dir.join("received.log")).unwrap_or_default()
    }

    /// rsyslogd listens on TCP (what `start` waits for) before its UDP
    /// input may be reading: datagrams sent before are lost. Send one now
    /// and then until it arrives.
    fn wait_for_udp(&self) {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        while !self.received().contains("udp-ready") {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "rsyslogd's UDP input never answered"
            );
            let _ = sock.send_to(
                b"<14>1 2026-01-01T00:00:00Z test picket - udp-ready - ready",
                ("127.0.0.1", self.port),
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, needle: &str) {
        let start = Instant::now();
        while !self.received().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{needle} never reached rsyslog: {}",
                self.received()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn findings_reach_rsyslog_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut rsyslog = Rsyslog::new(dir.path());
    let rows = dir.path().join("rows.json");
    let target = format!("tcp://127.0.0.1:{}", rsyslog.port);
    let mut picket = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q", "--batch", "1", "--syslog", &target, "-o"])
        .arg(&rows)
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = picket.stdin.take().unwrap();
    stdin
        .write_all(&pcap_bytes(
            1,
            false,
            &rejected_scan("203.0.113.7", T0 + 10 * SEC),
        ))
        .unwrap();
    stdin.flush().unwrap();
    rsyslog.wait_for("203.0.113.7");
    // The collector goes away; findings come while it is down.
    rsyslog.stop();
    let second = pcap_bytes(1, false, &rejected_scan("203.0.113.8", T0 + 20 * SEC));
    stdin.write_all(&second[24..]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    rsyslog.start();
    drop(stdin);
    let done = exited_within(picket, Duration::from_secs(60), "of its input's end");
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{err}");
    assert!(!err.contains("not delivered"), "{err}");
    // Everything picket wrote, rsyslog has: each line once, its rule as
    // the message id.
    let written = std::fs::read_to_string(&rows).unwrap();
    assert_eq!(
        written.lines().count(),
        6,
        "two early alerts, two seed rows, two trw rows: {written}"
    );
    let last = written.lines().last().unwrap();
    rsyslog.wait_for(last);
    let received = rsyslog.received();
    for line in written.lines() {
        let rule = serde_json::from_str::<serde_json::Value>(line).unwrap()["Rule"]
            .as_str()
            .unwrap()
            .to_string();
        let want = format!("{rule} {line}");
        assert_eq!(
            received.lines().filter(|l| *l == want).count(),
            1,
            "{want}\nreceived:\n{received}"
        );
    }
    assert_eq!(received.lines().count(), 6, "{received}");
}

#[test]
fn findings_reach_rsyslog_over_udp() {
    let dir = tempfile::tempdir().unwrap();
    let rsyslog = Rsyslog::new(dir.path());
    rsyslog.wait_for_udp();
    let capture = write_capture(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(["replay", "-q", "--format", "cef", "--syslog"])
        .arg(format!("udp://127.0.0.1:{}", rsyslog.port))
        .arg(&capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = String::from_utf8(out.stdout).unwrap();
    assert_eq!(written.lines().count(), 6, "{written}");
    let last = written.lines().last().unwrap();
    rsyslog.wait_for(last);
    let received = rsyslog.received();
    for line in written.lines() {
        // MSGID is the rule, the CEF line's Signature ID.
        let rule = line.split('|').nth(4).unwrap();
        assert!(
            received.lines().any(|l| l == format!("{rule} {line}")),
            "{line}\n{received}"
        );
    }
}

/// Both scans of the TCP test in one capture file.
fn write_capture(dir: &Path) -> PathBuf {
    let mut records = rejected_scan("203.0.113.7", T0 + 10 * SEC);
    records.extend(rejected_scan("203.0.113.8", T0 + 20 * SEC));
    let path = dir.join("scans.pcap");
    std::fs::write(&path, pcap_bytes(1, false, &records)).unwrap();
    path
}
