#!/usr/bin/env bash
# Check picket's Sigma rules with the real tools, in a virtual environment
# of their own (pinned versions, from PyPI):
#   tests/sigma.sh VENV FINDINGS.jsonl OUTDIR
# writes OUTDIR/kusto.txt and OUTDIR/splunk.txt (the conversions) and
# OUTDIR/matches.txt (findings per rule); fails if any step fails.
set -euo pipefail
venv=$1 findings=$2 out=$3
cd "$(dirname "$0")/.."
if [ ! -x "$venv/bin/sigma" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
        'sigma-cli==3.1.0' 'pySigma==1.5.1' \
        'pysigma-backend-kusto==1.0.1' 'pysigma-backend-splunk==2.1.0'
fi
# The ATT&CK and D3FEND tag validators download those frameworks' data at
# run time (no network here beyond the package registries); every other
# validator runs, and any issue fails the check.
"$venv/bin/sigma" check --fail-on-issues -x attacktag -x d3_fendtag sigma/
"$venv/bin/sigma" convert -t kusto --without-pipeline sigma/ > "$out/kusto.txt"
"$venv/bin/sigma" convert -t splunk --without-pipeline sigma/ > "$out/splunk.txt"
"$venv/bin/python" tests/sigma_match.py sigma/ "$findings" > "$out/matches.txt"
