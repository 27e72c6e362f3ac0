#!/usr/bin/python3
"""Drive a running nextpay_mock.py, from shell scripts or Python tests.

    python3 tests/mock/mockctl.py --dir DIR COMMAND [ARGS]

Commands:
    wait-ready [--timeout 10]   wait until the mock answers over verified TLS
    url                         print https://127.0.0.1:PORT/v1
    approve [--user U] [--code C]
    deny [--code C]
    expire [--code C]           (these three print the code they acted on)
    config JSON                 e.g. '{"auto": {"action": "approve", "after": 0.5}}'
    fault JSON                  e.g. '{"endpoint": "poll", "kind": "status", "status": 429}'
    revoke JSON                 '{"user": "usr_alice"}' or '{"token": "..."}'
    reassign JSON               '{"user": "usr_alice", "to": "usr_bob"}': its tokens answer for bob
    user JSON                   '{"id": "usr_x", "email": "X@Example.com"}': add an identity
    reset
    stats                       print the stats as JSON
    stop [--timeout 5]          SIGTERM the mock and wait for it to exit

Exit status 0 on success, 1 with a one-line message on stderr otherwise.

From Python:
    from mockctl import Mock
    mock = Mock.start(tmpdir)            # or Mock(dir) for one already running
    mock.fault(endpoint="poll", kind="status", status=503)
    mock.approve(user="usr_alice")
    mock.stop()
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

MOCK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nextpay_mock.py")


class MockError(Exception):
    """The mock is not there, or refused a control request."""


class Mock:
    """A handle on one mock server, identified by its working directory."""

    def __init__(self, directory: str):
        self.dir = os.path.abspath(directory)
        self._proc: subprocess.Popen | None = None

    # ---- starting ---------------------------------------------------------

    @classmethod
    def start(cls, directory: str, *args: str, timeout: float = 10.0) -> "Mock":
        """Start nextpay_mock.py with extra CLI args (e.g. "--auto", "approve") and wait for it."""
        mock = cls(directory)
        os.makedirs(mock.dir, exist_ok=True)
        # A port file left by a killed run would make wait_ready talk to nothing.
        for stale in ("port", "mock.pid"):
            try:
                os.unlink(mock.path(stale))
            except FileNotFoundError:
                pass
        mock._proc = subprocess.Popen([sys.executable, MOCK_SCRIPT, "--dir", mock.dir, *args],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            mock.wait_ready(timeout)
        except BaseException:
            mock._proc.kill()
            mock._proc.wait()
            raise
        return mock

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
    def pid(self) -> int:
        text = self._read("mock.pid")
        if not text.isdigit():
            raise MockError(f"{self.path('mock.pid')} does not hold a pid")
        return int(text)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The api_url to configure the module with."""
        return self.base_url + "/v1"

    # ---- HTTP -----------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """Trust exactly the mock's CA.

        The chain is verified but not the name: a mock started with --cert wrongname
        serves a certificate for wrong.example, and its tests still need wait-ready and
        the control API.  Only the module under test is meant to trip over the name.
        """
        try:
            ctx = ssl.create_default_context(cafile=self.ca_cert)
        except (OSError, ssl.SSLError) as e:
            raise MockError(f"cannot load {self.ca_cert}: {e}") from None
        ctx.check_hostname = False
        return ctx

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                headers: dict | None = None, timeout: float = 10.0) -> tuple[int, dict, bytes]:
        """A raw request to the mock (path from the server root, e.g. "/v1/auth/me").

        Returns (status, headers, body) for any status; raises MockError only when
        there is no HTTP answer at all.
        """
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        req = urllib.request.Request(self.base_url + path, data=body, method=method,
                                     headers=dict(headers or {}))
        if body is not None and not req.has_header("Content-type"):
            req.add_header("Content-Type", "application/json")
        # No proxy from the environment may get between us and 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=self.ssl_context()))
        try:
            with opener.open(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, dict(e.headers), e.read()
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise MockError(f"no answer from the mock at {self.base_url}: {reason}") from None

    def _control(self, name: str, payload: dict | None = None) -> dict:
        method = "GET" if payload is None else "POST"
        status, _, raw = self.request(method, "/_mock/" + name,
                                      None if payload is None else payload)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise MockError(f"/_mock/{name}: HTTP {status} with a non-JSON answer") from None
        if status != 200 or not answer.get("ok"):
            err = answer.get("error")
            message = err.get("message") if isinstance(err, dict) else err
            raise MockError(f"/_mock/{name}: HTTP {status}: {message}")
        return answer

    # ---- control ------------------------------------------------------------

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no port file yet"
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise MockError(f"the mock exited with status {self._proc.returncode}")
            if os.path.exists(self.path("port")):
                try:
                    self._control("stats")
                    return
                except MockError as e:
                    last = str(e)
            if time.monotonic() >= deadline:
                raise MockError(f"mock in {self.dir} not ready after {timeout:g}s ({last})")
            time.sleep(0.05)

    @staticmethod
    def _without_none(**fields) -> dict:
        return {k: v for k, v in fields.items() if v is not None}

    def approve(self, user: str | None = None, code: str | None = None) -> str:
        """Approve a code (default: the newest) for user (default: the mock's --auto-user)."""
        return self._control("approve", self._without_none(user=user, code=code))["code"]

    def deny(self, code: str | None = None) -> str:
        return self._control("deny", self._without_none(code=code))["code"]

    def expire(self, code: str | None = None) -> str:
        return self._control("expire", self._without_none(code=code))["code"]

    def config(self, settings: dict | None = None, **fields) -> dict:
        """config({"auto": None}) or config(code_ttl=5); returns the new config."""
        return self._control("config", {**(settings or {}), **fields})["config"]

    def fault(self, spec: dict | None = None, **fields) -> int:
        """Queue a fault, e.g. fault(endpoint="poll", kind="reset"); returns the queue length."""
        return self._control("fault", {**(spec or {}), **fields})["queued"]

    def revoke(self, spec: dict | None = None, **fields) -> int:
        return self._control("revoke", {**(spec or {}), **fields})["revoked"]

    def reassign(self, spec: dict | None = None, **fields) -> int:
        """reassign(user="usr_alice", to="usr_bob"): those tokens answer for bob."""
        return self._control("reassign", {**(spec or {}), **fields})["reassigned"]

    def add_user(self, spec: dict | None = None, **fields) -> str:
        """add_user(id="usr_x", email="X@Example.com"): a new identity to approve as."""
        return self._control("user", {**(spec or {}), **fields})["user"]

    def reset(self) -> None:
        self._control("reset", {})

    def stats(self) -> dict:
        stats = self._control("stats")
        stats.pop("ok", None)
        return stats

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the mock and wait for it; SIGKILL (and report failure) if it lingers."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise MockError(f"the mock did not exit within {timeout:g}s of SIGTERM; killed it")
            return
        if not os.path.exists(self.path("mock.pid")):
            raise MockError(f"no mock.pid in {self.dir}: is the mock running?")
        pid = self.pid
        if not _is_mock_process(pid):
            # Stale file from a killed run; the pid may belong to someone else by now.
            self._forget_files(pid)
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_mock_process(pid):
            if time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
                self._forget_files(pid)
                raise MockError(f"the mock (pid {pid}) did not exit within {timeout:g}s "
                                "of SIGTERM; killed it")
            time.sleep(0.05)

    def _forget_files(self, pid: int) -> None:
        try:
            if self.pid != pid:
                return
        except MockError:
            return
        for name in ("port", "mock.pid"):
            try:
                os.unlink(self.path(name))
            except FileNotFoundError:
                pass


def _is_mock_process(pid: int) -> bool:
    """Alive (not a zombie) and really running nextpay_mock.py: never signal a stranger."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, IndexError):
        return False
    return state != "Z" and b"nextpay_mock.py" in cmdline


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def _json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise MockError(f"not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise MockError("the JSON argument must be an object")
    return value


class _Parser(argparse.ArgumentParser):
    # Usage errors too: exit status 1 and a single line, like every other failure.
    def error(self, message):
        self.exit(1, f"mockctl: {message} (try --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(description="Control a running nextpay_mock.py.")
    ap.add_argument("--dir", required=True, help="the mock's working directory")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("wait-ready", help="wait until the mock answers")
    p.add_argument("--timeout", type=float, default=10.0)
    sub.add_parser("url", help="print the API base URL")
    p = sub.add_parser("approve", help="approve a code (default: the newest)")
    p.add_argument("--user")
    p.add_argument("--code")
    for name in ("deny", "expire"):
        sub.add_parser(name, help=f"{name} a code (default: the newest)").add_argument("--code")
    for name in ("config", "fault", "revoke", "reassign", "user"):
        sub.add_parser(name, help=f"POST JSON to /_mock/{name}").add_argument("json")
    sub.add_parser("reset", help="forget codes, faults, counters, config and revocations")
    sub.add_parser("stats", help="print the stats as JSON")
    p = sub.add_parser("stop", help="SIGTERM the mock and wait for it to exit")
    p.add_argument("--timeout", type=float, default=5.0)
    return ap


def run(args: argparse.Namespace) -> None:
    mock = Mock(args.dir)
    cmd = args.command
    if cmd == "wait-ready":
        mock.wait_ready(args.timeout)
    elif cmd == "url":
        print(mock.url)
    elif cmd == "approve":
        print(mock.approve(user=args.user, code=args.code))
    elif cmd == "deny":
        print(mock.deny(code=args.code))
    elif cmd == "expire":
        print(mock.expire(code=args.code))
    elif cmd == "config":
        print(json.dumps(mock.config(_json_arg(args.json))))
    elif cmd == "fault":
        mock.fault(_json_arg(args.json))
    elif cmd == "revoke":
        mock.revoke(_json_arg(args.json))
    elif cmd == "reassign":
        mock.reassign(_json_arg(args.json))
    elif cmd == "user":
        mock.add_user(_json_arg(args.json))
    elif cmd == "reset":
        mock.reset()
    elif cmd == "stats":
        print(json.dumps(mock.stats(), indent=2))
    elif cmd == "stop":
        mock.stop(args.timeout)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except MockError as e:
        print(f"mockctl: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
