#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: signing in at the console with the real /bin/login (root only).

/bin/login runs on a pseudo-terminal as getty starts it, `login ACCOUNT`, with a
`login` stack of the module alone (no wait= argument, so wait=auto picks poll)
through pam_wrapper: login is not setuid, so pam_wrapper's LD_PRELOAD reaches it
when root starts it.  The tests read the terminal while the mock API decides, type
into the shell login starts (so that the shell is seen running as the account), and
check what login itself does after each refusal.  Debian 12's /bin/login is
shadow's (package `login`): after PAM_MAXTRIES it says "Maximum number of tries
exceeded" and ends; after PAM_AUTH_ERR it says "Login incorrect" and asks for a name
again (up to LOGIN_RETRIES of /etc/login.defs).  Its own LOGIN_TIMEOUT (60 s here)
ends a wait that login_timeout would let go on.

    sudo /usr/bin/python3 tests/e2e/e2e_console.py
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (APPROVE_ONLY, CODE_RE, MODULE, Screen, check,  # noqa: E402
                    first_line_of_instructions, mock_api, mock_last_code,
                    remove_pam_wrapper_dirs, run_tests, save_transcript, temp_dir,
                    throwaway_account, write_config, write_root_file, write_usermap)
from lib.system import strip_login_records  # noqa: E402

LOGIN = "/bin/login"
SERVICE = "login"
SHOW_CODE_WITHIN = 10
APPROVE_AFTER = 35          # just past the first 30 s progress note, well before the second
ANSWER_WITHIN = 15
LOGIN_TIMEOUT = 10          # the module's, for the expiry test (the smallest it accepts)
SHELL_PROMPT = r"\$ $"      # the account's shell is /bin/sh
# What login says after the module's PAM_MAXTRIES: shadow's login, or util-linux's.
LOGIN_GIVES_UP = r"Maximum number of tries exceeded \(1\)|Login incorrect"


@dataclass
class Env:
    tmp: str
    user: str
    services: str
    conf: str
    usermap: str


@contextlib.contextmanager
def fixture():
    with temp_dir("npe2e-console.") as tmp, throwaway_account() as user:
        try:
            usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_demo": user})
            conf = os.path.join(tmp, "pam_nextpay.conf")
            services = os.path.join(tmp, "services")
            os.makedirs(services, mode=0o755)
            write_root_file(os.path.join(services, SERVICE),
                            f"auth required {MODULE} config={conf}\n"
                            "account required pam_permit.so\n"
                            "session required pam_permit.so\n"
                            "password required pam_deny.so\n")
            write_root_file(os.path.join(services, "other"),
                            "".join(f"{t} required pam_deny.so\n"
                                    for t in ("auth", "account", "password", "session")))
            yield Env(tmp, user, services, conf, usermap)
        finally:
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")
            strip_login_records(user)


def login(env: Env) -> Screen:
    """login ACCOUNT on a terminal of its own, as getty runs it once a name is typed."""
    return Screen([LOGIN, env.user],
                  env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "LANG": "C.UTF-8",
                       "LD_PRELOAD": "libpam_wrapper.so", "PAM_WRAPPER": "1",
                       "PAM_WRAPPER_SERVICE_DIR": env.services})


def read_code(screen: Screen, mock, env: Env) -> str:
    screen.expect(rf"approve code ({CODE_RE})", SHOW_CODE_WITHIN, "the code on the screen")
    code = screen.match(1)
    check(code == mock_last_code(mock), f"code {code} is not the mock's {mock_last_code(mock)}")
    url = f"https://127.0.0.1:{mock.port}/auth/device?code={code}"
    check(url in screen.text, f"verification URL {url} not on the screen:\n{screen.text}")
    first = first_line_of_instructions(os.uname().nodename, env.user, SERVICE)
    check(first in screen.text, f"no line {first!r}:\n{screen.text}")
    check(APPROVE_ONLY in screen.text, f"no warning to the approver:\n{screen.text}")
    return code


def shell_is_the_account(screen: Screen, env: Env, within: float = ANSWER_WITHIN) -> None:
    """The shell login starts, within that many seconds: `id -un` typed into it answers
    with the account; then log out."""
    screen.expect(SHELL_PROMPT, within, "the shell's prompt after the approval")
    screen.send("id -un\r")
    screen.expect(rf"(?m)^{re.escape(env.user)}\r?$", ANSWER_WITHIN, "id -un in the shell")
    screen.expect(SHELL_PROMPT, ANSWER_WITHIN, "the shell's prompt after id -un")
    screen.send("exit\r")
    status = screen.finish(ANSWER_WITHIN)
    check(status == 0, f"login exited with {status}:\n{screen.text}")


def placeholders(env: Env, mock, codes: list[str]) -> dict[str, str]:
    named = {codes[0]: "<CODE>"} if len(codes) == 1 else \
        {code: f"<CODE{i}>" for i, code in enumerate(codes, 1)}
    return named | {str(mock.port): "<API_PORT>", env.user: "<USER>",
                    os.uname().nodename: "<HOST>", socket.gethostname(): "<HOST>"}


def test_slow_approval_opens_a_shell_as_the_account(env: Env):
    """The code at once, one progress line while the approval takes 35 s, then the shell
    login starts runs as the account."""
    with mock_api(os.path.join(env.tmp, "approve"), "--auto", "approve", "--auto-user",
                  "usr_demo", "--auto-after", str(APPROVE_AFTER)) as mock:
        write_config(env.conf, mock, env.usermap)
        with login(env) as screen:
            t0 = time.monotonic()
            code = read_code(screen, mock, env)
            shell_is_the_account(screen, env, APPROVE_AFTER + ANSWER_WITHIN)
            took = time.monotonic() - t0
            text = screen.text
            notes = re.findall(rf"(?m)^Still waiting for approval of code ({CODE_RE}) "
                               r"\((\d+) seconds left\)\.\.\.$", text)
            check(len(notes) == 1, f"{len(notes)} progress lines, not 1:\n{text}")
            check(notes[0][0] == code, f"progress line names code {notes[0][0]}, not {code}")
            check(text.count("Still waiting") == 1, f"other still-waiting lines:\n{text}")
            check(took >= APPROVE_AFTER - 1, f"signed in after {took:.1f} s, before approval")
            save_transcript("console-approved", "login <USER>", text,
                            placeholders(env, mock, [code]))
        stats = mock.stats()
    check(stats["requests"]["create"] == 1, f"{stats['requests']['create']} codes created")
    # Many polls (poll_interval = 1), yet one line on the screen: not one per poll.
    check(stats["requests"]["poll"] >= 20, f"only {stats['requests']['poll']} polls")


def test_denial_ends_login_without_a_second_code(env: Env):
    """A denial returns PAM_MAXTRIES: login gives up at once, with the module's reason
    and its own words, and never asks again (no second code)."""
    with mock_api(os.path.join(env.tmp, "deny")) as mock:
        write_config(env.conf, mock, env.usermap)
        with login(env) as screen:
            code = read_code(screen, mock, env)
            mock.deny()
            screen.expect(r"The sign-in was denied in NextPay\.", ANSWER_WITHIN,
                          "the denial message")
            screen.expect(LOGIN_GIVES_UP, ANSWER_WITHIN, "login's own words")
            screen.finish(ANSWER_WITHIN)
            text = screen.text
            check("Still waiting" not in text, f"a progress line before a quick denial:\n{text}")
            check(text.count("approve code") == 1, f"a second code on the screen:\n{text}")
            check(not re.search(r"(?m)login: $", text), f"login asked for a name again:\n{text}")
            check(not re.search(SHELL_PROMPT, text), f"a shell after the denial:\n{text}")
            save_transcript("console-denied", "login <USER>", text,
                            placeholders(env, mock, [code]))
        stats = mock.stats()
    check(stats["requests"]["create"] == 1, f"{stats['requests']['create']} codes created")
    check(stats["codes"][0]["state"] == "denied", f"{stats['codes']}")


def test_expired_code_and_login_asks_for_the_name_again(env: Env):
    """An expired code is PAM_AUTH_ERR, which login treats like a wrong password: the
    module's reason, "Login incorrect", and login's own prompt for a name; the name typed
    again brings a fresh code, whose approval opens the shell."""
    with mock_api(os.path.join(env.tmp, "expire")) as mock:
        write_config(env.conf, mock, env.usermap, login_timeout=LOGIN_TIMEOUT)
        with login(env) as screen:
            first = read_code(screen, mock, env)
            check(f"valid for {LOGIN_TIMEOUT} seconds" in screen.text,
                  f"login_timeout not in the instructions:\n{screen.text}")
            screen.expect(r"The code expired before it was approved\.", LOGIN_TIMEOUT + 10,
                          "the expiry message")
            screen.expect(r"Login incorrect", ANSWER_WITHIN, "login's own words")
            screen.expect(r"login: $", ANSWER_WITHIN, "login asking for a name again")
            check(mock.stats()["requests"]["create"] == 1, "a second code before a name")
            screen.send(f"{env.user}\r")
            second = read_code(screen, mock, env)
            check(second != first, f"the same code {first} twice")
            mock.approve(user="usr_demo", code=second)
            shell_is_the_account(screen, env)
            save_transcript("console-expired", "login <USER>", screen.text,
                            placeholders(env, mock, [first, second]))
        stats = mock.stats()
    check(stats["requests"]["create"] == 2, f"{stats['requests']['create']} codes created")
    check([c["state"] for c in stats["codes"]][1] == "approved", f"{stats['codes']}")


TESTS = [
    test_slow_approval_opens_a_shell_as_the_account,
    test_denial_ends_login_without_a_second_code,
    test_expired_code_and_login_asks_for_the_name_again,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_console", TESTS, fixture=fixture, requires_root=True,
                       requires=(LOGIN, "useradd")))
