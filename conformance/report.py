"""Summarises a kosoku index.json per case group and exits 1 on any case
that is not OK, NON-STRICT or INFORMATIONAL."""

import collections
import json
import sys

PASSING = ("OK", "NON-STRICT", "INFORMATIONAL")
COLUMNS = PASSING + ("FAILED",)

with open(sys.argv[1]) as f:
    index = json.load(f)

groups = collections.defaultdict(collections.Counter)
failed = []
for agent_cases in index.values():
    for case_id, result in agent_cases.items():
        behavior = result["behavior"]
        group = case_id.split(".")[0]
        groups[group][behavior if behavior in PASSING else "FAILED"] += 1
        if behavior not in PASSING:
            failed.append(f"{case_id}: {behavior} (close: {result['behaviorClose']})")

print("| cases | " + " | ".join(COLUMNS) + " |")
print("|---" * (len(COLUMNS) + 1) + "|")
for group in sorted(groups, key=int):
    counts = groups[group]
    print(f"| {group}.* | " + " | ".join(str(counts[c]) for c in COLUMNS) + " |")
for line in sorted(failed):
    print("failed", line)
total = sum(sum(c.values()) for c in groups.values())
print(f"{total - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed or total == 0 else 0)
