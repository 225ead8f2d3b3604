//! `cargo bench --bench macro`: runs benches/macro.sh, the side-by-side
//! replay benchmark against tcpdump (PICKET_BENCH_PACKETS packets per
//! workload, 10 million by default).

use std::process::Command;

fn main() {
    // `cargo bench -- --list` and filters are criterion's business, not ours.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let packets = std::env::var("PICKET_BENCH_PACKETS").unwrap_or_else(|_| "10000000".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/macro.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(&packets)
        .status()
        .expect("run benches/macro.sh");
    assert!(status.success(), "benches/macro.sh failed");
}
