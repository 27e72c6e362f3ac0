#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Tests of the packages that `make deb` and `make rpm` built (build/deb, build/rpm).

    sudo /usr/bin/python3 tests/package/package_test.py

As any user: lintian finds nothing to fix in the .deb, and both packages hold
every file where it belongs, with the right mode and configuration-file marks.
As root, on this machine: `dpkg -i` the .deb and check that libpam and man find
what it installed, that the postinst made the helper's account, the cache key
and the cache directory; sign in through the installed module (a PAM stack in
/etc/pam.d with a fresh name, against the mock API) with the helper running as
the package's own account; run `nextpayctl check` on the installed
configuration; select and deselect the pam-auth-update profile in a throw-away
root; then purge and check that nothing is left.  /etc/pam.d/common-* must come
out byte for byte as they went in (they are restored whatever happens).

The root tests refuse to run on a machine where the package, its files or its
account exist already: purging them would destroy someone's setup.  Runs under
tests/lib/runner.py (cmocka-style lines).
"""

from __future__ import annotations

import contextlib
import glob
import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.mock import mock_api  # noqa: E402
from lib.paths import BUILD, REPO  # noqa: E402
from lib.procs import descendants  # noqa: E402
from lib.runner import Failure, Skip, check, run_tests, wait_for  # noqa: E402
from lib.screen import Screen, indent  # noqa: E402
from lib.system import (random_suffix, temp_dir, throwaway_account,  # noqa: E402
                        write_root_file, write_usermap)
DEB_DIR = os.path.join(BUILD, "deb")
RPM_DIR = os.path.join(BUILD, "rpm")
PACKAGE = "libpam-nextpay"
HELPER_USER = "_nextpay"
MULTIARCH = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                           text=True, check=False).stdout.strip()
PAMDIR = f"/usr/lib/{MULTIARCH}/security"
HELPER = "/usr/libexec/pam_nextpay/nextpay-helper"
CTL = "/usr/sbin/nextpayctl"
CONF = "/etc/security/pam_nextpay.conf"
USERS = "/etc/security/pam_nextpay.users"
KEY = "/etc/security/pam_nextpay.key"
CACHE_DIR = "/var/lib/pam_nextpay"
PROFILE = "/usr/share/pam-configs/nextpay"
# The journal catalog; systemd's dpkg trigger reads it in when it arrives.
CATALOG = "/usr/lib/systemd/catalog/pam_nextpay.catalog"
BREAKGLASS_PROFILE = "/usr/share/pam-configs/nextpay-breakglass"
# What pam-auth-update writes, and what a purge must leave as it found it.
PAM_COMMON = sorted(glob.glob("/etc/pam.d/common-*"))
# {path: (mode, is a configuration file)} of the .deb; "x" marks an executable.
DEB_FILES = {
    f"{PAMDIR}/pam_nextpay.so": ("-rw-r--r--", False),
    HELPER: ("-rwxr-xr-x", False),
    CTL: ("-rwxr-xr-x", False),
    CONF: ("-rw-r--r--", True),
    USERS: ("-rw-r-----", True),     # which identity may become root: root's eyes only
    "/usr/lib/sysusers.d/pam_nextpay.conf": ("-rw-r--r--", False),
    "/usr/lib/tmpfiles.d/pam_nextpay.conf": ("-rw-r--r--", False),
    PROFILE: ("-rw-r--r--", False),
    BREAKGLASS_PROFILE: ("-rw-r--r--", False),
    "/usr/share/man/man8/pam_nextpay.8.gz": ("-rw-r--r--", False),
    "/usr/share/man/man5/pam_nextpay.conf.5.gz": ("-rw-r--r--", False),
    "/usr/share/man/man8/nextpayctl.8.gz": ("-rw-r--r--", False),
    "/usr/share/doc/libpam-nextpay/copyright": ("-rw-r--r--", False),
    "/usr/share/doc/libpam-nextpay/examples/sshd_config.d-nextpay.conf": ("-rw-r--r--", False),
    "/usr/share/doc/libpam-nextpay/examples/pam.d-sshd": ("-rw-r--r--", False),
    "/usr/share/doc/libpam-nextpay/examples/nextpay-metrics.service": ("-rw-r--r--", False),
    "/usr/share/doc/libpam-nextpay/examples/nextpay-metrics.timer": ("-rw-r--r--", False),
    CATALOG: ("-rw-r--r--", False),
    "/usr/share/doc/libpam-nextpay/examples/pam.d-breakglass": ("-rw-r--r--", False),
}
# The same for the RPM: {path: rpm file flags} ("c" config, "n" noreplace, "g" ghost).
RPM_FILES = {
    "/usr/lib64/security/pam_nextpay.so": "",
    HELPER: "",
    CTL: "",
    CONF: "cn",
    USERS: "cn",
    KEY: "g",
    CACHE_DIR: "",
    "/usr/lib/sysusers.d/pam_nextpay.conf": "",
    "/usr/lib/tmpfiles.d/pam_nextpay.conf": "",
    CATALOG: "",
    "/usr/share/man/man8/pam_nextpay.8": "d",
    "/usr/share/man/man5/pam_nextpay.conf.5": "d",
    "/usr/share/man/man8/nextpayctl.8": "d",
}
# Documentation the RPM carries, in its documentation directory (whose name varies).
RPM_DOCS = ("AUTHSELECT.md", "pam.d-breakglass")
DPKG_PATIENCE = 300      # seconds to wait for another apt or dpkg to let go of its lock
SIGN_IN_WITHIN = 20      # the code on the screen, and the answer after approval


@dataclass
class Env:
    deb: str | None
    rpm: str | None
    refused: str | None = None              # why the root tests must not touch this machine
    common_before: dict[str, bytes] = field(default_factory=dict)
    installed_paths: list[str] = field(default_factory=list)
    existed_before: set[str] = field(default_factory=set)


def run(argv: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout,
                          **kwargs)


def ran(done: subprocess.CompletedProcess) -> str:
    return f"{' '.join(done.args)}: exit {done.returncode}\n{indent(done.stdout + done.stderr)}"


def one(pattern: str, what: str) -> str | None:
    found = sorted(glob.glob(pattern))
    if len(found) > 1:
        raise Failure(f"more than one {what}: {found}")
    return found[0] if found else None


def need_root(env: Env) -> None:
    if os.geteuid() != 0:
        raise Skip("needs root: installs the package and writes /etc/pam.d")
    if env.refused:
        raise Failure(env.refused)


def need_installed(env: Env) -> None:
    need_root(env)
    check(env.installed_paths, f"{PACKAGE} is not installed: the install test failed")


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def dpkg(*args: str) -> subprocess.CompletedProcess:
    """dpkg, waiting while another apt or dpkg holds the lock (other work on this machine)."""
    deadline = time.monotonic() + DPKG_PATIENCE
    while True:
        done = run(["dpkg", *args], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                   timeout=DPKG_PATIENCE)
        locked = "lock" in done.stderr and done.returncode != 0
        if not locked or time.monotonic() >= deadline:
            return done
        time.sleep(2)


def package_state() -> str:
    done = run(["dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE])
    return done.stdout.strip() if done.returncode == 0 else "not-installed"


def account_exists(name: str) -> bool:
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        return True
    return False


def group_exists(name: str) -> bool:
    with contextlib.suppress(KeyError):
        grp.getgrnam(name)
        return True
    return False


def what_is_in_the_way() -> str | None:
    """Why installing and purging here would destroy something that is not ours."""
    if package_state() != "not-installed":
        return f"{PACKAGE} is installed on this machine already ({package_state()})"
    for path in (CONF, USERS, KEY, CACHE_DIR, PROFILE, BREAKGLASS_PROFILE):
        if os.path.lexists(path):
            return f"{path} exists already"
    if account_exists(HELPER_USER) or group_exists(HELPER_USER):
        return f"the account or group {HELPER_USER} exists already"
    return None


@contextlib.contextmanager
def fixture():
    deb = one(os.path.join(DEB_DIR, f"{PACKAGE}_*.deb"), "libpam-nextpay .deb")
    rpm = one(os.path.join(RPM_DIR, "RPMS", "*", "pam_nextpay-*.rpm"), "pam_nextpay .rpm")
    env = Env(deb, rpm)
    if os.geteuid() == 0:
        in_the_way = what_is_in_the_way()
        if in_the_way:
            env.refused = (f"{in_the_way}: this test installs and purges {PACKAGE} and would "
                           "destroy it; remove it first (dpkg --purge libpam-nextpay)")
        env.common_before = {path: read_bytes(path) for path in PAM_COMMON}
    try:
        yield env
    finally:
        if os.geteuid() == 0 and not env.refused:
            clean_up_after(env)


def clean_up_after(env: Env) -> None:
    """Whatever the tests did or failed to do: no package, nothing it made (none of it was
    there before: what_is_in_the_way), common-* as before."""
    if package_state() != "not-installed":
        done = dpkg("--purge", PACKAGE)
        print(f"tear-down: dpkg --purge: exit {done.returncode}", flush=True)
    for path in (KEY, CACHE_DIR):
        if os.path.lexists(path):
            print(f"tear-down: {path} was left: removed", flush=True)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    for tool, exists in (("userdel", account_exists), ("groupdel", group_exists)):
        if exists(HELPER_USER):
            print(f"tear-down: {tool} {HELPER_USER}: exit "
                  f"{run([tool, HELPER_USER]).returncode}", flush=True)
    for path, content in env.common_before.items():
        if not os.path.exists(path) or read_bytes(path) != content:
            print(f"tear-down: {path} had changed: restored", flush=True)
            with open(path + ".np-restore", "wb") as f:
                f.write(content)
            os.chmod(path + ".np-restore", 0o644)
            os.replace(path + ".np-restore", path)


# ---- the packages as files -----------------------------------------------------------------


def test_packages_were_built(env: Env):
    check(env.deb, f"no {PACKAGE}_*.deb in {DEB_DIR}: make deb")
    check(env.rpm, f"no pam_nextpay-*.rpm in {RPM_DIR}/RPMS: make rpm")
    version = re.search(r"^VERSION\s*:=\s*(\S+)", read_bytes(os.path.join(REPO, "Makefile"))
                        .decode(), re.M).group(1)
    check(f"_{version}-" in os.path.basename(env.deb), f"{env.deb} is not version {version}")
    check(f"-{version}-" in os.path.basename(env.rpm), f"{env.rpm} is not version {version}")


def test_lintian_finds_nothing_to_fix(env: Env):
    if shutil.which("lintian") is None:
        raise Skip("lintian is not installed (make deps)")
    changes = one(os.path.join(DEB_DIR, "*.changes"), ".changes file")
    check(changes, f"no .changes in {DEB_DIR}: make deb")
    done = run(["lintian", "--display-info", "--pedantic", "--show-overrides", changes],
               timeout=600)
    print(indent(done.stdout.strip() or "(lintian printed nothing)", "    lintian | "), flush=True)
    findings = [line for line in done.stdout.splitlines() if re.match(r"[EW]: ", line)]
    check(not findings, "lintian errors or warnings:\n" + "\n".join(findings))
    check(done.returncode == 0, ran(done))
    # Every override says why.
    overrides = os.path.join(REPO, "packaging", "debian", f"{PACKAGE}.lintian-overrides")
    previous = ""
    with open(overrides, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                check(previous.startswith("#"),
                      f"{overrides}:{number}: an override without a comment saying why: {line}")
            previous = line


def test_deb_holds_every_file_where_it_belongs(env: Env):
    check(env.deb, "no .deb (see test_packages_were_built)")
    listing = run(["dpkg-deb", "--contents", env.deb])
    check(listing.returncode == 0, ran(listing))
    modes = {}
    owners = {}
    for line in listing.stdout.splitlines():
        fields = line.split(None, 5)
        path = "/" + fields[5].split(" -> ")[0].lstrip("./").rstrip("/")
        modes[path], owners[path] = fields[0], fields[1]
    conffiles = run(["dpkg-deb", "--info", env.deb, "conffiles"]).stdout.split()
    for path, (mode, is_conffile) in DEB_FILES.items():
        check(path in modes, f"{path} is not in the .deb:\n{listing.stdout}")
        check(modes[path] == mode, f"{path}: mode {modes[path]}, expected {mode}")
        check((path in conffiles) == is_conffile,
              f"{path}: {'not ' if is_conffile else ''}a conffile; conffiles: {conffiles}")
        check(owners[path] == "root/root", f"{path}: owned by {owners[path]}")
    depends = run(["dpkg-deb", "--field", env.deb, "Depends"]).stdout
    check("systemd-sysusers" in depends and "libpam-runtime" in depends,
          f"Depends lacks the sysusers tool or pam-auth-update: {depends}")
    # The configuration it installs names the account its sysusers.d file makes.
    with tempfile.TemporaryDirectory() as tree:
        check(run(["dpkg-deb", "--extract", env.deb, tree]).returncode == 0, "dpkg-deb -x failed")
        conf = read_bytes(tree + CONF).decode()
        check(re.search(rf"(?m)^helper_user = {HELPER_USER}$", conf),
              f"the packaged {CONF} does not set helper_user = {HELPER_USER}")
        sysusers = read_bytes(tree + "/usr/lib/sysusers.d/pam_nextpay.conf").decode()
        check(re.search(rf"(?m)^u {HELPER_USER} ", sysusers), f"sysusers.d file:\n{sysusers}")
        tmpfiles = read_bytes(tree + "/usr/lib/tmpfiles.d/pam_nextpay.conf").decode()
        check(re.search(rf"(?m)^d {CACHE_DIR} 0700 root root ", tmpfiles),
              f"tmpfiles.d file:\n{tmpfiles}")
        profile = read_bytes(tree + PROFILE).decode()
        check(re.search(r"(?m)^Default: no$", profile), f"profile enabled by default:\n{profile}")
        check(re.search(r"pam_nextpay\.so skip_services=\S*cron\S*polkit-1", profile),
              f"profile does not skip cron and polkit:\n{profile}")
        breakglass = read_bytes(tree + BREAKGLASS_PROFILE).decode()
        check(re.search(r"(?m)^Default: no$", breakglass),
              f"break-glass profile enabled by default:\n{breakglass}")


def profile_fields(text: str) -> dict[str, str]:
    """A pam-auth-update profile's fields; continuation lines joined to theirs with newlines."""
    fields: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        found = re.match(r"(\S+):\s*(.*)$", line)
        if found and not line[0].isspace():
            name = found.group(1)
            fields[name] = found.group(2).strip()
        elif name and line.strip():
            fields[name] = (fields[name] + "\n" + line.strip()).strip()
    return fields


def test_breakglass_profile_is_the_plain_one_with_its_gate(env: Env):
    """Both profiles sit at one priority (before every other password module) and ask
    NextPay with the same line but for authinfo_unavail=ignore; the break-glass one adds
    the gate and conflicts with the plain one (packaging/pam-configs/)."""
    configs = os.path.join(REPO, "packaging", "pam-configs")
    plain = profile_fields(read_bytes(os.path.join(configs, "nextpay")).decode())
    breakglass = profile_fields(read_bytes(os.path.join(configs, "nextpay-breakglass")).decode())
    check(breakglass.get("Priority") == plain.get("Priority"),
          f"priorities differ: break-glass {breakglass.get('Priority')}, "
          f"plain {plain.get('Priority')}")
    check(breakglass.get("Conflicts") == "nextpay", f"Conflicts: {breakglass.get('Conflicts')}")
    check(breakglass.get("Auth-Type") == plain.get("Auth-Type") == "Primary",
          f"Auth-Type: {breakglass.get('Auth-Type')}, plain {plain.get('Auth-Type')}")
    sign_in, gate = (breakglass.get("Auth") or "\n").split("\n")[:2]
    check(sign_in.replace(" authinfo_unavail=ignore", "", 1) == plain.get("Auth"),
          f"the sign-in lines differ:\n  break-glass: {sign_in}\n"
          f"  plain:       {plain.get('Auth')}")
    check(re.fullmatch(r"\[success=ok ignore=ignore default=bad\]\s+pam_nextpay\.so "
                       r"breakglass_group=nextpay-breakglass", gate), f"the gate line: {gate!r}")


def test_rpm_holds_every_file_where_it_belongs(env: Env):
    check(env.rpm, "no .rpm (see test_packages_were_built)")
    if shutil.which("rpm") is None:
        raise Skip("rpm is not installed (make deps)")
    done = run(["rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILENAMES}\n]",
                env.rpm])
    check(done.returncode == 0, ran(done))
    flags = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            flags[parts[2]] = (parts[0], parts[1])
        else:
            flags[parts[1]] = ("", parts[0])
    for path, wanted in RPM_FILES.items():
        check(path in flags, f"{path} is not in the RPM:\n{done.stdout}")
        check(flags[path][0] == wanted, f"{path}: flags {flags[path][0]!r}, expected {wanted!r}")
    for name in RPM_DOCS:
        docs = [path for path in flags if path.startswith("/usr/share/doc/pam_nextpay")
                and path.endswith("/" + name)]
        check(len(docs) == 1 and flags[docs[0]][0] == "d",
              f"{name} is not the RPM's documentation:\n{done.stdout}")
    check(flags[KEY][1] == "-rw-------" and flags[CACHE_DIR][1] == "drwx------",
          f"key {flags[KEY][1]}, cache directory {flags[CACHE_DIR][1]}")
    check(flags[USERS][1] == "-rw-r-----" and flags[CONF][1] == "-rw-r--r--",
          f"identity map {flags[USERS][1]}, configuration {flags[CONF][1]}")
    owners = run(["rpm", "-qp", "--qf", "[%{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]",
                  env.rpm]).stdout
    check(f"root:root {USERS}" in owners.splitlines(), f"identity map owners:\n{owners}")
    scripts = run(["rpm", "-qp", "--scripts", env.rpm]).stdout
    check("nextpayctl keygen" in scripts, f"no key made in %post:\n{scripts}")
    check(scripts.count("journalctl --update-catalog") == 2,
          f"the catalog not read in by %post and %postun:\n{scripts}")


# ---- the .deb on this machine (root) -------------------------------------------------------


def test_install_puts_every_file_where_libpam_and_man_look(env: Env):
    need_root(env)
    check(env.deb, "no .deb (see test_packages_were_built)")
    listing = run(["dpkg-deb", "--contents", env.deb]).stdout.splitlines()
    paths = ["/" + line.split(None, 5)[5].split(" -> ")[0].lstrip("./").rstrip("/")
             for line in listing]
    env.existed_before = {path for path in paths if os.path.lexists(path)}
    done = dpkg("--install", env.deb)
    env.installed_paths = paths if package_state() != "not-installed" else []
    check(done.returncode == 0, ran(done))
    check(package_state() == "installed", f"{PACKAGE} is {package_state()}")
    check(os.path.isfile(os.path.join(PAMDIR, "pam_nextpay.so")), f"no module in {PAMDIR}")
    for args, page in ((["pam_nextpay"], "man8/pam_nextpay.8.gz"),
                       (["5", "pam_nextpay.conf"], "man5/pam_nextpay.conf.5.gz"),
                       (["nextpayctl"], "man8/nextpayctl.8.gz")):
        found = run(["man", "-w", *args])
        check(found.returncode == 0 and found.stdout.strip() == f"/usr/share/man/{page}",
              f"man -w {' '.join(args)}: {found.stdout.strip()} {found.stderr.strip()}")
    # What postinst made: the helper's account, the key, the cache directory.
    user = pwd.getpwnam(HELPER_USER)
    check(user.pw_uid != 0 and user.pw_gid != 0 and user.pw_uid < 1000,
          f"{HELPER_USER}: uid {user.pw_uid}, gid {user.pw_gid}: not a system account")
    check(user.pw_shell.endswith("nologin"), f"{HELPER_USER} has the shell {user.pw_shell}")
    key = os.lstat(KEY)
    check(stat.S_ISREG(key.st_mode) and stat.S_IMODE(key.st_mode) == 0o600 and key.st_uid == 0
          and key.st_size == 32, f"{KEY}: mode {oct(key.st_mode)}, uid {key.st_uid}, "
                                 f"{key.st_size} bytes")
    cache = os.lstat(CACHE_DIR)
    check(stat.S_ISDIR(cache.st_mode) and stat.S_IMODE(cache.st_mode) == 0o700
          and cache.st_uid == 0, f"{CACHE_DIR}: mode {oct(cache.st_mode)}, uid {cache.st_uid}")
    # No secret is world-readable: the map says which identity may become root.
    for path, mode in ((USERS, 0o640), (CONF, 0o644)):
        st = os.lstat(path)
        check(stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == mode and st.st_uid == 0
              and st.st_gid == 0, f"{path}: mode {oct(st.st_mode)}, uid {st.st_uid}, "
                                  f"gid {st.st_gid}; expected root:root {oct(mode)}")
    for path, before in env.common_before.items():
        check(read_bytes(path) == before, f"installing changed {path}")
    # systemd's trigger read the catalog in: journalctl -x explains the module's events.
    ids = re.findall(r"(?m)^-- ([0-9a-f]{32})$", read_bytes(CATALOG).decode())
    listed = run(["journalctl", "--list-catalog", *ids]).stdout
    check(ids and all(i in listed for i in ids), f"not in the catalog database:\n{listed}")


def installed_conf_for_the_mock(tmp: str, mock, usermap: str) -> str:
    """The installed configuration, pointed at the mock: what an administrator would set."""
    text = read_bytes(CONF).decode()
    text += ("\n# added by tests/package: the mock API and a test identity map\n"
             f"api_url = {mock.url}\nca_file = {mock.ca_cert}\nusermap = {usermap}\n"
             "poll_interval = 1\n")
    return write_root_file(os.path.join(tmp, "pam_nextpay.conf"), text)


@contextlib.contextmanager
def pam_service(conf: str):
    """/etc/pam.d/nextpay-pkgtest-XXXX naming the module by its short name; removed always."""
    service = f"nextpay-pkgtest-{random_suffix()}"
    path = os.path.join("/etc/pam.d", service)
    check(not os.path.lexists(path), f"{path} exists already")
    try:
        write_root_file(path, f"auth required pam_nextpay.so config={conf}\n"
                              "account required pam_permit.so\n")
        yield service
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def helper_processes(root_pid: int) -> list[int]:
    """The installed helper among root_pid's descendants (found by its executable: the
    module starts it with fexecve, which leaves a number as its command name)."""
    found = []
    for pid in descendants(root_pid):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/exe") == HELPER:
                found.append(pid)
    return found


def ids_of(pid: int) -> tuple[list[int], list[int]]:
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    uids = [int(x) for x in re.search(r"(?m)^Uid:\s+(.*)$", status).group(1).split()]
    gids = [int(x) for x in re.search(r"(?m)^Gid:\s+(.*)$", status).group(1).split()]
    return uids, gids


def test_sign_in_through_the_installed_module(env: Env):
    need_installed(env)
    user = pwd.getpwnam(HELPER_USER)
    entries_before = set(os.listdir(CACHE_DIR))
    with temp_dir("np-pkgtest.") as tmp, throwaway_account("nppkg") as account, \
            mock_api(tmp) as mock:
        usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_demo": account})
        conf = installed_conf_for_the_mock(tmp, mock, usermap)
        # PAM_TTY names pamtester's controlling terminal, as login or sudo set it: the
        # default session scope stores an approval only there.
        with pam_service(conf) as service, \
                Screen(["/bin/sh", "-c", 'exec /usr/bin/pamtester -I tty="$(tty)" "$0" "$1" '
                        "authenticate", service, account],
                       env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}) as screen:
            screen.expect(r"approve code ([A-Z0-9]{6})", SIGN_IN_WITHIN, "the code on the screen")
            helpers = wait_for(lambda: helper_processes(screen.child.pid), 10,
                               f"a running {HELPER}")
            uids, gids = ids_of(helpers[0])
            check(uids == [user.pw_uid] * 4 and gids == [user.pw_gid] * 4,
                  f"the helper runs as uids {uids}, gids {gids}, not {HELPER_USER} "
                  f"({user.pw_uid}:{user.pw_gid})")
            mock.approve(user="usr_demo")
            screen.expect(r"successfully authenticated", SIGN_IN_WITHIN, "pamtester's success")
            status = screen.finish(SIGN_IN_WITHIN)
            check(status == 0, f"pamtester exit {status}:\n{screen.text}")
    # The approval went into the installed cache, sealed with the postinst's key.
    made = set(os.listdir(CACHE_DIR)) - entries_before
    check(any(name.endswith(".entry") for name in made),
          f"no cache entry in {CACHE_DIR} after the sign-in: {sorted(made)}")


def test_nextpayctl_check_passes_on_the_installed_configuration(env: Env):
    need_installed(env)
    with temp_dir("np-pkgtest.") as tmp, mock_api(tmp) as mock:
        usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_demo": "root"})
        conf = installed_conf_for_the_mock(tmp, mock, usermap)
        done = run([CTL, "check", "--config", conf])
        check(done.returncode == 0, ran(done))
        for line in (rf"^ok: cache_key {KEY}: 32 bytes, owned by root, mode 0600",
                     rf"^ok: cache_dir {CACHE_DIR}: ",
                     rf"^ok: helper {HELPER}: executable, owned by root, mode 0755",
                     rf"^ok: helper_user {HELPER_USER}: uid \d+",
                     r"^ok: api_url https://127\.0\.0\.1:\d+/v1: answers over verified TLS"):
            check(re.search(line, done.stdout, re.M), f"no line {line!r}:\n{done.stdout}")


PAM_AUTH_UPDATE = "/usr/sbin/pam-auth-update"
# A password profile above every one Debian ships (the highest, Kerberos, is 704), as a
# local or a third-party one may be: NextPay must still come first, before its password.
OUTRANKING = ("nextpay-test-outranks", """\
Name: A password module above Debian's own (tests/package stand-in for Kerberos)
Default: yes
Priority: 704
Auth-Type: Primary
Auth:
\t[success=end default=ignore]\tpam_permit.so
""")


@contextlib.contextmanager
def pam_auth_update_root(env: Env):
    """A throw-away root for pam-auth-update (its --root option, with a debconf database of
    its own): a copy of /etc/pam.d/common-*, /var/lib/pam and /usr/share/pam-configs, so
    that the machine's /etc/pam.d and debconf are never touched, which this checks.
    Yields (root, the environment pam-auth-update needs)."""
    need_installed(env)
    if "--root" not in read_bytes(PAM_AUTH_UPDATE).decode(errors="replace"):
        raise Skip(f"{PAM_AUTH_UPDATE} has no --root: not touching this machine's /etc/pam.d")
    real = {path: read_bytes(path) for path in
            [*PAM_COMMON, *glob.glob("/var/lib/pam/*"), "/var/cache/debconf/config.dat"]
            if os.path.isfile(path)}
    with temp_dir("np-pkgtest-root.") as root:
        for directory in ("etc/pam.d", "var/lib/pam", "usr/share/pam-configs", "debconf"):
            os.makedirs(os.path.join(root, directory))
        for path in [*PAM_COMMON, *glob.glob("/var/lib/pam/*"),
                     *glob.glob("/usr/share/pam-configs/*")]:
            shutil.copy2(path, root + path)
        with open(os.path.join(root, "debconf.conf"), "w") as f:
            f.write(f"Config: config\nTemplates: templates\n\nName: config\nDriver: File\n"
                    f"Filename: {root}/debconf/config.dat\n\nName: templates\nDriver: File\n"
                    f"Filename: {root}/debconf/templates.dat\n")
        yield root, dict(os.environ, DEBIAN_FRONTEND="noninteractive",
                         DEBCONF_SYSTEMRC=os.path.join(root, "debconf.conf"))
    for path, content in real.items():
        check(read_bytes(path) == content, f"the throw-away root changed the real {path}")


def pam_auth_update(root: str, tool_env: dict, *args: str) -> None:
    done = run([PAM_AUTH_UPDATE, "--root", root, *args], env=tool_env)
    check(done.returncode == 0, ran(done))


def test_pam_auth_update_selects_and_deselects_the_profile(env: Env):
    with pam_auth_update_root(env) as (root, tool_env):
        common_auth = os.path.join(root, "etc/pam.d/common-auth")
        original = read_bytes(common_auth)
        pam_auth_update(root, tool_env, "--enable", "nextpay")
        enabled = read_bytes(common_auth).decode()
        ours = re.search(r"(?m)^auth\s+\[success=(\d+) ignore=ignore default=die\]\s+"
                         r"pam_nextpay\.so skip_services=\S*cron\S*$", enabled)
        check(ours, f"--enable nextpay wrote no NextPay line:\n{indent(enabled)}")
        unix = enabled.find("pam_unix.so")
        check(unix > ours.start(), f"NextPay does not come before pam_unix:\n{indent(enabled)}")
        # The break-glass profile takes the plain one's place (Conflicts): the sign-in
        # line jumps past the gate, the password and pam_deny; the gate comes next.
        pam_auth_update(root, tool_env, "--enable", "nextpay-breakglass")
        enabled = read_bytes(common_auth).decode()
        lines = [line for line in enabled.splitlines() if re.match(r"auth\s", line)]
        check(len([line for line in lines if "pam_nextpay.so" in line]) == 2 and
              re.match(r"auth\s+\[success=3 authinfo_unavail=ignore ignore=ignore default=die\]\s+"
                       r"pam_nextpay\.so skip_services=\S*cron", lines[0]) and
              re.match(r"auth\s+\[success=ok ignore=ignore default=bad\]\s+pam_nextpay\.so "
                       r"breakglass_group=nextpay-breakglass$", lines[1]) and
              re.match(r"auth\s+\[success=1 default=ignore\]\s+pam_unix\.so", lines[2]) and
              re.match(r"auth\s+requisite\s+pam_deny\.so", lines[3]),
              f"--enable nextpay-breakglass did not write the stack:\n{indent(enabled)}")
        pam_auth_update(root, tool_env, "--disable", "nextpay-breakglass")
        check(read_bytes(common_auth) == original,
              f"--disable did not give back common-auth as it was:\n"
              f"{indent(read_bytes(common_auth).decode())}")


def test_profile_comes_before_every_password_profile(env: Env):
    """"Instead of the password": a Primary profile of a higher priority than Debian's
    Kerberos one (704) would come first, and its password end the stack before NextPay is
    asked."""
    with pam_auth_update_root(env) as (root, tool_env):
        name, text = OUTRANKING
        write_root_file(os.path.join(root, "usr/share/pam-configs", name), text)
        common_auth = os.path.join(root, "etc/pam.d/common-auth")
        pam_auth_update(root, tool_env, "--enable", name, "nextpay")
        stack = [line for line in read_bytes(common_auth).decode().splitlines()
                 if re.match(r"auth\s", line)]
        where = {module: next((i for i, line in enumerate(stack) if module in line), None)
                 for module in ("pam_nextpay.so", "pam_permit.so", "pam_unix.so")}
        check(None not in where.values(), f"a module is missing: {where}\n" + "\n".join(stack))
        check(where["pam_nextpay.so"] < where["pam_permit.so"] < where["pam_unix.so"],
              "NextPay does not come first:\n" + indent("\n".join(stack)))
        # NextPay's line ends the stack on anything but a skipped service.
        check(re.search(r"default=die\]\s+pam_nextpay\.so", stack[where["pam_nextpay.so"]]),
              stack[where["pam_nextpay.so"]])


def run_postinst(root: str, tool_env: dict) -> subprocess.CompletedProcess:
    """The installed postinst, every path under DPKG_ROOT as dpkg gives it for another root.
    debconf then reads its configuration, and its databases, under DPKG_ROOT too: the same
    database files as pam_auth_update_root's, named from inside the root."""
    rooted = os.path.join(root, "debconf-rooted.conf")
    with open(os.path.join(root, "debconf.conf")) as f:
        text = f.read().replace(f"Filename: {root}/", "Filename: /")
    with open(rooted, "w") as f:
        f.write(text)
    done = run([f"/var/lib/dpkg/info/{PACKAGE}.postinst", "configure", ""],
               env=dict(tool_env, DPKG_ROOT=root, DEBCONF_SYSTEMRC="/debconf-rooted.conf"))
    check(done.returncode == 0, ran(done))
    return done


def test_postinst_warns_when_the_profile_locks_everyone_out(env: Env):
    with pam_auth_update_root(env) as (root, tool_env):
        for path in (CONF, USERS, "/usr/lib/sysusers.d/pam_nextpay.conf",
                     "/usr/lib/tmpfiles.d/pam_nextpay.conf"):
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            shutil.copy2(path, root + path)
        users = root + USERS
        # The profile off: nothing to say.
        quiet = run_postinst(root, tool_env)
        check("WARNING" not in quiet.stderr, ran(quiet))
        check(os.path.isfile(root + KEY) and os.path.isdir(root + CACHE_DIR),
              f"the postinst made no key or cache directory under {root}")
        # On, with the map as shipped (comments only): everyone is locked out.
        pam_auth_update(root, tool_env, "--enable", "nextpay")
        loud = run_postinst(root, tool_env)
        print(indent(loud.stderr.strip(), "    postinst | "), flush=True)
        warning = [line for line in loud.stderr.splitlines() if "WARNING" in line]
        text = " ".join(line.split("WARNING:", 1)[1].strip() for line in warning)
        for words in (f"NextPay sign-in is on in {root}/etc/pam.d/common-auth",
                      f"the identity map {users} has no rule",
                      "refuses every account, root at the console included",
                      "pam-auth-update --disable nextpay"):
            check(words in text, f"the warning lacks {words!r}:\n{loud.stderr}")
        # A rule in the map: quiet again.
        with open(users, "a") as f:
            f.write("usr_demo root\n")
        check("WARNING" not in run_postinst(root, tool_env).stderr, "warned with a rule")
        # The map the configuration names is the one that counts.
        elsewhere = write_root_file(os.path.join(root, "empty.users"), "# nobody\n", 0o640)
        with open(root + CONF, "a") as f:
            f.write(f"usermap = {elsewhere[len(root):]}\n")
        loud = run_postinst(root, tool_env)
        check(f"WARNING: {elsewhere} has no rule" in loud.stderr, ran(loud))


def test_purge_leaves_nothing_behind(env: Env):
    need_installed(env)
    done = dpkg("--purge", PACKAGE)
    check(done.returncode == 0, ran(done))
    check(package_state() == "not-installed", f"{PACKAGE} is {package_state()} after purge")
    left = [path for path in env.installed_paths
            if path not in env.existed_before and os.path.lexists(path)]
    left += [path for path in (CONF, USERS, KEY, CACHE_DIR, PROFILE) if os.path.lexists(path)]
    left += glob.glob("/etc/security/pam_nextpay*")
    check(not left, f"left after purge: {sorted(set(left))}")
    check(not account_exists(HELPER_USER), f"the account {HELPER_USER} is left after purge")
    check(not group_exists(HELPER_USER), f"the group {HELPER_USER} is left after purge")
    for path, before in env.common_before.items():
        check(read_bytes(path) == before, f"{path} is not as it was before the install")
    env.installed_paths = []


if __name__ == "__main__":
    sys.exit(run_tests("package", [
        test_packages_were_built,
        test_lintian_finds_nothing_to_fix,
        test_deb_holds_every_file_where_it_belongs,
        test_breakglass_profile_is_the_plain_one_with_its_gate,
        test_rpm_holds_every_file_where_it_belongs,
        test_install_puts_every_file_where_libpam_and_man_look,
        test_sign_in_through_the_installed_module,
        test_nextpayctl_check_passes_on_the_installed_configuration,
        test_pam_auth_update_selects_and_deselects_the_profile,
        test_profile_comes_before_every_password_profile,
        test_postinst_warns_when_the_profile_locks_everyone_out,
        test_purge_leaves_nothing_behind,
    ], fixture=fixture,
        built=(os.path.join(BUILD, "pam_nextpay.so"), os.path.join(BUILD, "nextpay-helper"))))
