#!/usr/bin/env bash
# A two-host lab in network namespaces, for captures and live tests.
#
#   pk-scan (203.0.113.10, 2001:db8:1::10) <-veth-> pk-target (192.0.2.10-13, 2001:db8:2::10)
#
# Both ends of the veth pair live inside the namespaces; nothing routes
# anywhere else. Usage: netns-lab.sh up | down
set -euo pipefail
SCAN=pk-scan
TARGET=pk-target

down() {
    ip netns del "$SCAN" 2>/dev/null || true
    ip netns del "$TARGET" 2>/dev/null || true
}

up() {
    down
    ip netns add "$SCAN"
    ip netns add "$TARGET"
    ip link add pk-s0 type veth peer name pk-t0
    ip link set pk-s0 netns "$SCAN"
    ip link set pk-t0 netns "$TARGET"
    ip -n "$SCAN" link set lo up
    ip -n "$TARGET" link set lo up
    ip -n "$SCAN" addr add 203.0.113.10/24 dev pk-s0
    ip -n "$SCAN" addr add 2001:db8:1::10/64 dev pk-s0 nodad
    ip -n "$TARGET" addr add 192.0.2.10/24 dev pk-t0
    for h in 11 12 13; do ip -n "$TARGET" addr add "192.0.2.$h/24" dev pk-t0; done
    ip -n "$TARGET" addr add 2001:db8:2::10/64 dev pk-t0 nodad
    ip -n "$SCAN" link set pk-s0 up
    ip -n "$TARGET" link set pk-t0 up
    ip -n "$SCAN" route add 192.0.2.0/24 dev pk-s0
    ip -n "$TARGET" route add 203.0.113.0/24 dev pk-t0
    ip -n "$SCAN" -6 route add 2001:db8:2::/64 dev pk-s0
    ip -n "$TARGET" -6 route add 2001:db8:1::/64 dev pk-t0
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
