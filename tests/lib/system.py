# SPDX-License-Identifier: BSD-2-Clause
"""The machine around a test: throwaway accounts, temporary directories, files owned
by root with an exact mode, free ports.  Accounts need root."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time


def random_suffix() -> str:
    return secrets.token_hex(4)


def _account_tool(argv: list[str], ok: tuple[int, ...] = (0,), patience: float = 60.0) -> None:
    """useradd/userdel/groupadd..., retried while another one holds the /etc/passwd locks."""
    deadline = time.monotonic() + patience
    while True:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode in ok:
            return
        busy = "lock" in done.stderr or "try again" in done.stderr
        if not busy or time.monotonic() >= deadline:
            raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
        time.sleep(0.5)


@contextlib.contextmanager
def throwaway_account(prefix: str = "npe2e"):
    """A fresh local account with a home; removed afterwards whatever happened."""
    name = f"{prefix}-{random_suffix()}"
    _account_tool(["useradd", "-m", "-s", "/bin/sh", name])
    try:
        yield name
    finally:
        # userdel refuses while a process of the account runs: there should be none.
        # Exit 12 only means "could not remove the mail spool", which useradd never made.
        _account_tool(["userdel", "-r", name], ok=(0, 12))


@contextlib.contextmanager
def throwaway_group(prefix: str = "npbg", members: tuple[str, ...] = ()):
    """A fresh local group with these members; removed afterwards whatever happened."""
    name = f"{prefix}-{random_suffix()}"
    _account_tool(["groupadd", *(["-U", ",".join(members)] if members else []), name])
    try:
        yield name
    finally:
        _account_tool(["groupdel", name])


def add_to_group(account: str, group: str) -> None:
    _account_tool(["usermod", "-aG", group, account])


@contextlib.contextmanager
def temp_dir(prefix: str = "npe2e."):
    """A temporary directory, 0755 (the helper runs as nobody and reads ca.crt from it)."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_root_file(path: str, text: str, mode: int = 0o644) -> str:
    """Write a file owned by root (us) with exactly this mode; never through a symlink."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_usermap(path: str, rules: dict[str, str]) -> str:
    """rules: {identity: account}."""
    lines = ["# written by the tests"] + [f"{who} {account}" for who, account in rules.items()]
    return write_root_file(path, "\n".join(lines) + "\n")


LOGIN_RECORDS = ("/var/log/wtmp", "/var/log/btmp")


def strip_login_records(account: str) -> None:
    """Removes a throwaway account's records from wtmp and btmp, if a login made any
    (login, a display manager), keeping everybody else's and the files' owner and mode."""
    for path in LOGIN_RECORDS:
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            continue
        dump = subprocess.run(["utmpdump", path], capture_output=True, text=True, check=False)
        if dump.returncode != 0 or f"[{account}" not in dump.stdout:
            continue
        kept = "".join(line for line in dump.stdout.splitlines(keepends=True)
                       if f"[{account}" not in line)
        records = subprocess.run(["utmpdump", "-r"], input=kept.encode(), capture_output=True,
                                 check=True).stdout
        with open(path, "r+b") as f:
            f.write(records)
            f.truncate()
