#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a person steps up with the real sudo (root only).

sudo is setuid, so pam_wrapper cannot reach it: these tests put a PAM service file
with a fresh name into /etc/pam.d and a sudoers drop-in into /etc/sudoers.d that
points a throwaway account's sudo at it, and remove both (and the account) in the
end whatever happens.  The account runs `sudo /usr/bin/id -un` through su on a
pseudo-terminal (pexpect); the tests read the screen and approve or deny in the
mock API.  Nothing is ever typed: in poll mode the module needs no input.  The
approval cache is off but in the tests of its reuse, which type sudo twice into a
shell whose controlling terminal is the pseudo-terminal, as a person does.

    sudo /usr/bin/python3 tests/e2e/e2e_sudo.py
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (APPROVE_ONLY, CODE_RE, MODULE, Screen, check, creates,  # noqa: E402
                    first_line_of_instructions, indent, mock_api, mock_last_code, pexpect_eof,
                    random_suffix, reference_on, run_tests, save_transcript, sudo_service,
                    temp_dir,
                    throwaway_account, write_config, write_root_file, write_usermap)

SUDO = "/usr/bin/sudo"
SHOW_CODE_WITHIN = 10      # the instructions come at once, PAM_SILENT or not
ANSWER_WITHIN = 15         # after a decision in the mock (poll_interval is 1 s)
LOGIN_TIMEOUT = 10         # for the timeout test (the smallest the module accepts)


@dataclass
class Env:
    tmp: str
    user: str
    mock: object
    service: str
    conf: str
    usermap: str


def etc_files(user: str, service: str, conf: str):
    """/etc/pam.d/SERVICE with the module alone, and the sudoers drop-in for user."""
    return sudo_service(service, [user], f"auth required {MODULE} config={conf}\n"
                                         "account required pam_permit.so\n"
                                         "session required pam_permit.so\n",
                        os.path.dirname(conf))


@contextlib.contextmanager
def fixture():
    with temp_dir("npe2e-sudo.") as tmp, throwaway_account() as user, mock_api(tmp) as mock:
        service = f"nextpay-e2e-{random_suffix()}"
        usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_demo": user})
        conf = os.path.join(tmp, "pam_nextpay.conf")
        write_config(conf, mock, usermap)
        with etc_files(user, service, conf):
            yield Env(tmp, user, mock, service, conf, usermap)


def fresh(env: Env, **settings) -> None:
    """A clean mock and the config for one test."""
    env.mock.reset()
    write_config(env.conf, env.mock, env.usermap, **settings)


SCREEN_ENV = {"PATH": "/usr/bin:/bin", "TERM": "dumb", "LANG": "C.UTF-8"}


def sudo(env: Env, sudo_args: str = "/usr/bin/id -un") -> Screen:
    # su from root needs no password; sudo then talks to the terminal, as for a person.
    # (su -c starts a session of its own: sudo runs without a controlling terminal.)
    return Screen(["/bin/su", env.user, "-c", f"{SUDO} {sudo_args}"], env=SCREEN_ENV)


def terminal(env: Env) -> Screen:
    """The account's shell on a terminal of its own: the pseudo-terminal is the
    controlling terminal of its session, as after a login."""
    screen = Screen(["/bin/su", env.user], env=SCREEN_ENV | {"PS1": "$ "})
    screen.expect(r"\$ $", SHOW_CODE_WITHIN, "the shell's prompt")
    return screen


def cached(env: Env, **settings) -> None:
    """A clean mock, and the config with the approval cache on, in the test's directory."""
    cache_dir = os.path.join(env.tmp, "cache")
    if os.path.isdir(cache_dir):
        for name in os.listdir(cache_dir):
            os.unlink(os.path.join(cache_dir, name))
    key = os.path.join(env.tmp, "cache.key")
    if not os.path.exists(key):
        write_root_file(key, "", 0o600)
        with open(key, "wb") as f:
            f.write(os.urandom(32))
    fresh(env, cache="yes", cache_dir=cache_dir, cache_key=key, **settings)


def cache_entries(env: Env) -> list[str]:
    cache_dir = os.path.join(env.tmp, "cache")
    return sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []


def sudo_at(screen: Screen, env: Env, approve: bool) -> str | None:
    """Types sudo into the shell: the code it shows (approved, or denied), or None when it
    signed in without one; sudo's answer is checked either way."""
    start = len(screen.text)
    screen.send("sudo /usr/bin/id -un\r")
    which = screen.expect([rf"approve code ({CODE_RE})", r"(?m)^root\r?$"], SHOW_CODE_WITHIN,
                          "a code or sudo's answer")
    code = screen.match(1) if which == 0 else None
    if code is not None:
        check(code == mock_last_code(env.mock), f"code {code} is not the mock's")
        if approve:
            env.mock.approve(user="usr_demo")
            screen.expect(r"(?m)^root\r?$", ANSWER_WITHIN, "the output of sudo id -un")
        else:
            env.mock.deny(code=code)
            screen.expect(r"The sign-in was denied in NextPay\.", ANSWER_WITHIN, "the denial")
    screen.expect(r"\$ $", ANSWER_WITHIN, "the shell's prompt after sudo")
    shown = screen.text[start:]
    check((code is None) == ("approve code" not in shown), f"what sudo showed:\n{indent(shown)}")
    return code


def read_code(screen: Screen, env: Env) -> str:
    screen.expect(rf"approve code ({CODE_RE})", SHOW_CODE_WITHIN, "the code on the screen")
    code = screen.match(1)
    check(code == mock_last_code(env.mock),
          f"code on screen {code} is not the mock's {mock_last_code(env.mock)}")
    url = f"https://127.0.0.1:{env.mock.port}/auth/device?code={code}"
    check(url in screen.text, f"verification URL {url} not on the screen:\n{screen.text}")
    # sudo gives no remote address: the service alone (its PAM service's name).
    first = first_line_of_instructions(os.uname().nodename, env.user, env.service)
    check(first in screen.text, f"no line {first!r}:\n{screen.text}")
    check(APPROVE_ONLY in screen.text, f"no warning to the approver:\n{screen.text}")
    return code


def placeholders(env: Env, code: str | None) -> dict[str, str]:
    return {code or "": "<CODE>", str(env.mock.port): "<API_PORT>", env.user: "<USER>",
            os.uname().nodename: "<HOST>", env.service: "<SERVICE>"}


def no_root_output(text: str) -> bool:
    return not re.search(r"(?m)^root$", text)


# ---------------------------------------------------------------------------


def test_instructions_at_once_and_approval_needs_no_typing(env: Env):
    fresh(env)
    with sudo(env) as screen:
        t0 = time.monotonic()
        code = read_code(screen, env)
        shown_after = time.monotonic() - t0
        check("Waiting for your approval" in screen.text, f"no waiting line:\n{screen.text}")
        check(env.mock.stats()["codes"][-1]["state"] == "pending", "decided before approval")
        env.mock.approve(user="usr_demo")
        screen.expect(r"(?m)^root\r?$", ANSWER_WITHIN, "the output of sudo id -un")
        status = screen.finish(ANSWER_WITHIN)
        check(status == 0, f"exit status {status}:\n{screen.text}")
        check(shown_after < SHOW_CODE_WITHIN, f"instructions took {shown_after:.1f} s")
        save_transcript("sudo-approved", "sudo /usr/bin/id -un", screen.text,
                        placeholders(env, code))
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")


def deny_every_code(screen: Screen, env: Env) -> tuple[list[str], int, float]:
    """Denies the code on the screen, and any fresh one sudo's retries bring, until sudo
    ends; returns (codes shown, exit status, seconds from the first denial to the end)."""
    codes = [read_code(screen, env)]
    env.mock.deny(code=codes[0])
    denied_at = time.monotonic()
    for _ in range(5):               # sudo's passwd_tries is 3: never more than that
        which = screen.expect([rf"approve code ({CODE_RE})", pexpect_eof()], ANSWER_WITHIN,
                              "a fresh code or the end of sudo")
        if which == 1:
            break
        codes.append(screen.match(1))
        env.mock.deny(code=codes[-1])
    return codes, screen.close(), time.monotonic() - denied_at


def test_denial_fails_with_sudos_message(env: Env):
    fresh(env)
    with sudo(env) as screen:
        codes, status, _ = deny_every_code(screen, env)
        text = screen.text
        check(status != 0, f"sudo succeeded after a denial:\n{text}")
        check(no_root_output(text), f"id ran:\n{text}")
        check("The sign-in was denied in NextPay." in text, f"no denial message:\n{text}")
        check(reference_on(text), f"no reference after the denial:\n{text}")
        check(re.search(r"(?m)^sudo: \d+ incorrect password attempts?\r?$", text),
              f"no message of sudo's own:\n{text}")
        save_transcript("sudo-denied", "sudo /usr/bin/id -un", text,
                        placeholders(env, codes[0]) if len(codes) == 1 else
                        placeholders(env, None) | {c: f"<CODE{i}>" for i, c in enumerate(codes, 1)})
    stats = env.mock.stats()
    check(all(c["state"] == "denied" for c in stats["codes"]), f"{stats['codes']}")


def test_denial_starts_no_second_code(env: Env):
    """A denial ends the step-up: sudo's retries (it treats PAM_MAXTRIES like a wrong
    password, "Sorry, try again.") must neither create nor show a fresh code, nor wait."""
    fresh(env)
    with sudo(env) as screen:
        codes, status, took = deny_every_code(screen, env)
        text = screen.text
        check(status != 0, f"sudo succeeded after a denial:\n{text}")
        made = creates(env.mock)
        check(made == 1 and len(codes) == 1,
              f"sudo started over after the denial: {made} codes created, {len(codes)} shown; "
              f"the screen:\n{indent(text)}")
        check(text.count("NextPay sign-in to") == 1, f"instructions shown again:\n{text}")
        # Only the poll that brings the denial and sudo's own retries are left to wait for.
        check(took < 10, f"sudo ended {took:.1f} s after the denial")


def test_timeout_fails(env: Env):
    fresh(env, login_timeout=LOGIN_TIMEOUT)
    with sudo(env) as screen:
        t0 = time.monotonic()
        read_code(screen, env)
        check(f"valid for {LOGIN_TIMEOUT} seconds" in screen.text,
              f"login_timeout not in the instructions:\n{screen.text}")
        screen.expect(r"The code expired before it was approved\.", LOGIN_TIMEOUT + 10,
                      "the expiry message")
        first_after = time.monotonic() - t0
        check(first_after >= LOGIN_TIMEOUT - 1,
              f"gave up after {first_after:.1f} s, before login_timeout = {LOGIN_TIMEOUT}")
        # sudo treats PAM_AUTH_ERR as a wrong password and asks again (passwd_tries, 3),
        # each time with a fresh code: let every try run out.
        status = screen.finish(3 * (LOGIN_TIMEOUT + 10))
        took = time.monotonic() - t0
        text = screen.text
        check(status != 0, f"sudo succeeded:\n{text}")
        check(no_root_output(text), f"id ran:\n{text}")
        shown = text.count("approve code")
        made = creates(env.mock)
        check(shown == made, f"{made} codes created but {shown} shown:\n{text}")
        check(1 <= made <= 3, f"{made} codes created (passwd_tries is 3)")
        check(text.count("The code expired before it was approved.") == made,
              f"not one expiry message per code:\n{text}")
        references = re.findall(r"Reference: (\S+)", text)
        check(len(set(references)) == len(references) == made,
              f"not one reference of its own per try:\n{text}")
        check(took < made * (LOGIN_TIMEOUT + 5), f"{made} tries took {took:.1f} s")
        save_transcript("sudo-timeout", "sudo /usr/bin/id -un", text, placeholders(env, None) | {
            c["code"]: f"<CODE{i}>" for i, c in enumerate(env.mock.stats()["codes"], 1)})
    check(all(c["state"] != "approved" for c in env.mock.stats()["codes"]), "a code got approved")


def test_sudo_n_fails_at_once_without_a_code(env: Env):
    fresh(env)
    with sudo(env, "-n /usr/bin/id -un") as screen:
        t0 = time.monotonic()
        status = screen.finish(10)
        took = time.monotonic() - t0
        text = screen.text
        check(status != 0, f"sudo -n succeeded:\n{text}")
        check(no_root_output(text), f"id ran:\n{text}")
        check("a password is required" in text, f"no message of sudo's own:\n{text}")
        check(took < 10, f"sudo -n took {took:.1f} s")
    check(creates(env.mock) == 0, f"{creates(env.mock)} device codes created for sudo -n")


def test_second_sudo_in_the_same_terminal_reuses_the_approval(env: Env):
    """The first sudo in a terminal shows a code; a second one in the same shell within
    cache_ttl signs in from the cache: no code is made, nothing is shown."""
    cached(env)
    with terminal(env) as screen:
        first = sudo_at(screen, env, approve=True)
        check(first is not None, f"the first sudo showed no code:\n{screen.text}")
        check(creates(env.mock) == 1, f"{creates(env.mock)} codes after the first sudo")
        second = sudo_at(screen, env, approve=True)
        check(second is None, f"the second sudo showed code {second}:\n{screen.text}")
        check(creates(env.mock) == 1, f"{creates(env.mock)} codes after the second sudo")
        # The cached token was checked with the API again: one /auth/me per sudo.
        check(env.mock.count("me") == 2, f"{env.mock.count('me')} /auth/me requests, not 2")
        screen.send("exit\r")
        status = screen.finish(ANSWER_WITHIN)
        check(status == 0, f"the shell ended with {status}:\n{screen.text}")
        save_transcript("sudo-cached", f"su {env.user}", screen.text, placeholders(env, first))
    check(len(cache_entries(env)) == 1, f"not one cache entry: {cache_entries(env)}")


def test_sudo_in_another_terminal_asks_again(env: Env):
    """An approval made in one terminal never serves another terminal, even of the same
    person within cache_ttl: there sudo shows a new code (denied here, and sudo fails),
    while the first terminal still signs in from the cache."""
    cached(env)
    with terminal(env) as first, terminal(env) as other:
        check(sudo_at(first, env, approve=True) is not None, "no code in the first terminal")
        code = sudo_at(other, env, approve=False)
        check(code is not None, f"the other terminal signed in from the cache:\n{other.text}")
        check(creates(env.mock) == 2, f"{creates(env.mock)} codes, not 2")
        check(no_root_output(other.text), f"id ran after the denial:\n{other.text}")
        check(sudo_at(first, env, approve=True) is None,
              f"the first terminal asked again:\n{first.text}")
        check(creates(env.mock) == 2, f"{creates(env.mock)} codes, not 2")
        for screen in (first, other):
            screen.send("exit\r")
            screen.finish(ANSWER_WITHIN)


def test_sudo_without_a_controlling_terminal_never_reuses(env: Env):
    """su -c runs its command in a session of its own without a controlling terminal,
    as a display manager runs everyone's sign-in: two sudos in that one session each show
    a code, since nothing is stored or reused there."""
    cached(env)
    with sudo(env, "/usr/bin/id -un; {SUDO} /usr/bin/id -un".format(SUDO=SUDO)) as screen:
        for i in range(2):
            screen.expect(rf"approve code ({CODE_RE})", SHOW_CODE_WITHIN,
                          f"the code of sudo number {i + 1}")
            check(screen.match(1) == mock_last_code(env.mock), "not the mock's code")
            env.mock.approve(user="usr_demo")
            screen.expect(r"(?m)^root\r?$", ANSWER_WITHIN, "the output of sudo id -un")
        check(screen.finish(ANSWER_WITHIN) == 0, f"sudo failed:\n{screen.text}")
    check(creates(env.mock) == 2, f"{creates(env.mock)} codes, not 2")
    check(cache_entries(env) == [], f"approvals were stored: {cache_entries(env)}")

TESTS = [
    test_instructions_at_once_and_approval_needs_no_typing,
    test_denial_fails_with_sudos_message,
    test_denial_starts_no_second_code,
    test_timeout_fails,
    test_sudo_n_fails_at_once_without_a_code,
    test_second_sudo_in_the_same_terminal_reuses_the_approval,
    test_sudo_in_another_terminal_asks_again,
    test_sudo_without_a_controlling_terminal_never_reuses,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_sudo", TESTS, fixture=fixture, requires_root=True,
                       requires=(SUDO, "/bin/su", "visudo", "useradd")))
