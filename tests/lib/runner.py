# SPDX-License-Identifier: BSD-2-Clause
"""The runner of pam_nextpay's Python test files (tests/ctl, tests/e2e, tests/man,
tests/package): each test a function, run in order with a time limit of its own
(tests/lib/time_limit.py), reported in cmocka's words (tests/lib/cmocka.py), and
answered for: whatever a test starts (ssh, sshd's per-connection processes, su,
sudo, the module's helper, nextpayctl) stays findable as a descendant of this
process, a child subreaper, and what is still running once the test is over fails
it.

    sys.exit(run_tests("group", [test_a, test_b], fixture=some_context_manager))

A test file takes test names (or parts of them) as arguments to run only those, and
--list to print the names (tests/run-tests.sh counts the skipped ones so).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sys
import time
import traceback

from lib.cmocka import Report
from lib.procs import become_subreaper, descendants, stray_processes
from lib.time_limit import TimeLimitExceeded, banner, seconds, time_limit


class Failure(AssertionError):
    """A test's expectation did not hold; the message says what was seen instead."""


class Skip(Exception):
    """The test cannot run here (missing tool, not root); counted as skipped."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failure(message)


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    """predicate()'s first true value within timeout seconds, or a Failure naming what."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


def syslog_stuck() -> str | None:
    """Why syslog() would block right now, or None.

    su, sudo, sshd, userdel and the module all log through /dev/log, and glibc's
    syslog() blocks once its queue is full: a process that binds /dev/log itself and
    stops reading (a test capturing the log, say) hangs every one of them.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.setblocking(False)
        probe.connect("/dev/log")
        probe.send(b"<15>nptest: syslog probe from tests/lib/runner.py")
    except (BlockingIOError, InterruptedError):
        return "/dev/log is not draining: every syslog() caller (su, sudo, sshd, " \
               "userdel, the module) blocks; is something else bound to /dev/log?"
    except OSError:
        return None      # no syslog socket at all: syslog() drops messages, never blocks
    finally:
        probe.close()
    return None


def _stop(signum, _frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def _why_not(requires_root: bool, requires: tuple[str, ...], built: tuple[str, ...],
             needs_pexpect: bool) -> tuple[str | None, str | None]:
    """(why every test is skipped, why every test fails), either None."""
    if requires_root and os.geteuid() != 0:
        return "needs root", None
    if needs_pexpect:
        try:
            import pexpect  # noqa: F401  (only whether it is there)
        except ImportError:
            return "python3-pexpect is not installed (make deps)", None
    for exe in requires:
        if not (os.path.isabs(exe) and os.access(exe, os.X_OK) or shutil.which(exe)):
            return f"{exe} is not installed (make deps)", None
    for path in built:
        if not os.access(path, os.R_OK):
            return None, f"{path} is missing (make all tests)"   # never a silent skip
    return None, syslog_stuck()      # else useradd, su and sshd would hang at once


def run_tests(group: str, tests: list, fixture=None, requires_root: bool = False,
              requires: tuple[str, ...] = (), built: tuple[str, ...] = (),
              needs_pexpect: bool = True) -> int:
    """Runs test functions and prints cmocka-style lines; returns the exit status.

    fixture: a context manager factory; each test gets what it yields (or nothing).
    requires: executables that must exist, else every test is reported as skipped;
    built: build outputs that must exist, else every test fails (never a silent skip).
    """
    wanted = [arg for arg in sys.argv[1:] if arg != "--list"]
    tests = [t for t in tests if not wanted or any(w in t.__name__ for w in wanted)]
    names = [t.__name__ for t in tests]
    if "--list" in sys.argv[1:]:        # for tests/run-tests.sh's count of skipped tests
        print("\n".join(names))
        return 0
    # A run that is stopped still cleans up: /etc files, the account, sshd, the mock.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    become_subreaper()
    why_skip, why_fail = _why_not(requires_root, requires, built, needs_pexpect)
    limit = seconds()
    Report.say(banner(limit))
    report = Report(group, len(tests))
    started = time.monotonic()
    if why_fail:
        for name in names:
            report.run(name)
            report.fail(name, why_fail)
    elif why_skip:
        for name in names:
            report.run(name)
            report.skip(name, why_skip)
    else:
        _run_all(tests, fixture, report, limit, started)
    return report.finish(time.monotonic() - started)


def _run_all(tests: list, fixture, report: Report, limit: int, started: float) -> None:
    try:
        # The fixture's set-up and tear-down each get a time limit of their own too.
        with contextlib.ExitStack() as stack:
            with time_limit("set-up", limit):
                env = stack.enter_context(fixture() if fixture else contextlib.nullcontext())
            Report.say(f"[----------] set-up took {time.monotonic() - started:.1f} s")
            for test in tests:
                _run_one(test, env, report, limit)
            teardown = time.monotonic()
            with time_limit("tear-down", limit):
                stack.close()
        Report.say(f"[----------] tear-down took {time.monotonic() - teardown:.1f} s")
    except (Exception, TimeLimitExceeded) as e:  # the fixture broke: every unrun test fails
        Report.say(f"fixture failed: {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
        done = report.passed + report.failed + report.skipped
        unrun = [t.__name__ for t in tests if t.__name__ not in done]
        for name in unrun:
            report.fail(name)
        # A teardown that breaks after the last test (say, userdel) fails the run too.
        if not unrun:
            report.fail("(fixture teardown)")
    strays = stray_processes(set(), grace=3.0)
    if strays:
        report.fail("(left-behind processes)",
                    f"left behind after the fixture: {', '.join(strays)} (killed)")


def _run_one(test, env, report: Report, limit: int) -> None:
    name = test.__name__
    report.run(name)
    before = set(descendants())
    t0 = time.monotonic()
    problem = None
    try:
        with time_limit(name, limit):
            if env is None:
                test()
            else:
                test(env)
    except Skip as e:
        report.skip(name, str(e))
        return
    except (Failure, TimeLimitExceeded) as e:
        problem = str(e)
    except Exception as e:  # a crash in the test is a failure too, with its traceback
        problem = f"{type(e).__name__}: {e}\n{traceback.format_exc().rstrip()}"
    strays = stray_processes(before)
    if strays:
        note = f"processes left behind (now killed): {', '.join(strays)}"
        problem = note if problem is None else f"{problem}\n{note}"
    if problem is not None and syslog_stuck():
        problem += f"\nnote: {syslog_stuck()}"
    if problem is None:
        report.ok(name, time.monotonic() - t0)
    else:
        report.fail(name, problem)
