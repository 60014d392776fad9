#!/usr/bin/env python3
"""make jsonata: the JSONata corpus of jsonata-js 2.0.6 through build/sfn.

Runs ../shared/jsonata/run.py over cases.jsonl without the aws-disallowed
cases ($eval) and fails when fewer than 98% pass, when a failing case is
not listed in tools/jsonata-known-failures.txt ("<case name>  <reason>"
per line, '#' comments), or when a listed case now passes: the list stays
honest.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "..", "shared", "jsonata")
KNOWN = os.path.join(ROOT, "tools", "jsonata-known-failures.txt")
THRESHOLD = 0.98


def known_failures():
    known = {}
    if not os.path.exists(KNOWN):
        return known
    with open(KNOWN, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            known[parts[0]] = parts[1] if len(parts) > 1 else ""
    return known


def main():
    runner = os.environ.get("SFN_RUNNER",
                            os.path.join(ROOT, "build", "sfn") + " jsonata")
    cmd = [sys.executable, os.path.join(CORPUS, "run.py"),
           "--runner", runner, "--jobs", os.environ.get("JOBS", "2"),
           "--exclude-tag", "aws-disallowed",
           "--show-failures", "100000"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout.splitlines()

    m = re.match(r"(\d+) passed, (\d+) failed", out[-1] if out else "")
    if m is None:
        sys.stdout.write(p.stdout + p.stderr)
        print("jsonata: run.py printed no summary")
        return 1

    passed, failed = int(m.group(1)), int(m.group(2))
    failing = []
    for i, line in enumerate(out):
        f = re.match(r"FAIL (\S+): ", line)
        if f:
            failing.append((f.group(1), out[i + 1:i + 3]))

    known = known_failures()
    names = set(n for n, _ in failing)
    unexpected = [(n, d) for n, d in failing if n not in known]
    fixed = sorted(n for n in known if n not in names)

    total = passed + failed
    ratio = passed / total if total else 0.0
    print("jsonata: %d/%d passed (%.1f%%), %d known failures, %d unexpected"
          % (passed, total, 100.0 * ratio, len(failing) - len(unexpected),
             len(unexpected)))
    for n, detail in unexpected:
        print("UNEXPECTED FAILURE %s" % n)
        for d in detail:
            print("   " + d)
    for n in fixed:
        print("known failure now passes (remove it from "
              "tools/jsonata-known-failures.txt): %s" % n)

    if ratio < THRESHOLD:
        print("jsonata: below the %.0f%% threshold" % (100 * THRESHOLD))
        return 1
    return 1 if unexpected or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
