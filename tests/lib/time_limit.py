# SPDX-License-Identifier: BSD-2-Clause
"""A time limit for every Python test (tests/lib/runner.py), as tests/time_limit.c gives
every cmocka test one.

    with time_limit("test_name"):
        test()

raises TimeLimitExceeded in the test once its limit has passed, wherever it is waiting:
the test's own `with` and `finally` blocks then run (they stop sshd, the mock, su and
sudo, and remove accounts and files), and the runner reports the test as failed and
goes on.  TimeLimitExceeded is not an Exception, so a test's `except Exception` does
not swallow it.

The limit: NP_TEST_LIMIT seconds (default DEFAULT_S) times NP_TEST_LIMIT_SCALE
(default 1), the same variables as the C tests'.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

# Python tests drive whole sign-ins (an approval after 35 s, sshd, sudo): more than a
# cmocka test's TEST_LIMIT_DEFAULT_S.
DEFAULT_S = 300
LIMIT_MAX_S = 86400
SCALE_MAX = 100


class TimeLimitExceeded(BaseException):
    """A test ran past its time limit."""


def _env_number(name: str, fallback: int, top: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return fallback
    if text.isdigit() and 1 <= int(text) <= top:
        return int(text)
    print(f"time limit: ignoring {name}=\"{text}\" (not a number 1..{top})", file=sys.stderr)
    return fallback


def seconds(default: int = DEFAULT_S, variable: str = "NP_TEST_LIMIT") -> int:
    """The limit of one test (or set-up, or tear-down): variable or default, scaled."""
    return _env_number(variable, default, LIMIT_MAX_S) * \
        _env_number("NP_TEST_LIMIT_SCALE", 1, SCALE_MAX)


def banner(limit: int) -> str:
    """The line tests/run-tests.sh looks for: this suite has limits."""
    return f"[----------] time limit: {limit} s per test (NP_TEST_LIMIT x NP_TEST_LIMIT_SCALE)"


@contextlib.contextmanager
def time_limit(what: str, limit: int | None = None):
    """Raise TimeLimitExceeded in this block once limit seconds (default: seconds()) pass."""
    limit = seconds() if limit is None else limit

    def expired(_signum, _frame):
        raise TimeLimitExceeded(f"{what}: still running after its time limit of {limit} s; "
                                "stopped")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
