# SPDX-License-Identifier: BSD-2-Clause
"""The closing line of a test run, over every phase.

    /usr/bin/python3 tests/lib/results.py RESULTS_DIR PHASE...

Each phase's runner (tests/run-tests.sh and the runners it names) leaves
RESULTS_DIR/PHASE.txt: one line "suite<TAB>passed<TAB>failed<TAB>skipped" per
suite, written by tests/run_suite.py, and a last line "#end<TAB>status" once the
phase is over.  A phase without its file did not run (its build failed), one
without "#end" was cut short, and one whose runner failed with no test counted as
failed: each of those counts as one failed test.

Prints a line per phase, the failed suites, and one closing
"N passed, N failed, N skipped" line; exits 1 when anything failed.
"""

from __future__ import annotations

import os
import sys


def read_phase(directory: str, phase: str) -> tuple[list[int], list[str]]:
    """[passed, failed, skipped] of a phase, and the names of what failed in it."""
    totals = [0, 0, 0]
    failed: list[str] = []
    path = os.path.join(directory, phase + ".txt")
    try:
        with open(path, errors="replace") as f:
            lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    except FileNotFoundError:
        return [0, 1, 0], [f"{phase} (not run: its build failed?)"]
    end = None
    for fields in lines:
        if fields[0] == "#end":
            end = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 1
            continue
        counts = [int(x) if x.isdigit() else 0 for x in (fields[1:] + ["0"] * 3)[:3]]
        for i in range(3):
            totals[i] += counts[i]
        if counts[1]:
            failed.append(fields[0])
    if end is None:
        totals[1] += 1
        failed.append(f"{phase} (cut short: no end)")
    elif end != 0 and totals[1] == 0:
        totals[1] += 1
        failed.append(f"{phase} (its runner failed: exit {end})")
    return totals, failed


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(f"usage: {argv[0]} RESULTS_DIR PHASE...", file=sys.stderr)
        return 2
    grand = [0, 0, 0]
    all_failed: list[str] = []
    print()
    for phase in argv[2:]:
        totals, failed = read_phase(argv[1], phase)
        print(f"{phase + ':':<14} {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
        grand = [a + b for a, b in zip(grand, totals)]
        all_failed += failed
    if all_failed:
        print("failed: " + " ".join(all_failed))
    print(f"{grand[0]} passed, {grand[1]} failed, {grand[2]} skipped")
    return 1 if grand[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
