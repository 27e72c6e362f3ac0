# SPDX-License-Identifier: BSD-2-Clause
"""Processes the tests start, and pam_wrapper's copies of the services they leave.

Shared by tests/run_suite.py (every suite) and the Python test runner (tests/lib/runner.py).  A process that
becomes a child subreaper keeps everything it starts findable as its descendant, even
after the parent of one exits or it starts a session of its own (the module's helper,
sshd's per-connection processes, su, sudo).

pam_wrapper copies PAM_WRAPPER_SERVICE_DIR to a /tmp/pam.X of its own in every process
that loads it with PAM_WRAPPER=1 (one character: 62 names for the whole machine), writes
that process's pid to /tmp/pam.X/pid and removes the copy when the process exits
normally.  A process that is killed, calls _exit() or execs (a shell running its last
command) leaves its copy behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import time

PR_SET_CHILD_SUBREAPER = 36
PAM_WRAPPER_PREFIX = "/tmp/pam."


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def proc_stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie does not)."""
    st = proc_stat(pid)
    return st is not None and st[1] != "Z"


def descendants(root: int | None = None) -> dict[int, tuple[str, str]]:
    """{pid: (comm, state)} of every process below root (default: this process)."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st is None:
            continue
        info[int(entry)] = (st[0], st[1])
        children.setdefault(st[2], []).append(int(entry))
    found: dict[int, tuple[str, str]] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in info and pid not in found:
            found[pid] = info[pid]
            todo.extend(children.get(pid, []))
    return found


def reap_zombies(keep: set[int]) -> None:
    """Collect orphans that died as our children (we are their subreaper)."""
    for pid, (_, state) in descendants().items():
        if state == "Z" and pid not in keep:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def stray_processes(before: set[int], grace: float = 5.0) -> list[str]:
    """Descendants that were not there before and have not gone within grace seconds.

    They are killed by pid (then reaped), and returned as "pid (comm)" for the report.
    """
    deadline = time.monotonic() + grace
    while True:
        reap_zombies(before)
        left = {pid: v for pid, v in descendants().items()
                if pid not in before and v[1] != "Z"}
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    reap_zombies(before)
    return [f"{pid} ({comm})" for pid, (comm, _) in sorted(left.items())]


def kill_tree(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM one process we started and its descendants, by pid; SIGKILL what lingers."""
    tree = [pid, *descendants(pid)]
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in tree):
            return
        time.sleep(0.05)
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


def pam_wrapper_copies(marker: str) -> dict[str, bool]:
    """{path: owner alive} of the /tmp/pam.X copies of a service dir of ours.

    Ours are those whose service files mention marker (a unique temp dir of ours that
    the services name, e.g. in config=).
    """
    found = {}
    for entry in sorted(os.listdir("/tmp")):
        path = os.path.join("/tmp", entry)
        if not path.startswith(PAM_WRAPPER_PREFIX) or os.path.islink(path) \
                or not os.path.isdir(path):
            continue
        ours = False
        owner_alive = False
        with contextlib.suppress(OSError):
            for name in os.listdir(path):
                with open(os.path.join(path, name), errors="replace") as f:
                    content = f.read(65536)
                if name == "pid" and content.strip().isdigit():
                    owner_alive = alive(int(content.strip()))
                elif marker in content:
                    ours = True
        if ours:
            found[path] = owner_alive
    return found


def remove_pam_wrapper_dirs(marker: str) -> list[str]:
    """Remove the copies of ours (see pam_wrapper_copies) whose owner is gone."""
    removed = []
    for path, owner_alive in pam_wrapper_copies(marker).items():
        if not owner_alive:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
