#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: break-glass with the real sshd (9.2 and 10.3), the real sudo and the real
pam_unix (root only).

The stack of pam_nextpay(8), BREAK-GLASS: the NextPay sign-in line, the gate for a group
of this run's, then pam_unix.  Two throwaway accounts with the same password: one in the
group, one not.  While NextPay cannot be reached (the mock stopped, a refused port, a TLS
failure, 5xx), the member signs in with the password and the other account, which sees
the same screen, does not.  While NextPay answers, the member still needs NextPay: a code
is shown and no password is asked, also after a denial or an expired code.  A service in
skip_services goes straight to the password.  sshd runs as in tests/e2e/e2e_sshd.py (under
pam_wrapper, its "sshd" service from a directory of ours); sudo as in
tests/e2e/e2e_sudo.py (a PAM service file and a sudoers drop-in of this run's, removed
afterwards whatever happens).

    sudo /usr/bin/python3 tests/e2e/e2e_breakglass.py
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (MODULE, Failure, Mock, Screen, check, indent, mock_api,  # noqa: E402
                    pexpect_eof, random_suffix, remove_pam_wrapper_dirs, run_tests,
                    save_transcript, sudo_service, temp_dir, throwaway_account,
                    write_config, write_root_file, write_usermap)
from lib.system import add_to_group, throwaway_group  # noqa: E402
from e2e_sshd import (NEW_SSHD, PAM_LOG_SHIM, SSHD, Sshd, need_new, new_openssh,  # noqa: E402
                      running_sshd, ssh, write_services)

PASSWORD = "Glass-4-breaking, not guessing"
NOT_REACHED = "NextPay could not be reached. Please try again later."
BREAKGLASS_WORDS = ("Only break-glass accounts may sign in with a password now; every such "
                    "sign-in is reported.")
NEXTPAY_PROMPT = "Press Enter once you have approved: "
LAST_PROMPT = "Press Enter to close: "
TYPED_PASSWORD = "NextPay sign-in takes no password here"
# pam_unix's prompt over keyboard-interactive, and as sudo shows it.
SSH_PASSWORD_PROMPT = "Password: "
SUDO_PASSWORD_PROMPT = r"\[sudo\] password for [^:]+: "
SHOW_WITHIN = 20        # the instructions, or the password prompt
ANSWER_WITHIN = 20      # after a decision in the mock, or the password
SUDO = "/usr/bin/sudo"
SETPRIV = "/usr/bin/setpriv"


@dataclass
class Env:
    tmp: str
    user: str           # the member (what e2e_sshd's ssh() signs in as by default)
    other: str          # the same password, not in the group
    group: str
    mock: Mock
    conf: str
    usermap: str
    known_hosts: str
    old: Sshd
    new: Sshd | None
    new_prompt: Sshd | None     # unused here; e2e_sshd.need_new() reads it
    new_missing: tuple[str | None, str | None]
    sudo_service: str


def set_password(user: str) -> None:
    done = subprocess.run(["chpasswd"], input=f"{user}:{PASSWORD}\n", capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chpasswd: exit {done.returncode}: {done.stderr.strip()}")


def stack(conf: str, group: str, extra: str = "") -> str:
    """The auth lines of the break-glass stack of pam_nextpay(8), pam_unix asking for the
    password."""
    return (f"auth [success=done authinfo_unavail=ignore ignore=ignore default=die] {MODULE} "
            f"config={conf}{extra}\n"
            f"auth [success=ok ignore=ignore default=bad] {MODULE} config={conf} "
            f"breakglass_group={group}\n"
            "auth required pam_unix.so\n")


@contextlib.contextmanager
def fixture():
    if not os.access(PAM_LOG_SHIM, os.R_OK):
        raise RuntimeError(f"{PAM_LOG_SHIM} is missing (make tests)")
    with temp_dir("npe2e-bg.") as tmp, throwaway_group() as group, \
            throwaway_account("npbgm") as member, throwaway_account("npbgo") as other, \
            mock_api(tmp) as mock, contextlib.ExitStack() as servers:
        try:
            add_to_group(member, group)
            set_password(member)
            set_password(other)
            usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"),
                                    {"usr_demo": member, "usr_alice": other})
            conf = write_config(os.path.join(tmp, "pam_nextpay.conf"), mock, usermap)
            known_hosts = write_root_file(os.path.join(tmp, "known_hosts"), "")
            services = write_services(os.path.join(tmp, "services"), "",
                                      stack(conf, group, " debug"))
            old = servers.enter_context(running_sshd(tmp, "old", "9.2", services, known_hosts))
            new = None
            missing = new_openssh()
            if missing == (None, None):
                new = servers.enter_context(running_sshd(tmp, "new", "10.3", services,
                                                         known_hosts, NEW_SSHD))
            service = f"nextpay-e2e-bg-{random_suffix()}"
            # One try: sudo asks again after a failure, each time through the whole stack.
            sudo_stack = (stack(conf, group) + "account required pam_permit.so\n"
                          "session required pam_permit.so\n")
            servers.enter_context(sudo_service(service, [member, other], sudo_stack, tmp,
                                               ", passwd_tries=1"))
            yield Env(tmp, member, other, group, mock, conf, usermap, known_hosts, old, new,
                      None, missing, service)
        finally:
            servers.close()
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


def configure(env: Env, **settings) -> None:
    """A clean mock, and the module's settings for one test."""
    env.mock.reset()
    write_config(env.conf, env.mock, env.usermap, **settings)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{s.getsockname()[1]}/v1"


@contextlib.contextmanager
def stopped_mock(env: Env):
    """The settings of a mock API that ran a moment ago and has been stopped."""
    mock = Mock.start(os.path.join(env.tmp, f"stopped-{random_suffix()}"), timeout=30)
    url, ca = mock.url, mock.ca_cert
    mock.stop()
    yield {"api_url": url, "ca_file": ca}


# The outages: (name, the settings that make it, the start of the reason logged).
OUTAGES = [
    ("refused port", lambda env: {"api_url": closed_port_url()}, "unreachable: "),
    ("TLS failure", lambda env: {"ca_file": "/etc/ssl/certs/ca-certificates.crt"}, "tls: "),
    ("5xx", lambda env: {}, "unavailable: HTTP 503"),
]


def outage(env: Env, name: str) -> str:
    """Sets up one outage; returns the start of the reason the sign-in line will log."""
    for known, settings, reason in OUTAGES:
        if known == name:
            configure(env, **settings(env))
            if name == "5xx":
                env.mock.fault(endpoint="create", kind="status", status=503, count=-1)
            return reason
    raise AssertionError(name)


def pam_log(server: Sshd) -> str:
    with open(server.pam_log) as f:
        return f.read()


def gate_line(server: Sshd, verdict: str, account: str) -> str:
    """The gate's last log line about account ("<PRIORITY> break-glass VERDICT: ...")."""
    lines = [line for line in pam_log(server).splitlines()
             if f"break-glass {verdict}: account=\"{account}\"" in line]
    check(lines, f"sshd {server.name}: no 'break-glass {verdict}' line for {account}; the log:\n"
                 f"{indent(pam_log(server))}")
    return lines[-1]


def placeholders(env: Env, server: Sshd | None, user: str) -> dict[str, str]:
    values = {user: "<USER>", env.group: "<GROUP>", os.uname().nodename: "<HOST>",
              str(env.mock.port): "<API_PORT>", env.sudo_service: "<SERVICE>"}
    if server is not None:
        values[str(server.port)] = "<PORT>"
    return values


def no_password_prompt(text: str) -> None:
    check(SSH_PASSWORD_PROMPT not in text and not re.search(SUDO_PASSWORD_PROMPT, text),
          f"a password prompt after NextPay answered:\n{indent(text)}")


# ---------------------------------------------------------------------------
# sshd: NextPay unreachable


def ssh_with_password(env: Env, server: Sshd, user: str) -> Screen:
    """ssh as user, one keyboard-interactive round, up to the password prompt; the screen
    shows the outage and the break-glass words first."""
    screen = ssh(env, "-o", "NumberOfPasswordPrompts=1", server=server, user=user)
    screen.expect(re.escape(SSH_PASSWORD_PROMPT), SHOW_WITHIN, "the password prompt")
    check(NOT_REACHED in screen.text and BREAKGLASS_WORDS in screen.text,
          f"not the outage and the break-glass words before the password:\n"
          f"{indent(screen.text)}")
    check("approve code" not in screen.text, f"a code during an outage:\n{screen.text}")
    return screen


def member_gets_in(env: Env, server: Sshd, transcript: str | None = None) -> str:
    with ssh_with_password(env, server, env.user) as screen:
        screen.send(PASSWORD + "\r")
        screen.expect(rf"(?m)^{re.escape(env.user)}\r?$", ANSWER_WITHIN, "the output of id -un")
        status = screen.finish(ANSWER_WITHIN)
        check(status == 0, f"ssh exited with {status}:\n{screen.text}")
        if transcript:
            save_transcript(transcript, "ssh -p <PORT> <USER>@127.0.0.1 id -un", screen.text,
                            placeholders(env, server, env.user))
        return screen.text


def other_is_refused(env: Env, server: Sshd) -> str:
    """The account outside the group: the same screen, its right password, no way in."""
    with ssh_with_password(env, server, env.other) as screen:
        screen.send(PASSWORD + "\r")
        status = screen.finish(ANSWER_WITHIN)
        text = screen.text
    check(status != 0 and "Permission denied" in text, f"ssh exited with {status}:\n{text}")
    check(not re.search(rf"(?m)^{re.escape(env.other)}$", text), f"id -un ran:\n{text}")
    return text


def test_9_2_every_outage_lets_the_member_in_with_the_password(env: Env):
    for name, _, _ in OUTAGES:
        reason = outage(env, name)
        member_gets_in(env, env.old, "ssh-breakglass-outage" if name == "refused port" else None)
        line = gate_line(env.old, "opened", env.user)
        check(line.startswith("<1> ") and f'group="{env.group}"' in line and
              f'outage="{reason}' in line, f"{name}: not the LOG_ALERT line expected: {line!r}")


def test_9_2_stopped_api_lets_the_member_in_with_the_password(env: Env):
    with stopped_mock(env) as settings:
        configure(env, **settings)
        member_gets_in(env, env.old)
    check(gate_line(env.old, "opened", env.user).startswith("<1> "), "not at LOG_ALERT")


def test_9_2_outage_refuses_the_account_outside_the_group(env: Env):
    outage(env, "refused port")
    text = other_is_refused(env, env.old)
    line = gate_line(env.old, "refused", env.other)
    check(line.startswith("<4> ") and 'reason="not a member of breakglass_group"' in line,
          f"not the LOG_WARNING refusal expected: {line!r}")
    save_transcript("ssh-breakglass-outage-other", "ssh -p <PORT> <USER>@127.0.0.1 id -un", text,
                    placeholders(env, env.old, env.other))


def test_10_3_outage_lets_the_member_in_and_refuses_the_other(env: Env):
    server = need_new(env)
    outage(env, "refused port")
    member_gets_in(env, server, "ssh-10.3-breakglass-outage")
    check(gate_line(server, "opened", env.user).startswith("<1> "), "not at LOG_ALERT")
    outage(env, "5xx")
    other_is_refused(env, server)
    check(gate_line(server, "refused", env.other).startswith("<4> "), "not at LOG_WARNING")


# ---------------------------------------------------------------------------
# sshd: NextPay answers, and decides alone


def until_the_end(screen: Screen) -> str:
    """Enter at NextPay's last prompt, until ssh ends; a password prompt fails the test."""
    while True:
        which = screen.expect([pexpect_eof(), re.escape(SSH_PASSWORD_PROMPT),
                               re.escape(LAST_PROMPT)], ANSWER_WITHIN, "the end of ssh")
        if which == 1:
            raise Failure(f"a password prompt after NextPay answered:\n{indent(screen.text)}")
        if which == 0:
            screen.close()
            return screen.text
        screen.send("\r")


def test_9_2_nextpay_up_the_password_alone_does_not_work(env: Env):
    configure(env)
    log_before = len(pam_log(env.old))
    with ssh(env, "-o", "NumberOfPasswordPrompts=1") as screen:
        screen.expect(re.escape(NEXTPAY_PROMPT), SHOW_WITHIN, "NextPay's instructions")
        screen.send(PASSWORD + "\r")
        text = until_the_end(screen)
    check(TYPED_PASSWORD in text and "Permission denied" in text, f"not refused:\n{text}")
    check(env.mock.count("create") == 1, f"{env.mock.count('create')} codes created")
    # With the approval, NextPay alone lets the member in: no password either.
    configure(env)
    with ssh(env) as screen:
        screen.expect(re.escape(NEXTPAY_PROMPT), SHOW_WITHIN, "NextPay's instructions")
        env.mock.approve(user="usr_demo")
        screen.send("\r")
        screen.expect(rf"(?m)^{re.escape(env.user)}\r?$", ANSWER_WITHIN, "the output of id -un")
        check(screen.finish(ANSWER_WITHIN) == 0, f"ssh failed:\n{screen.text}")
        no_password_prompt(screen.text)
    check("break-glass" not in pam_log(env.old)[log_before:],
          f"the gate weighed a sign-in NextPay decided:\n{indent(pam_log(env.old)[log_before:])}")


def denied_or_expired(env: Env, server: Sshd, decide: str) -> str:
    configure(env)
    with ssh(env, "-o", "NumberOfPasswordPrompts=1", server=server) as screen:
        which = screen.expect([re.escape(NEXTPAY_PROMPT), r"Waiting for your approval"],
                              SHOW_WITHIN, "NextPay's instructions")
        getattr(env.mock, decide)()
        if which == 0:
            screen.send("\r")
        text = until_the_end(screen)
    check("Permission denied" in text, f"not refused:\n{text}")
    return text


def test_denial_never_falls_through_to_the_password(env: Env):
    text = denied_or_expired(env, env.old, "deny")
    check("The sign-in was denied in NextPay." in text, f"no denial:\n{text}")
    if env.new is not None:
        denied_or_expired(env, env.new, "deny")


def test_expiry_never_falls_through_to_the_password(env: Env):
    text = denied_or_expired(env, env.old, "expire")
    check("The code expired" in text, f"no expiry:\n{text}")
    if env.new is not None:
        denied_or_expired(env, env.new, "expire")


def test_skipped_service_goes_straight_to_the_password(env: Env):
    configure(env, skip_services="cron,sshd")
    for user in (env.user, env.other):
        with ssh(env, "-o", "NumberOfPasswordPrompts=1", user=user) as screen:
            screen.expect(re.escape(SSH_PASSWORD_PROMPT), SHOW_WITHIN, "the password prompt")
            check(NOT_REACHED not in screen.text and BREAKGLASS_WORDS not in screen.text,
                  f"the gate spoke for a skipped service:\n{screen.text}")
            screen.send(PASSWORD + "\r")
            screen.expect(rf"(?m)^{re.escape(user)}\r?$", ANSWER_WITHIN, "the output of id -un")
            check(screen.finish(ANSWER_WITHIN) == 0, f"ssh failed:\n{screen.text}")
    check(env.mock.count("create") == 0, "a code for a skipped service")


# ---------------------------------------------------------------------------
# sudo


def sudo(env: Env, user: str) -> Screen:
    """sudo run by user in this terminal.  Not through su -c, which gives its command a
    session without a controlling terminal (sudo then cannot ask for a password)."""
    return Screen([SETPRIV, f"--reuid={user}", f"--regid={user}", "--init-groups", "--",
                   SUDO, "/usr/bin/id", "-un"],
                  env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "LANG": "C.UTF-8",
                       "HOME": env.tmp, "USER": user, "LOGNAME": user})


def test_sudo_outage_lets_the_member_in_with_the_password(env: Env):
    outage(env, "refused port")
    with sudo(env, env.user) as screen:
        screen.expect(SUDO_PASSWORD_PROMPT, SHOW_WITHIN, "sudo's password prompt")
        check(NOT_REACHED in screen.text and BREAKGLASS_WORDS in screen.text,
              f"not the outage and the break-glass words:\n{screen.text}")
        screen.send(PASSWORD + "\r")
        screen.expect(r"(?m)^root\r?$", ANSWER_WITHIN, "the output of sudo id -un")
        check(screen.finish(ANSWER_WITHIN) == 0, f"sudo failed:\n{screen.text}")
        save_transcript("sudo-breakglass-outage", "sudo /usr/bin/id -un", screen.text,
                        placeholders(env, None, env.user))


def test_sudo_outage_refuses_the_account_outside_the_group(env: Env):
    outage(env, "5xx")
    with sudo(env, env.other) as screen:
        screen.expect(SUDO_PASSWORD_PROMPT, SHOW_WITHIN, "sudo's password prompt")
        check(BREAKGLASS_WORDS in screen.text, f"not the same screen:\n{screen.text}")
        screen.send(PASSWORD + "\r")
        status = screen.finish(ANSWER_WITHIN)
        text = screen.text
    check(status != 0 and not re.search(r"(?m)^root$", text), f"sudo succeeded:\n{text}")


def test_sudo_nextpay_up_the_member_still_needs_nextpay(env: Env):
    configure(env)
    with sudo(env, env.user) as screen:
        screen.expect(r"approve code", SHOW_WITHIN, "the instructions")
        env.mock.deny()
        status = screen.finish(ANSWER_WITHIN)
        text = screen.text
    check(status != 0 and "The sign-in was denied in NextPay." in text, f"sudo:\n{text}")
    no_password_prompt(text)
    configure(env)
    with sudo(env, env.user) as screen:
        screen.expect(r"approve code", SHOW_WITHIN, "the instructions")
        env.mock.approve(user="usr_demo")
        screen.expect(r"(?m)^root\r?$", ANSWER_WITHIN, "the output of sudo id -un")
        check(screen.finish(ANSWER_WITHIN) == 0, f"sudo failed:\n{screen.text}")
        no_password_prompt(screen.text)


TESTS = [
    test_9_2_every_outage_lets_the_member_in_with_the_password,
    test_9_2_stopped_api_lets_the_member_in_with_the_password,
    test_9_2_outage_refuses_the_account_outside_the_group,
    test_10_3_outage_lets_the_member_in_and_refuses_the_other,
    test_9_2_nextpay_up_the_password_alone_does_not_work,
    test_denial_never_falls_through_to_the_password,
    test_expiry_never_falls_through_to_the_password,
    test_skipped_service_goes_straight_to_the_password,
    test_sudo_outage_lets_the_member_in_with_the_password,
    test_sudo_outage_refuses_the_account_outside_the_group,
    test_sudo_nextpay_up_the_member_still_needs_nextpay,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_breakglass", TESTS, fixture=fixture, requires_root=True,
                       requires=(SSHD, SUDO, SETPRIV, "ssh", "ssh-keygen", "useradd", "groupadd",
                                 "chpasswd", "visudo")))
