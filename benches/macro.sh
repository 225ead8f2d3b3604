#!/usr/bin/env bash
# Macro benchmark: replay throughput side by side with tcpdump.
#
#   benches/macro.sh [PACKETS] [WORKLOAD...]
#       (defaults: 10000000, syn span flood unanswered span-external)
#
# Writes each deterministic workload with picket-gen (once, kept in
# $TMPDIR), then in one run replays it through
#   tcpdump -r FILE -w /dev/null 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn'
# and through picket with 1 and 2 aggregator threads (plus `cat FILE`, the
# cost of just reading the bytes once), and prints a Markdown
# table: packets/s, seconds, picket/tcpdump speed ratio, peak RSS, rows.
set -euo pipefail
cd "$(dirname "$0")/.."
packets=${1:-10000000}
shift || true
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(syn span flood unanswered span-external)
tmp=${TMPDIR:-/tmp}
cargo build --release --quiet
command -v tcpdump >/dev/null || { echo "tcpdump is needed (apt-get install tcpdump)" >&2; exit 2; }

# measure CMD...: prints "seconds peak-rss-KiB"
measure() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -n 1; }

echo "| workload | run | packets/s | seconds | x tcpdump | peak RSS | rows |"
echo "|---|---|---|---|---|---|---|"
for w in "${workloads[@]}"; do
    file=$tmp/picket-$w-$packets.pcap
    [ -f "$file" ] || target/release/picket-gen "$w" "$file" --packets "$packets"
    cat "$file" > /dev/null # warm the page cache: nobody pays the disk
    read -r td_s td_kb < <(measure tcpdump -q -r "$file" -w /dev/null 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn')
    td_pps=$(awk -v n="$packets" -v s="$td_s" 'BEGIN { printf "%.2fM", n / s / 1e6 }')
    echo "| $w | tcpdump, SYN filter | $td_pps | $td_s | 1.00 | $((td_kb / 1024)) MiB | |"
    # The floor for any one-thread reader: bringing the bytes in once.
    read -r cat_s cat_kb < <(measure cat "$file")
    cat_pps=$(awk -v n="$packets" -v s="$cat_s" 'BEGIN { printf "%.2fM", n / s / 1e6 }')
    cat_ratio=$(awk -v a="$td_s" -v b="$cat_s" 'BEGIN { printf "%.2f", a / b }')
    echo "| $w | cat FILE > /dev/null (reading floor) | $cat_pps | $cat_s | $cat_ratio | $((cat_kb / 1024)) MiB | |"
    for t in 1 2; do
        read -r s kb < <(measure target/release/picket replay -q --threads "$t" "$file")
        rows=$(target/release/picket replay -q --threads "$t" "$file" | wc -l)
        pps=$(awk -v n="$packets" -v s="$s" 'BEGIN { printf "%.2fM", n / s / 1e6 }')
        ratio=$(awk -v a="$td_s" -v b="$s" 'BEGIN { printf "%.2f", a / b }')
        echo "| $w | picket --threads $t | $pps | $s | $ratio | $((kb / 1024)) MiB | $rows |"
    done
done
