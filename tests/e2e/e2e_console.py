#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a login-style conversation on a terminal (poll mode, nothing typed).

pamtester runs the real libpam under pam_wrapper with a plain `login` stack (no
wait= argument, so wait=auto picks poll for any service but sshd) on a
pseudo-terminal; the tests read what it shows while the mock API decides.

    /usr/bin/python3 tests/e2e/e2e_console.py

As root it signs in a throwaway account; as an ordinary user, the user's own.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (APPROVE_ONLY, CODE_RE, MODULE, Screen, check,  # noqa: E402
                    first_line_of_instructions, mock_api, mock_last_code, reference_on,
                    remove_pam_wrapper_dirs, run_tests, save_transcript, temp_dir,
                    throwaway_account, write_config, write_root_file, write_usermap)

SERVICE = "login"
SHOW_CODE_WITHIN = 10
APPROVE_AFTER = 35          # just past the first 30 s progress note, well before the second
ANSWER_WITHIN = 15


@dataclass
class Env:
    tmp: str
    user: str
    services: str
    conf: str
    usermap: str


@contextlib.contextmanager
def fixture():
    account = throwaway_account() if os.geteuid() == 0 else \
        contextlib.nullcontext(pwd.getpwuid(os.geteuid()).pw_name)
    with temp_dir("npe2e-console.") as tmp, account as user:
        try:
            usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_demo": user})
            conf = os.path.join(tmp, "pam_nextpay.conf")
            services = os.path.join(tmp, "services")
            os.makedirs(services, mode=0o755)
            write_root_file(os.path.join(services, SERVICE),
                            f"auth required {MODULE} config={conf}\n"
                            "account required pam_permit.so\n")
            write_root_file(os.path.join(services, "other"),
                            "".join(f"{t} required pam_deny.so\n"
                                    for t in ("auth", "account", "password", "session")))
            yield Env(tmp, user, services, conf, usermap)
        finally:
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


def pamtester(env: Env) -> Screen:
    return Screen(["pamtester", SERVICE, env.user, "authenticate"],
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


def placeholders(env: Env, mock, code: str) -> dict[str, str]:
    return {code: "<CODE>", str(mock.port): "<API_PORT>", env.user: "<USER>",
            os.uname().nodename: "<HOST>"}


def test_slow_approval_shows_one_progress_line(env: Env):
    with mock_api(os.path.join(env.tmp, "approve"), "--auto", "approve", "--auto-user",
                  "usr_demo", "--auto-after", str(APPROVE_AFTER)) as mock:
        write_config(env.conf, mock, env.usermap)
        with pamtester(env) as screen:
            t0 = time.monotonic()
            code = read_code(screen, mock, env)
            screen.expect(r"successfully authenticated", APPROVE_AFTER + ANSWER_WITHIN,
                          "pamtester's success")
            took = time.monotonic() - t0
            status = screen.finish(ANSWER_WITHIN)
            text = screen.text
            check(status == 0, f"pamtester exited with {status}:\n{text}")
            notes = re.findall(rf"(?m)^Still waiting for approval of code ({CODE_RE}) "
                               r"\((\d+) seconds left\)\.\.\.$", text)
            check(len(notes) == 1, f"{len(notes)} progress lines, not 1:\n{text}")
            check(notes[0][0] == code, f"progress line names code {notes[0][0]}, not {code}")
            check(text.count("Still waiting") == 1, f"other still-waiting lines:\n{text}")
            check(took >= APPROVE_AFTER - 1, f"signed in after {took:.1f} s, before approval")
            save_transcript("console-approved", f"pamtester {SERVICE} <USER> authenticate", text,
                            placeholders(env, mock, code))
        stats = mock.stats()
    check(stats["requests"]["create"] == 1, f"{stats['requests']['create']} codes created")
    # Many polls (poll_interval = 1), yet one line on the screen: not one per poll.
    check(stats["requests"]["poll"] >= 20, f"only {stats['requests']['poll']} polls")


def test_denial_ends_with_a_clear_message(env: Env):
    with mock_api(os.path.join(env.tmp, "deny")) as mock:
        write_config(env.conf, mock, env.usermap)
        with pamtester(env) as screen:
            code = read_code(screen, mock, env)
            mock.deny()
            screen.expect(r"The sign-in was denied in NextPay\.", ANSWER_WITHIN,
                          "the denial message")
            status = screen.finish(ANSWER_WITHIN)
            text = screen.text
            check(status != 0, f"pamtester succeeded after a denial:\n{text}")
            check("successfully authenticated" not in text, f"signed in:\n{text}")
            check("Still waiting" not in text, f"a progress line before a quick denial:\n{text}")
            check(re.search(r"The sign-in was denied in NextPay\.\r?\nReference: ", text)
                  and reference_on(text), f"no reference after the denial:\n{text}")
            save_transcript("console-denied", f"pamtester {SERVICE} <USER> authenticate", text,
                            placeholders(env, mock, code))
        stats = mock.stats()
    check(stats["requests"]["create"] == 1, f"{stats['requests']['create']} codes created")
    check(stats["codes"][0]["state"] == "denied", f"{stats['codes']}")


TESTS = [
    test_slow_approval_shows_one_progress_line,
    test_denial_ends_with_a_clear_message,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_console", TESTS, fixture=fixture,
                       requires=("pamtester", "useradd") if os.geteuid() == 0 else ("pamtester",)))
