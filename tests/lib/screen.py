# SPDX-License-Identifier: BSD-2-Clause
"""Driving a terminal program through a pseudo-terminal (Debian's python3-pexpect, run
with /usr/bin/python3), and reading what a person would have seen."""

from __future__ import annotations

import io
import re

from lib.procs import kill_tree
from lib.runner import Failure

try:
    import pexpect
except ImportError:          # run_tests() reports that as a skip, not a crash
    pexpect = None

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


class Screen:
    """A program on a pseudo-terminal, and everything it has shown so far."""

    def __init__(self, argv: list[str], env: dict | None = None, timeout: float = 30):
        self.log = io.StringIO()
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8",
                                   codec_errors="replace", timeout=timeout,
                                   dimensions=(50, 200))
        self.child.logfile_read = self.log
        self.argv = argv

    @property
    def text(self) -> str:
        """What the person has seen: ANSI codes out, CR LF as LF."""
        return clean_screen(self.log.getvalue())

    def expect(self, pattern, timeout: float, what: str):
        """Wait for a regex (or a list); a timeout or EOF is a Failure showing the screen."""
        try:
            return self.child.expect(pattern, timeout=timeout)
        except pexpect.TIMEOUT:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}; the screen so "
                          f"far:\n{indent(self.text)}") from None
        except pexpect.EOF:
            raise Failure(f"the program ended before {what}; the screen:\n"
                          f"{indent(self.text)}") from None

    def match(self, group: int = 0) -> str:
        return self.child.match.group(group)

    def send(self, text: str) -> None:
        self.child.send(text)

    def finish(self, timeout: float) -> int:
        """Wait for the end (bounded); returns the exit status (128+N for a signal)."""
        try:
            self.child.expect(pexpect.EOF, timeout=timeout)
        except pexpect.TIMEOUT:
            self.close()
            raise Failure(f"still running after {timeout:g} s; the screen:\n"
                          f"{indent(self.text)}") from None
        return self.close()

    def close(self) -> int:
        if self.child.isalive():
            # Cut short by a failing test: take down what it started too (su leaves
            # sudo running otherwise), so only leaks of a finished run count as strays.
            kill_tree(self.child.pid, timeout=2)
            self.child.close(force=True)
        else:
            self.child.close()
        if self.child.signalstatus is not None:
            return 128 + self.child.signalstatus
        return self.child.exitstatus

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.child.closed:
            self.close()


def clean_screen(raw: str) -> str:
    text = ANSI_RE.sub("", raw)
    return text.replace("\r\n", "\n").replace("\r", "")


def indent(text: str, prefix: str = "    | ") -> str:
    lines = text.rstrip("\n").splitlines() or ["(nothing)"]
    return "\n".join(prefix + line for line in lines)


def pexpect_eof():
    """pexpect.EOF, for expect() lists in the test files."""
    return pexpect.EOF
