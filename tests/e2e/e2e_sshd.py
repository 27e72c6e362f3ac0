#!/usr/bin/python3
"""End-to-end: a person signs in with the real OpenSSH client to a real sshd.

sshd (/usr/sbin/sshd, as root) listens on 127.0.0.1 on a free port with its own
config and host key, under pam_wrapper so its "sshd" PAM service comes from a
directory of ours instead of /etc/pam.d.  The ssh client runs on a pseudo-terminal
(pexpect) and the tests read what it shows, approve or deny in the mock API, and
press Enter like a person would.

    sudo /usr/bin/python3 tests/e2e/e2e_sshd.py
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (APPROVE_ONLY, CODE_RE, MODULE, Screen, check, creates,  # noqa: E402
                    first_line_of_instructions, free_port, kill_tree, mock_api, mock_last_code,
                    pexpect_eof, remove_pam_wrapper_dirs, run_tests, save_transcript, temp_dir,
                    throwaway_account, wait_for, write_config, write_root_file, write_usermap)

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"       # compiled into Debian's sshd; it refuses to start without it
PROMPT = "Press Enter once you have approved: "
# sshd shows text only together with a prompt: a failure's reason comes with this one.
LAST_PROMPT = "Press Enter to close: "
# Bounds for a person's view: the code shows up quickly, and an answer after Enter too.
SHOW_CODE_WITHIN = 20
ANSWER_WITHIN = 20


@dataclass
class Env:
    tmp: str
    user: str
    mock: object
    port: int
    known_hosts: str
    sshd_log: str
    services: str
    conf: str


def sshd_config(directory: str, port: int, password_only: bool) -> str:
    auth = ("PasswordAuthentication yes\nKbdInteractiveAuthentication no\n" if password_only
            else "PasswordAuthentication no\nKbdInteractiveAuthentication yes\n")
    return (f"Port {port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {directory}/hostkey\n"
            f"PidFile {directory}/sshd.pid\n"
            "UsePAM yes\n"
            f"{auth}"
            "PubkeyAuthentication no\n"
            "HostbasedAuthentication no\n"
            "PermitRootLogin no\n"
            "AuthorizedKeysFile none\n"
            "LoginGraceTime 60\n"
            "PrintMotd no\n"
            "PrintLastLog no\n"
            "Banner none\n"
            "LogLevel VERBOSE\n")


@contextlib.contextmanager
def running_sshd(tmp: str, name: str, services: str, password_only: bool = False):
    """A real sshd on 127.0.0.1 on a free port; yields (port, log path). Killed by pid after."""
    directory = os.path.join(tmp, name)
    os.makedirs(directory, mode=0o755)
    made_privsep_dir = not os.path.isdir(PRIVSEP_DIR)
    os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "npe2e",
                    "-f", os.path.join(directory, "hostkey")], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LD_PRELOAD": "libpam_wrapper.so",
           "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": services}
    log = os.path.join(directory, "sshd.log")
    proc = None
    for _ in range(5):          # a port free a moment ago may have been taken since
        port = free_port()
        config = write_root_file(os.path.join(directory, "sshd_config"),
                                 sshd_config(directory, port, password_only))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log)
        proc = subprocess.Popen([SSHD, "-D", "-f", config, "-E", log], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

        def listening():
            if proc.poll() is not None:
                return "exited"
            with contextlib.suppress(FileNotFoundError), open(log) as f:
                if f"Server listening on 127.0.0.1 port {port}" in f.read():
                    return "listening"
            return None

        state = wait_for(listening, 15, "sshd to listen")
        if state == "listening":
            break
        proc.wait()
        with open(log) as f:
            text = f.read()
        if "Address already in use" not in text:
            raise RuntimeError(f"sshd exited with status {proc.returncode}:\n{text}")
    else:
        raise RuntimeError("sshd found no free port in 5 tries")
    try:
        yield port, log
    finally:
        kill_tree(proc.pid)
        proc.wait(10)
        if made_privsep_dir:
            with contextlib.suppress(OSError):      # only if empty, as we found it
                os.rmdir(PRIVSEP_DIR)


@contextlib.contextmanager
def fixture():
    with temp_dir("npe2e-ssh.") as tmp, throwaway_account() as user, mock_api(tmp) as mock:
        try:
            # usr_demo is the person who owns the account; usr_alice owns another one.
            usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"),
                                    {"usr_demo": user, "usr_alice": "nobody"})
            conf = write_config(os.path.join(tmp, "pam_nextpay.conf"), mock, usermap)
            services = os.path.join(tmp, "services")
            os.makedirs(services, mode=0o755)
            write_root_file(os.path.join(services, "sshd"),
                            f"auth required {MODULE} config={conf}\n"
                            "account required pam_permit.so\n"
                            "session required pam_permit.so\n")
            write_root_file(os.path.join(services, "other"),
                            "".join(f"{t} required pam_deny.so\n"
                                    for t in ("auth", "account", "password", "session")))
            with running_sshd(tmp, "kbdint", services) as (port, log):
                yield Env(tmp, user, mock, port, os.path.join(tmp, "known_hosts"), log,
                          services, conf)
        finally:
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


def ssh(env: Env, *options: str, port: int | None = None, method="keyboard-interactive",
        command: str = "id -un", user: str | None = None) -> Screen:
    argv = ["ssh", "-F", "/dev/null", "-p", str(port or env.port),
            "-o", f"PreferredAuthentications={method}",
            "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={env.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10", *options, f"{user or env.user}@127.0.0.1", command]
    return Screen(argv, env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "HOME": env.tmp,
                             "LANG": "C.UTF-8"})


def placeholders(env: Env, code: str | None) -> dict[str, str]:
    return {code or "": "<CODE>", str(env.port): "<PORT>", str(env.mock.port): "<API_PORT>",
            env.user: "<USER>", os.uname().nodename: "<HOST>"}


def read_code(screen: Screen) -> str:
    """Waits for the approval prompt and returns the code shown with it."""
    screen.expect(re.escape(PROMPT), SHOW_CODE_WITHIN, "the approval prompt")
    found = re.search(rf"approve code ({CODE_RE})", screen.text)
    check(found, f"no code next to the prompt:\n{screen.text}")
    return found.group(1)


def logged_in(screen: Screen, env: Env) -> None:
    screen.expect(rf"(?m)^{re.escape(env.user)}\r?$", ANSWER_WITHIN, "the output of id -un")
    status = screen.finish(ANSWER_WITHIN)
    check(status == 0, f"ssh exited with {status}:\n{screen.text}")


# ---------------------------------------------------------------------------


def test_code_shown_then_approve_and_enter_logs_in(env: Env):
    env.mock.reset()
    with ssh(env) as screen:
        code = read_code(screen)
        seen = screen.text
        check(code == mock_last_code(env.mock),
              f"code on screen {code} is not the mock's {mock_last_code(env.mock)}")
        url = f"https://127.0.0.1:{env.mock.port}/auth/device?code={code}"
        check(url in seen, f"verification URL {url} not on the screen:\n{seen}")
        # What the approver needs to say no: service, source, host, account, and a warning.
        first = first_line_of_instructions(os.uname().nodename, env.user, "ssh", "127.0.0.1")
        check(first in seen, f"no line {first!r} on the screen:\n{seen}")
        check(f"{APPROVE_ONLY}\r\n{PROMPT}" in seen or f"{APPROVE_ONLY}\n{PROMPT}" in seen,
              f"no warning before the prompt:\n{seen}")
        check(env.mock.stats()["codes"][-1]["state"] == "pending",
              "the code was decided before anyone approved it")
        env.mock.approve(user="usr_demo")
        screen.send("\r")
        logged_in(screen, env)
        save_transcript("ssh-approved", "ssh -p <PORT> <USER>@127.0.0.1 id -un", screen.text,
                        placeholders(env, code))
    stats = env.mock.stats()
    check(stats["requests"]["create"] == 1, f"{stats['requests']['create']} codes created, not 1")


def test_enter_before_approval_says_still_waiting(env: Env):
    env.mock.reset()
    with ssh(env) as screen:
        code = read_code(screen)
        screen.send("\r")
        screen.expect(rf"Still waiting for approval of code {code}\.", ANSWER_WITHIN,
                      "a still-waiting note")
        screen.expect(re.escape(PROMPT), ANSWER_WITHIN, "the prompt again")
        check(not re.search(rf"(?m)^{re.escape(env.user)}$", screen.text),
              "logged in before approval")
        check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")
        env.mock.approve(user="usr_demo")
        screen.send("\r")
        logged_in(screen, env)
        save_transcript("ssh-enter-before-approval", "ssh -p <PORT> <USER>@127.0.0.1 id -un",
                        screen.text, placeholders(env, code))
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")


def test_denial_ends_the_connection_with_one_code(env: Env):
    env.mock.reset()
    with ssh(env) as screen:
        code = read_code(screen)
        env.mock.deny()
        screen.send("\r")
        screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
        check("The sign-in was denied in NextPay." in screen.text,
              f"the person was not told why:\n{screen.text}")
        screen.send("\r")
        again = screen.expect([re.escape(PROMPT), pexpect_eof()], ANSWER_WITHIN,
                              "the end of ssh")
        check(again == 1, "sshd started keyboard-interactive over with a fresh code after "
                          f"the denial:\n{screen.text}")
        status = screen.close()
        text = screen.text
        check(status != 0, f"ssh exited with {status} after a denial:\n{text}")
        check("Permission denied" in text, f"no 'Permission denied':\n{text}")
        check(text.count("approve code") == 1, f"sshd asked again with a new code:\n{text}")
        save_transcript("ssh-denied", "ssh -p <PORT> <USER>@127.0.0.1 id -un", text,
                        placeholders(env, code))
    stats = env.mock.stats()
    # PAM_MAXTRIES: sshd must not start keyboard-interactive over with a fresh code.
    check(stats["requests"]["create"] == 1,
          f"{stats['requests']['create']} device codes created in all, not 1")
    check(stats["codes"][0]["state"] == "denied", f"code state {stats['codes'][0]['state']}")
    with open(env.sshd_log) as f:
        log = f.read()
    check(f"Failed keyboard-interactive/pam for {env.user}" in log,
          f"sshd did not log the failure:\n{log}")


def test_identity_of_another_account_is_refused(env: Env):
    env.mock.reset()
    # One attempt: after PAM_AUTH_ERR sshd would offer keyboard-interactive again
    # (with a fresh code), and the client would take it.
    with ssh(env, "-o", "NumberOfPasswordPrompts=1") as screen:
        read_code(screen)
        env.mock.approve(user="usr_alice")     # maps to nobody, not to env.user
        screen.send("\r")
        screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
        refusal = f"This NextPay account may not sign in as {env.user} on this host."
        check(refusal in screen.text, f"the person was not told why:\n{screen.text}")
        # The terminal may be an attacker's: nothing about who approved.
        check("alice" not in screen.text, f"the approver named on the screen:\n{screen.text}")
        screen.send("\r")
        status = screen.finish(ANSWER_WITHIN)
        text = screen.text
        check(status != 0, f"ssh exited with 0:\n{text}")
        check("Permission denied" in text, f"no 'Permission denied':\n{text}")
        check(not re.search(rf"(?m)^{re.escape(env.user)}$", text), f"id -un ran:\n{text}")
    stats = env.mock.stats()
    check(stats["requests"]["create"] == 1, f"{stats['requests']['create']} codes created")
    check(stats["codes"][0]["state"] == "approved" and stats["codes"][0]["user"] == "usr_alice",
          f"the code was not approved by usr_alice: {stats['codes']}")
    with open(env.sshd_log) as f:
        log = f.read()
    check(f"Accepted keyboard-interactive/pam for {env.user}" not in log.split(
        "Connection from")[-1], f"sshd accepted the sign-in:\n{log}")


def refused_screen(env: Env, user: str) -> str:
    """The screen of one sign-in as user, approved by usr_alice (who may not sign in as
    either account), with user, code and numbers made neutral."""
    env.mock.reset()
    with ssh(env, "-o", "NumberOfPasswordPrompts=1", user=user) as screen:
        code = read_code(screen)
        env.mock.approve(user="usr_alice")
        screen.send("\r")
        screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
        screen.send("\r")
        status = screen.finish(ANSWER_WITHIN)
        check(status != 0, f"ssh exited with 0:\n{screen.text}")
        text = screen.text
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")
    text = re.sub(rf"(?<![\w-]){re.escape(user)}(?![\w-])", "<USER>", text.replace(code, "<CODE>"))
    return re.sub(r"\d+", "#", text)


def test_unknown_account_looks_like_a_refused_one(env: Env):
    """Which accounts exist must not show over SSH: an account without a local entry gets
    the same code, words and prompts as a real one the approver may not use."""
    real = refused_screen(env, env.user)
    unknown = refused_screen(env, "np-no-such-user")
    check(real == unknown, f"a real account saw:\n{real}\nan unknown one saw:\n{unknown}")
    check("This NextPay account may not sign in as <USER> on this host." in unknown,
          f"no refusal:\n{unknown}")
    with open(env.sshd_log) as f:
        log = f.read()
    check("Invalid user np-no-such-user" in log, f"sshd did not see an unknown user:\n{log}")


def test_password_authentication_is_refused_at_once(env: Env):
    env.mock.reset()
    with running_sshd(env.tmp, "password", env.services, password_only=True) as (port, _):
        with ssh(env, "-o", "NumberOfPasswordPrompts=1", port=port, method="password") as screen:
            screen.expect(r"password: ", SHOW_CODE_WITHIN, "the password prompt")
            t0 = time.monotonic()
            screen.send("correct horse battery staple\r")
            status = screen.finish(20)
            took = time.monotonic() - t0
            text = screen.text
            check(status != 0, f"ssh exited with 0:\n{text}")
            check("Permission denied" in text, f"no 'Permission denied':\n{text}")
            check(took < 20, f"the refusal took {took:.1f} s")
            check(not re.search(rf"(?m)^{re.escape(env.user)}$", text), f"id -un ran:\n{text}")
            save_transcript("ssh-password-refused",
                            "ssh -o PreferredAuthentications=password -p <PORT> "
                            "<USER>@127.0.0.1 id -un", text,
                            placeholders(env, mock_last_code(env.mock)) | {str(port): "<PORT>"})
    stats = env.mock.stats()
    # The module starts a sign-in before it sees the typed text: one code at most,
    # and nobody approved it.
    check(stats["requests"]["create"] <= 1, f"{stats['requests']['create']} codes created")
    check(all(c["state"] != "approved" for c in stats["codes"]), f"{stats['codes']}")


TESTS = [
    test_code_shown_then_approve_and_enter_logs_in,
    test_enter_before_approval_says_still_waiting,
    test_denial_ends_the_connection_with_one_code,
    test_identity_of_another_account_is_refused,
    test_unknown_account_looks_like_a_refused_one,
    test_password_authentication_is_refused_at_once,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_sshd", TESTS, fixture=fixture, requires_root=True,
                       requires=(SSHD, "ssh", "ssh-keygen", "useradd")))
