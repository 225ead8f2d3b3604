#!/usr/bin/env bash
# Live capture benchmark: drops and receiver CPU per packet, side by side
# with tcpdump, on a veth pair between two network namespaces this script
# makes (and removes). Run as root.
#
#   benches/live.sh [PACKETS] [SENDERS] [BUFFER_MIB]
#       (defaults: 2000000 packets per sender, 2 senders, 2 MiB buffers)
#
# The senders replay picket-gen's `unanswered` workload (SYNs from ~2000
# sources, nobody answers) with `tcpreplay --topspeed` into one end; the
# receiver captures on the other with a BUFFER_MIB kernel buffer:
#   tcpdump -B (BUFFER_MIB*1024) -w /dev/null
#   picket live --buffer-mib BUFFER_MIB --capture-threads 1
#   picket live --buffer-mib BUFFER_MIB --capture-threads 2
# and the table gives what each saw and dropped, how many batches picket's
# capture threads held back while an aggregator's queue was full (and how
# often they still had to wait for one), and its CPU seconds (user +
# system, from /usr/bin/time) per packet seen. On a 2-core machine the
# senders use the cores too: CPU per packet, not packets per second, is
# the figure that carries over to a bigger machine.
set -euo pipefail
cd "$(dirname "$0")/.."
packets=${1:-2000000}
senders=${2:-2}
buffer=${3:-2}
[ "$(id -u)" = 0 ] || { echo "benches/live.sh needs root (network namespaces, capture)" >&2; exit 2; }
for tool in tcpdump tcpreplay; do
    command -v $tool >/dev/null || { echo "$tool is needed (apt-get install $tool)" >&2; exit 2; }
done
cargo build --release --quiet
tmp=$(mktemp -d)
s=pkb-s-$$ t=pkb-t-$$
cleanup() {
    ip netns del $s 2>/dev/null || true
    ip netns del $t 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
target/release/picket-gen unanswered "$tmp/syn.pcap" --packets "$packets" >/dev/null
ip netns add $s
ip netns add $t
ip link add pkbs$$ type veth peer name pkbt$$
ip link set pkbs$$ netns $s
ip link set pkbt$$ netns $t
ip -n $s link set pkbs$$ up
ip -n $t link set pkbt$$ up
sleep 1

# send: every sender replays the file once, all at once.
send() {
    local pids=()
    for _ in $(seq "$senders"); do
        ip netns exec $s timeout 300 tcpreplay -q --topspeed --preload-pcap -i pkbs$$ "$tmp/syn.pcap" >/dev/null 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
}

# run NAME CMD...: receiver in the target namespace under /usr/bin/time.
run() {
    local name=$1
    shift
    ip netns exec $t /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" &
    local pid=$!
    sleep 1.5
    local t0 t1
    t0=$(date +%s.%N)
    send
    t1=$(date +%s.%N)
    sleep 1
    # /usr/bin/time passes the signal on to its child.
    pkill -INT -P "$pid" || true
    wait "$pid" || true
    local seen drops cpu waits=- held=-
    case $name in
    tcpdump*)
        seen=$(awk '/packets captured/ {print $1}' "$tmp/err")
        drops=$(awk '/dropped by kernel/ {print $1}' "$tmp/err")
        ;;
    *)
        seen=$(awk '$1 == "packets" {print $2}' "$tmp/err")
        drops=$(awk '$1 == "kernel" && $2 == "drops" {print $3}' "$tmp/err")
        waits=$(sed -n 's/.*and waited \([0-9]*\) times.*/\1/p' "$tmp/err")
        held=$(sed -n 's/.*capture held back \([0-9]*\) batches.*/\1/p' "$tmp/err")
        ;;
    esac
    cpu=$(awk '{print $1 + $2}' "$tmp/time")
    local sent=$((packets * senders))
    awk -v n="$name" -v sent="$sent" -v seen="${seen:-0}" -v drops="${drops:-0}" -v cpu="$cpu" -v t0="$t0" -v t1="$t1" -v waits="$waits" -v held="$held" 'BEGIN {
        printf "| %s | %d | %.2fM | %d | %d (%.2f%%) | %s | %s | %.2f | %.0f |\n", n, sent, sent / (t1 - t0) / 1e6, seen, drops, 100 * drops / sent, held, waits, cpu, seen ? cpu * 1e9 / seen : 0
    }'
}

echo "| receiver | sent | sent per s | seen | dropped | batches held back | hand-over waits | CPU s | CPU ns per packet |"
echo "|---|---|---|---|---|---|---|---|---|"
run "tcpdump -B $((buffer * 1024))" tcpdump -q -n -B $((buffer * 1024)) -i pkbt$$ -w /dev/null
for n in 1 2; do
    run "picket --buffer-mib $buffer --capture-threads $n" \
        target/release/picket live pkbt$$ --buffer-mib "$buffer" --capture-threads "$n" \
        --stats-interval 0 -o /dev/null
done
