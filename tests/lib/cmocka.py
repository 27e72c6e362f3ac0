# SPDX-License-Identifier: BSD-2-Clause
"""cmocka's result format: the one parser of it, and a writer for the Python tests.

Every suite of pam_nextpay, whatever it is written in, reports in cmocka's words:

    [==========] GROUP: Running N test(s).
    [ RUN      ] name
    [       OK ] name
    [  FAILED  ] name
    [  SKIPPED ] name: why
    [==========] GROUP: N test(s) run.
    [  PASSED  ] N test(s).
    [  SKIPPED ] N test(s), listed below:
    [  FAILED  ] N test(s), listed below:

count() reads the closing lines (summed: a runner of runners prints one set per
group); tests/run_suite.py counts every suite with it.  Report writes them.

    python3 tests/lib/cmocka.py count FILE     prints "PASSED FAILED SKIPPED"
"""

from __future__ import annotations

import re
import sys

_CLOSING = re.compile(r"^\[  (PASSED|FAILED|SKIPPED) *\] (\d+) test\(s\)")
# The brackets as cmocka pads them.
TAG = {"PASSED": "[  PASSED  ]", "FAILED": "[  FAILED  ]", "SKIPPED": "[  SKIPPED ]"}


def count(text: str) -> tuple[int, int, int]:
    """(passed, failed, skipped) from the closing lines of cmocka-style output."""
    totals = {"PASSED": 0, "FAILED": 0, "SKIPPED": 0}
    for line in text.splitlines():
        m = _CLOSING.match(line)
        if m:
            totals[m.group(1)] += int(m.group(2))
    return totals["PASSED"], totals["FAILED"], totals["SKIPPED"]


class Report:
    """The lines of one group of tests, printed as they happen (flushed: a pipe may read them)."""

    def __init__(self, group: str, n_tests: int):
        self.group = group
        self.passed: list[str] = []
        self.failed: list[str] = []
        self.skipped: list[str] = []
        self.say(f"[==========] {group}: Running {n_tests} test(s).")

    @staticmethod
    def say(line: str) -> None:
        print(line, flush=True)

    def run(self, name: str) -> None:
        self.say(f"[ RUN      ] {name}")

    def ok(self, name: str, seconds: float | None = None) -> None:
        self.say(f"[       OK ] {name}" + (f" ({seconds:.1f} s)" if seconds is not None else ""))
        self.passed.append(name)

    def fail(self, name: str, why: str = "") -> None:
        for line in why.rstrip("\n").splitlines():
            self.say(f"    {line}")
        self.say(f"{TAG['FAILED']} {name}")
        self.failed.append(name)

    def skip(self, name: str, why: str) -> None:
        self.say(f"{TAG['SKIPPED']} {name}: {why}")
        self.skipped.append(name)

    def finish(self, seconds: float | None = None) -> int:
        """The closing lines; returns the exit status (1 when a test failed)."""
        took = f" ({seconds:.1f} s)" if seconds is not None else ""
        self.say(f"[==========] {self.group}: {len(self.passed) + len(self.failed)} test(s) "
                 f"run.{took}")
        self.say(f"{TAG['PASSED']} {len(self.passed)} test(s).")
        for word, names in (("SKIPPED", self.skipped), ("FAILED", self.failed)):
            if names:
                self.say(f"{TAG[word]} {len(names)} test(s), listed below:")
                for name in names:
                    self.say(f"{TAG[word]} {name}")
        return 1 if self.failed else 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "count":
        print(f"usage: {argv[0]} count FILE", file=sys.stderr)
        return 2
    with open(argv[2], errors="replace") as f:
        print(*count(f.read()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
