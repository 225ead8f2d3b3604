#!/usr/bin/env bash
# Independent counts for hand-checking the golden rows: what tcpdump's own
# filters see in each capture (probes from the scanner side, distinct ports
# and hosts probed, RSTs and ICMP unreachables sent back).
#   pcaps/check-counts.sh FILE.pcap...
set -euo pipefail
count() { tcpdump -nr "$1" "$2" 2>/dev/null | wc -l; }
for f in "$@"; do
    syn=$(count "$f" 'tcp[tcpflags] & (tcp-syn|tcp-ack|tcp-rst) == tcp-syn')
    stealth=$(count "$f" 'tcp[tcpflags] & (tcp-syn|tcp-ack|tcp-rst) == 0')
    syn6=$(count "$f" 'ip6 and ip6[6] == 6 and ip6[53] & 0x16 == 0x02')
    rst=$(count "$f" 'tcp[tcpflags] & tcp-rst != 0 and not src net 203.0.113.0/24 and not src net 198.51.100.20/32')
    rst6=$(count "$f" 'ip6 and ip6[6] == 6 and ip6[53] & 0x04 != 0 and not src net 2001:db8:1::/64')
    unreach=$(count "$f" 'icmp[0] == 3 or (icmp6 and ip6[40] == 1)')
    ports=$(tcpdump -nr "$f" 'tcp[tcpflags] & (tcp-syn|tcp-ack|tcp-rst) == tcp-syn or tcp[tcpflags] & (tcp-syn|tcp-ack|tcp-rst) == 0 or (ip6 and ip6[6] == 6 and ip6[53] & 0x16 == 0x02) or (udp and src net 203.0.113.0/24)' 2>/dev/null \
        | awk '{print $5}' | sed 's/:$//; s/.*\.//' | sort -u | wc -l)
    hosts=$(tcpdump -nr "$f" 'tcp[tcpflags] & (tcp-syn|tcp-ack|tcp-rst) == tcp-syn or (ip6 and ip6[6] == 6 and ip6[53] & 0x16 == 0x02)' 2>/dev/null \
        | awk '{print $5}' | sed 's/\.[0-9]*:$//' | sort -u | wc -l)
    printf '%-24s syn=%s syn6=%s stealth=%s rst=%s rst6=%s unreach=%s ports=%s hosts=%s\n' \
        "$(basename "$f")" "$syn" "$syn6" "$stealth" "$rst" "$rst6" "$unreach" "$ports" "$hosts"
done
