"""Evaluate picket's Sigma rules (sigma/) on JSON lines, with the rule
parser of pySigma itself: every finding must be matched by exactly one
rule, every rule must match some finding, and events that are not picket
findings must match none. Prints one line per rule: its title and count.

usage: python sigma_match.py RULES_DIR FINDINGS.jsonl
"""

import json
import re
import sys

from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.types import SigmaNumber, SigmaString


def holds(node, event):
    if isinstance(node, ConditionAND):
        return all(holds(a, event) for a in node.args)
    if isinstance(node, ConditionOR):
        return any(holds(a, event) for a in node.args)
    if isinstance(node, ConditionNOT):
        return not holds(node.args[0], event)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if node.field not in event:
            return False
        have, want = event[node.field], node.value
        if isinstance(want, SigmaNumber):
            return have == want.number
        if isinstance(want, SigmaString):
            # Sigma strings match case-insensitively, wildcards as regex.
            pattern = str(want.to_regex().regexp)
            return re.fullmatch(pattern, str(have), re.IGNORECASE | re.DOTALL) is not None
    raise SystemExit(f"condition not handled here: {type(node).__name__}")


def matches(rule, event):
    return any(holds(c.parsed, event) for c in rule.detection.parsed_condition)


def main():
    rules = list(SigmaCollection.load_ruleset([sys.argv[1]]))
    events = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
    counts = {r.title: 0 for r in rules}
    for e in events:
        hit = [r.title for r in rules if matches(r, e)]
        if len(hit) != 1:
            raise SystemExit(f"matched by {hit}, not by exactly one rule: {e}")
        counts[hit[0]] += 1
    for title, n in counts.items():
        print(f"{n}\t{title}")
        if n == 0:
            raise SystemExit(f"no finding matches {title!r}")
    # Not findings: a logon event, an empty one, and a finding-shaped
    # event from another product.
    others = [{"EventID": 4624}, {}, {"Rule": "seed", "ScanType": "Port Scan"}]
    for e in others:
        hit = [r.title for r in rules if matches(r, e)]
        if hit:
            raise SystemExit(f"{e} should match nothing, matched {hit}")


main()
