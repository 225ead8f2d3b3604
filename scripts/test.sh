#!/usr/bin/env bash
# Install what the tests need, then run every test (unit, end to end, live).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
exec cargo test --release "$@"
