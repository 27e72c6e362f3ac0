#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Tests of build/nextpayctl, the real binary, against the HTTPS mock API.

    /usr/bin/python3 tests/ctl/ctl_test.py [NAME-SUBSTRING ...]

Needs build/nextpayctl, build/nextpay-helper, build/tests/ctl-cache-writer and
build/tests/mockctl (`make all tests`; NP_BUILD names another build).  Override the
first three with NP_CTL, NP_HELPER and NP_CACHE_WRITER.  Runs under tests/lib/runner.py
(cmocka-style lines, a time limit per test); exits 1 when any test failed.  Passes as
root (CI) and as an ordinary user.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lib.mock import MOCKCTL, Mock, mock_api  # noqa: E402
from lib.paths import BUILD  # noqa: E402
from lib.runner import Skip, run_tests  # noqa: E402

CTL = os.environ.get("NP_CTL", os.path.join(BUILD, "nextpayctl"))
HELPER = os.environ.get("NP_HELPER", os.path.join(BUILD, "nextpay-helper"))
WRITER = os.environ.get("NP_CACHE_WRITER", os.path.join(BUILD, "tests", "ctl-cache-writer"))
# Stands in for the helper and leaves a file "report" beside itself when it is started.
FAKE_HELPER = os.path.join(BUILD, "tests", "fake-helper")
AUTO_USER = "usr_demo"          # the mock's approving identity; e-mail demo@example.com
TOKEN_RE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
RUN_TIMEOUT = 60


class Env:
    """One temporary setup: a mock, and config files that point at it."""

    def __init__(self, base: str, mock: Mock):
        self.base = base
        self.mock = mock
        self.n = 0

    def fresh_dir(self) -> str:
        self.n += 1
        d = os.path.join(self.base, f"t{self.n}")
        os.mkdir(d)
        os.chmod(d, 0o755)
        return d

    def write(self, path: str, text: str | bytes, mode: int = 0o644) -> str:
        data = text.encode() if isinstance(text, str) else text
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def setup(self, usermap: str = f"{AUTO_USER} root\n", extra: dict | None = None,
              drop: tuple = ()) -> tuple[str, str]:
        """A directory with a good config (plus extra settings, minus drop); returns (dir, conf)."""
        d = self.fresh_dir()
        settings = {
            "api_url": self.mock.url,
            "ca_file": self.mock.ca_cert,
            "usermap": self.write(os.path.join(d, "users"), usermap),
            "helper": HELPER,
            "cache_key": os.path.join(d, "key"),
            "cache_dir": os.path.join(d, "cache"),
            "poll_interval": "1",
            "connect_timeout": "3",
            "request_timeout": "5",
        }
        settings.update(extra or {})
        for key in drop:
            settings.pop(key, None)
        text = "".join(f"{k} = {v}\n" for k, v in settings.items())
        return d, self.write(os.path.join(d, "conf"), text)


def run(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([CTL, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def expect_rc(p: subprocess.CompletedProcess, rc: int) -> None:
    if p.returncode != rc:
        raise AssertionError(f"exit {p.returncode}, expected {rc}\n--- stdout:\n{p.stdout}"
                             f"--- stderr:\n{p.stderr}")


def expect_in(needle: str, text: str) -> None:
    if needle not in text:
        raise AssertionError(f"{needle!r} not in:\n{text}")


def expect_line(pattern: str, text: str) -> str:
    """A line matching the regular expression pattern, which must be there."""
    for line in text.splitlines():
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r} in:\n{text}")


def problems(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("problem:")]


def tokens_issued(mock: Mock) -> set[str]:
    """Every session token the mock handed out that the helper then used on /auth/me."""
    found = set()
    for entry in mock.stats()["log"]:
        auth = entry.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            found.add(auth[7:].strip())
    return found


def account_exists(name: str) -> bool:
    import pwd
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def me() -> str:
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


# ---- help and usage -------------------------------------------------------

def test_help_and_usage(env: Env) -> None:
    expect_rc(run("--help"), 0)
    for cmd in (["keygen"], ["check"], ["login"], ["cache"], ["cache", "list"],
                ["cache", "purge"], ["log"], ["metrics"]):
        p = run(*cmd, "--help")
        expect_rc(p, 0)
        expect_in("Usage: nextpayctl", p.stdout)
    expect_rc(run(), 2)
    p = run("frobnicate")
    expect_rc(p, 2)
    expect_in("unknown command", p.stderr)
    p = run("check", "--bogus")
    expect_rc(p, 2)
    expect_in("unknown option --bogus", p.stderr)
    expect_rc(run("check", "--config"), 2)
    expect_rc(run("check", "--config", "/a", "--config", "/b"), 2)
    expect_rc(run("login", "extra"), 2)
    expect_rc(run("cache"), 2)
    expect_rc(run("cache", "list", "alice"), 2)
    p = run("log", "--since", "last tuesday")
    expect_rc(p, 2)
    expect_in("--since: cannot read", p.stderr)
    expect_rc(run("log", "--json", "extra"), 2)
    expect_rc(run("metrics", "extra"), 2)


def journal_files() -> list[str]:
    found = []
    for top in ("/run/log/journal", "/var/log/journal"):
        for directory, _, files in os.walk(top):
            found += [os.path.join(directory, f) for f in files if f.endswith(".journal")]
    return found


def test_log_and_metrics_without_a_journal(env: Env) -> None:
    """A clear message and exit status 3 (the journal suite has the journal itself)."""
    if journal_files():
        raise Skip("this machine keeps a journal: tests/journal/journal_test.py checks it")
    for command in ("log", "metrics"):
        p = run(command)
        expect_rc(p, 3)
        expect_in("no systemd journal on this host", p.stderr)
        assert p.stdout == "", p.stdout


# ---- keygen -----------------------------------------------------------------

def test_keygen_creates_private_key(env: Env) -> None:
    d = env.fresh_dir()
    key = os.path.join(d, "pam_nextpay.key")
    old_umask = os.umask(0o022)
    try:
        p = run("keygen", "--key", key)
    finally:
        os.umask(old_umask)
    expect_rc(p, 0)
    expect_in(key, p.stdout)
    st = os.lstat(key)
    assert stat.S_ISREG(st.st_mode), "not a regular file"
    assert stat.S_IMODE(st.st_mode) == 0o600, f"mode {stat.S_IMODE(st.st_mode):04o}"
    assert st.st_uid == os.geteuid(), "wrong owner"
    data = open(key, "rb").read()
    assert len(data) == 32, f"{len(data)} bytes"
    assert data != bytes(32), "all zero"
    assert os.listdir(d) == ["pam_nextpay.key"], f"left behind: {os.listdir(d)}"


def test_keygen_refuses_to_overwrite(env: Env) -> None:
    d = env.fresh_dir()
    key = os.path.join(d, "key")
    expect_rc(run("keygen", "--key", key), 0)
    before = open(key, "rb").read()
    p = run("keygen", "--key", key)
    expect_rc(p, 1)
    expect_in("already exists", p.stderr)
    assert open(key, "rb").read() == before, "the key changed"
    # A symlink in its place is refused too, not followed.
    link = os.path.join(d, "link")
    os.symlink(os.path.join(d, "elsewhere"), link)
    expect_rc(run("keygen", "--key", link), 1)
    assert not os.path.exists(os.path.join(d, "elsewhere")), "followed the symlink"
    assert sorted(os.listdir(d)) == ["key", "link"], f"left behind: {os.listdir(d)}"


def test_keygen_path_from_config(env: Env) -> None:
    d, conf = env.setup()
    p = run("keygen", "--config", conf)
    expect_rc(p, 0)
    assert len(open(os.path.join(d, "key"), "rb").read()) == 32
    p = run("keygen", "--key", os.path.join(d, "no-such-dir", "key"))
    expect_rc(p, 1)
    expect_in("no-such-dir", p.stderr)


# ---- check ------------------------------------------------------------------

def test_check_good_setup(env: Env) -> None:
    d, conf = env.setup()
    expect_rc(run("keygen", "--config", conf), 0)
    p = run("check", "--config", conf)
    expect_rc(p, 0)
    assert problems(p.stdout) == [], p.stdout
    expect_line(r"^ok: settings", p.stdout)
    expect_line(r"^ok: identity map .*1 rule", p.stdout)
    expect_line(r"^ok: cache_key .*32 bytes.*0600", p.stdout)
    expect_line(r"^ok: helper .*executable", p.stdout)
    expect_line(r"^ok: helper_user", p.stdout)
    expect_line(r"^ok: api_url .*verified TLS", p.stdout)
    # The probe went through the helper to the API, without credentials.
    me_calls = [e for e in env.mock.stats()["log"] if e.get("endpoint") == "me"]
    assert me_calls and me_calls[-1].get("authorization") is None, me_calls[-1:]


def test_check_says_offline_grace_is_on(env: Env) -> None:
    d, conf = env.setup(extra={"offline_grace": "900"})
    expect_rc(run("keygen", "--config", conf), 0)
    p = run("check", "--config", conf)
    expect_rc(p, 0)
    line = expect_line(r"^ok: offline_grace = 900: ", p.stdout)
    expect_in("cached-offline", line)
    d, conf = env.setup()
    p = run("check", "--config", conf)
    assert "offline_grace" not in p.stdout, p.stdout


def test_check_missing_key_is_a_warning(env: Env) -> None:
    d, conf = env.setup()
    p = run("check", "--config", conf)
    expect_rc(p, 0)
    line = expect_line(r"^warning: cache_key", p.stdout)
    expect_in("nextpayctl keygen", line)


def test_check_group_writable_usermap(env: Env) -> None:
    d, conf = env.setup()
    users = os.path.join(d, "users")
    os.chmod(users, 0o664)
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    line = expect_line(r"^problem: identity map " + re.escape(users), p.stdout)
    expect_in("writable by group or others (mode 0664)", line)
    expect_in(f"fix: chmod 0644 {users}", line)
    assert len(problems(p.stdout)) == 1, p.stdout


def test_check_bad_usermap_line(env: Env) -> None:
    d, conf = env.setup(usermap="usr_demo root\nthis is wrong\n")
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: identity map: .*users:2: ", p.stdout)


def test_check_unknown_setting(env: Env) -> None:
    d, conf = env.setup(extra={"bogus_setting": "1", "poll_interval": "soon"})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    # Every bad line, by its number; a known setting by its name, an unknown one not at all.
    line = expect_line(r'^problem: .*conf:\d+: unknown setting —', p.stdout)
    # The reference for every setting is the manual page, which the packages install.
    expect_in("pam_nextpay.conf(5) lists every setting", line)
    assert "bogus_setting" not in p.stdout, p.stdout
    expect_line(r'^problem: .*conf:\d+: bad value for "poll_interval"', p.stdout)
    # The lines that are fine do not count: nothing else is checked with them.
    _skipped_rest(p.stdout)
    assert "api_url" not in "".join(problems(p.stdout)), p.stdout
    assert not re.search(r"(?m)^ok: (helper|api_url)", p.stdout), p.stdout


def test_check_missing_config(env: Env) -> None:
    d = env.fresh_dir()
    p = run("check", "--config", os.path.join(d, "nothing.conf"))
    expect_rc(p, 1)
    expect_line(r"^problem: config file .*nothing.conf: does not exist", p.stdout)


def test_check_wrong_owner(env: Env) -> None:
    if os.geteuid() != 0:
        raise Skip("needs root to give a file to another user")
    d, conf = env.setup()
    users = os.path.join(d, "users")
    os.chown(users, 65534, -1)
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    line = expect_line(r"^problem: identity map " + re.escape(users) + r": owned by .*expected root",
                       p.stdout)
    expect_in(f"fix: chown root {users}", line)


def test_check_missing_helper(env: Env) -> None:
    d, conf = env.setup(extra={"helper": "/nonexistent/nextpay-helper"})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    line = expect_line(r"^problem: helper /nonexistent/nextpay-helper: does not exist", p.stdout)
    expect_in("fix:", line)


def test_check_unsafe_helper(env: Env) -> None:
    copy = os.path.join(env.fresh_dir(), "helper")
    shutil.copy(HELPER, copy)
    os.chmod(copy, 0o775)
    d, conf = env.setup(extra={"helper": copy})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: helper .*writable by group or others \(mode 0775\).*chmod 0755", p.stdout)


def test_check_untrusted_ca(env: Env) -> None:
    # No ca_file: the system trust store, which does not know the mock's CA.
    d, conf = env.setup(drop=("ca_file",))
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    line = expect_line(r"^problem: api_url .*TLS", p.stdout)
    expect_in("fix:", line)
    expect_line(r"^ok: ca_file: not set", p.stdout)


def test_check_pin_mismatch(env: Env) -> None:
    d, conf = env.setup(extra={"pinned_pubkey": env.mock.otherpin})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    line = expect_line(r"^problem: api_url .*TLS", p.stdout)
    expect_in("pinned_pubkey", line)
    d, conf = env.setup(extra={"pinned_pubkey": env.mock.pin})
    p = run("check", "--config", conf)
    expect_rc(p, 0)
    expect_line(r"^ok: api_url .*verified TLS", p.stdout)


def test_check_unreachable(env: Env) -> None:
    d, conf = env.setup(extra={"api_url": "https://127.0.0.1:9/v1", "connect_timeout": "2"})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: api_url https://127\.0\.0\.1:9/v1: cannot be reached", p.stdout)


def test_check_bad_key(env: Env) -> None:
    d, conf = env.setup()
    key = os.path.join(d, "key")
    env.write(key, os.urandom(32), 0o644)
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: cache_key .*\(mode 0644\).*chmod 0600", p.stdout)
    env.write(key, os.urandom(16), 0o600)
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: cache_key .*16 bytes, expected 32", p.stdout)


def test_check_cache_dir_mode(env: Env) -> None:
    d, conf = env.setup()
    os.mkdir(os.path.join(d, "cache"), 0o755)
    os.chmod(os.path.join(d, "cache"), 0o755)
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: cache_dir .*\(mode 0755\).*chmod 0700", p.stdout)
    d, conf = env.setup(extra={"cache_dir": os.path.join(env.fresh_dir(), "missing", "cache")})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: cache_dir .*/missing/cache: its parent .*/missing does not exist",
                p.stdout)


def test_check_unknown_helper_user(env: Env) -> None:
    d, conf = env.setup(extra={"helper_user": "no-such-user-np"})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    expect_line(r"^problem: helper_user no-such-user-np: no such account", p.stdout)


# ---- check on a configuration it may not trust ------------------------------------------
#
# What an unsafe configuration file names (a helper, a map, a CA file) is never
# executed, opened or read, and nothing of the file itself is printed: whoever could
# write it could otherwise have root run a program, or read a root-only file back.

def _trace_helper(env: Env) -> tuple[str, str]:
    """A helper that leaves a trace when started: (its path, the file it would write)."""
    d = env.fresh_dir()
    helper = os.path.join(d, "nextpay-helper")
    shutil.copy(FAKE_HELPER, helper)
    os.chmod(helper, 0o755)
    return helper, os.path.join(d, "report")


def _unsafe_configs(env: Env, text: str):
    """The same text in a file owned by nobody, and in a root-owned file of mode 0666."""
    d = env.fresh_dir()
    by_nobody = env.write(os.path.join(d, "by-nobody.conf"), text)
    os.chown(by_nobody, 65534, -1)
    yield by_nobody, "owned by"
    yield env.write(os.path.join(d, "mode-0666.conf"), text, 0o666), "mode 0666"


def _skipped_rest(out: str) -> None:
    line = expect_line(r"^warning: .*not checked", out)
    expect_in("helper", line)


def test_check_never_runs_the_helper_of_an_unsafe_config(env: Env) -> None:
    if os.geteuid() != 0:
        raise Skip("needs root: a file owned by another user, and check as the module's root")
    d = env.fresh_dir()
    pwned = os.path.join(d, "PWNED")
    helper, report = _trace_helper(env)
    # The reviewer's reproduction: dash reads the config line on its stdin as a script.
    for text in (f"api_url = https://127.0.0.1:1/$(id>{pwned})\nhelper = /usr/bin/dash\n",
                 f"api_url = {env.mock.url}\nca_file = {env.mock.ca_cert}\nhelper = {helper}\n"):
        for conf, why in _unsafe_configs(env, text):
            p = run("check", "--config", conf)
            expect_rc(p, 1)
            assert not os.path.exists(pwned), f"check ran dash as root:\n{p.stdout}"
            assert not os.path.exists(report), f"check started {helper}:\n{p.stdout}"
            expect_line(r"^problem: config file " + re.escape(conf) + r": .*" + why, p.stdout)
            _skipped_rest(p.stdout)
            assert "/usr/bin/dash" not in p.stdout + p.stderr, p.stdout
            assert helper not in p.stdout + p.stderr, p.stdout


def test_check_never_runs_the_helper_of_a_config_that_does_not_load(env: Env) -> None:
    # A safe file with one bad line: what its good lines say is not trusted either.
    helper, report = _trace_helper(env)
    d, conf = env.setup(extra={"helper": helper, "poll_interval": "soon"})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    assert not os.path.exists(report), f"check started {helper}:\n{p.stdout}"
    expect_line(r'^problem: .*conf:\d+: bad value for "poll_interval"', p.stdout)
    _skipped_rest(p.stdout)


SECRET_LINES = ("c2VjcmV0LWtleS1tYXRlcmlhbC1kby1ub3QtcHJpbnQtMDEyMzQ1Njc4OQ\n"
                "hunter2-the-root-password = swordfish-42\n")


def _nothing_of(secret: str, out: str) -> None:
    for word in re.findall(r"[A-Za-z0-9+/=_-]{6,}", secret):
        for i in range(len(word) - 5):
            assert word[i:i + 6] not in out, f"{word[i:i + 6]!r} of the secret printed:\n{out}"


def test_check_prints_nothing_of_a_symlinked_config(env: Env) -> None:
    d = env.fresh_dir()
    secret = env.write(os.path.join(d, "root-only.key"), SECRET_LINES, 0o600)
    link = os.path.join(d, "pam_nextpay.conf")
    os.symlink(secret, link)
    p = run("check", "--config", link)
    expect_rc(p, 1)
    _nothing_of(SECRET_LINES, p.stdout + p.stderr)
    expect_line(r"^problem: config file " + re.escape(link) + r": is a symbolic link", p.stdout)
    _skipped_rest(p.stdout)


def test_check_prints_line_numbers_not_lines(env: Env) -> None:
    # A safe file holding what an administrator pasted by mistake: the numbers, not the text.
    d, conf = env.setup()
    with open(conf, "a") as f:
        f.write(SECRET_LINES)
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    lines = len(open(conf).read().splitlines())
    expect_line(rf"^problem: {re.escape(conf)}:{lines - 1}: expected \"key = value\"", p.stdout)
    expect_line(rf"^problem: {re.escape(conf)}:{lines}: unknown setting( —|$)", p.stdout)
    _nothing_of(SECRET_LINES, p.stdout + p.stderr)


# ---- a map that locks everyone out ----------------------------------------------------------

@contextlib.contextmanager
def pam_d_file(text: str):
    """/etc/pam.d/nextpay-ctltest-XXXX with text; removed always."""
    from lib.system import random_suffix, write_root_file
    path = os.path.join("/etc/pam.d", f"nextpay-ctltest-{random_suffix()}")
    assert not os.path.lexists(path), f"{path} exists already"
    try:
        yield write_root_file(path, text)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def test_check_empty_map_in_a_pam_stack_is_a_problem(env: Env) -> None:
    if os.geteuid() != 0:
        raise Skip("needs root: writes a file in /etc/pam.d")
    d, conf = env.setup(usermap="# nobody yet\n")
    expect_rc(run("keygen", "--config", conf), 0)
    # No stack uses this configuration: only a warning.
    p = run("check", "--config", conf)
    expect_rc(p, 0)
    expect_line(r"^warning: identity map .*: no rules, so nobody can sign in", p.stdout)
    # A commented line, another configuration, an account line: still only a warning.
    with pam_d_file(f"# auth required pam_nextpay.so config={conf}\n"
                    f"auth required pam_nextpay.so config={conf}.other\n"
                    f"account required pam_nextpay.so config={conf}\n"):
        p = run("check", "--config", conf)
        expect_rc(p, 0)
        assert problems(p.stdout) == [], p.stdout
    # A stack that uses it: everyone there is locked out, root at the console included.
    with pam_d_file("#%PAM-1.0\n# NextPay first\n"
                    "-auth [success=done ignore=ignore \\\n"
                    f"      default=die] {BUILD}/pam_nextpay.so debug config={conf}\n"
                    "auth required pam_unix.so\n") as stack:
        p = run("check", "--config", conf)
        expect_rc(p, 1)
        line = expect_line(r"^problem: identity map .*: no rules, yet 1 auth line of /etc/pam.d "
                           r"uses the module with this configuration \(" + re.escape(stack) +
                           r":3\): every sign-in there is refused, root's included", p.stdout)
        expect_in("fix: add lines", line)
        # With a rule, nothing to say.
        env.write(os.path.join(d, "users"), f"{AUTO_USER} root\n")
        p = run("check", "--config", conf)
        expect_rc(p, 0)
        assert "no rules" not in p.stdout, p.stdout


# ---- secrets that others could read -------------------------------------------------------

def test_check_usermap_readable_by_others_is_a_warning(env: Env) -> None:
    d, conf = env.setup()
    users = os.path.join(d, "users")
    p = run("check", "--config", conf)
    expect_rc(p, 0)
    line = expect_line(r"^warning: identity map " + re.escape(users) +
                       r": readable by every local user \(mode 0644\)", p.stdout)
    expect_in(f"fix: chgrp root {users} && chmod 0640 {users}", line)
    os.chmod(users, 0o600)
    p = run("check", "--config", conf)
    expect_rc(p, 0)
    assert not re.search(r"(?m)^warning: identity map .*readable", p.stdout), p.stdout
    if os.geteuid() == 0:
        os.chmod(users, 0o640)
        os.chown(users, 0, 0)
        p = run("check", "--config", conf)
        assert not re.search(r"(?m)^warning: identity map .*readable", p.stdout), p.stdout
        os.chown(users, 0, 65534)
        p = run("check", "--config", conf)
        expect_line(r"^warning: identity map .*: readable by group \S+ \(mode 0640\)", p.stdout)


PROXY_SECRET = "np-proxy-secret-42"


def test_check_proxy_credentials_only_from_a_root_only_file(env: Env) -> None:
    d, conf = env.setup(extra={"proxy": f"http://np-user:{PROXY_SECRET}@127.0.0.1:9",
                               "connect_timeout": "2"})
    p = run("check", "--config", conf)
    expect_rc(p, 1)
    line = expect_line(r'^problem: .*conf: "proxy" holds credentials \(user:password@\), but '
                       r"others can read the file \(mode 0644", p.stdout)
    expect_in(f"chmod 0600 {conf}", line)
    _skipped_rest(p.stdout)
    assert PROXY_SECRET not in p.stdout + p.stderr, p.stdout
    os.chmod(conf, 0o600)
    p = run("check", "--config", conf)
    expect_line(r"^ok: settings: all valid", p.stdout)
    # The probe goes to that proxy, which is not there; the password is never shown.
    expect_line(r"^problem: api_url .*: cannot be reached", p.stdout)
    assert PROXY_SECRET not in p.stdout + p.stderr, p.stdout


# ---- login ------------------------------------------------------------------

def greeter_stacks(env: Env, conf: str, files: dict[str, str]) -> tuple[str, str]:
    """A PAM directory of files ({name: text}, @MODULE@ and @CONF@ filled in); (dir, stdout)."""
    pam_dir = os.path.join(env.fresh_dir(), "pam.d")
    os.mkdir(pam_dir)
    module = "/usr/lib/x86_64-linux-gnu/security/pam_nextpay.so"
    for name, text in files.items():
        env.write(os.path.join(pam_dir, name),
                  text.replace("@MODULE@", module).replace("@CONF@", conf))
    p = run("check", "--config", conf, "--pam-dir", pam_dir)
    expect_rc(p, 0)
    return pam_dir, p.stdout


def test_check_greeter_stack_forcing_prompt(env: Env) -> None:
    d, conf = env.setup()
    pam_dir, out = greeter_stacks(env, conf, {
        "lightdm": "#%PAM-1.0\nauth requisite pam_nologin.so\n"
                   "auth [success=ok default=die] @MODULE@ config=@CONF@ wait=prompt\n",
    })
    line = expect_line(r"^warning: display manager stack lightdm ", out)
    expect_in(f"{pam_dir}/lightdm line 3", line)
    expect_in("wait = prompt on the module line", line)
    expect_in("the person never sees the code", line)
    expect_in("fix: remove wait=prompt from that line", line)


def test_check_greeter_stack_prompt_from_the_config_file(env: Env) -> None:
    # The Debian way: the display manager includes common-auth, whose line has no wait=.
    d, conf = env.setup(extra={"wait": "prompt"})
    pam_dir, out = greeter_stacks(env, conf, {
        "gdm-password": "auth include common-auth\n",
        "common-auth": "auth [success=done default=ignore] @MODULE@ config=@CONF@\n"
                       "auth required pam_unix.so\n",
        "sshd": "auth required @MODULE@ config=@CONF@\n",
    })
    line = expect_line(r"^warning: display manager stack gdm-password ", out)
    expect_in(f"{pam_dir}/common-auth line 1", line)
    expect_in("wait = prompt from its settings", line)
    expect_in(f"set wait = auto in {conf}", line)
    # sshd is no display manager: prompt mode is right there.
    assert "display manager stack sshd" not in out and f"{pam_dir}/sshd" not in out, out


def test_check_greeter_stack_auto_is_fine(env: Env) -> None:
    d, conf = env.setup()
    pam_dir, out = greeter_stacks(env, conf, {
        "lightdm": "@include common-auth\n-auth optional pam_gnome_keyring.so\n",
        "common-auth": "auth required @MODULE@ config=@CONF@ debug\n",
        "sddm": "auth required pam_unix.so\n",
    })
    expect_line(rf"^ok: display manager stack lightdm \({re.escape(pam_dir)}/common-auth line "
                r"1\): wait = auto$", out)
    assert "warning: display manager" not in out and "sddm" not in out, out


def test_check_greeter_stack_that_does_not_load(env: Env) -> None:
    d, conf = env.setup()
    pam_dir, out = greeter_stacks(env, conf, {
        "lightdm": "auth required @MODULE@ config=@CONF@ wait=sometimes\n",
        "xdm": "@include xdm\n",     # an include loop ends, and says nothing
    })
    line = expect_line(r"^warning: display manager stack lightdm .*settings do not load", out)
    expect_in("wait", line)


def test_login_approved_and_mapped(env: Env) -> None:
    account = me()
    d, conf = env.setup(usermap=f"{AUTO_USER} {account}\n")
    before = tokens_issued(env.mock)
    p = run("login", "--config", conf, "--user", account)
    expect_rc(p, 0)
    # The module's words; the service is nextpayctl, and there is no remote address.
    expect_line(r"^NextPay sign-in to .* as " + re.escape(account) + r" \(nextpayctl\)\.$",
                p.stdout)
    expect_line(r"^Open https://127\.0\.0\.1:\d+/auth/device\?code=[A-Z0-9]+$", p.stdout)
    expect_line(r"^and approve code [A-Z0-9]+ \(valid for \d+ (seconds|minutes)\)\.$", p.stdout)
    expect_line(r"^Approve only if you started this sign-in yourself\.$", p.stdout)
    expect_line(r"user id: usr_demo$", p.stdout)
    expect_line(r"e-mail:  demo@example\.com$", p.stdout)
    expect_line(r"name:    Demo Person$", p.stdout)
    expect_line(r"may sign in as " + re.escape(account), p.stdout)
    new = tokens_issued(env.mock) - before
    assert new, "the mock saw no token used"
    for token in new:
        assert token not in p.stdout and token not in p.stderr, "the token was printed"
    assert not TOKEN_RE.search(p.stdout + p.stderr), "something token-shaped was printed"


def test_login_default_account_is_the_caller(env: Env) -> None:
    account = me()
    d, conf = env.setup(usermap=f"{AUTO_USER} {account}\n")
    p = run("login", "--config", conf)
    expect_rc(p, 0)
    expect_in(f" as {account} (nextpayctl).", p.stdout)


def test_login_approved_not_mapped(env: Env) -> None:
    other = "nobody" if account_exists("nobody") else "root"
    d, conf = env.setup(usermap=f"usr_someone_else {other}\n")
    p = run("login", "--config", conf, "--user", other)
    expect_rc(p, 1)
    expect_line(r"user id: usr_demo$", p.stdout)
    expect_line(r"^NextPay account demo@example\.com may not sign in as " + re.escape(other),
                p.stdout)
    expect_line(r"^Reference: [0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$", p.stdout)


def test_login_localpart_never_names_root(env: Env) -> None:
    # What the module decides: "Root@Example.com" is no licence to be root.
    env.mock.add_user(id="usr_ctl_rootmail", email="Root@Example.com")
    d, conf = env.setup(usermap="# nothing\n", extra={"map_email_localpart": "yes",
                                                    "allowed_domains": "example.com"})
    env.mock.config({"auto": {"action": "approve", "user": "usr_ctl_rootmail", "after": 0.3}})
    try:
        p = run("login", "--config", conf, "--user", "root")
    finally:
        env.mock.config({"auto": {"action": "approve", "user": AUTO_USER, "after": 0.3}})
    expect_rc(p, 1)
    expect_line(r"^NextPay account Root@Example\.com may not sign in as root on this host "
                r"\(e-mail local part never names root or a system account\)\.$", p.stdout)


def test_login_email_rule(env: Env) -> None:
    account = me()
    d, conf = env.setup(usermap=f"Demo@Example.com {account}\n")
    p = run("login", "--config", conf, "--user", account)
    expect_rc(p, 0)
    expect_in("e-mail rule", p.stdout)


def test_login_qr(env: Env) -> None:
    account = me()
    d, conf = env.setup(usermap=f"{AUTO_USER} {account}\n", extra={"qr": "yes"})
    p = run("login", "--config", conf, "--user", account)
    if p.returncode == 1 and "no QR code support" in p.stderr:
        raise Skip("built without libqrencode")
    expect_rc(p, 0)
    blocks = [line for line in p.stdout.splitlines() if "\u2588" in line]
    assert len(blocks) >= 10, f"no QR code drawn:\n{p.stdout}"
    # The drawing comes before the instructions, as the module shows them.
    assert p.stdout.index("\u2588") < p.stdout.index("NextPay sign-in to"), p.stdout


def test_login_denied(env: Env) -> None:
    d, conf = env.setup()
    env.mock.config({"auto": {"action": "deny", "after": 0.3}})
    try:
        p = run("login", "--config", conf, "--user", "root")
    finally:
        env.mock.config({"auto": {"action": "approve", "after": 0.3}})
    expect_rc(p, 1)
    expect_in("The sign-in was denied in NextPay.", p.stderr)
    assert "user id:" not in p.stdout, p.stdout
    # As at a login: the refusal ends with the sign-in's reference.
    assert re.search(r"denied in NextPay\.\nReference: [0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\n$",
                     p.stderr), p.stderr


def test_login_unknown_account(env: Env) -> None:
    d, conf = env.setup()
    p = run("login", "--config", conf, "--user", "no-such-user-np")
    expect_rc(p, 1)
    expect_in("no local account", p.stderr)


def test_login_verification_host_not_allowed(env: Env) -> None:
    # The mock's verification URL points at 127.0.0.1, which this list does not name.
    d, conf = env.setup(extra={"verification_hosts": "auth.nextpay.world"})
    p = run("login", "--config", conf, "--user", "root")
    expect_rc(p, 1)
    expect_in('host "127.0.0.1", which verification_hosts does not name', p.stderr)
    assert "Open https://" not in p.stdout, p.stdout


def test_login_verification_host_allowed(env: Env) -> None:
    account = me()
    d, conf = env.setup(usermap=f"{AUTO_USER} {account}\n",
                        extra={"verification_hosts": "auth.nextpay.world,127.0.0.1"})
    p = run("login", "--config", conf, "--user", account)
    expect_rc(p, 0)
    expect_line(r"^Open https://127\.0\.0\.1:\d+/auth/device\?code=[A-Z0-9]+$", p.stdout)


def test_login_unreachable(env: Env) -> None:
    d, conf = env.setup(drop=("ca_file",))
    p = run("login", "--config", conf, "--user", "root")
    expect_rc(p, 1)
    expect_in("NextPay could not be reached", p.stderr)
    expect_in("tls", p.stderr)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_login_ctrl_c_stops_the_helper(env: Env) -> None:
    d, conf = env.setup()
    env.mock.config({"auto": None})
    proc = subprocess.Popen([CTL, "login", "--config", conf, "--user", "root"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    helpers: list[int] = []
    try:
        deadline = time.monotonic() + 15
        line = ""
        while "Waiting for your approval" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
        helpers = _children(proc.pid)
        assert helpers, "no helper running while waiting"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        env.mock.config({"auto": {"action": "approve", "after": 0.3}})
    assert proc.returncode == 1, f"exit {proc.returncode}"
    expect_in("Interrupted", err)
    for pid in helpers:
        assert not _alive(pid), f"helper {pid} still running"


# ---- cache --------------------------------------------------------------------

SECRET_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfYWxpY2UifQ.c2VjcmV0LXRva2Vu"


# Two public keys of one connection (AuthenticationMethods publickey,publickey).
SSH_KEYS = ("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s,"
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")


def _cache_setup(env: Env) -> tuple[str, str]:
    d, conf = env.setup()
    expect_rc(run("keygen", "--config", conf), 0)
    cache, key = os.path.join(d, "cache"), os.path.join(d, "key")
    for args, invoker in ((("alice", "session", "sshd", "pts/3", "192.0.2.7", "usr_alice"),
                           ("0", "")),
                          (("alice", "user", "sudo", "", "", "usr_alice"), ("1000", "alice")),
                          (("bob", "session", "login", "tty1", "", "usr_bob"), ("0", "")),
                          (("carol", "key", "sshd", SSH_KEYS, "192.0.2.8", "usr_carol"),
                           ("0", ""))):
        w = subprocess.run([WRITER, cache, key, *args, SECRET_TOKEN, *invoker],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        if w.returncode != 0:
            raise AssertionError(f"cache writer failed: {w.stderr}")
    # One entry nobody can open: sealed under another key, or damaged.
    env.write(os.path.join(cache, "ab" * 32 + ".entry"), os.urandom(300), 0o600)
    return d, conf


def _entry_files(d: str) -> list[str]:
    return sorted(n for n in os.listdir(os.path.join(d, "cache")) if n.endswith(".entry"))


def test_cache_list(env: Env) -> None:
    d, conf = _cache_setup(env)
    p = run("cache", "list", "--config", conf)
    expect_rc(p, 0)
    expect_line(r"^ACCOUNT\s+INVOKER\s+SCOPE\s+SERVICE\s+TTY\s+RHOST\s+NEXTPAY-ID\s+APPROVED"
                r"\s+EXPIRES\s+SSH-KEY$", p.stdout)
    expect_line(r"^alice\s+uid=0\s+session\s+sshd\s+pts/3\s+192\.0\.2\.7\s+usr_alice\s+"
                r"\d{4}-\d\d-\d\dT", p.stdout)
    # Who asked is what an entry serves: the real uid, and PAM_RUSER when set.
    expect_line(r"^alice\s+uid=1000,ruser=alice\s+user\s+sudo\s+-\s+-\s+usr_alice\s", p.stdout)
    expect_line(r"^bob\s+uid=0\s+session\s+login\s+tty1\s+-\s+usr_bob\s.*\s-$", p.stdout)
    # A key scope entry: no terminal, and the keys it is bound to, in order.
    expect_line(r"^carol\s+uid=0\s+key\s+sshd\s+-\s+192\.0\.2\.8\s+usr_carol\s.*\s"
                + re.escape(SSH_KEYS) + "$", p.stdout)
    expect_line(r"^4 entries, 1 unreadable", p.stdout)
    assert SECRET_TOKEN not in p.stdout + p.stderr, "the token was printed"
    assert not TOKEN_RE.search(p.stdout + p.stderr), "something token-shaped was printed"


def test_cache_purge_account(env: Env) -> None:
    d, conf = _cache_setup(env)
    p = run("cache", "purge", "alice", "--config", conf)
    expect_rc(p, 0)
    expect_in("Removed 2 cache entries of account alice.", p.stdout)
    p = run("cache", "list", "--config", conf)
    expect_rc(p, 0)
    assert "alice" not in p.stdout, p.stdout
    expect_line(r"^2 entries, 1 unreadable", p.stdout)
    p = run("cache", "purge", "--config", conf)
    expect_rc(p, 0)
    expect_in("Removed 3 cache entries.", p.stdout)
    assert _entry_files(d) == [], _entry_files(d)


def test_cache_without_key(env: Env) -> None:
    d, conf = _cache_setup(env)
    os.unlink(os.path.join(d, "key"))
    p = run("cache", "list", "--config", conf)
    expect_rc(p, 1)
    expect_in("cannot read the cache key", p.stderr)
    p = run("cache", "purge", "alice", "--config", conf)
    expect_rc(p, 1)
    assert len(_entry_files(d)) == 5, _entry_files(d)
    p = run("cache", "purge", "--config", conf)
    expect_rc(p, 0)
    expect_in("Removed 5 cache entries.", p.stdout)
    assert _entry_files(d) == [], _entry_files(d)


def _write_entry(cache: str, key: str, account: str, tty: str, created_ago: int = 0,
                 ttl: int = 900, token_exp_in: int = 0) -> None:
    """An entry of account's in session scope on tty, approved created_ago seconds ago."""
    w = subprocess.run([WRITER, cache, key, account, "session", "sshd", tty, "", f"usr_{account}",
                        SECRET_TOKEN, "0", "", str(created_ago), str(ttl), str(token_exp_in)],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if w.returncode != 0:
        raise AssertionError(f"cache writer failed: {w.stderr}")


def _new_entry(cache: str, before: set[str]) -> str:
    """The one entry file that is in cache but not in before."""
    (name,) = set(os.listdir(cache)) - before
    return os.path.join(cache, name)


def test_cache_purge_expired(env: Env) -> None:
    d, conf = env.setup()
    expect_rc(run("keygen", "--config", conf), 0)
    cache, key = os.path.join(d, "cache"), os.path.join(d, "key")
    # Kept: entries that can still serve, whatever cache_ttl this configuration has.
    _write_entry(cache, key, "alice", "pts/1")
    _write_entry(cache, key, "alice", "pts/2", created_ago=3000, ttl=86400, token_exp_in=3600)
    good = set(os.listdir(cache))
    # Removed: past the cache_ttl it was stored with; its token expired.
    _write_entry(cache, key, "bob", "pts/3", created_ago=1000, ttl=900)
    _write_entry(cache, key, "bob", "pts/4", created_ago=10, ttl=86400, token_exp_in=-5)
    # Removed: of format version 2, readable by others, a FIFO, a symbolic link, garbage.
    before = set(os.listdir(cache))
    _write_entry(cache, key, "carol", "pts/5")
    old = _new_entry(cache, before)
    with open(old, "r+b") as f:
        f.seek(7)
        f.write(b"\x02")
    before = set(os.listdir(cache))
    _write_entry(cache, key, "carol", "pts/6")
    os.chmod(_new_entry(cache, before), 0o644)
    os.mkfifo(os.path.join(cache, "12" * 32 + ".entry"), 0o600)
    target = env.write(os.path.join(d, "not-in-the-cache"), "keep me\n", 0o600)
    os.symlink(target, os.path.join(cache, "34" * 32 + ".entry"))
    env.write(os.path.join(cache, "ab" * 32 + ".entry"), os.urandom(300), 0o600)
    # An unfinished write over a minute old goes; one of now, and other names, stay.
    stale_tmp = env.write(os.path.join(cache, ".tmp-" + "5" * 16), b"half", 0o600)
    os.utime(stale_tmp, (time.time() - 120, time.time() - 120))
    env.write(os.path.join(cache, ".tmp-" + "6" * 16), b"half", 0o600)
    env.write(os.path.join(cache, "notes.txt"), "mine\n", 0o600)
    env.write(os.path.join(cache, "cd" * 32 + ".entry.bak"), "mine\n", 0o600)
    p = run("cache", "purge", "--expired", "--config", conf)
    expect_rc(p, 0)
    for reason in ("older than the cache_ttl it was stored with", "token expired",
                   "unknown format version", "group or other access in its mode, must be 0600",
                   "not a regular file", "a symbolic link, not a regular file",
                   "not a cache entry"):
        expect_line(r"^Removed [0-9a-f]{16}\.\.\.: " + re.escape(reason) + r"\.$", p.stdout)
    expect_line(r"^Removed \.tmp-5{16}: unfinished write, over a minute old\.$", p.stdout)
    expect_line(r"^Removed 8 stale or unreadable cache files, kept 3\.$", p.stdout)
    assert SECRET_TOKEN not in p.stdout + p.stderr, "the token was printed"
    left = set(os.listdir(cache))
    assert left == good | {".tmp-" + "6" * 16, "notes.txt", "cd" * 32 + ".entry.bak"}, left
    with open(target) as f:
        assert f.read() == "keep me\n", "the link's target was touched"
    p = run("cache", "list", "--config", conf)
    expect_rc(p, 0)
    expect_line(r"^2 entries, 0 unreadable", p.stdout)
    # Nothing more to do the second time.
    p = run("cache", "purge", "--expired", "--config", conf)
    expect_rc(p, 0)
    expect_line(r"^Removed 0 stale or unreadable cache files, kept 3\.$", p.stdout)


def test_cache_purge_expired_needs_the_key(env: Env) -> None:
    d, conf = _cache_setup(env)
    for args in (("purge", "--expired", "alice"), ("list", "--expired"),
                 ("purge", "--expired=yes"), ("purge", "--expired", "--expired")):
        p = run("cache", *args, "--config", conf)
        expect_rc(p, 2)
    os.unlink(os.path.join(d, "key"))
    p = run("cache", "purge", "--expired", "--config", conf)
    expect_rc(p, 1)
    expect_in("cannot tell stale entries from good ones without the cache key", p.stderr)
    assert len(_entry_files(d)) == 5, _entry_files(d)


def test_cache_no_directory(env: Env) -> None:
    d, conf = env.setup()
    p = run("cache", "list", "--config", conf)
    expect_rc(p, 0)
    expect_in("No cache entries", p.stdout)
    p = run("cache", "purge", "--config", conf)
    expect_rc(p, 0)
    expect_in("Removed 0 cache entries", p.stdout)


# ---- runner -----------------------------------------------------------------

TESTS = [fn for name, fn in list(globals().items()) if name.startswith("test_") and callable(fn)]


@contextlib.contextmanager
def fixture():
    """A scratch directory and a mock that approves by itself, shared by every test."""
    base = tempfile.mkdtemp(prefix="nextpayctl-test.")
    os.chmod(base, 0o755)
    try:
        with mock_api(base, "--auto", "approve", "--auto-user", AUTO_USER,
                      "--auto-after", "0.3") as mock:
            yield Env(base, mock)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_tests("nextpayctl", TESTS, fixture=fixture, needs_pexpect=False,
                       built=(CTL, HELPER, WRITER, MOCKCTL, FAKE_HELPER)))
