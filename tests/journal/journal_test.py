#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The audit trail against a real journald.

The suite re-runs itself in a private mount namespace (unshare), where tmpfs
hides /run/systemd, /run/log, /var/log/journal and /var/lib/systemd/catalog
from the machine, and starts systemd-journald there by hand, with a
journald.conf of its own (volatile storage, no kernel messages, no rate
limit).  Nothing it mounts or writes reaches the machine: the mounts go with
the namespace, and it refuses to run in the machine's own mount namespace.

Real sign-ins through libpam (pamtester under pam_wrapper, a stack in a
directory of its own) against the HTTPS mock then send their events to that
journald, and the tests read them back with journalctl, nextpayctl log and
nextpayctl metrics (parsed by prometheus_client's own parser); the catalog is
built from packaging/pam_nextpay.catalog with journalctl --update-catalog and
read with journalctl -x.  Root only.

    /usr/bin/python3 tests/journal/journal_test.py [NAME ...]
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.mock import Mock, mock_api  # noqa: E402
from lib.paths import BUILD, REPO  # noqa: E402
from lib.procs import descendants, remove_pam_wrapper_dirs  # noqa: E402
from lib.runner import check, run_tests, wait_for  # noqa: E402
from lib.journald import JOURNALD, in_private_mount_namespace, private_journald  # noqa: E402
from lib.system import (free_port, temp_dir, throwaway_group, write_root_file,  # noqa: E402
                        write_usermap)

MODULE = os.path.join(BUILD, "pam_nextpay.so")
HELPER = os.path.join(BUILD, "nextpay-helper")
NEXTPAYCTL = os.path.join(BUILD, "nextpayctl")
FAKE_HELPER = os.path.join(BUILD, "tests", "fake-helper")
PRINT_EVENTS = os.path.join(BUILD, "tests", "print-events")
CATALOG = os.path.join(REPO, "packaging", "pam_nextpay.catalog")
MAN_PAGE = os.path.join(BUILD, "man", "pam_nextpay.8")
SERVICE = "npjournal"

REFERENCE_RE = r"Reference: ([0-9A-HJKMNP-TV-Z]{4})-([0-9A-HJKMNP-TV-Z]{4})"
API_KEY = "npk_alice_0123456789abcdef"


def event_types() -> dict[tuple[str, str], tuple[str, int]]:
    """(event, result or "-") -> (MESSAGE_ID, priority), from the code's own table."""
    out = subprocess.run([PRINT_EVENTS], capture_output=True, text=True, check=True).stdout
    return {(e, r): (mid, int(p)) for e, r, mid, p in (line.split("\t") for line in out.splitlines())}


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60,
                          stdin=subprocess.DEVNULL, **kwargs)


@dataclass
class Env:
    tmp: str
    mock: Mock
    services: str
    conf: str
    usermap: str
    types: dict
    journald: subprocess.Popen
    signin_ids: list = field(default_factory=list)  # every sign-in of the suite


@contextlib.contextmanager
def fixture():
    with temp_dir("npjournal.") as tmp, private_journald(tmp, CATALOG) as journald:
        services = os.path.join(tmp, "services")
        os.makedirs(services, mode=0o755)
        conf = os.path.join(tmp, "pam_nextpay.conf")
        write_root_file(os.path.join(services, SERVICE),
                        f"auth required {MODULE} config={conf}\naccount required pam_permit.so\n")
        write_root_file(os.path.join(services, "other"),
                        "".join(f"{t} required pam_deny.so\n"
                                for t in ("auth", "account", "password", "session")))
        usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_alice": "root"})
        try:
            with mock_api(tmp) as mock:
                yield Env(tmp, mock, services, conf, usermap, event_types(), journald)
        finally:
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


# ---- sign-ins -----------------------------------------------------------------------------

@dataclass
class SignIn:
    rc: int
    out: str       # what the person saw (pamtester's stdout and stderr, syslog lines aside)
    syslog: str    # what pam_syslog() wrote (pam_wrapper prints it on stderr)
    reference: str | None


def write_config(env: Env, **extra) -> None:
    settings = {"api_url": env.mock.url, "ca_file": env.mock.ca_cert, "usermap": env.usermap,
                "helper": HELPER, "poll_interval": 1, "cache": "no", "wait": "poll", **extra}
    write_root_file(env.conf, "".join(f"{k} = {v}\n" for k, v in settings.items()))


def sign_in(env: Env, user: str = "root", rhost: str | None = None, tty: str | None = None,
            answer: str = "", wrapper: tuple[str, ...] = (), service: str = SERVICE,
            **config) -> SignIn:
    """One pamtester sign-in on service (SERVICE) with these settings; items set with -I."""
    write_config(env, **config)
    # pam_wrapper for pamtester alone: a wrapper that execs would leave its copy behind.
    argv = [*wrapper, "env", "LD_PRELOAD=libpam_wrapper.so", "PAM_WRAPPER=1",
            f"PAM_WRAPPER_SERVICE_DIR={env.services}", "PAM_WRAPPER_DEBUGLEVEL=2", "pamtester"]
    for item, value in (("rhost", rhost), ("tty", tty)):
        if value is not None:
            argv += ["-I", f"{item}={value}"]
    argv += [service, user, "authenticate"]
    done = subprocess.run(argv, input=answer, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    lines = (done.stdout + done.stderr).splitlines()
    syslog = "\n".join(line for line in lines if "SYSLOG(" in line)
    seen = "\n".join(line for line in lines if not line.startswith("PWRAP_"))
    found = re.search(REFERENCE_RE, seen)
    return SignIn(done.returncode, seen, syslog, found.group(1) + found.group(2) if found else None)


def journal(*matches: str) -> list[dict]:
    done = run(["journalctl", "--no-pager", "-o", "json", *matches])
    check(done.returncode == 0, f"journalctl {' '.join(matches)}: {done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def events(*matches: str, count: int = 1) -> list[dict]:
    """The module's entries matching, once at least count have arrived (journald is quick)."""
    return wait_for(lambda: (lambda e: e if len(e) >= count else None)(
        journal("SYSLOG_IDENTIFIER=pam_nextpay", *matches)), 10,
        f"{count} event(s) matching {' '.join(matches)}")


def only_event(env: Env, signin_id: str, kind: str = "signin") -> dict:
    found = [e for e in events(f"NEXTPAY_SIGNIN_ID={signin_id}") if e["NEXTPAY_EVENT"] == kind]
    check(len(found) == 1, f"{len(found)} {kind} events of sign-in {signin_id}: {found}")
    env.signin_ids.append(signin_id)
    return found[0]


def expect_type(env: Env, event: dict, kind: str, result: str = "-") -> None:
    message_id, priority = env.types[(kind, result)]
    check(event["MESSAGE_ID"] == message_id, f"MESSAGE_ID {event['MESSAGE_ID']}, not {message_id}")
    check(event["PRIORITY"] == str(priority), f"PRIORITY {event['PRIORITY']}, not {priority}")
    check(event["SYSLOG_IDENTIFIER"] == "pam_nextpay", f"{event['SYSLOG_IDENTIFIER']}")
    check(event["SYSLOG_FACILITY"] == "10", f"SYSLOG_FACILITY {event.get('SYSLOG_FACILITY')}")
    check(event["NEXTPAY_EVENT"] == kind, f"NEXTPAY_EVENT {event['NEXTPAY_EVENT']}")
    check(not any(k.startswith("CODE_") for k in event), f"source locations logged: {event}")


def refused(env: Env, done: SignIn, result: str, **fields) -> dict:
    """A refusal: its reference on the screen finds exactly its event, of this result."""
    check(done.rc != 0, f"signed in:\n{done.out}")
    check(done.reference is not None, f"no reference on the screen:\n{done.out}")
    event = only_event(env, done.reference)
    expect_type(env, event, "signin", result)
    check(event["NEXTPAY_RESULT"] == result, f"result {event['NEXTPAY_RESULT']}")
    check(event["MESSAGE"].endswith(
        f' reference="{done.reference[:4]}-{done.reference[4:]}"'), event["MESSAGE"])
    for key, want in fields.items():
        check(event.get(f"NEXTPAY_{key}") == want, f"NEXTPAY_{key} {event.get(f'NEXTPAY_{key}')!r}, "
              f"not {want!r}: {event}")
    check(not done.syslog, f"syslog lines where the journal runs:\n{done.syslog}")
    return event


def by_rhost(env: Env, rhost: str) -> dict:
    """The sign-in event of the one sign-in from rhost."""
    found = events(f"NEXTPAY_RHOST={rhost}", "NEXTPAY_EVENT=signin")
    check(len(found) == 1, f"{len(found)} events from {rhost}: {found}")
    env.signin_ids.append(found[0]["NEXTPAY_SIGNIN_ID"])
    return found[0]


# ---- events ---------------------------------------------------------------------------------

def test_success_carries_every_field(env: Env):
    env.mock.config(auto={"action": "approve", "user": "usr_alice", "after": 1.5})
    done = sign_in(env, rhost="203.0.113.7", tty="pts/7")
    check(done.rc == 0, f"pamtester: {done.rc}\n{done.out}")
    check(done.reference is None and "Reference" not in done.out, f"a reference on success:\n{done.out}")
    check(not done.syslog, f"syslog lines where the journal runs:\n{done.syslog}")
    event = by_rhost(env, "203.0.113.7")
    expect_type(env, event, "signin", "success")
    sid = event["NEXTPAY_SIGNIN_ID"]
    check(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{8}", sid), f"sign-in id {sid!r}")
    want = {"RESULT": "success", "METHOD": "device-code", "ACCOUNT": "root",
            "USER_ID": "usr_alice", "SERVICE": SERVICE, "RHOST": "203.0.113.7", "TTY": "pts/7",
            "INVOKER_UID": "0", "REASON": "user id rule"}
    for key, value in want.items():
        check(event.get(f"NEXTPAY_{key}") == value, f"NEXTPAY_{key} = {event.get(f'NEXTPAY_{key}')!r}")
    wait = int(event["NEXTPAY_WAIT_MS"])
    check(1200 <= wait <= 30000, f"NEXTPAY_WAIT_MS {wait} for an approval after 1.5 s")
    check(event["MESSAGE"] == f'pam_nextpay({SERVICE}:auth): success: account="root" '
          f'nextpay_id="usr_alice" rhost="203.0.113.7" service="{SERVICE}" method="device-code" '
          f'reason="user id rule" reference="{sid[:4]}-{sid[4:]}"', event["MESSAGE"])
    check(len(events(f"NEXTPAY_SIGNIN_ID={sid}")) == 1, "more than one event for one sign-in")
    check(event["_UID"] == "0" and event["_COMM"] == "pamtester", f"writer {event['_UID']}")


def man_page_command() -> list[str]:
    """The one journalctl command pam_nextpay(8) gives for "who signed in as root today"."""
    with open(MAN_PAGE) as f:
        text = f.read().replace("\\-", "-").replace("\\e", "\\")
    found = re.search(r"^(journalctl --since today NEXTPAY_EVENT=signin .*?)$(?:\n(\s+-o .*?)$)?",
                      text, re.M)
    check(found, f"no journalctl command for today's sign-ins as root in {MAN_PAGE}")
    return (found.group(1).rstrip(" \\") + " " + (found.group(2) or "")).split()


def test_who_signed_in_as_root_today(env: Env):
    """The issue's question, answered by the man page's one command."""
    env.mock.config(auto={"action": "approve", "user": "usr_alice", "after": 2.0})
    done = sign_in(env, rhost="198.51.100.23")
    check(done.rc == 0, f"pamtester: {done.rc}\n{done.out}")
    sid = by_rhost(env, "198.51.100.23")["NEXTPAY_SIGNIN_ID"]
    argv = man_page_command()
    out = run(argv + ["--no-pager"])
    check(out.returncode == 0, f"{' '.join(argv)}: {out.stderr}")
    # One block per sign-in: when, who approved, from where, how long.
    blocks = re.split(r"\n(?=\S)", out.stdout.strip())
    ours = [b for b in blocks if "NEXTPAY_RHOST=198.51.100.23" in b]
    check(len(ours) == 1, f"{' '.join(argv)} does not answer:\n{out.stdout}")
    check("NEXTPAY_USER_ID=usr_alice" in ours[0], ours[0])
    wait = re.search(r"NEXTPAY_WAIT_MS=(\d+)", ours[0])
    check(wait and 1700 <= int(wait.group(1)) <= 30000, ours[0])
    check(re.match(r"\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", ours[0]), f"no time: {ours[0]}")
    check(sid, "no sign-in id")


def test_denial_reference_finds_its_event(env: Env):
    env.mock.config(auto={"action": "deny", "user": "usr_alice", "after": 0.5})
    done = sign_in(env, rhost="192.0.2.31")
    check("The sign-in was denied in NextPay.\nReference: " in done.out, done.out)
    # The helpdesk types what the person read, without the dash.
    refused(env, done, "denied", ACCOUNT="root", RHOST="192.0.2.31", METHOD="device-code")


def test_expiry(env: Env):
    env.mock.config(auto=None, code_ttl=2)
    done = sign_in(env)
    env.mock.config(code_ttl=300)
    check("The code expired before it was approved." in done.out, done.out)
    refused(env, done, "expired", METHOD="device-code")


def test_identity_not_mapped(env: Env):
    env.mock.config(auto={"action": "approve", "user": "usr_bob", "after": 0.3})
    done = sign_in(env)
    event = refused(env, done, "refused", USER_ID="usr_bob")
    check(event["NEXTPAY_REASON"] == "identity does not map to this account (no rule)", event)


def test_unreachable_api(env: Env):
    done = sign_in(env, api_url=f"https://127.0.0.1:{free_port()}/v1")
    check("NextPay could not be reached." in done.out, done.out)
    event = refused(env, done, "unavailable")
    check(event["NEXTPAY_REASON"].startswith("unreachable: "), event["NEXTPAY_REASON"])


def test_config_error(env: Env):
    done = sign_in(env, no_such_setting=1)
    event = refused(env, done, "error")
    config = only_event(env, done.reference, "config-error")
    expect_type(env, config, "config-error")
    check("unknown setting" in config["NEXTPAY_REASON"], config)
    check(config["MESSAGE"].startswith(f"pam_nextpay({SERVICE}:auth): configuration error: "),
          config["MESSAGE"])
    check(event["NEXTPAY_REASON"] == "configuration error", event)


def test_verification_host_refused(env: Env):
    env.mock.config(auto=None)
    done = sign_in(env, verification_hosts="nextpay.example.com")
    # An error, not an outage: break-glass must not open for a redirected sign-in.
    refused(env, done, "error")
    host = only_event(env, done.reference, "host-refused")
    expect_type(env, host, "host-refused")
    check(host["NEXTPAY_REASON"] == "127.0.0.1", host)


def helper_named(env: Env, name: str) -> str:
    """The stand-in helper (tests/integration/fake_helper.c) under name, root's, 0755."""
    directory = os.path.join(env.tmp, "helpers")
    os.makedirs(directory, mode=0o755, exist_ok=True)
    path = os.path.join(directory, name)
    shutil.copy(FAKE_HELPER, path)
    os.chmod(path, 0o755)
    return path


def test_helper_broke_the_protocol(env: Env):
    env.mock.config(auto=None)
    done = sign_in(env, helper=helper_named(env, "bad-user-id"))
    refused(env, done, "unavailable")
    failed = only_event(env, done.reference, "helper-failed")
    expect_type(env, failed, "helper-failed")
    check(failed["NEXTPAY_REASON"].startswith("the helper broke the protocol"), failed)


def helper_exe(pid: int) -> bool:
    """Whether pid runs the helper (by its executable: fexecve leaves no telling name)."""
    with contextlib.suppress(OSError):
        return os.readlink(f"/proc/{pid}/exe") == HELPER
    return False


def test_helper_killed_by_sigsys(env: Env):
    env.mock.config(auto=None)
    write_config(env)
    with subprocess.Popen(["pamtester", SERVICE, "root", "authenticate"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={"PATH": "/usr/bin:/bin", "LD_PRELOAD": "libpam_wrapper.so",
                               "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": env.services}) as p:
        helper = wait_for(lambda: next((pid for pid in descendants() if helper_exe(pid)),
                                       None), 20, "the helper")
        wait_for(env.mock.last_code, 20, "a code")
        os.kill(helper, signal.SIGSYS)
        out, _ = p.communicate(timeout=60)
    found = re.search(REFERENCE_RE, out)
    check(found, f"no reference:\n{out}")
    failed = only_event(env, found.group(1) + found.group(2), "helper-failed")
    check("killed by SIGSYS" in failed["NEXTPAY_REASON"], failed)


def test_offline_reuse_is_a_warning(env: Env):
    key = os.path.join(env.tmp, "offline.key")
    check(run([NEXTPAYCTL, "keygen", "--key", key]).returncode == 0, "keygen")
    cache = {"cache": "yes", "cache_dir": os.path.join(env.tmp, "offline-cache"),
             "cache_key": key, "cache_scope": "user", "offline_grace": 600}
    env.mock.config(auto={"action": "approve", "user": "usr_alice", "after": 0.3})
    check(sign_in(env, rhost="192.0.2.181", **cache).rc == 0, "first sign-in")
    done = sign_in(env, rhost="192.0.2.182", api_url=f"https://127.0.0.1:{free_port()}/v1",
                   **cache)
    check(done.rc == 0, f"offline sign-in:\n{done.out}")
    offline = by_rhost(env, "192.0.2.182")
    message_id, _ = env.types[("signin", "success")]
    check(offline["MESSAGE_ID"] == message_id, offline)
    check(offline["NEXTPAY_RESULT"] == "success", offline)
    check(offline["NEXTPAY_METHOD"] == "cached-offline", offline)
    check(offline["NEXTPAY_USER_ID"] == "usr_alice", offline)
    # A success NextPay did not confirm is a warning, not the notice of other successes.
    check(offline["PRIORITY"] == "4", f"PRIORITY {offline['PRIORITY']}, not 4")
    check(offline["NEXTPAY_REASON"].startswith("NextPay unreachable; last confirmed online "),
          offline)


def test_cache_reuse_and_a_revoked_entry(env: Env):
    key = os.path.join(env.tmp, "cache.key")
    check(run([NEXTPAYCTL, "keygen", "--key", key]).returncode == 0, "keygen")
    cache = {"cache": "yes", "cache_dir": os.path.join(env.tmp, "cache"), "cache_key": key,
             "cache_scope": "user"}
    env.mock.config(auto={"action": "approve", "user": "usr_alice", "after": 0.3})
    check(sign_in(env, rhost="192.0.2.41", **cache).rc == 0, "first sign-in")
    check(by_rhost(env, "192.0.2.41")["NEXTPAY_METHOD"] == "device-code", "not a device sign-in")
    check(sign_in(env, rhost="192.0.2.42", **cache).rc == 0, "cached sign-in")
    reused = by_rhost(env, "192.0.2.42")
    expect_type(env, reused, "signin", "success")
    check(reused["NEXTPAY_METHOD"] == "cached-approval", reused)
    check("NEXTPAY_WAIT_MS" not in reused, f"a wait without a code: {reused}")
    env.mock.revoke(user="usr_alice")
    check(sign_in(env, rhost="192.0.2.43", **cache).rc == 0, "sign-in after the revocation")
    after = by_rhost(env, "192.0.2.43")
    check(after["NEXTPAY_METHOD"] == "device-code", after)
    entry = only_event(env, after["NEXTPAY_SIGNIN_ID"], "cache-refused")
    expect_type(env, entry, "cache-refused")
    check(entry["NEXTPAY_REASON"] == "revoked", entry)
    check(entry["MESSAGE"].endswith(
        'cache: token no longer accepted; entry removed reference="'
        f'{after["NEXTPAY_SIGNIN_ID"][:4]}-{after["NEXTPAY_SIGNIN_ID"][4:]}"'), entry["MESSAGE"])


def test_cache_swept(env: Env):
    """A sign-in that removes another scope's stale entry says so in an event of its own."""
    key = os.path.join(env.tmp, "sweep.key")
    check(run([NEXTPAYCTL, "keygen", "--key", key]).returncode == 0, "keygen")
    cache = {"cache": "yes", "cache_dir": os.path.join(env.tmp, "sweep-cache"), "cache_key": key,
             "cache_scope": "user", "cache_ttl": 1}
    other = f"{SERVICE}-other"
    write_root_file(os.path.join(env.services, other),
                    f"auth required {MODULE} config={env.conf}\naccount required pam_permit.so\n")
    env.mock.config(auto={"action": "approve", "user": "usr_alice", "after": 0.3})
    check(sign_in(env, rhost="192.0.2.44", **cache).rc == 0, "the sign-in that stores an entry")
    stale = set(os.listdir(cache["cache_dir"]))
    check(len(stale) == 1, f"entries after one sign-in: {stale}")
    time.sleep(2.1)  # past cache_ttl: the entry is stale
    check(sign_in(env, rhost="192.0.2.45", service=other, **cache).rc == 0, "the sweeping sign-in")
    sid = by_rhost(env, "192.0.2.45")["NEXTPAY_SIGNIN_ID"]
    swept = only_event(env, sid, "cache-swept")
    expect_type(env, swept, "cache-swept")
    check(swept["NEXTPAY_REASON"] == "removed 1 stale or unreadable entry", swept)
    check("older than the cache_ttl it was stored with" in swept["MESSAGE"],
          swept["MESSAGE"])
    check(not stale & set(os.listdir(cache["cache_dir"])), f"the stale entry is still there: {stale}")


def breakglass_services(env: Env, group: str) -> str:
    """The break-glass stack of pam_nextpay(8) with pam_deny for the password: events only."""
    name = f"{SERVICE}-breakglass"
    write_root_file(os.path.join(env.services, name),
                    f"auth [success=done authinfo_unavail=ignore ignore=ignore default=die] "
                    f"{MODULE} config={env.conf}\n"
                    f"auth [success=ok ignore=ignore default=bad] {MODULE} config={env.conf} "
                    f"breakglass_group={group}\n"
                    "auth required pam_deny.so\naccount required pam_permit.so\n")
    return name


def test_breakglass_events(env: Env):
    """Opened (LOG_ALERT) and refused, each with the sign-in's own id and reference."""
    down = f"https://127.0.0.1:{free_port()}/v1"
    with throwaway_group("npjbg", members=("root",)) as group:
        service = breakglass_services(env, group)
        done = sign_in(env, rhost="192.0.2.171", service=service, api_url=down)
        check("NextPay could not be reached." in done.out, done.out)
        check(done.reference is not None, f"no reference:\n{done.out}")
        outage = only_event(env, done.reference)
        check(outage["NEXTPAY_RESULT"] == "unavailable", outage)
        opened = only_event(env, done.reference, "breakglass-opened")
        expect_type(env, opened, "breakglass-opened")
        check(opened["PRIORITY"] == "1", f"not LOG_ALERT: {opened['PRIORITY']}")
        check(opened["NEXTPAY_REASON"] == outage["NEXTPAY_REASON"], opened)
        check(opened["NEXTPAY_ACCOUNT"] == "root" and opened["NEXTPAY_RHOST"] == "192.0.2.171",
              opened)
        check(opened["MESSAGE"].startswith(
            f'pam_nextpay({service}:auth): break-glass opened: account="root" group="{group}"'),
            opened["MESSAGE"])
        # Another account, not in the group: the gate stays shut, and says so.
        done = sign_in(env, user="daemon", rhost="192.0.2.172", service=service, api_url=down)
        check(done.rc != 0 and done.reference is not None, done.out)
        refused_gate = only_event(env, done.reference, "breakglass-refused")
        expect_type(env, refused_gate, "breakglass-refused")
        check(refused_gate["NEXTPAY_REASON"] == "not a member of breakglass_group", refused_gate)
        check(not done.syslog, f"syslog lines where the journal runs:\n{done.syslog}")


def test_api_key_typed_at_the_prompt(env: Env):
    env.mock.config(auto=None)
    done = sign_in(env, rhost="192.0.2.51", wait="prompt", api_key="yes", answer=API_KEY + "\n")
    check(done.rc == 0, f"pamtester: {done.rc}\n{done.out}")
    check(by_rhost(env, "192.0.2.51")["NEXTPAY_METHOD"] == "api-key", "not an API-key sign-in")


def test_fields_cannot_be_forged(env: Env):
    """Values with newlines stay in their own field: no forged field, result or entry."""
    env.mock.config(auto={"action": "deny", "user": "usr_alice", "after": 0.3})
    rhost = "192.0.2.61\nNEXTPAY_RESULT=success\nMESSAGE=forged"
    done = sign_in(env, rhost=rhost)
    event = refused(env, done, "denied")
    check(event["NEXTPAY_RHOST"] == rhost, f"NEXTPAY_RHOST {event['NEXTPAY_RHOST']!r}")
    check(event["NEXTPAY_RESULT"] == "denied", event)
    check(event["MESSAGE"].startswith(f"pam_nextpay({SERVICE}:auth): denied: "), event["MESSAGE"])
    check('rhost="192.0.2.61\\x0ANEXTPAY_RESULT=success\\x0AMESSAGE=forged"' in event["MESSAGE"],
          event["MESSAGE"])
    check(not journal("MESSAGE=forged"), "a forged entry")


# ---- syslog, when the journal is not chosen or not there -------------------------------------

def test_log_syslog_keeps_todays_line(env: Env):
    env.mock.config(auto={"action": "deny", "user": "usr_alice", "after": 0.3})
    done = sign_in(env, rhost="192.0.2.71", log="syslog")
    check(done.reference, f"no reference:\n{done.out}")
    shown = f"{done.reference[:4]}-{done.reference[4:]}"
    check(f'SYSLOG(4): denied: account="root" nextpay_id="" rhost="192.0.2.71" '
          f'service="{SERVICE}" method="device-code" reason="denied: denied" '
          f'reference="{shown}"' in done.syslog, done.syslog)
    time.sleep(0.5)
    check(not journal("NEXTPAY_RHOST=192.0.2.71"), "log = syslog wrote to the journal")


def test_journald_gone_falls_back_to_syslog(env: Env):
    """Its socket left behind, nobody listening: log = journal and auto both reach syslog."""
    stale = os.path.join(env.tmp, "stale-journal")
    os.makedirs(stale, mode=0o755)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
        gone.bind(os.path.join(stale, "socket"))
    # Only these sign-ins see that directory as /run/systemd/journal: a namespace of their own.
    wrapper = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount --bind "$0" /run/systemd/journal && exec "$@"', stale)
    env.mock.config(auto={"action": "deny", "user": "usr_alice", "after": 0.3})
    chosen = sign_in(env, rhost="192.0.2.81", log="journal", wrapper=wrapper)
    check('rhost="192.0.2.81"' in chosen.syslog, f"the event is lost:\n{chosen.out}")
    check("SYSLOG(3): journal: cannot write events, sent to syslog: Connection refused"
          in chosen.syslog, chosen.syslog)
    auto = sign_in(env, rhost="192.0.2.82", log="auto", wrapper=wrapper)
    check('rhost="192.0.2.82"' in auto.syslog, f"the event is lost:\n{auto.out}")
    check("journal:" not in auto.syslog, f"auto complains:\n{auto.syslog}")
    time.sleep(0.5)
    check(not journal("NEXTPAY_RHOST=192.0.2.81") and not journal("NEXTPAY_RHOST=192.0.2.82"),
          "events in the journal although journald could not be reached")


# ---- the catalog ----------------------------------------------------------------------------

def test_catalog_explains_each_event(env: Env):
    listed = run(["journalctl", "--list-catalog"]).stdout
    ids = {line.split()[0] for line in listed.splitlines() if line.strip()}
    with open(CATALOG) as f:
        in_file = set(re.findall(r"^-- ([0-9a-f]{32})$", f.read(), re.M))
    code = {mid for mid, _ in env.types.values()}
    check(code <= ids, f"not in the catalog database: {code - ids}")
    check(in_file == code, f"catalog and code disagree: {in_file ^ code}")
    env.mock.config(auto={"action": "deny", "user": "usr_alice", "after": 0.3})
    done = sign_in(env)
    refused(env, done, "denied")
    explained = run(["journalctl", "--no-pager", "-x", f"NEXTPAY_SIGNIN_ID={done.reference}"])
    # The explanation, with the entry's own fields filled in.
    words = " ".join(explained.stdout.replace("░░", " ").split())
    check("Subject: NextPay sign-in of root denied" in words, explained.stdout)
    check(f"denied the sign-in as root through {SERVICE}." in words, explained.stdout)


# ---- nextpayctl log and metrics ------------------------------------------------------------

def test_nextpayctl_log(env: Env):
    check(len(env.signin_ids) >= 10, f"only {len(env.signin_ids)} sign-ins before this test")
    table = run([NEXTPAYCTL, "log", "--since", "today"])
    check(table.returncode == 0, f"exit {table.returncode}: {table.stderr}")
    lines = table.stdout.splitlines()
    check(lines[0].split() == ["TIME", "ACCOUNT", "NEXTPAY-ID", "SERVICE", "SOURCE", "METHOD",
                               "RESULT", "WAIT", "REFERENCE"], lines[0])
    rows = {line.split()[-1]: line.split() for line in lines[1:-1]}
    for sid in env.signin_ids:
        check(f"{sid[:4]}-{sid[4:]}" in rows, f"sign-in {sid} not listed:\n{table.stdout}")
    row = next(r for r in rows.values() if r[4] == "203.0.113.7")
    check(row[1:8] == ["root", "usr_alice", SERVICE, "203.0.113.7", "device-code", "success",
                       row[7]] and re.fullmatch(r"\d+\.\ds", row[7]), row)
    check(re.fullmatch(r"\d+ sign-ins? since \S+\.", lines[-1]), lines[-1])
    as_json = run([NEXTPAYCTL, "log", "--json", "--since", "-1h"])
    objects = [json.loads(line) for line in as_json.stdout.splitlines()]
    check(len(objects) == len(rows), f"{len(objects)} JSON lines, {len(rows)} rows")
    alice = next(o for o in objects if o["rhost"] == "203.0.113.7")
    check(alice["nextpay_id"] == "usr_alice" and alice["tty"] == "pts/7" and
          isinstance(alice["wait_ms"], int) and alice["writer_uid"] == "0" and
          alice["writer_exe"] == "/usr/bin/pamtester", alice)
    for since in ("-1h", "90min ago", "today", "yesterday", time.strftime("%Y-%m-%d"),
                  f"@{int(time.time()) - 3600}", time.strftime("%Y-%m-%dT00:00")):
        out = run([NEXTPAYCTL, "log", "--since", since])
        check(out.returncode == 0 and len(out.stdout.splitlines()) == len(lines),
              f"--since {since}: exit {out.returncode}, {out.stdout}{out.stderr}")
    time.sleep(1.1)         # "now" is to the second: past the last sign-in's
    later = run([NEXTPAYCTL, "log", "--since", "now"])
    check(later.stdout.strip().endswith(".") and later.stdout.startswith("0 sign-ins"),
          later.stdout)
    bad = run([NEXTPAYCTL, "log", "--since", "last tuesday"])
    check(bad.returncode == 2 and "--since" in bad.stderr, f"{bad.returncode} {bad.stderr}")


def test_nextpayctl_metrics(env: Env):
    from prometheus_client.parser import text_string_to_metric_families

    out = run([NEXTPAYCTL, "metrics"])
    check(out.returncode == 0, f"exit {out.returncode}: {out.stderr}")
    families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
    entries = journal("SYSLOG_IDENTIFIER=pam_nextpay", "_BOOT_ID=" + journal(
        "SYSLOG_IDENTIFIER=pam_nextpay")[-1]["_BOOT_ID"])
    signins = [e for e in entries if e["NEXTPAY_EVENT"] == "signin"]
    counted = {}
    for e in signins:
        labels = (e["NEXTPAY_RESULT"], e.get("NEXTPAY_METHOD", ""), e["NEXTPAY_SERVICE"])
        counted[labels] = counted.get(labels, 0) + 1
    exposed = {(s.labels["result"], s.labels["method"], s.labels["service"]): s.value
               for s in families["nextpay_signins"].samples}
    check(exposed == counted, f"sign-ins exposed {exposed}, in the journal {counted}")
    hist = [s for s in families["nextpay_approval_wait_seconds"].samples
            if s.labels.get("result") == "success"]
    buckets = [s.value for s in hist if s.name.endswith("_bucket")]
    check(buckets == sorted(buckets), f"buckets not cumulative: {buckets}")
    waits = [e for e in signins if e["NEXTPAY_RESULT"] == "success" and "NEXTPAY_WAIT_MS" in e
             and e.get("NEXTPAY_METHOD") == "device-code"]
    count = next(s.value for s in hist if s.name.endswith("_count"))
    check(count == len(waits) == buckets[-1], f"{count} waits exposed, {len(waits)} logged")
    kinds = {"nextpay_cache_hits": sum(1 for e in signins if e.get("NEXTPAY_METHOD") ==
                                       "cached-approval" and e["NEXTPAY_RESULT"] == "success"),
             "nextpay_helper_failures": sum(e["NEXTPAY_EVENT"] == "helper-failed" for e in entries),
             "nextpay_config_errors": sum(e["NEXTPAY_EVENT"] == "config-error" for e in entries),
             "nextpay_verification_hosts_refused": sum(e["NEXTPAY_EVENT"] == "host-refused"
                                                       for e in entries),
             "nextpay_breakglass_opened": sum(e["NEXTPAY_EVENT"] == "breakglass-opened"
                                              for e in entries),
             "nextpay_breakglass_refused": sum(e["NEXTPAY_EVENT"] == "breakglass-refused"
                                               for e in entries)}
    for name, want in kinds.items():
        got = families[name].samples[0].value
        check(got == want and want > 0, f"{name} {got}, the journal has {want}")
    refusals = {s.labels["cause"]: s.value for s in families["nextpay_cache_refused"].samples}
    check(refusals.get("revoked") == 1, f"cache refusals {refusals}")


def test_example_timer_writes_the_textfile(env: Env):
    """packaging/examples/nextpay-metrics.service's command, into a directory of ours."""
    from prometheus_client.parser import text_string_to_metric_families

    with open(os.path.join(REPO, "packaging", "examples", "nextpay-metrics.service")) as f:
        command = re.search(r"(?m)^ExecStart=/bin/sh -c '(.*)'$", f.read()).group(1)
    out = os.path.join(env.tmp, "textfile")
    os.makedirs(out)
    done = run(["/bin/sh", "-c", command.replace("/var/lib/prometheus/node-exporter", out)
                .replace("/usr/sbin/nextpayctl", NEXTPAYCTL)])
    check(done.returncode == 0, f"{command}: {done.stderr}")
    check(os.listdir(out) == ["nextpay.prom"], f"left in the directory: {os.listdir(out)}")
    with open(os.path.join(out, "nextpay.prom")) as f:
        names = {family.name for family in text_string_to_metric_families(f.read())}
    check("nextpay_signins" in names, f"families: {names}")


def test_without_a_journal(env: Env):
    """Both commands say so, with their own exit status."""
    for command in ("log", "metrics"):
        out = run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   "mount -t tmpfs none /run/log && mount -t tmpfs none /var/log/journal && "
                   f'exec "$0" {command}', NEXTPAYCTL])
        check(out.returncode == 3, f"{command}: exit {out.returncode}: {out.stderr}")
        check("no systemd journal on this host" in out.stderr and not out.stdout,
              f"{command}: {out.stdout}{out.stderr}")


def test_no_secret_reaches_the_journal(env: Env):
    """Not a code, a URL with one, a token or an API key, in any field of any entry."""
    # Every entry a process sent (the kernel's own, the machine's, are not ours to judge).
    export = subprocess.run(["journalctl", "--no-pager", "-o", "export", "_TRANSPORT=journal",
                             "_TRANSPORT=syslog", "_TRANSPORT=stdout"], capture_output=True,
                            check=True, timeout=60).stdout
    codes = [c["code"] for c in env.mock.stats()["codes"]]
    check(len(codes) >= 5, f"only {len(codes)} codes were made")
    for code in codes:
        check(code.encode() not in export, f"code {code} in the journal")
    for secret in (b"code=", API_KEY.encode(), b"npk_", b"Bearer"):
        at = export.find(secret)
        check(at < 0, f"{secret!r} in the journal: ...{export[max(0, at - 300):at + 100]!r}")
    check(not re.search(rb"eyJ[A-Za-z0-9_-]{4,}\.", export), "a JWT-shaped token in the journal")
    check(b"NEXTPAY_SIGNIN_ID=" in export, "the journal holds none of the module's events")


TESTS = [
    test_success_carries_every_field,
    test_who_signed_in_as_root_today,
    test_denial_reference_finds_its_event,
    test_expiry,
    test_identity_not_mapped,
    test_unreachable_api,
    test_config_error,
    test_verification_host_refused,
    test_helper_broke_the_protocol,
    test_helper_killed_by_sigsys,
    test_offline_reuse_is_a_warning,
    test_cache_reuse_and_a_revoked_entry,
    test_cache_swept,
    test_breakglass_events,
    test_api_key_typed_at_the_prompt,
    test_fields_cannot_be_forged,
    test_log_syslog_keeps_todays_line,
    test_journald_gone_falls_back_to_syslog,
    test_catalog_explains_each_event,
    test_nextpayctl_log,
    test_nextpayctl_metrics,
    test_example_timer_writes_the_textfile,
    test_without_a_journal,
    test_no_secret_reaches_the_journal,
]

if __name__ == "__main__":
    # Everything from here on happens in a mount namespace of its own.
    in_private_mount_namespace()
    sys.exit(run_tests("journal", TESTS, fixture=fixture, requires_root=True, needs_pexpect=False,
                       requires=("pamtester", "journalctl", "unshare", "mount", JOURNALD),
                       built=(MODULE, HELPER, NEXTPAYCTL, FAKE_HELPER, PRINT_EVENTS, MAN_PAGE)))
