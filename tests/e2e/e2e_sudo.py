#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a person steps up with the real sudo (root only).

sudo is setuid, so pam_wrapper cannot reach it: these tests put a PAM service file
with a fresh name into /etc/pam.d and a sudoers drop-in into /etc/sudoers.d that
points a throwaway account's sudo at it, and remove both (and the account) in the
end whatever happens.  The account runs `sudo /usr/bin/id -un` through su on a
pseudo-terminal (pexpect); the tests read the screen and approve or deny in the
mock API.  Nothing is typed in poll mode, where the module needs no input.  The
approval cache is off but in the tests of its reuse, which type sudo twice into a
shell whose controlling terminal is the pseudo-terminal, as a person does.  With
api_key = yes sudo on such a terminal is in prompt mode: those tests type a key, a
wrong key, or Enter at sudo's prompt.

The suite runs in a mount namespace of its own with a systemd-journald of its own
(tests/lib/journald.py): the API key tests read the module's events back from it
and look for the key in all of it.

    sudo /usr/bin/python3 tests/e2e/e2e_sudo.py
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (APPROVE_ONLY, BOB_KEY, CODE_RE, KEY_PROMPT, KEY_REFUSED,  # noqa: E402
                    MODULE, Screen, cache_entries, cache_settings, check, creates,
                    first_line_of_instructions, indent, mock_api, mock_last_code, pexpect_eof,
                    processes_showing, random_suffix, reference_on, run_tests, save_transcript,
                    sudo_service, temp_dir, throwaway_account, write_config, write_usermap)
from lib.journald import (JOURNALD, in_private_mount_namespace,  # noqa: E402
                          private_journald)

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
    with temp_dir("npe2e-sudo.") as tmp, throwaway_account() as user, mock_api(tmp) as mock, \
            private_journald(tmp):
        service = f"nextpay-e2e-{random_suffix()}"
        # usr_demo approves in the browser; usr_bob signs in with his API key.
        usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"),
                                {"usr_demo": user, "usr_bob": user})
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
    fresh(env, **cache_settings(env.tmp, **settings))


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
    return code_shown(screen, env, screen.match(1))


def code_shown(screen: Screen, env: Env, code: str) -> str:
    """Checks the instructions on the screen for code: the mock's, with its URL, who signs
    in to what, and the warning to the approver."""
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
    check(len(cache_entries(env.tmp)) == 1, f"not one cache entry: {cache_entries(env.tmp)}")


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
    check(cache_entries(env.tmp) == [], f"approvals were stored: {cache_entries(env.tmp)}")


# ---------------------------------------------------------------------------
# api_key = yes: on a terminal, sudo's prompt takes Enter after the approval, or a key.


def sudo_for_a_key(screen: Screen, env: Env) -> tuple[int, str]:
    """Types sudo into the shell and waits for the prompt that takes a key: (where on the
    screen sudo began, the code in the instructions)."""
    start = len(screen.text)
    screen.send("sudo /usr/bin/id -un\r")
    screen.expect(re.escape(KEY_PROMPT), SHOW_CODE_WITHIN, "the prompt for Enter or a key")
    codes = re.findall(rf"approve code ({CODE_RE})\.?.*\r?\n{re.escape(APPROVE_ONLY)}\r?\n"
                       rf"{re.escape(KEY_PROMPT)}$", screen.text[start:])
    check(len(codes) == 1, f"not the instructions in one prompt:\n{screen.text[start:]}")
    return start, code_shown(screen, env, codes[0])


def as_seen(text: str) -> str:
    """What sudo showed, from a shell's screen since sudo was typed: without the echo of the
    command line and the shell's next prompt (a transcript adds the command)."""
    return re.sub(r"\$ $", "", text.split("\n", 1)[-1]).rstrip()


def journal(*matches: str, output: str = "export") -> str:
    done = subprocess.run(["journalctl", "--no-pager", "-o", output, *matches],
                          capture_output=True, text=True, check=False, timeout=60)
    check(done.returncode == 0, f"journalctl {' '.join(matches)}: {done.stderr}")
    return done.stdout


def test_api_key_typed_at_sudos_prompt_signs_in(env: Env):
    """With api_key = yes, sudo on a terminal shows the instructions in a prompt that says
    a key may be typed; a key typed there signs in without the browser.  The key is seen
    by nobody: not on the screen (sudo does not echo it), not in the journal, not in any
    process's command line or environment while NextPay answers (slowly, on purpose)."""
    fresh(env, api_key="yes", log="journal")
    env.mock.fault(endpoint="token", kind="slow", delay=3)
    with terminal(env) as screen:
        start, code = sudo_for_a_key(screen, env)
        check("Waiting for your approval" not in screen.text[start:], "poll mode's line shown")
        screen.send(BOB_KEY + "\r")
        shown = []
        for _ in range(20):             # while the mock holds the key exchange
            shown += processes_showing(BOB_KEY)
            time.sleep(0.1)
        screen.expect(r"(?m)^root\r?$", ANSWER_WITHIN, "the output of sudo id -un")
        screen.expect(r"\$ $", ANSWER_WITHIN, "the shell's prompt after sudo")
        text = screen.text[start:]
        screen.send("exit\r")
        check(screen.finish(ANSWER_WITHIN) == 0, f"the shell failed:\n{screen.text}")
        save_transcript("sudo-api-key", "sudo /usr/bin/id -un", as_seen(text),
                        placeholders(env, code))
    check(shown == [], f"the key in a process's command line or environment: {shown}")
    check(BOB_KEY not in text, f"the key on the screen:\n{text}")
    check(env.mock.count("token") == 1, f"{env.mock.count('token')} key exchanges, not 1")
    check(creates(env.mock) == 1 and env.mock.stats()["codes"][0]["state"] == "pending",
          f"the code was used: {env.mock.stats()['codes']}")
    events = [json.loads(line) for line in journal(
        "NEXTPAY_EVENT=signin", f"NEXTPAY_SERVICE={env.service}", output="json").splitlines()]
    check(len(events) == 1, f"{len(events)} sign-in events, not 1: {events}")
    want = {"NEXTPAY_RESULT": "success", "NEXTPAY_METHOD": "api-key",
            "NEXTPAY_USER_ID": "usr_bob", "NEXTPAY_ACCOUNT": env.user}
    check(all(events[0].get(k) == v for k, v in want.items()),
          f"not the event of a key sign-in: {events[0]}")
    everything = journal()
    check(BOB_KEY not in everything and "npk_" not in everything, "the key in the journal")


def test_wrong_api_key_at_sudo_is_refused(env: Env):
    """A key NextPay does not accept: the module's sentence with a reference at once, and
    sudo's own retries (each a new prompt and code) end as after wrong passwords."""
    fresh(env, api_key="yes")
    wrong = "npk_wrong_0123456789abcdef"
    with terminal(env) as screen:
        start, _ = sudo_for_a_key(screen, env)
        tries = 0
        while True:
            tries += 1
            screen.send(wrong + "\r")
            screen.expect(re.escape(KEY_REFUSED), ANSWER_WITHIN, "the refusal of the key")
            if screen.expect([re.escape(KEY_PROMPT), r"\$ $"], ANSWER_WITHIN,
                             "sudo asking again, or the shell") == 1 or tries == 5:
                break
        text = screen.text[start:]
        screen.send("exit\r")
        screen.finish(ANSWER_WITHIN)
    check(tries == 3, f"{tries} tries (sudo's passwd_tries is 3):\n{text}")
    check(no_root_output(text), f"id ran:\n{text}")
    check(text.count(KEY_REFUSED) == 3, f"not one refusal per try:\n{text}")
    check(len(set(re.findall(r"Reference: (\S+)", text))) == 3,
          f"not one reference of its own per try:\n{text}")
    check(re.search(r"(?m)^sudo: 3 incorrect password attempts\r?$", text),
          f"no message of sudo's own:\n{text}")
    check(wrong not in text, f"the key on the screen:\n{text}")
    check(env.mock.count("token") == 3, f"{env.mock.count('token')} key exchanges, not 3")
    check(env.mock.count("me") == 0, f"{env.mock.count('me')} /auth/me requests")


def test_enter_before_approval_at_sudos_key_prompt(env: Env):
    """Enter before the approval, as in any prompt mode: the code is still pending, the
    prompt (with its hint) comes again; Enter after the approval runs the command."""
    fresh(env, api_key="yes")
    with terminal(env) as screen:
        start, code = sudo_for_a_key(screen, env)
        screen.send("\r")
        screen.expect(rf"Still waiting for approval of code {code}\.\r?\n"
                      rf"{re.escape(KEY_PROMPT)}", ANSWER_WITHIN, "the prompt again")
        check(no_root_output(screen.text), f"sudo ran before the approval:\n{screen.text}")
        env.mock.approve(user="usr_demo")
        screen.send("\r")
        screen.expect(r"(?m)^root\r?$", ANSWER_WITHIN, "the output of sudo id -un")
        screen.expect(r"\$ $", ANSWER_WITHIN, "the shell's prompt after sudo")
        text = screen.text[start:]
        screen.send("exit\r")
        screen.finish(ANSWER_WITHIN)
        save_transcript("sudo-api-key-enter", "sudo /usr/bin/id -un", as_seen(text),
                        placeholders(env, code))
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes, not 1")
    check(env.mock.count("token") == 0, f"{env.mock.count('token')} key exchanges")

TESTS = [
    test_instructions_at_once_and_approval_needs_no_typing,
    test_denial_fails_with_sudos_message,
    test_denial_starts_no_second_code,
    test_timeout_fails,
    test_sudo_n_fails_at_once_without_a_code,
    test_second_sudo_in_the_same_terminal_reuses_the_approval,
    test_sudo_in_another_terminal_asks_again,
    test_sudo_without_a_controlling_terminal_never_reuses,
    test_api_key_typed_at_sudos_prompt_signs_in,
    test_wrong_api_key_at_sudo_is_refused,
    test_enter_before_approval_at_sudos_key_prompt,
]

if __name__ == "__main__":
    in_private_mount_namespace()
    sys.exit(run_tests("e2e_sudo", TESTS, fixture=fixture, requires_root=True,
                       requires=(SUDO, "/bin/su", "visudo", "useradd", "journalctl",
                                 "unshare", "mount", JOURNALD)))
