#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs one test suite for the runners (tests/run-tests.sh ...), counts it, and answers
for what it leaves behind.

    /usr/bin/python3 tests/run_suite.py [--time-limits] [--copies-left=fail|remove] \
        NAME MARKER -- COMMAND [ARG...]

- The suite's output (stdout and stderr) is shown as it comes, after a "==> NAME"
  line, and counted by its cmocka-style closing lines (tests/lib/cmocka.py); a suite
  that fails without a count of failures counts as one failed test.  The counts are
  appended to the file NP_RESULTS names, as "NAME<TAB>passed<TAB>failed<TAB>skipped"
  (tests/lib/results.py adds them up).
- --time-limits: the suite must print a "[----------] time limit:" line (its tests
  have limits of their own, tests/time_limit.h); one that does not fails.

- A last-resort time limit for the whole suite (each test has its own, see
  tests/time_limit.h and tests/lib/time_limit.py): NP_SUITE_LIMIT seconds (default
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

Its own findings are printed as one cmocka-style "[  FAILED  ] N test(s)" line
and counted with the suite's; exits with the suite's status, or 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.cmocka import count  # noqa: E402
from lib.procs import (become_subreaper, descendants, pam_wrapper_copies,  # noqa: E402
                       remove_pam_wrapper_dirs, stray_processes)
from lib.time_limit import seconds  # noqa: E402

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


def run(command: list[str], limit: int, problems: list) -> tuple[int, str]:
    """Runs command with its output shown and kept; (status, output)."""
    output: list[str] = []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def pump() -> None:
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace")
            output.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        status = proc.wait(limit)
    except subprocess.TimeoutExpired:
        problems.append(("suite time limit", f"still running after {limit} s, the time limit "
                         "of a whole suite (NP_SUITE_LIMIT x NP_TEST_LIMIT_SCALE); stopped"))
        stop(proc)
        status = proc.returncode
    # What a grandchild still holds open is not waited for: strays are dealt with below.
    reader.join(STOP_GRACE_S)
    return status, "".join(output)


def record(name: str, counts: tuple[int, int, int]) -> None:
    path = os.environ.get("NP_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(f"{name}\t{counts[0]}\t{counts[1]}\t{counts[2]}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("marker")
    parser.add_argument("--copies-left", choices=("fail", "remove"), default="fail")
    parser.add_argument("--time-limits", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    limit = seconds(SUITE_DEFAULT_S, "NP_SUITE_LIMIT")
    become_subreaper()
    problems = []          # (what, why): each one failed test
    print(f"==> {args.name}", flush=True)
    status, output = run(command, limit, problems)
    if status is None or status < 0:
        status = 128 - (status or 0)
    if args.time_limits and "\n[----------] time limit: " not in "\n" + output:
        problems.append(("no time limits", 'printed no "[----------] time limit:" line; '
                         "built without tests/time_limit.c?"))
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
    passed, failed, skipped = count(output)
    # A crash or a non-zero exit without a count still fails the run.
    if status != 0 and failed == 0 and not problems:
        problems.append(("exit status", f"exited with status {status} but counted no failure"))
    if problems:
        for what, why in problems:
            say(f"{args.name}: {what}: {why}")
        print(f"[  FAILED  ] {len(problems)} test(s), listed below:")
        for what, _ in problems:
            print(f"[  FAILED  ] {args.name}: {what}")
    record(args.name, (passed, failed + len(problems), skipped))
    if problems:
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
