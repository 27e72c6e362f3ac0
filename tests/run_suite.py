#!/usr/bin/python3
"""Runs one test suite for tests/run-tests.sh, and answers for what it leaves behind.

    /usr/bin/python3 tests/run_suite.py NAME MARKER -- COMMAND [ARG...]

- A last-resort time limit for the whole suite (each test has its own, see
  tests/time_limit.h and tests/time_limit.py): NP_SUITE_LIMIT seconds (default
  SUITE_DEFAULT_S) times NP_TEST_LIMIT_SCALE.  Past it, the suite gets SIGTERM (a
  Python suite then cleans up: accounts, /etc files, sshd), STOP_GRACE_S seconds later
  it and everything it started get SIGKILL, and it counts as one failed test.
- This process is a child subreaper, so whatever the suite started stays its
  descendant: once the suite has ended, any process of it still running (a helper,
  a mock, sshd) is killed by pid and counts as a failed test.
- pam_wrapper's /tmp/pam.X copies that name MARKER (a directory of this run that the
  suite's PAM services mention) and whose process has gone are removed.  Each is a
  process of the suite that loaded pam_wrapper without needing it, or was killed:
  with --copies-left=fail (the default) they count as a failed test of a suite that
  otherwise passed (one that failed may have killed what it started), with
  --copies-left=remove (a launcher in between loads pam_wrapper too: valgrind's
  scripts) they are only removed.

Prints one cmocka-style "[  FAILED  ] N test(s)" line for what it counts, which
run-tests.sh adds up like the suite's own; exits with the suite's status, or 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procs import (become_subreaper, descendants, pam_wrapper_copies,  # noqa: E402
                   remove_pam_wrapper_dirs, stray_processes)
from time_limit import seconds  # noqa: E402

SUITE_DEFAULT_S = 1800
STOP_GRACE_S = 60


def say(line: str) -> None:
    print(f"run_suite: {line}", flush=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL for the suite and all below it."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        say(f"still running {STOP_GRACE_S} s after SIGTERM: SIGKILL")
    for pid in [proc.pid, *descendants()]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("marker")
    parser.add_argument("--copies-left", choices=("fail", "remove"), default="fail")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    limit = seconds(SUITE_DEFAULT_S, "NP_SUITE_LIMIT")
    become_subreaper()
    problems = []          # (what, why): each one failed test
    proc = subprocess.Popen(command)
    try:
        status = proc.wait(limit)
    except subprocess.TimeoutExpired:
        problems.append(("suite time limit", f"still running after {limit} s, the time limit "
                         "of a whole suite (NP_SUITE_LIMIT x NP_TEST_LIMIT_SCALE); stopped"))
        stop(proc)
        status = proc.returncode
    strays = stray_processes(set())
    if strays:
        problems.append(("processes left behind",
                         f"still running after the suite ended (now killed): {', '.join(strays)}"))
    removed = remove_pam_wrapper_dirs(args.marker)
    if removed:
        why = f"{len(removed)} left by processes that are gone (now removed): {' '.join(removed)}"
        # A suite that failed may have killed what it started (or been stopped): that
        # failure is counted already.
        if args.copies_left == "fail" and not problems and status == 0:
            problems.append(("pam_wrapper copies left behind", why))
        else:
            say(f"{args.name}: pam_wrapper copies: {why}")
    live = [path for path, owner_alive in pam_wrapper_copies(args.marker).items()
            if owner_alive]
    if live:
        problems.append(("pam_wrapper copies left behind",
                         f"their processes still run: {' '.join(live)}"))
    if not problems:
        return status if status >= 0 else 128 - status
    for what, why in problems:
        say(f"{args.name}: {what}: {why}")
    print(f"[  FAILED  ] {len(problems)} test(s), listed below:")
    for what, _ in problems:
        print(f"[  FAILED  ] {args.name}: {what}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
