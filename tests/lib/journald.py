# SPDX-License-Identifier: BSD-2-Clause
"""A systemd-journald of a test's own, in a private mount namespace, for the journal
suite (tests/journal/journal_test.py) and the benchmark's journal row.

    in_private_mount_namespace()        # re-runs this very script under unshare
    with private_journald(tmp) as journald:
        ...                             # /run/systemd/journal/socket is ours

The machine's journal is never touched: tmpfs hides /run/systemd, /run/log,
/var/log/journal and /var/lib/systemd/catalog, a journald.conf of our own is bound
over the machine's (volatile storage, no kernel or audit messages, which are the
machine's, no rate limit, nothing forwarded), and everything goes with the namespace when the process ends.  Root only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys

from lib.runner import Failure, check, wait_for

JOURNALD = "/lib/systemd/systemd-journald"
SOCKET = "/run/systemd/journal/socket"
# Set in the environment once the script runs in its own mount namespace.
NAMESPACE_MARK = "NP_PRIVATE_MOUNT_NAMESPACE"
JOURNALD_CONF = """[Journal]
Storage=volatile
ReadKMsg=no
Audit=no
ForwardToSyslog=no
ForwardToWall=no
ForwardToConsole=no
RateLimitBurst=0
"""


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60,
                          stdin=subprocess.DEVNULL)


def in_private_mount_namespace() -> None:
    """As root, runs this script again under unshare --mount (once); else returns."""
    if os.geteuid() != 0 or os.environ.get(NAMESPACE_MARK) == "1" or "--list" in sys.argv[1:]:
        return
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", "--",
                           sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]],
               {**os.environ, NAMESPACE_MARK: "1"})


def own_namespace() -> bool:
    """Whether this process's mount namespace is not its parent's (which unshare left)."""
    return os.stat("/proc/self/ns/mnt").st_ino != os.stat(f"/proc/{os.getppid()}/ns/mnt").st_ino


def mount_tmpfs(path: str, mode: str) -> None:
    done = run(["mount", "-t", "tmpfs", "-o", f"mode={mode},size=64m", "npjournal", path])
    if done.returncode != 0:
        raise Failure(f"mount tmpfs on {path}: {done.stderr.strip()}")


def start_journald(log: str) -> subprocess.Popen:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(SOCKET)
    with open(log, "ab") as out:
        proc = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    wait_for(lambda: os.path.exists(SOCKET), 10, "journald's socket")
    return proc


def stop_journald(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def build_catalog(tmp: str, catalog: str) -> None:
    """catalog into this namespace's catalog database (journalctl --update-catalog)."""
    root = os.path.join(tmp, "catalog-root")
    os.makedirs(os.path.join(root, "usr/lib/systemd/catalog"))
    shutil.copy(catalog, os.path.join(root, "usr/lib/systemd/catalog"))
    done = run(["journalctl", f"--root={root}", "--update-catalog"])
    check(done.returncode == 0 and "rror" not in done.stderr,
          f"journalctl --update-catalog: {done.returncode} {done.stderr}")
    shutil.copy(os.path.join(root, "var/lib/systemd/catalog/database"),
                "/var/lib/systemd/catalog/database")


def syslog_into_journald() -> None:
    """/dev/log to journald's syslog socket, as on a systemd host: a tmpfs over /dev,
    with a symbolic link for every entry of the real one (kept under /run/systemd)."""
    old = "/run/systemd/real-dev"
    os.makedirs(old)
    check(run(["mount", "--rbind", "/dev", old]).returncode == 0, "cannot bind /dev")
    mount_tmpfs("/dev", "0755")
    for name in os.listdir(old):
        os.symlink(os.path.join(old, name), os.path.join("/dev", name))
    with contextlib.suppress(FileNotFoundError):
        os.unlink("/dev/log")
    os.symlink("/run/systemd/journal/dev-log", "/dev/log")


@contextlib.contextmanager
def private_journald(tmp: str, catalog: str | None = None, syslog: bool = False):
    """journald of our own, its catalog built from catalog; with syslog, /dev/log too."""
    if not own_namespace():
        raise Failure("not in a mount namespace of its own: refusing to mount anything")
    for path, mode in (("/run/systemd", "0755"), ("/run/log", "0755"),
                       ("/var/log/journal", "2755"), ("/var/lib/systemd/catalog", "0755")):
        mount_tmpfs(path, mode)
    os.makedirs("/run/systemd/journal")
    with open("/run/systemd/np-journald.conf", "w") as f:
        f.write(JOURNALD_CONF)
    check(run(["mount", "--bind", "/run/systemd/np-journald.conf",
               "/etc/systemd/journald.conf"]).returncode == 0, "cannot bind journald.conf")
    if catalog is not None:
        build_catalog(tmp, catalog)
    if syslog:
        syslog_into_journald()
    journald = start_journald(os.path.join(tmp, "journald.log"))
    try:
        yield journald
    finally:
        stop_journald(journald)
