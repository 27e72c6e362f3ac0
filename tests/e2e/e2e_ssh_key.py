#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: cache_scope = key with the real OpenSSH client and a real sshd.

sshd asks for a public key, then keyboard-interactive (AuthenticationMethods
publickey,keyboard-interactive, as the README recommends), and tells PAM which key
the client proved in SSH_AUTH_INFO_0 (without ExposeAuthInfo, which only concerns
the session's environment). The module binds the approval to that key's
fingerprint: five connections with one key need one approval; another key needs its
own; keyboard-interactive alone (a second port of the same sshd, whose Match block
asks for nothing else) gets a new code every time. Both the system's sshd (OpenSSH
9.2: Enter after approving) and the 10.3 build (no keypress) are tested; without the
10.3 build its test skips or fails as in e2e_sshd.py.

The servers are e2e_sshd.py's (running_sshd), with public keys on and a second port;
what the module logs comes through build/tests/pam-log-shim.so, as there.

    sudo /usr/bin/python3 tests/e2e/e2e_ssh_key.py
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import subprocess
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CODE_RE, Failure, Screen, Skip, check, creates, indent,  # noqa: E402
                    mock_api, remove_pam_wrapper_dirs, run_tests, temp_dir, throwaway_account,
                    write_config, write_root_file, write_usermap)
from e2e_sshd import (NEW_SSHD, PAM_LOG_SHIM, PROMPT, SSHD, WAITING, Sshd,  # noqa: E402
                      new_openssh, running_sshd, write_services)

# A public key, then NextPay; on the second port (a Match block), NextPay alone.
KEYS = "PubkeyAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\n"
KBD_ALONE = "Match LocalPort {1}\n    AuthenticationMethods keyboard-interactive\n"
WITHIN = 20
# One approval, then this many more connections with the same key.
REUSES = 4


@dataclass
class Env:
    tmp: str
    user: str
    mock: object
    known_hosts: str
    keys: dict[str, str]            # key name -> private key file
    fingerprints: dict[str, str]    # key name -> what ssh-keygen -l says
    cache_dir: str
    servers: dict[str, Sshd | None]
    new_missing: tuple[str | None, str | None]


def client_keys(tmp: str, user: str) -> tuple[dict[str, str], dict[str, str]]:
    """Two ed25519 keys of the person's, both in their authorized_keys; each key's
    fingerprint as ssh-keygen -l gives it."""
    keys, fingerprints, authorized = {}, {}, ""
    for name in ("first", "second"):
        path = os.path.join(tmp, f"id_{name}")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path],
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        keys[name] = path
        listed = subprocess.run(["ssh-keygen", "-lf", path + ".pub"], check=True,
                                capture_output=True, text=True).stdout.split()
        fingerprints[name] = listed[1]
        with open(path + ".pub") as f:
            authorized += f.read()
    pw = pwd.getpwnam(user)
    ssh_dir = os.path.join(pw.pw_dir, ".ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    path = write_root_file(os.path.join(ssh_dir, "authorized_keys"), authorized, 0o600)
    for p in (ssh_dir, path):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    return keys, fingerprints


@contextlib.contextmanager
def fixture():
    if not os.access(PAM_LOG_SHIM, os.R_OK):
        raise RuntimeError(f"{PAM_LOG_SHIM} is missing (make tests)")
    with temp_dir("npe2e-sshkey.") as tmp, throwaway_account() as user, \
            mock_api(tmp) as mock, contextlib.ExitStack() as servers:
        try:
            usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_demo": user})
            cache_dir = os.path.join(tmp, "cache")
            cache_key = write_root_file(os.path.join(tmp, "cache.key"), "", 0o600)
            with open(cache_key, "wb") as f:
                f.write(os.urandom(32))
            conf = write_config(os.path.join(tmp, "pam_nextpay.conf"), mock, usermap,
                                cache="yes", cache_scope="key", cache_dir=cache_dir,
                                cache_key=cache_key)
            keys, fingerprints = client_keys(tmp, user)
            known_hosts = write_root_file(os.path.join(tmp, "known_hosts"), "")
            services = write_services(os.path.join(tmp, "services"), f"config={conf} debug")
            found = {"9.2": None, "10.3": None}
            missing = new_openssh()
            for name, binary in (("9.2", SSHD), ("10.3", NEW_SSHD)):
                if name == "9.2" or missing == (None, None):
                    found[name] = servers.enter_context(running_sshd(
                        tmp, f"sshd-{name}", name, services, known_hosts, binary,
                        keys=KEYS, match=KBD_ALONE, more_ports=1))
            yield Env(tmp, user, mock, known_hosts, keys, fingerprints, cache_dir, found,
                      missing)
        finally:
            servers.close()
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


def ssh(env: Env, port: int, key: str | None) -> Screen:
    """The person's ssh: with key (publickey first, then NextPay), or with no key at all."""
    auth = (["-i", env.keys[key], "-o", "IdentitiesOnly=yes",
             "-o", "PreferredAuthentications=publickey,keyboard-interactive"] if key else
            ["-o", "PubkeyAuthentication=no",
             "-o", "PreferredAuthentications=keyboard-interactive"])
    argv = ["ssh", "-F", "/dev/null", "-p", str(port), *auth,
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={env.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
            f"{env.user}@127.0.0.1", "id -un"]
    return Screen(argv, env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "HOME": env.tmp,
                             "LANG": "C.UTF-8"})


def logged_in(screen: Screen, env: Env) -> None:
    screen.expect(rf"(?m)^{re.escape(env.user)}\r?$", WITHIN, "the output of id -un")
    status = screen.finish(WITHIN)
    check(status == 0, f"ssh exited with {status}:\n{screen.text}")


def with_approval(env: Env, port: int, key: str | None) -> str:
    """A connection that shows a new code, approved in NextPay (then Enter, where sshd
    needs it). Returns what the person saw."""
    before = creates(env.mock)
    with ssh(env, port, key) as screen:
        last = screen.expect([re.escape(PROMPT), re.escape(WAITING)], WITHIN,
                             "the instructions")
        check(re.search(rf"approve code {CODE_RE}", screen.text),
              f"no code on the screen:\n{screen.text}")
        env.mock.approve(user="usr_demo")
        if last == 0:
            screen.send("\r")
        logged_in(screen, env)
        text = screen.text
    check(creates(env.mock) == before + 1,
          f"{creates(env.mock) - before} codes for one connection, not 1")
    return text


def without_approval(env: Env, port: int, key: str) -> str:
    """A connection that reuses the approval: nothing to read, approve or press."""
    before = creates(env.mock)
    with ssh(env, port, key) as screen:
        logged_in(screen, env)
        text = screen.text
    check(creates(env.mock) == before, f"a new code for a reused approval:\n{text}")
    for shown in ("approve code", "NextPay", PROMPT, WAITING):
        check(shown not in text, f"{shown!r} shown on a reused approval:\n{text}")
    return text


def outcome_lines(server: Sshd) -> list[str]:
    """The module's outcome lines, oldest first."""
    with open(server.pam_log) as f:
        return [line for line in f.read().splitlines()
                if re.search(r'\bsuccess: account="[^"]*" .*method="', line)]


def check_outcomes(server: Sshd, lines: list[str], method: str, key: str | None) -> None:
    """Each of lines is a success by method, with key="FINGERPRINT" (or no key=)."""
    for line in lines:
        check(f'method="{method}"' in line, f"sshd {server.name}: not {method}: {line}")
        if key is None:
            check(" key=" not in line, f"sshd {server.name}: a key without one: {line}")
        else:
            check(line.endswith(f' key="{key}"') or f' key="{key}" reference=' in line,
                  f'sshd {server.name}: no key="{key}" in {line}')


def one_key_one_approval(env: Env, server: Sshd) -> None:
    env.mock.reset()
    # Each test from an empty cache: an approval of the other sshd would serve this one.
    subprocess.run(["rm", "-rf", env.cache_dir], check=True)
    first, second = env.fingerprints["first"], env.fingerprints["second"]
    start = len(outcome_lines(server))

    # Five connections with one key: one approval.
    text = with_approval(env, server.port, "first")
    for _ in range(REUSES):
        without_approval(env, server.port, "first")
    check(creates(env.mock) == 1, f"{creates(env.mock)} codes for one key, not 1")
    lines = outcome_lines(server)[start:]
    check(len(lines) == 1 + REUSES, f"sshd {server.name}: {len(lines)} outcome lines:\n"
                                    f"{indent(chr(10).join(lines))}")
    check_outcomes(server, lines[:1], "device-code", first)
    check_outcomes(server, lines[1:], "cached-approval", first)
    check(("Press Enter" in text) == (server.name == "9.2"), f"sshd {server.name}:\n{text}")

    # Another key of the same person: a new code, and then its own approval is reused.
    with_approval(env, server.port, "second")
    without_approval(env, server.port, "second")
    check(creates(env.mock) == 2, f"{creates(env.mock)} codes for two keys, not 2")
    lines = outcome_lines(server)[start + 1 + REUSES:]
    check_outcomes(server, lines[:1], "device-code", second)
    check_outcomes(server, lines[1:], "cached-approval", second)

    # NextPay alone, no key proved: a new code each time, and no key in the log.
    for n in (3, 4):
        with_approval(env, server.more_ports[0], None)
        check(creates(env.mock) == n, f"{creates(env.mock)} codes, not {n}")
    lines = outcome_lines(server)[start + 1 + REUSES + 2:]
    check(len(lines) == 2, f"sshd {server.name}: {len(lines)} outcome lines")
    check_outcomes(server, lines, "device-code", None)
    with open(server.pam_log) as f:
        check("no public key from sshd; session scope instead of key scope" in f.read(),
              f"sshd {server.name}: no debug line for the fallback")
    # Whatever came between, the first key's approval still serves it.
    without_approval(env, server.port, "first")


def test_9_2_one_key_one_approval(env: Env):
    one_key_one_approval(env, env.servers["9.2"])


def test_10_3_one_key_one_approval(env: Env):
    skip, fail = env.new_missing
    if skip:
        raise Skip(skip)
    if fail:
        raise Failure(fail)
    one_key_one_approval(env, env.servers["10.3"])


TESTS = [
    test_9_2_one_key_one_approval,
    test_10_3_one_key_one_approval,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_ssh_key", TESTS, fixture=fixture, requires_root=True,
                       requires=(SSHD, "ssh", "ssh-keygen", "useradd")))
