#!/usr/bin/env python3
"""make conformance: the AWS-recorded ASL corpus through build/sfn.

Runs t/conformance/run.py over every case (JSONPath, JSONata and
Variables) and fails when fewer than 98% pass, or when a failing case is
not listed in t/conformance/known-failures.txt ("<case id>  <reason>" per
line, '#' comments).  Known failures that now pass are reported so the
list can shrink.
"""

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONF = os.path.join(ROOT, "t", "conformance")
THRESHOLD = 0.98


def known_failures():
    known = {}
    path = os.path.join(CONF, "known-failures.txt")
    if not os.path.exists(path):
        return known
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            known[parts[0]] = parts[1] if len(parts) > 1 else ""
    return known


def main():
    runner = os.environ.get("SFN_RUNNER", os.path.join(ROOT, "build", "sfn") + " run")
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as tmp:
        report = tmp.name
    try:
        cmd = [sys.executable, os.path.join(CONF, "run.py"),
               "--cases", os.path.join(CONF, "cases.jsonl"),
               "--runner", runner,
               "--jobs", "2", "--report", report]
        rc = subprocess.call(cmd)
        if rc != 0:
            print("conformance: run.py failed with status %d" % rc)
            return 1
        with open(report, encoding="utf-8") as f:
            results = [json.loads(line) for line in f if line.strip()]
    finally:
        os.unlink(report)

    known = known_failures()
    total = len(results)
    passed = sum(1 for r in results if r["passed"])
    failed = [r for r in results if not r["passed"]]
    unexpected = [r for r in failed if r["id"] not in known]
    fixed = [r["id"] for r in results if r["passed"] and r["id"] in known]

    ratio = passed / total if total else 0.0
    print("conformance: %d/%d passed (%.1f%%), %d known failures, "
          "%d unexpected" % (passed, total, 100.0 * ratio, len(failed) - len(unexpected),
                             len(unexpected)))
    for r in unexpected:
        print("UNEXPECTED FAILURE %s\n     %s" % (r["id"], r["reason"]))
    for i in fixed:
        print("known failure now passes (remove it from known-failures.txt): %s" % i)

    if ratio < THRESHOLD:
        print("conformance: below the %.0f%% threshold" % (100 * THRESHOLD))
        return 1
    if unexpected:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
