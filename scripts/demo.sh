#!/usr/bin/env bash
# Set up (Debian packages, release build) and replay the bundled nmap capture.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --quiet
exec target/release/picket replay --format table pcaps/nmap-sS-top1000.pcap "$@"
