#!/usr/bin/env bash
# Replay throughput, side by side in one run: picket (1 and 2 aggregator
# threads) against tcpdump reading the same file with a SYN-only filter.
#
#   benches/replay-vs-tcpdump.sh [PACKETS] [ROUNDS]
#
# Writes the deterministic `syn` workload with picket-gen first.
set -euo pipefail
cd "$(dirname "$0")/.."
packets=${1:-5000000}
rounds=${2:-3}
file=${TMPDIR:-/tmp}/picket-syn-$packets.pcap
cargo build --release --quiet
[ -f "$file" ] || target/release/picket-gen syn "$file" --packets "$packets"

secs() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -n 1; }
printf '%-28s %8s %12s\n' run seconds packets/s
for r in $(seq "$rounds"); do
    for t in 1 2; do
        s=$(secs target/release/picket replay -q --threads "$t" "$file")
        printf '%-28s %8s %12.0f\n' "picket --threads $t (#$r)" "$s" "$(awk -v n="$packets" -v s="$s" 'BEGIN { print n / s }')"
    done
    s=$(secs tcpdump -q -r "$file" -w /dev/null 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn')
    printf '%-28s %8s %12.0f\n' "tcpdump SYN filter (#$r)" "$s" "$(awk -v n="$packets" -v s="$s" 'BEGIN { print n / s }')"
done
