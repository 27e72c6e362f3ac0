# SPDX-License-Identifier: BSD-2-Clause
"""The HTTPS mock of the NextPay API (tests/mock/nextpay_mock.py), for the Python tests.

    from lib.mock import Mock
    mock = Mock.start(tmpdir, "--auto", "approve")
    mock.fault(endpoint="poll", kind="status", status=503)
    mock.approve(user="usr_alice")
    mock.stop()

Starting and stopping the process is done here; everything said to the mock goes
through build/tests/mockctl (tests/mock/mockctl.c), the one client of its control
interface, which the C suites link as tests/mock/mock_client.c.  NP_MOCKCTL names
another build of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

from lib.paths import BUILD, REPO

MOCK_SCRIPT = os.path.join(REPO, "tests", "mock", "nextpay_mock.py")
MOCKCTL = os.environ.get("NP_MOCKCTL") or os.path.join(BUILD, "tests", "mockctl")


class MockError(Exception):
    """The mock is not there, or refused a control request."""


class Mock:
    """A handle on one mock server, identified by its working directory."""

    def __init__(self, directory: str):
        self.dir = os.path.abspath(directory)
        self._proc: subprocess.Popen | None = None

    # ---- starting and stopping ---------------------------------------------

    @classmethod
    def start(cls, directory: str, *args: str, timeout: float = 10.0) -> "Mock":
        """Start nextpay_mock.py with extra CLI args (e.g. "--auto", "approve") and wait for it."""
        mock = cls(directory)
        os.makedirs(mock.dir, exist_ok=True)
        # A port file left by a killed run would make wait-ready talk to nothing.
        for stale in ("port", "mock.pid"):
            try:
                os.unlink(mock.path(stale))
            except FileNotFoundError:
                pass
        mock._proc = subprocess.Popen([sys.executable, MOCK_SCRIPT, "--dir", mock.dir, *args],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            mock._ctl("wait-ready", "--timeout", str(timeout))
        except BaseException:
            mock._proc.kill()
            mock._proc.wait()
            raise
        return mock

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the mock and wait for it; SIGKILL (and report failure) if it lingers."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            raise MockError(f"the mock did not exit within {timeout:g}s of SIGTERM; killed it")

    # ---- files in DIR ---------------------------------------------------------

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _read(self, name: str) -> str:
        try:
            with open(self.path(name)) as f:
                return f.read().strip()
        except OSError as e:
            raise MockError(f"cannot read {self.path(name)}: {e.strerror}") from None

    @property
    def ca_cert(self) -> str:
        return self.path("ca.crt")

    @property
    def pin(self) -> str:
        """sha256//... of the server key, for libcurl's pinned public key."""
        return self._read("pin")

    @property
    def otherpin(self) -> str:
        """A well-formed pin that does not match the server key."""
        return self._read("otherpin")

    @property
    def port(self) -> int:
        text = self._read("port")
        if not text.isdigit():
            raise MockError(f"{self.path('port')} does not hold a port number")
        return int(text)

    @property
    def url(self) -> str:
        """The api_url to configure the module with."""
        return f"https://127.0.0.1:{self.port}/v1"

    # ---- control, through mockctl ------------------------------------------------

    def _ctl(self, *args: str) -> str:
        done = subprocess.run([MOCKCTL, "--dir", self.dir, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0:
            why = done.stderr.strip() or f"exit {done.returncode}"
            raise MockError(why.removeprefix("mockctl: "))
        return done.stdout.strip()

    @staticmethod
    def _options(**fields) -> list[str]:
        return [arg for k, v in fields.items() if v is not None for arg in (f"--{k}", v)]

    def approve(self, user: str | None = None, code: str | None = None) -> str:
        """Approve a code (default: the newest) for user (default: the mock's --auto-user)."""
        return self._ctl("approve", *self._options(user=user, code=code))

    def deny(self, code: str | None = None) -> str:
        return self._ctl("deny", *self._options(code=code))

    def expire(self, code: str | None = None) -> str:
        return self._ctl("expire", *self._options(code=code))

    def config(self, settings: dict | None = None, **fields) -> dict:
        """config({"auto": None}) or config(code_ttl=5); returns the new config."""
        return json.loads(self._ctl("config", json.dumps({**(settings or {}), **fields})))

    def fault(self, spec: dict | None = None, **fields) -> None:
        """Queue a fault, e.g. fault(endpoint="poll", kind="reset")."""
        self._ctl("fault", json.dumps({**(spec or {}), **fields}))

    def revoke(self, spec: dict | None = None, **fields) -> None:
        self._ctl("revoke", json.dumps({**(spec or {}), **fields}))

    def reassign(self, spec: dict | None = None, **fields) -> None:
        """reassign(user="usr_alice", to="usr_bob"): those tokens answer for bob."""
        self._ctl("reassign", json.dumps({**(spec or {}), **fields}))

    def add_user(self, spec: dict | None = None, **fields) -> None:
        """add_user(id="usr_x", email="X@Example.com"): a new identity to approve as."""
        self._ctl("user", json.dumps({**(spec or {}), **fields}))

    def reset(self) -> None:
        self._ctl("reset")

    def stats(self) -> dict:
        stats = json.loads(self._ctl("stats"))
        stats.pop("ok", None)
        return stats

    def count(self, what: str) -> int:
        """A request count ("create", "poll", "token", "me") or "connections"."""
        return int(self._ctl("count", what))

    def last_code(self) -> str | None:
        """The code the mock handed out last, or None."""
        return self._ctl("last-code") or None


@contextlib.contextmanager
def mock_api(directory: str, *args: str):
    """The HTTPS mock API in DIR/mock (extra CLI args e.g. "--auto", "approve"); stopped always."""
    path = os.path.join(directory, "mock")
    os.makedirs(path, mode=0o755, exist_ok=True)
    os.chmod(path, 0o755)
    mock = Mock.start(path, *args, timeout=30)
    try:
        yield mock
    finally:
        mock.stop()
