//! `picket live` on a veth pair between two network namespaces this test
//! creates (documentation addresses only, nothing routed elsewhere). Needs
//! root, as CI has; without it these tests fail, they do not skip.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() {
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "live tests need root for network namespaces and capture: run scripts/test.sh as root"
    );
}

fn run(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect(args[0]);
    assert!(st.success(), "{args:?} failed");
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Lab {
    scan: String,
    target: String,
    veth_target: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            scan: format!("pkl-{tag}-s-{id}"),
            target: format!("pkl-{tag}-t-{id}"),
            veth_target: format!("pk{tag}t{id}"),
        };
        let veth_scan = format!("pk{tag}s{id}");
        lab.remove();
        run(&["ip", "netns", "add", &lab.scan]);
        run(&["ip", "netns", "add", &lab.target]);
        run(&[
            "ip",
            "link",
            "add",
            &veth_scan,
            "type",
            "veth",
            "peer",
            "name",
            &lab.veth_target,
        ]);
        run(&["ip", "link", "set", &veth_scan, "netns", &lab.scan]);
        run(&["ip", "link", "set", &lab.veth_target, "netns", &lab.target]);
        let ends = [
            (&lab.scan, &veth_scan, "203.0.113.10/24", "192.0.2.0/24"),
            (
                &lab.target,
                &lab.veth_target,
                "192.0.2.10/24",
                "203.0.113.0/24",
            ),
        ];
        for (ns, dev, addr, peer_net) in ends {
            run(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "route", "add", peer_net, "dev", dev]);
        }
        lab
    }

    fn remove(&self) {
        for ns in [&self.scan, &self.target] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(args);
        c
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove();
    }
}

fn wait_with_timeout(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn live_capture_reports_a_syn_scan_and_flushes_on_sigterm() {
    root();
    let lab = Lab::new("a");
    let picket = lab
        .in_ns(
            &lab.target,
            &[
                env!("CARGO_BIN_EXE_picket"),
                "live",
                &lab.veth_target,
                "--stats-interval",
                "1",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // 100 closed ports, each probed once: the target's kernel answers RST.
    let scan = lab
        .in_ns(
            &lab.scan,
            &[
                "timeout",
                "60",
                "nmap",
                "-n",
                "-Pn",
                "-sS",
                "-p",
                "1-100",
                "--max-retries",
                "0",
                "192.0.2.10",
            ],
        )
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(scan.success(), "nmap failed");
    std::thread::sleep(Duration::from_millis(1500));
    run(&["kill", "-TERM", &picket.id().to_string()]);
    let out = wait_with_timeout(picket, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{text}\n{err}");
    let r = &rows[0];
    assert_eq!(r["SourceIP"], "203.0.113.10");
    assert_eq!(r["ScanType"], "Aggressive Port Scan");
    assert_eq!(r["UniqueDestPorts"], 100, "{r}");
    assert_eq!(r["RejectedAttempts"], 100, "{r}");
    assert!(
        err.contains("kernel drops"),
        "statistics report kernel drops: {err}"
    );
    assert!(err.contains("rows           1 written"), "{err}");
}

#[test]
fn live_capture_without_privilege_is_refused() {
    root();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([env!("CARGO_BIN_EXE_picket"), "live", "lo"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.starts_with("picket: error: interface lo:"), "{err}");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
}
