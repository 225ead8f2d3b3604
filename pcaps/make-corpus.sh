#!/usr/bin/env bash
# Makes the pcaps/ corpus with real scanners between network namespaces.
#
#   pcaps/make-corpus.sh [SCENARIO...]      (root; all scenarios by default)
#
# Topology (every veth end lives inside a namespace; nothing routes out):
#
#   pkc-scan   203.0.113.10, 2001:db8:1::10 --veth-- pkc-target (203.0.113.1, 2001:db8:1::1)
#   pkc-benign 198.51.100.20               --veth-- pkc-target (198.51.100.1)
#
# The target owns 192.0.2.10-13 and 2001:db8:2::10 (on lo) and routes
# nothing, so the rest of 192.0.2.0/24 is silent. It runs an HTTP server on
# 80, TCP services on 22 and 443, a UDP echo on 53; nftables drops ports
# 1000-1099 (unanswered) and rejects TCP 2000-2099 with ICMP (rejected);
# other closed ports answer RST / ICMP port unreachable as the kernel does.
# Every scanner is bounded in ports, rate and time; each capture in packets.
set -euo pipefail
cd "$(dirname "$0")"
S=pkc-scan T=pkc-target B=pkc-benign
ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

down() {
    for n in $S $T $B; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$n" 2>/dev/null || true
    done
}

up() {
    down
    for n in $S $T $B; do ip netns add "$n"; ip -n "$n" link set lo up; done
    ip link add pkc-s0 address 02:00:00:00:00:10 type veth peer name pkc-t0 address 02:00:00:00:00:01
    ip link add pkc-b0 address 02:00:00:00:00:20 type veth peer name pkc-t1 address 02:00:00:00:00:02
    ip link set pkc-s0 netns $S; ip link set pkc-t0 netns $T
    ip link set pkc-b0 netns $B; ip link set pkc-t1 netns $T
    ip -n $S addr add 203.0.113.10/24 dev pkc-s0
    ip -n $S addr add 2001:db8:1::10/64 dev pkc-s0 nodad
    ip -n $T addr add 203.0.113.1/24 dev pkc-t0
    ip -n $T addr add 2001:db8:1::1/64 dev pkc-t0 nodad
    ip -n $T addr add 198.51.100.1/24 dev pkc-t1
    ip -n $B addr add 198.51.100.20/24 dev pkc-b0
    for h in 10 11 12 13; do ip -n $T addr add 192.0.2.$h/32 dev lo; done
    ip -n $T addr add 2001:db8:2::10/128 dev lo
    # An address inside the home networks for the internal-scan scenario.
    ip -n $S addr add 10.9.9.9/32 dev pkc-s0
    for d in "$S pkc-s0" "$T pkc-t0" "$T pkc-t1" "$B pkc-b0"; do set -- $d; ip -n "$1" link set "$2" up; done
    ip -n $S route add 192.0.2.0/24 via 203.0.113.1
    ip -n $S -6 route add 2001:db8:2::/64 via 2001:db8:1::1
    ip -n $B route add 192.0.2.0/24 via 198.51.100.1
    ip -n $T route add 10.9.9.9/32 via 203.0.113.10
    # Answer every probe at once: no ICMP rate limit, no forwarding.
    ns $T sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 net.ipv4.ip_forward=0
    ns $T nft -f - <<'NFT'
table inet picket_lab {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 1000-1099 drop
        udp dport 1000-1099 drop
        tcp dport 2000-2099 reject with icmpx admin-prohibited
    }
}
NFT
    ip netns exec $T python3 -m http.server 80 --bind :: >/dev/null 2>&1 &
    for port in 22 443; do
        ip netns exec $T python3 -c "
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', $port)); s.listen(128)
while True:
    c, _ = s.accept(); c.sendall(b'service $port\n'); c.close()
" >/dev/null 2>&1 &
    done
    ip netns exec $T python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('192.0.2.10', 53))
while True:
    d, a = s.recvfrom(2048); s.sendto(d, a)
" >/dev/null 2>&1 &
    sleep 1
}

# capture NAME IFACE MAXPACKETS -- command...: record the target's side of
# IFACE while the command runs in its namespace (scan or benign).
capture() {
    local name=$1 iface=$2 max=$3; shift 4
    local client=$S; [ "$iface" = pkc-t1 ] && client=$B
    # Directly, not through a function: $! must be tcpdump itself.
    ip netns exec $T tcpdump -q -n -i "$iface" -s 256 -c "$max" -U -w "$name.pcap" 2>/dev/null &
    local dump=$!
    sleep 1
    echo "== $name: $*" >&2
    ns $client timeout 180 "$@" >/dev/null 2>&1 || echo "   ($name: command exited $?)" >&2
    sleep 2
    kill -INT $dump 2>/dev/null || true
    wait $dump 2>/dev/null || true
}

# stretch FILE FACTOR: multiply every packet's time since the first by
# FACTOR (a classic pcap, as tcpdump writes it), in place.
stretch() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
path, factor = sys.argv[1], int(sys.argv[2])
data = open(path, 'rb').read()
magic = data[:4]
endian = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
per_sec = 10**9 if magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d') else 10**6
out, off, first = bytearray(data[:24]), 24, None
while off + 16 <= len(data):
    sec, frac, incl, orig = struct.unpack(endian + 'IIII', data[off:off + 16])
    t = sec * per_sec + frac
    first = t if first is None else first
    t = first + (t - first) * factor
    out += struct.pack(endian + 'IIII', t // per_sec, t % per_sec, incl, orig)
    out += data[off + 16:off + 16 + incl]
    off += 16 + incl
open(path, 'wb').write(out)
PY
}

MASSCAN=(masscan --interface pkc-s0 --adapter-ip 203.0.113.10 --adapter-mac 02:00:00:00:00:10 --router-mac 02:00:00:00:00:01 --rate 2000 --wait 2)

run() {
    case $1 in
    nmap-sS-top1000) capture $1 pkc-t0 6000 -- nmap -n -Pn -sS -T4 --max-retries 1 192.0.2.10 ;;
    nmap-sT) capture $1 pkc-t0 3000 -- nmap -n -Pn -sT -T4 --max-retries 1 -p 1-300 192.0.2.10 ;;
    nmap-sS-1024-hosts) capture $1 pkc-t0 12000 -- nmap -n -Pn -sS -T4 --max-retries 1 -p 1-1024 192.0.2.10-13 ;;
    nmap-sF) capture $1 pkc-t0 3000 -- nmap -n -Pn -sF -T4 --max-retries 1 -p 1-100 192.0.2.10 ;;
    nmap-sN) capture $1 pkc-t0 3000 -- nmap -n -Pn -sN -T4 --max-retries 1 -p 1-100 192.0.2.10 ;;
    nmap-sX) capture $1 pkc-t0 3000 -- nmap -n -Pn -sX -T4 --max-retries 1 -p 1-100 192.0.2.10 ;;
    nmap-sU) capture $1 pkc-t0 3000 -- nmap -n -Pn -sU -T4 --max-retries 1 -p 40-79 192.0.2.10 ;;
    nmap-sn-sweep) capture $1 pkc-t0 3000 -- nmap -n -sn -PE --send-ip --max-retries 1 192.0.2.0/26 ;;
    nmap-6) capture $1 pkc-t0 3000 -- nmap -6 -n -Pn -sS -T4 --max-retries 1 -p 1-100 2001:db8:2::10 ;;
    nmap-T2-slow) capture $1 pkc-t0 1000 -- nmap -n -Pn -sS -T2 -p 21,22,23,25,80,110,139,443,445,3389,8080,8443 192.0.2.11 ;;
    nmap-slow-hours)
        # One host at a time, one probe each, stretched 600-fold afterwards:
        # a 445/tcp sweep of 10 hosts over 2.4 hours (probes 10 to 20
        # minutes apart; nmap waits a second longer after a silent host).
        capture $1 pkc-t0 1000 -- nmap -n -Pn -sS --max-retries 0 --max-hostgroup 1 --scan-delay 1s -p 445 192.0.2.5-14
        stretch $1.pcap 600 ;;
    curl-nikto-agent) capture $1 pkc-t0 1000 -- sh -c 'for p in / /robots.txt /.env /index.html; do curl -s -o /dev/null -A "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)" http://192.0.2.10$p; done' ;;
    nmap-http-enum) capture $1 pkc-t0 20000 -- nmap -n -Pn -sT -p 80 --script http-enum 192.0.2.10 ;;
    masscan-sweep) capture $1 pkc-t0 3000 -- "${MASSCAN[@]}" -p 22,80,443,8080 192.0.2.0/26 ;;
    zmap-sweep) capture $1 pkc-t0 1000 -- sh -c 'printf "" > /tmp/pkc-zmap-none.conf; zmap -q -i pkc-s0 -S 203.0.113.10 -G 02:00:00:00:00:01 -b /tmp/pkc-zmap-none.conf -r 1000 -p 80 -o /dev/null 192.0.2.0/26' ;;
    nmap-sA) capture $1 pkc-t0 1000 -- nmap -n -Pn -sA -T4 --max-retries 1 -p 1-100 192.0.2.10 ;;
    nmap-sM) capture $1 pkc-t0 1000 -- nmap -n -Pn -sM -T4 --max-retries 1 -p 1-100 192.0.2.10 ;;
    nmap-6-ping) capture $1 pkc-t0 1000 -- nmap -6 -n -sn -PE --max-retries 1 2001:db8:2::/124 ;;
    nmap-10-hosts) capture $1 pkc-t0 1000 -- nmap -n -Pn -sS --max-retries 0 -p 445 192.0.2.1-10 ;;
    nmap-internal) capture $1 pkc-t0 1000 -- nmap -n -Pn -sS -T4 --max-retries 1 -S 10.9.9.9 -e pkc-s0 -p 1-100 192.0.2.10 ;;
    hping3-syn) capture $1 pkc-t0 1000 -- hping3 -q -S -p ++1 -c 150 -i u5000 192.0.2.12 ;;
    benign-web) capture $1 pkc-t1 5000 -- sh -c 'for i in $(seq 60); do curl -s -o /dev/null http://192.0.2.10/; done' ;;
    benign-health) capture $1 pkc-t1 2000 -- sh -c 'for i in $(seq 8); do for p in 22 80 443; do curl -s -m 1 -o /dev/null telnet://192.0.2.11:$p </dev/null; done; sleep 2; done' ;;
    benign-dns) capture $1 pkc-t1 2000 -- python3 -c "
import socket, time
for i in range(40):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
    s.sendto(b'query %d' % i, ('192.0.2.10', 53)); s.recvfrom(2048); s.close(); time.sleep(0.05)
" ;;
    benign-retry) capture $1 pkc-t1 2000 -- sh -c 'for i in $(seq 40); do curl -s -m 1 -o /dev/null http://192.0.2.10:8081/; sleep 0.1; done' ;;
    benign-downloads) capture $1 pkc-t1 20000 -- sh -c 'for i in $(seq 12); do curl -s -o /dev/null http://192.0.2.10/ & done; wait' ;;
    *) echo "unknown scenario $1" >&2; return 2 ;;
    esac
}

ALL=(nmap-sS-top1000 nmap-sT nmap-sS-1024-hosts nmap-sF nmap-sN nmap-sX nmap-sU nmap-sn-sweep nmap-6 nmap-T2-slow nmap-slow-hours nmap-http-enum curl-nikto-agent masscan-sweep zmap-sweep hping3-syn nmap-sA nmap-sM nmap-6-ping nmap-10-hosts nmap-internal benign-web benign-health benign-dns benign-retry benign-downloads)

trap down EXIT
up
for s in "${@:-${ALL[@]}}"; do run "$s"; done
ls -l ./*.pcap >&2
