#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a person signs in with the real OpenSSH client to a real sshd.

Two servers: the system's sshd (/usr/sbin/sshd, OpenSSH 9.2 on Debian 12), which
shows PAM information only together with the next prompt, and OpenSSH 10.3p1
built from Debian's source (make openssh-10.3, into build/openssh-10.3), which
shows it at once.  Each runs as root on 127.0.0.1 on a free port with its own
config and host key, under pam_wrapper so its "sshd" PAM service comes from a
directory of ours instead of /etc/pam.d.  The module line has no wait= setting
(wait = auto) except on one 10.3 server, which has wait=prompt.  The ssh client
(the system's) runs on a pseudo-terminal (pexpect) with its default LogLevel, as
a person types it; the tests read what it shows, approve or deny in the mock
API, and press Enter only where the person must.

What the module logs comes through build/tests/pam-log-shim.so (see there):
sshd's PAM process empties its environment, so pam_wrapper cannot report it.

Without OpenSSH 10.3 (no source through apt, not root), the 10.3 tests skip
with the reason make openssh-10.3 left in build/openssh-10.3/unavailable.txt;
a failed build fails them.

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
from common import (APPROVE_ONLY, BOB_KEY, BUILD, CODE_RE, KEY_PROMPT,  # noqa: E402
                    KEY_REFUSED, MODULE, PROMPT, Failure, Screen, Skip, cache_entries,
                    cache_settings, check, creates, first_line_of_instructions, free_port,
                    indent, kill_tree, mock_api, mock_last_code, neutral_reference, pexpect_eof,
                    reference_on, remove_pam_wrapper_dirs, run_tests, save_transcript, temp_dir,
                    throwaway_account, wait_for, write_config, write_root_file, write_usermap)

SSHD = "/usr/sbin/sshd"
NEW_DIR = os.path.join(BUILD, "openssh-10.3")
NEW_SSHD = os.path.join(NEW_DIR, "sbin", "sshd")
PAM_LOG_SHIM = os.path.join(BUILD, "tests", "pam-log-shim.so")
PRIVSEP_DIR = "/run/sshd"       # compiled into both sshds; they refuse to start without it
WAITING = "Waiting for your approval..."
# sshd up to 10.2 shows text only together with a prompt: a failure's reason comes with this one.
LAST_PROMPT = "Press Enter to close: "
DENIED = "The sign-in was denied in NextPay."
EXPIRED = "The code expired before it was approved. Please try again."
# Bounds for a person's view: the code shows up quickly, and an answer after a decision too.
SHOW_CODE_WITHIN = 20
ANSWER_WITHIN = 20
# Poll mode writes a progress line 30 s after the instructions.
PROGRESS_WITHIN = 45
COMMAND = "ssh -p <PORT> <USER>@127.0.0.1 id -un"


@dataclass
class Sshd:
    name: str       # for messages and transcripts: "9.2", "10.3"
    binary: str
    port: int
    log: str        # sshd's own log (-E)
    pam_log: str    # the module's pam_syslog() lines


@dataclass
class Env:
    tmp: str
    user: str
    mock: object
    known_hosts: str
    services: str   # the PAM services of the wait = auto servers
    conf: str
    old: Sshd       # the system's sshd, wait = auto
    new: Sshd | None            # OpenSSH 10.3, wait = auto
    new_prompt: Sshd | None     # OpenSSH 10.3, wait = prompt
    new_missing: tuple[str | None, str | None]     # (why skip, why fail) without 10.3
    # Servers whose module reads own_conf, which each test that uses them writes.
    own_conf: str
    old_own: Sshd
    new_own: Sshd | None


def new_openssh() -> tuple[str | None, str | None]:
    """Whether build/openssh-10.3 is ready: (None, None), or (reason to skip, reason to fail)."""
    for name, skip in (("unavailable.txt", True), ("failed.txt", False)):
        with contextlib.suppress(FileNotFoundError), open(os.path.join(NEW_DIR, name)) as f:
            text = f.read().strip()
            return (text, None) if skip else (None, f"make openssh-10.3 failed:\n{indent(text)}")
    if not os.access(NEW_SSHD, os.X_OK):
        return None, f"{NEW_SSHD} is missing (make openssh-10.3)"
    return None, None


def sshd_config(directory: str, port: int, binary: str, password_only: bool) -> str:
    auth = ("PasswordAuthentication yes\nKbdInteractiveAuthentication no\n" if password_only
            else "PasswordAuthentication no\nKbdInteractiveAuthentication yes\n")
    text = (f"Port {port}\n"
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
    if binary == NEW_SSHD:
        # The per-connection programs of this build, not the compiled-in paths of the
        # machine's cache; and no penalty box: every test connects from 127.0.0.1.
        text += (f"SshdSessionPath {NEW_DIR}/libexec/sshd-session\n"
                 f"SshdAuthPath {NEW_DIR}/libexec/sshd-auth\n"
                 "PerSourcePenalties no\n")
    return text


@contextlib.contextmanager
def running_sshd(tmp: str, directory_name: str, name: str, services: str, known_hosts: str,
                 binary: str = SSHD, password_only: bool = False):
    """A real sshd on 127.0.0.1 on a free port, its host key in known_hosts. Killed by pid after."""
    directory = os.path.join(tmp, directory_name)
    os.makedirs(directory, mode=0o755)
    made_privsep_dir = not os.path.isdir(PRIVSEP_DIR)
    os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "npe2e",
                    "-f", os.path.join(directory, "hostkey")], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    pam_log = write_root_file(os.path.join(directory, "pam.log"), "", mode=0o600)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "LD_PRELOAD": f"{PAM_LOG_SHIM} libpam_wrapper.so", "NP_E2E_PAM_LOG": pam_log,
           "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": services}
    log = os.path.join(directory, "sshd.log")
    proc = None
    for _ in range(5):          # a port free a moment ago may have been taken since
        port = free_port()
        config = write_root_file(os.path.join(directory, "sshd_config"),
                                 sshd_config(directory, port, binary, password_only))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log)
        proc = subprocess.Popen([binary, "-D", "-f", config, "-E", log], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

        def listening():
            if proc.poll() is not None:
                return "exited"
            with contextlib.suppress(FileNotFoundError), open(log) as f:
                if f"Server listening on 127.0.0.1 port {port}" in f.read():
                    return "listening"
            return None

        state = wait_for(listening, 15, f"{binary} to listen")
        if state == "listening":
            break
        proc.wait()
        with open(log) as f:
            text = f.read()
        if "Address already in use" not in text:
            raise RuntimeError(f"{binary} exited with status {proc.returncode}:\n{text}")
    else:
        raise RuntimeError(f"{binary} found no free port in 5 tries")
    # Known in advance, as a person's known_hosts would have it: no "Permanently added".
    with open(os.path.join(directory, "hostkey.pub")) as f:
        key_type, key = f.read().split()[:2]
    with open(known_hosts, "a") as f:
        f.write(f"[127.0.0.1]:{port} {key_type} {key}\n")
    try:
        yield Sshd(name, binary, port, log, pam_log)
    finally:
        kill_tree(proc.pid)
        proc.wait(10)
        if made_privsep_dir:
            with contextlib.suppress(OSError):      # only if empty, as we found it
                os.rmdir(PRIVSEP_DIR)


def write_services(directory: str, module_args: str, auth: str | None = None) -> str:
    """The sshd service (auth: its auth lines, instead of the module with module_args)
    and pam_wrapper's fallback, in directory."""
    os.makedirs(directory, mode=0o755)
    write_root_file(os.path.join(directory, "sshd"),
                    (auth if auth is not None else f"auth required {MODULE} {module_args}\n") +
                    "account required pam_permit.so\n"
                    "session required pam_permit.so\n")
    write_root_file(os.path.join(directory, "other"),
                    "".join(f"{t} required pam_deny.so\n"
                            for t in ("auth", "account", "password", "session")))
    return directory


@contextlib.contextmanager
def fixture():
    if not os.access(PAM_LOG_SHIM, os.R_OK):
        raise RuntimeError(f"{PAM_LOG_SHIM} is missing (make tests)")
    with temp_dir("npe2e-ssh.") as tmp, throwaway_account() as user, mock_api(tmp) as mock, \
            contextlib.ExitStack() as servers:
        try:
            # usr_demo is the person who owns the account; usr_alice owns another one.
            # usr_bob signs in with his API key as the password.
            usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"),
                                    {"usr_demo": user, "usr_alice": "nobody", "usr_bob": user})
            conf = write_config(os.path.join(tmp, "pam_nextpay.conf"), mock, usermap)
            known_hosts = write_root_file(os.path.join(tmp, "known_hosts"), "")
            services = write_services(os.path.join(tmp, "services"), f"config={conf} debug")
            old = servers.enter_context(running_sshd(tmp, "old", "9.2", services, known_hosts))
            own_conf = write_config(os.path.join(tmp, "own.conf"), mock, usermap)
            own_services = write_services(os.path.join(tmp, "services-own"),
                                          f"config={own_conf} debug")
            old_own = servers.enter_context(running_sshd(tmp, "old-own", "9.2", own_services,
                                                         known_hosts))
            new = new_prompt = new_own = None
            missing = new_openssh()
            if missing == (None, None):
                prompt_services = write_services(os.path.join(tmp, "services-prompt"),
                                                 f"config={conf} wait=prompt debug")
                new = servers.enter_context(running_sshd(tmp, "new", "10.3", services,
                                                         known_hosts, NEW_SSHD))
                new_prompt = servers.enter_context(running_sshd(tmp, "new-prompt", "10.3",
                                                                prompt_services, known_hosts,
                                                                NEW_SSHD))
                new_own = servers.enter_context(running_sshd(tmp, "new-own", "10.3",
                                                             own_services, known_hosts,
                                                             NEW_SSHD))
            yield Env(tmp, user, mock, known_hosts, services, conf, old, new, new_prompt,
                      missing, own_conf, old_own, new_own)
        finally:
            servers.close()
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


def need_new(env: Env, prompt: bool = False) -> Sshd:
    """The OpenSSH 10.3 server (wait = auto, or wait = prompt), or why this test cannot run."""
    skip, fail = env.new_missing
    if skip:
        raise Skip(skip)
    if fail:
        raise Failure(fail)
    return env.new_prompt if prompt else env.new


def ssh(env: Env, *options: str, server: Sshd | None = None, method="keyboard-interactive",
        command: str = "id -un", user: str | None = None) -> Screen:
    argv = ["ssh", "-F", "/dev/null", "-p", str((server or env.old).port),
            "-o", f"PreferredAuthentications={method}",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={env.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", *options,
            f"{user or env.user}@127.0.0.1", command]
    return Screen(argv, env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "HOME": env.tmp,
                             "LANG": "C.UTF-8"})


def placeholders(env: Env, server: Sshd, code: str | None) -> dict[str, str]:
    return {code or "": "<CODE>", str(server.port): "<PORT>", str(env.mock.port): "<API_PORT>",
            env.user: "<USER>", os.uname().nodename: "<HOST>"}


def code_on_screen(screen: Screen, env: Env, last_line: str) -> str:
    """The code the instructions ending in last_line show; checks it is the mock's, with its
    URL, and what the approver needs to say no (service, source, host, account, a warning)."""
    seen = screen.text
    found = re.findall(rf"approve code ({CODE_RE})", seen)
    check(found, f"no code on the screen:\n{seen}")
    code = found[-1]
    check(code == mock_last_code(env.mock),
          f"code on screen {code} is not the mock's {mock_last_code(env.mock)}")
    url = f"https://127.0.0.1:{env.mock.port}/auth/device?code={code}"
    check(url in seen, f"verification URL {url} not on the screen:\n{seen}")
    first = first_line_of_instructions(os.uname().nodename, env.user, "ssh", "127.0.0.1")
    check(first in seen, f"no line {first!r} on the screen:\n{seen}")
    check(f"{APPROVE_ONLY}\n{last_line}" in seen, f"no warning before {last_line!r}:\n{seen}")
    check(env.mock.stats()["codes"][-1]["state"] == "pending",
          "the code was decided before anyone approved it")
    return code


def read_code(screen: Screen, env: Env, last_line: str = PROMPT) -> str:
    """Waits for the instructions ending in last_line; returns the code shown."""
    screen.expect(re.escape(last_line), SHOW_CODE_WITHIN, f"instructions ending in {last_line!r}")
    return code_on_screen(screen, env, last_line)


def logged_in(screen: Screen, env: Env) -> None:
    screen.expect(rf"(?m)^{re.escape(env.user)}\r?$", ANSWER_WITHIN, "the output of id -un")
    status = screen.finish(ANSWER_WITHIN)
    check(status == 0, f"ssh exited with {status}:\n{screen.text}")


def refused(screen: Screen, server: Sshd, env: Env) -> str:
    """ssh ends without a shell: returns the screen."""
    status = screen.finish(ANSWER_WITHIN)
    text = screen.text
    check(status != 0, f"ssh exited with {status}:\n{text}")
    check("Permission denied" in text, f"no 'Permission denied':\n{text}")
    check(not re.search(rf"(?m)^{re.escape(env.user)}$", text), f"id -un ran:\n{text}")
    with open(server.log) as f:
        log = f.read()
    check(f"Failed keyboard-interactive/pam for {env.user}" in log,
          f"sshd {server.name} did not log the failure:\n{log}")
    return text


def check_reference(text: str, server: Sshd) -> None:
    """The refusal ends with the reference of the module's last outcome line."""
    shown = reference_on(text)
    check(shown, f"no reference on the screen:\n{text}")
    with open(server.pam_log) as f:
        logged = re.findall(r' account=".*reference="([^"]*)"$', f.read(), re.M)
    check(logged and logged[-1] == shown, f"the screen's reference {shown} is not the "
          f"logged one: {logged[-1:]}")


def mode_line(server: Sshd) -> str:
    """The module's debug line saying how it waits (the last one of this server)."""
    with open(server.pam_log) as f:
        lines = [line for line in f.read().splitlines()
                 if re.match(r"<7> (prompt|poll) mode", line)]
    check(lines, f"sshd {server.name}: the module logged no wait mode; its log:\n"
                 f"{indent(open(server.pam_log).read())}")
    return lines[-1]


def one_code(env: Env, state: str) -> None:
    stats = env.mock.stats()
    check(stats["requests"]["create"] == 1,
          f"{stats['requests']['create']} device codes created in all, not 1")
    check(stats["codes"][0]["state"] == state, f"code state {stats['codes'][0]['state']}")


# ---------------------------------------------------------------------------
# wait = auto: Enter on 9.2, nothing to press on 10.3


def sign_in_with_wait_auto(env: Env, server: Sshd) -> str:
    """Signs in as a person would; returns the last line of the instructions seen."""
    env.mock.reset()
    with ssh(env, server=server) as screen:
        last = screen.expect([re.escape(PROMPT), re.escape(WAITING)], SHOW_CODE_WITHIN,
                             "the instructions")
        code = code_on_screen(screen, env, (PROMPT, WAITING)[last])
        # Nothing is decided, nothing typed: it stays that way until the approval.
        time.sleep(2)
        check(screen.child.isalive(), f"ssh ended before the approval:\n{screen.text}")
        check(env.mock.stats()["codes"][-1]["state"] == "pending", "decided without approval")
        env.mock.approve(user="usr_demo")
        t0 = time.monotonic()
        if last == 0:
            screen.send("\r")       # the person, after approving
        logged_in(screen, env)
        took = time.monotonic() - t0
        # poll_interval is 1 s: the shell comes within a poll or two, not at a timeout.
        check(took < 10, f"the shell came {took:.1f} s after the approval")
        save_transcript("ssh-approved" if server is env.old else f"ssh-{server.name}-approved",
                        COMMAND, screen.text, placeholders(env, server, code))
        text = screen.text
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")
    return text


def test_wait_auto_on_9_2_asks_for_enter(env: Env):
    text = sign_in_with_wait_auto(env, env.old)
    check(PROMPT in text and WAITING not in text, f"not prompt mode on sshd 9.2:\n{text}")
    line = mode_line(env.old)
    check(re.search(rf"prompt mode: information held back \(\"OpenSSH_[0-9.]+p[0-9]+[^\"]*\" in "
                    rf"\"{re.escape(SSHD)}\", before 10\.3\)$", line),
          f"sshd {env.old.name}: unexpected mode line {line!r}")


def test_wait_auto_on_10_3_logs_in_without_a_keypress(env: Env):
    server = need_new(env)
    text = sign_in_with_wait_auto(env, server)
    check(WAITING in text and "Press Enter" not in text, f"not poll mode on sshd 10.3:\n{text}")
    line = mode_line(server)
    session = os.path.join(NEW_DIR, "libexec", "sshd-session")
    check(line.endswith(f'poll mode: information shown at once ("OpenSSH_10.3p1" in "{session}", '
                        '10.3 or later)'), f"sshd 10.3: unexpected mode line {line!r}")


def test_10_3_progress_line_while_waiting(env: Env):
    server = need_new(env)
    env.mock.reset()
    with ssh(env, server=server) as screen:
        code = read_code(screen, env, WAITING)
        screen.expect(rf"Still waiting for approval of code {code} \([0-9]+ seconds left\)\.\.\.",
                      PROGRESS_WITHIN, "a progress line")
        env.mock.approve(user="usr_demo")
        logged_in(screen, env)
        save_transcript("ssh-10.3-progress", COMMAND, screen.text,
                        placeholders(env, server, code))
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")


def test_10_3_denial_shows_the_reason_without_a_last_prompt(env: Env):
    server = need_new(env)
    env.mock.reset()
    with ssh(env, server=server) as screen:
        code = read_code(screen, env, WAITING)
        env.mock.deny()
        screen.expect(re.escape(DENIED), ANSWER_WITHIN, "the reason")
        text = refused(screen, server, env)
        check(LAST_PROMPT not in text and "Press Enter" not in text,
              f"a prompt on sshd 10.3:\n{text}")
        check_reference(text, server)
        check(text.count("approve code") == 1, f"sshd asked again with a new code:\n{text}")
        save_transcript("ssh-10.3-denied", COMMAND, text, placeholders(env, server, code))
    one_code(env, "denied")


def test_10_3_expiry_shows_the_reason_without_a_last_prompt(env: Env):
    server = need_new(env)
    env.mock.reset()
    # One keyboard-interactive attempt: after PAM_AUTH_ERR the client may ask sshd for
    # another (NumberOfPasswordPrompts, 3 by default), which brings a fresh code.
    with ssh(env, "-o", "NumberOfPasswordPrompts=1", server=server) as screen:
        code = read_code(screen, env, WAITING)
        env.mock.expire()
        screen.expect(re.escape(EXPIRED), ANSWER_WITHIN, "the reason")
        text = refused(screen, server, env)
        check("Press Enter" not in text, f"a prompt on sshd 10.3:\n{text}")
        check_reference(text, server)
        save_transcript("ssh-10.3-expired",
                        "ssh -o NumberOfPasswordPrompts=1 -p <PORT> <USER>@127.0.0.1 id -un",
                        text, placeholders(env, server, code))
    one_code(env, "expired")


def test_10_3_wait_prompt_still_asks_for_enter(env: Env):
    server = need_new(env, prompt=True)
    env.mock.reset()
    with ssh(env, server=server) as screen:
        read_code(screen, env, PROMPT)
        env.mock.approve(user="usr_demo")
        screen.send("\r")
        logged_in(screen, env)
    line = mode_line(server)
    check(re.search(r'prompt mode as wait says: information shown at once '
                    r'\("OpenSSH_10\.3p1" in ".*", 10\.3 or later\)$', line),
          f"unexpected mode line {line!r}")
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")


def test_10_3_wait_prompt_reason_needs_no_last_prompt(env: Env):
    server = need_new(env, prompt=True)
    env.mock.reset()
    with ssh(env, server=server) as screen:
        code = read_code(screen, env, PROMPT)
        env.mock.deny()
        screen.send("\r")
        screen.expect(re.escape(DENIED), ANSWER_WITHIN, "the reason")
        text = refused(screen, server, env)
        check(LAST_PROMPT not in text, f"a last prompt on sshd 10.3:\n{text}")
        save_transcript("ssh-10.3-prompt-denied", COMMAND, text,
                        placeholders(env, server, code))
    one_code(env, "denied")


def test_10_3_old_client_at_loglevel_error_shows_nothing(env: Env):
    """A limit of poll mode the README states: clients up to 9.2 print keyboard-interactive
    instructions only at LogLevel INFO and above (ssh -q hides them too)."""
    server = need_new(env)
    env.mock.reset()
    with ssh(env, "-o", "LogLevel=ERROR", server=server) as screen:
        wait_for(lambda: creates(env.mock) == 1, SHOW_CODE_WITHIN, "the device code")
        with contextlib.suppress(Failure):
            screen.expect("approve code", 3, "the instructions")
        check("approve code" not in screen.text,
              f"the instructions reached a LogLevel=ERROR client:\n{screen.text}")
        env.mock.approve(user="usr_demo")
        logged_in(screen, env)


# ---------------------------------------------------------------------------
# sshd 9.2: prompt mode


def test_enter_before_approval_says_still_waiting(env: Env):
    env.mock.reset()
    with ssh(env) as screen:
        code = read_code(screen, env)
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
        save_transcript("ssh-enter-before-approval", COMMAND, screen.text,
                        placeholders(env, env.old, code))
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")


def test_denial_ends_the_connection_with_one_code(env: Env):
    env.mock.reset()
    with ssh(env) as screen:
        code = read_code(screen, env)
        env.mock.deny()
        screen.send("\r")
        screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
        check(DENIED in screen.text, f"the person was not told why:\n{screen.text}")
        screen.send("\r")
        again = screen.expect([re.escape(PROMPT), pexpect_eof()], ANSWER_WITHIN,
                              "the end of ssh")
        check(again == 1, "sshd started keyboard-interactive over with a fresh code after "
                          f"the denial:\n{screen.text}")
        text = refused(screen, env.old, env)
        check(text.count("approve code") == 1, f"sshd asked again with a new code:\n{text}")
        check_reference(text, env.old)
        save_transcript("ssh-denied", COMMAND, text, placeholders(env, env.old, code))
    # PAM_MAXTRIES: sshd must not start keyboard-interactive over with a fresh code.
    one_code(env, "denied")


def test_expiry_ends_the_connection_with_one_code(env: Env):
    env.mock.reset()
    with ssh(env, "-o", "NumberOfPasswordPrompts=1") as screen:
        code = read_code(screen, env)
        env.mock.expire()
        screen.send("\r")       # the person, thinking they approved
        screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
        check(EXPIRED in screen.text, f"the person was not told why:\n{screen.text}")
        screen.send("\r")
        text = refused(screen, env.old, env)
        check(text.count("approve code") == 1, f"sshd asked again with a new code:\n{text}")
        check_reference(text, env.old)
        save_transcript("ssh-expired",
                        "ssh -o NumberOfPasswordPrompts=1 -p <PORT> <USER>@127.0.0.1 id -un",
                        text, placeholders(env, env.old, code))
    one_code(env, "expired")


def test_identity_of_another_account_is_refused(env: Env):
    env.mock.reset()
    # One attempt: after PAM_AUTH_ERR sshd would offer keyboard-interactive again
    # (with a fresh code), and the client would take it.
    with ssh(env, "-o", "NumberOfPasswordPrompts=1") as screen:
        read_code(screen, env)
        env.mock.approve(user="usr_alice")     # maps to nobody, not to env.user
        screen.send("\r")
        screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
        refusal = f"This NextPay account may not sign in as {env.user} on this host."
        check(refusal in screen.text, f"the person was not told why:\n{screen.text}")
        # The terminal may be an attacker's: nothing about who approved.
        check("alice" not in screen.text, f"the approver named on the screen:\n{screen.text}")
        screen.send("\r")
        refused(screen, env.old, env)
    stats = env.mock.stats()
    check(stats["requests"]["create"] == 1, f"{stats['requests']['create']} codes created")
    check(stats["codes"][0]["state"] == "approved" and stats["codes"][0]["user"] == "usr_alice",
          f"the code was not approved by usr_alice: {stats['codes']}")
    with open(env.old.log) as f:
        log = f.read()
    check(f"Accepted keyboard-interactive/pam for {env.user}" not in log.split(
        "Connection from")[-1], f"sshd accepted the sign-in:\n{log}")


def refused_screen(env: Env, server: Sshd, user: str) -> str:
    """The screen of one sign-in as user, approved by usr_alice (who may not sign in as
    either account), with user, code and numbers made neutral."""
    env.mock.reset()
    with ssh(env, "-o", "NumberOfPasswordPrompts=1", server=server, user=user) as screen:
        last = screen.expect([re.escape(PROMPT), re.escape(WAITING)], SHOW_CODE_WITHIN,
                             "the instructions")
        code = mock_last_code(env.mock)
        env.mock.approve(user="usr_alice")
        if last == 0:           # prompt mode: Enter, then the reason with a last prompt
            screen.send("\r")
            screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
            screen.send("\r")
        status = screen.finish(ANSWER_WITHIN)
        check(status != 0, f"ssh exited with 0:\n{screen.text}")
        text = screen.text
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes created, not 1")
    check(reference_on(text), f"no reference on the screen:\n{text}")
    text = re.sub(rf"(?<![\w-]){re.escape(user)}(?![\w-])", "<USER>",
                  neutral_reference(text).replace(code, "<CODE>"))
    return re.sub(r"\d+", "#", text)


def unknown_account_looks_like_a_refused_one(env: Env, server: Sshd) -> None:
    """Which accounts exist must not show over SSH: an account without a local entry gets
    the same code, words and prompts as a real one the approver may not use."""
    real = refused_screen(env, server, env.user)
    unknown = refused_screen(env, server, "np-no-such-user")
    check(real == unknown, f"a real account saw:\n{real}\nan unknown one saw:\n{unknown}")
    check("This NextPay account may not sign in as <USER> on this host." in unknown,
          f"no refusal:\n{unknown}")
    with open(server.log) as f:
        log = f.read()
    check("Invalid user np-no-such-user" in log, f"sshd did not see an unknown user:\n{log}")


def test_unknown_account_looks_like_a_refused_one(env: Env):
    unknown_account_looks_like_a_refused_one(env, env.old)


def test_10_3_unknown_account_looks_like_a_refused_one(env: Env):
    unknown_account_looks_like_a_refused_one(env, need_new(env))


# ---------------------------------------------------------------------------
# Password authentication: sshd answers the module's prompt with the password and keeps
# every message until after login, so no code could reach the person.  The module knows
# that conversation: it makes no code and refuses at once, in prompt and poll mode alike,
# unless the password is an API key and api_key = yes.

# A refusal without a code takes no network round trip: well within this.
REFUSED_WITHIN = 5


def password_attempt(env: Env, server: Sshd, password: str) -> tuple[str, int, float]:
    """One password typed at ssh's prompt: (the screen, ssh's status, seconds to the end)."""
    with ssh(env, "-o", "NumberOfPasswordPrompts=1", server=server,
             method="password") as screen:
        screen.expect(r"password: ", SHOW_CODE_WITHIN, "the password prompt")
        t0 = time.monotonic()
        screen.send(password + "\r")
        status = screen.finish(ANSWER_WITHIN + 60)
        return screen.text, status, time.monotonic() - t0


def outcome_line(server: Sshd) -> str:
    """The module's last outcome line under this server."""
    with open(server.pam_log) as f:
        lines = [line for line in f.read().splitlines() if " account=" in line]
    check(lines, f"sshd {server.name}: no outcome line; the module's log:\n"
                 f"{indent(open(server.pam_log).read())}")
    return lines[-1]


def password_refused_at_once(env: Env, name: str, binary: str) -> None:
    env.mock.reset()
    with running_sshd(env.tmp, f"password-{name}", name, env.services, env.known_hosts, binary,
                      password_only=True) as server:
        text, status, took = password_attempt(env, server, "correct horse battery staple")
        check(status != 0, f"ssh exited with 0:\n{text}")
        check("Permission denied" in text, f"no 'Permission denied':\n{text}")
        check(not re.search(rf"(?m)^{re.escape(env.user)}$", text), f"id -un ran:\n{text}")
        check(took < REFUSED_WITHIN, f"the refusal took {took:.1f} s")
        with open(server.log) as f:
            log = f.read()
        check(f"Failed password for {env.user}" in log, f"sshd {name} logged no failure:\n{log}")
        line = outcome_line(server)
        check(re.search(r'^<4> refused: .* reason="sshd password authentication cannot show a '
                        r'code" reference="[^"]+"$', line), f"sshd {name}: outcome {line!r}")
        with open(server.pam_log) as f:
            debug = f.read()
        check(re.search(r'sshd password authentication \("OpenSSH_[0-9.]+p[0-9]+[^"]*" in '
                        r'"[^"]*"\): refused at once', debug), f"no debug line:\n{indent(debug)}")
        transcript = "ssh-password-refused" if binary == SSHD else f"ssh-{name}-password-refused"
        save_transcript(transcript,
                        "ssh -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 "
                        "-p <PORT> <USER>@127.0.0.1 id -un", text, placeholders(env, server, None))
    # No code, not even a helper: the API never heard of it.
    check(creates(env.mock) == 0, f"{creates(env.mock)} codes created")
    check(env.mock.count("connections") == 0, f"{env.mock.count('connections')} connections")


def test_password_authentication_is_refused_at_once(env: Env):
    password_refused_at_once(env, "9.2", SSHD)


def test_10_3_password_authentication_is_refused_at_once(env: Env):
    need_new(env)
    password_refused_at_once(env, "10.3", NEW_SSHD)


def password_is_an_api_key(env: Env, name: str, binary: str) -> None:
    services = write_services(os.path.join(env.tmp, f"services-api-key-{name}"),
                              f"config={env.conf} api_key=yes debug")
    with running_sshd(env.tmp, f"password-key-{name}", name, services, env.known_hosts, binary,
                      password_only=True) as server:
        # Not a key: refused at once, no code.
        env.mock.reset()
        text, status, took = password_attempt(env, server, "correct horse battery staple")
        check(status != 0 and "Permission denied" in text, f"ssh exited {status}:\n{text}")
        check(took < REFUSED_WITHIN, f"the refusal took {took:.1f} s")
        check(re.search(r' reason="sshd password authentication cannot show a code, and the '
                        r'password is no API key" reference="[^"]+"$', outcome_line(server)),
              outcome_line(server))
        check(creates(env.mock) == 0 and env.mock.count("token") == 0,
              f"{creates(env.mock)} codes, {env.mock.count('token')} key exchanges")
        # A key: signed in with it, still without a code.
        env.mock.reset()
        with ssh(env, "-o", "NumberOfPasswordPrompts=1", server=server,
                 method="password") as screen:
            screen.expect(r"password: ", SHOW_CODE_WITHIN, "the password prompt")
            screen.send(BOB_KEY + "\r")
            logged_in(screen, env)
        line = outcome_line(server)
        check(re.search(r'^<5> success: .*nextpay_id="usr_bob" .*method="api-key"', line), line)
        with open(server.pam_log) as f:
            check(BOB_KEY not in f.read(), "the API key was logged")
    check(creates(env.mock) == 0, f"{creates(env.mock)} codes created")
    check(env.mock.count("token") == 1, f"{env.mock.count('token')} key exchanges, not 1")


def test_password_may_be_an_api_key(env: Env):
    password_is_an_api_key(env, "9.2", SSHD)


def test_10_3_password_may_be_an_api_key(env: Env):
    need_new(env)
    password_is_an_api_key(env, "10.3", NEW_SSHD)


# ---------------------------------------------------------------------------
# API keys at the keyboard-interactive prompt, and the approval cache, on the servers
# whose module reads own_conf.


def own_config(env: Env, **settings) -> None:
    """A clean mock, and own_conf with these settings (the cache off unless they say)."""
    env.mock.reset()
    write_config(env.own_conf, env.mock, os.path.join(env.tmp, "pam_nextpay.users"),
                 **settings)


def own_server(env: Env, version: str) -> Sshd:
    """The server of that version whose module reads own_conf."""
    if version == "9.2":
        return env.old_own
    need_new(env)
    return env.new_own


def api_key_typed_at_the_prompt(env: Env, server: Sshd) -> None:
    """BOB_KEY typed where Enter is asked for: signed in as usr_bob, the code never used,
    the key neither echoed nor logged."""
    with ssh(env, server=server) as screen:
        code = read_code(screen, env, KEY_PROMPT)
        screen.send(BOB_KEY + "\r")
        logged_in(screen, env)
        text = screen.text
        save_transcript("ssh-api-key" if server is env.old_own else f"ssh-{server.name}-api-key",
                        COMMAND, text, placeholders(env, server, code))
    check(BOB_KEY not in text, f"the key on the screen:\n{text}")
    line = outcome_line(server)
    check(re.search(r'^<5> success: .*nextpay_id="usr_bob" .*method="api-key"', line), line)
    with open(server.pam_log) as f:
        check(BOB_KEY not in f.read(), "the API key was logged")
    check(env.mock.count("token") == 1, f"{env.mock.count('token')} key exchanges, not 1")
    one_code(env, "pending")


def test_api_key_typed_at_the_keyboard_interactive_prompt(env: Env):
    """sshd 9.2, wait = auto, api_key = yes: prompt mode, whose prompt offers the key."""
    own_config(env, api_key="yes")
    api_key_typed_at_the_prompt(env, env.old_own)
    check(mode_line(env.old_own).endswith("before 10.3)"), mode_line(env.old_own))


def test_10_3_api_key_needs_wait_prompt(env: Env):
    """sshd 10.3 keeps poll mode under wait = auto, api_key = yes or not: no prompt to type
    a key into, nothing to press after the approval.  wait = prompt gives the prompt."""
    server = own_server(env, "10.3")
    own_config(env, api_key="yes")
    with ssh(env, server=server) as screen:
        read_code(screen, env, WAITING)
        check("API key" not in screen.text, f"a key offered in poll mode:\n{screen.text}")
        env.mock.approve(user="usr_demo")
        logged_in(screen, env)
    own_config(env, api_key="yes", wait="prompt")
    api_key_typed_at_the_prompt(env, server)


def test_wrong_api_key_at_the_keyboard_interactive_prompt(env: Env):
    own_config(env, api_key="yes")
    server = env.old_own
    with ssh(env, "-o", "NumberOfPasswordPrompts=1", server=server) as screen:
        read_code(screen, env, KEY_PROMPT)
        screen.send("npk_wrong_0123456789abcdef\r")
        screen.expect(re.escape(LAST_PROMPT), ANSWER_WITHIN, "the reason, with a last prompt")
        check(KEY_REFUSED in screen.text, f"the person was not told why:\n{screen.text}")
        screen.send("\r")
        text = refused(screen, server, env)
        check_reference(text, server)
    check(re.search(r' reason="API key refused" ', outcome_line(server)), outcome_line(server))
    check(env.mock.count("token") == 1, f"{env.mock.count('token')} key exchanges, not 1")


def connect_and_approve(env: Env, server: Sshd) -> bool:
    """One connection: approves the code if one is shown (and presses Enter in prompt
    mode), and checks the shell; whether a code was shown."""
    with ssh(env, server=server) as screen:
        which = screen.expect([re.escape(PROMPT), re.escape(WAITING),
                               rf"(?m)^{re.escape(env.user)}\r?$"], SHOW_CODE_WITHIN,
                              "the instructions or the shell")
        if which == 2:
            check(screen.finish(ANSWER_WITHIN) == 0, f"ssh failed:\n{screen.text}")
            return False
        env.mock.approve(user="usr_demo")
        if which == 0:
            screen.send("\r")
        logged_in(screen, env)
        return True


def each_connection_is_a_new_session(env: Env, version: str) -> None:
    """cache = yes in the default session scope: sshd's authentication runs without a
    controlling terminal, and each connection is a session of its own, so nothing is
    stored and the second connection gets a code of its own."""
    server = own_server(env, version)
    own_config(env, **cache_settings(env.tmp))
    check(connect_and_approve(env, server), "the first connection showed no code")
    check(connect_and_approve(env, server), "the second connection reused an approval")
    check(creates(env.mock) == 2, f"{creates(env.mock)} codes, not 2")
    check(cache_entries(env.tmp) == [], f"approvals were stored: {cache_entries(env.tmp)}")
    with open(server.pam_log) as f:
        log = f.read()
    check(log.count('cache: not caching in session scope: "no controlling terminal"') >= 2,
          f"the module did not say why it does not cache:\n{indent(log)}")


def test_cache_session_scope_asks_on_each_connection(env: Env):
    each_connection_is_a_new_session(env, "9.2")


def test_10_3_cache_session_scope_asks_on_each_connection(env: Env):
    each_connection_is_a_new_session(env, "10.3")


def user_scope_serves_the_next_connection(env: Env, version: str) -> None:
    """cache_scope = user: the second connection signs in from the first one's approval,
    with nothing shown and nothing typed, after NextPay confirmed the token again."""
    server = own_server(env, version)
    own_config(env, **cache_settings(env.tmp, cache_scope="user"))
    check(connect_and_approve(env, server), "the first connection showed no code")
    check('method="device-code"' in outcome_line(server), outcome_line(server))
    check(len(cache_entries(env.tmp)) == 1, f"not one cache entry: {cache_entries(env.tmp)}")
    check(not connect_and_approve(env, server), "the second connection showed a code")
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes, not 1")
    check(env.mock.count("me") == 2, f"{env.mock.count('me')} /auth/me requests, not 2")
    line = outcome_line(server)
    check(re.search(r'^<5> success: .*nextpay_id="usr_demo" .*method="cached-approval"', line),
          f"not a sign-in from the cache: {line}")


def test_cache_user_scope_reuses_across_connections(env: Env):
    user_scope_serves_the_next_connection(env, "9.2")


def test_10_3_cache_user_scope_reuses_across_connections(env: Env):
    user_scope_serves_the_next_connection(env, "10.3")


TESTS = [
    test_wait_auto_on_9_2_asks_for_enter,
    test_wait_auto_on_10_3_logs_in_without_a_keypress,
    test_10_3_progress_line_while_waiting,
    test_10_3_denial_shows_the_reason_without_a_last_prompt,
    test_10_3_expiry_shows_the_reason_without_a_last_prompt,
    test_10_3_wait_prompt_still_asks_for_enter,
    test_10_3_wait_prompt_reason_needs_no_last_prompt,
    test_10_3_old_client_at_loglevel_error_shows_nothing,
    test_enter_before_approval_says_still_waiting,
    test_denial_ends_the_connection_with_one_code,
    test_expiry_ends_the_connection_with_one_code,
    test_identity_of_another_account_is_refused,
    test_unknown_account_looks_like_a_refused_one,
    test_10_3_unknown_account_looks_like_a_refused_one,
    test_password_authentication_is_refused_at_once,
    test_10_3_password_authentication_is_refused_at_once,
    test_password_may_be_an_api_key,
    test_10_3_password_may_be_an_api_key,
    test_api_key_typed_at_the_keyboard_interactive_prompt,
    test_10_3_api_key_needs_wait_prompt,
    test_wrong_api_key_at_the_keyboard_interactive_prompt,
    test_cache_session_scope_asks_on_each_connection,
    test_10_3_cache_session_scope_asks_on_each_connection,
    test_cache_user_scope_reuses_across_connections,
    test_10_3_cache_user_scope_reuses_across_connections,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_sshd", TESTS, fixture=fixture, requires_root=True,
                       requires=(SSHD, "ssh", "ssh-keygen", "useradd")))
