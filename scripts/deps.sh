#!/usr/bin/env bash
# Install the Debian packages picket builds and tests with, if missing.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
pkgs=(libpcap-dev pkg-config)
if [ "${1:-}" = "--test" ]; then
    # Live tests use network namespaces and capture tools.
    pkgs+=(iproute2 tcpdump nmap masscan tcpreplay util-linux procps)
    # The metrics test checks what picket serves with promtool, fetched
    # with curl inside the test's namespace.
    pkgs+=(prometheus curl)
    # The Sigma test installs sigma-cli with pip in a virtual environment.
    pkgs+=(python3 python3-venv)
    # What reads the shipped files: the man page, the unit, logrotate's.
    pkgs+=(man-db systemd logrotate)
    # The syslog test sends findings to a real rsyslog it starts itself.
    pkgs+=(rsyslog)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing: ${missing[*]}" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
