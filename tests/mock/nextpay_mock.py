#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A mock of the NextPay auth API, served over real HTTPS, for pam_nextpay's tests.

    python3 tests/mock/nextpay_mock.py --dir DIR [--code-ttl SECONDS] \
        [--auto approve|deny] [--auto-user usr_xxx] [--auto-after SECONDS] \
        [--cert good|wrongname|expired]

DIR receives a test CA and server certificates (made once, with the openssl
command), the pins of the server keys, and while the mock runs: DIR/port,
DIR/mock.pid and DIR/mock.log.  The API lives under /v1, a browser approval page
under /auth/device, and a control API for tests under /_mock/ (see
tests/mock/mockctl.c for its client).  Standard library only.

Fault parameters beyond mockctl's list: a "body" fault takes "pad" (N),
"pad_text" (default "A") and "pad_close" (default ""), at most 64 bytes each:
the first @PAD@ in the body becomes N copies of pad_text and the first @/PAD@
N copies of pad_close, for answers of megabytes or 10,000 levels deep that the
control API's own 64 KiB body cap could not carry; and "chunked": true sends
the body without a Content-Length.  --cert expired serves a certificate for the right name from
the right CA whose validity ended two days ago (made on first use).

Tokens and identities beyond mockctl's list: /_mock/config also takes
"token_lifetime" (whole seconds, the exp of tokens issued from then on; null:
tokens without an exp claim, which the mock accepts for ten years) and
"accept_expired" (true: /auth/me answers for expired tokens too, so a client's
own expiry check is what a test sees); /_mock/reassign {"user" or "token",
"to": usr_x} makes existing tokens answer for another user; /_mock/user {"id",
"email", "name"} adds an identity (or replaces one added before), which stays,
like tokens, across /_mock/reset.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import http.server
import json
import logging
import math
import os
import re
import resource
import secrets
import signal
import socket
import socketserver
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus

BODY_CAP = 64 * 1024          # largest request body we accept
LOG_KEEP = 200                # request log entries kept for /_mock/stats
HANDSHAKE_TIMEOUT = 10.0      # a client that never finishes TLS only ties up its own thread
IDLE_TIMEOUT = 60.0           # idle keep-alive connections are dropped after this
CERT_DAYS = "30"
CODE_ALPHABET = string.ascii_uppercase + string.digits
CODE_LENGTH = 6
TOKEN_LIFETIME = 3600
# How long the mock itself accepts a token issued without an exp claim (and the
# longest token_lifetime /_mock/config takes).
NO_EXP_LIFETIME = 10 * 365 * 86400

USERS = {
    # /_mock/user adds more; the built-in ones below never change.
    "usr_alice": {"id": "usr_alice", "email": "alice@example.com", "name": "Alice Example"},
    "usr_bob": {"id": "usr_bob", "email": "Bob.Builder@Example.COM", "name": "Bob Builder"},
    "usr_demo": {"id": "usr_demo", "email": "demo@example.com", "name": "Demo Person"},
    # Control characters on purpose: the module must never echo them raw to a terminal.
    "usr_carol": {"id": "usr_carol", "email": "carol@corp.example", "name": "Carol\x1b[31m Evil\x07"},
}
BUILTIN_USERS = frozenset(USERS)
USER_ID_RE = re.compile(r"^usr_[A-Za-z0-9_-]{1,100}$")
API_KEYS = {
    "npk_alice_0123456789abcdef": "usr_alice",
    "npk_bob_0123456789abcdef": "usr_bob",
}

ENDPOINTS = ("create", "poll", "token", "me")
COUNTED = ENDPOINTS + ("page",)
FAULT_ENDPOINTS = frozenset(ENDPOINTS + ("any",))
FAULT_KINDS = frozenset({"status", "body", "garbage", "html", "empty", "oversized",
                         "slow", "trickle", "cut", "reset"})
FAULT_PARAMS = frozenset({"status", "retry_after", "body", "body_base64", "content_type",
                          "size", "chunked", "delay", "pad", "pad_text", "pad_close"})
PAD_MARKER = b"@PAD@"         # a body fault's "pad": pad_text this many times
PAD_CLOSE_MARKER = b"@/PAD@"  # ... and pad_close as many times (closing brackets)
PAD_MAX = 64 << 20
AUTO_ACTIONS = frozenset({"approve", "deny"})

_UNSET = object()             # "field not given", where None is a meaningful value

log = logging.getLogger("nextpay_mock")


class SetupError(Exception):
    """Something stops the mock from starting (reported on stderr, exit 1)."""


class BadRequest(Exception):
    """A control request the mock refuses; carries the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------
# Certificates and pins
# --------------------------------------------------------------------------

def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise SetupError("the openssl command is not installed") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise SetupError(f"openssl {args[0]} failed: {detail[-1] if detail else done.returncode}")
    return done.stdout


def _write_file(path: str, data: str | bytes, mode: int = 0o644) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    if isinstance(data, str):
        data = data.encode()
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _issue_server_cert(work: str, name: str, cn: str, san: str) -> None:
    key, csr, crt, ext = (os.path.join(work, name + s) for s in (".key", ".csr", ".crt", ".ext"))
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", f"/CN={cn}")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\n"
                "extendedKeyUsage=serverAuth\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                # Key identifiers keep stricter verifiers (e.g. X509_STRICT) happy.
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid,issuer\n")
    # A random serial instead of -CAcreateserial: no ca.srl file left lying around.
    serial = "0x" + secrets.token_hex(16)
    _openssl("x509", "-req", "-in", csr, "-CA", os.path.join(work, "ca.crt"),
             "-CAkey", os.path.join(work, "ca.key"), "-set_serial", serial,
             "-out", crt, "-days", CERT_DAYS, "-sha256", "-extfile", ext)


def _issue_expired_cert(directory: str) -> None:
    """DIR/expired.crt: for localhost, signed by DIR's CA, valid only on a day in the past.

    `openssl x509 -req` (OpenSSL 3.0) cannot set notBefore; `openssl ca` can, given a
    throw-away database and config.
    """
    with tempfile.TemporaryDirectory(dir=directory, prefix=".expired-") as work:
        key, csr, crt = (os.path.join(work, "expired" + s) for s in (".key", ".csr", ".crt"))
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", "/CN=localhost")
        with open(os.path.join(work, "index.txt"), "w"):
            pass
        with open(os.path.join(work, "serial"), "w") as f:
            f.write(secrets.token_hex(16) + "\n")
        cnf, ext = os.path.join(work, "ca.cnf"), os.path.join(work, "expired.ext")
        with open(cnf, "w") as f:
            f.write(f"[ca]\ndefault_ca = mock\n[mock]\ndatabase = {work}/index.txt\n"
                    f"new_certs_dir = {work}\nserial = {work}/serial\ndefault_md = sha256\n"
                    "policy = anything\nunique_subject = no\n[anything]\ncommonName = supplied\n")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n")
        stamp = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))  # noqa: E731
        now = time.time()
        _openssl("ca", "-batch", "-notext", "-config", cnf, "-cert", os.path.join(directory, "ca.crt"),
                 "-keyfile", os.path.join(directory, "ca.key"), "-in", csr, "-out", crt,
                 "-extfile", ext, "-startdate", stamp(now - 3 * 86400),
                 "-enddate", stamp(now - 2 * 86400))
        os.chmod(key, 0o600)
        os.chmod(crt, 0o644)
        os.replace(key, os.path.join(directory, "expired.key"))
        os.replace(crt, os.path.join(directory, "expired.crt"))


def public_key_pin(crt_path: str) -> str:
    """The libcurl CURLOPT_PINNEDPUBLICKEY form: sha256// + base64(sha256(SPKI DER))."""
    pem = _openssl("x509", "-in", crt_path, "-noout", "-pubkey")
    der = _openssl("pkey", "-pubin", "-outform", "DER", stdin=pem)
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def ensure_certs(directory: str) -> None:
    """Create the CA and both server certificates unless DIR/ca.crt exists; write the pins.

    Everything is made in a scratch directory and moved in with ca.crt last, so an
    interrupted run leaves no ca.crt and the next start simply makes a fresh set.
    """
    if not os.path.exists(os.path.join(directory, "ca.crt")):
        with tempfile.TemporaryDirectory(dir=directory, prefix=".certs-") as work:
            _openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes",
                     "-keyout", os.path.join(work, "ca.key"), "-out", os.path.join(work, "ca.crt"),
                     "-days", CERT_DAYS, "-subj", "/CN=nextpay-mock test CA",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
            _issue_server_cert(work, "srv", "localhost", "IP:127.0.0.1,DNS:localhost")
            _issue_server_cert(work, "wrong", "wrong.example", "DNS:wrong.example")
            for name in ("ca.key", "srv.key", "wrong.key", "srv.crt", "wrong.crt", "ca.crt"):
                os.chmod(os.path.join(work, name), 0o600 if name.endswith(".key") else 0o644)
                os.replace(os.path.join(work, name), os.path.join(directory, name))
    for crt, pin_file in (("srv.crt", "pin"), ("wrong.crt", "otherpin")):
        _write_file(os.path.join(directory, pin_file), public_key_pin(os.path.join(directory, crt)))


# --------------------------------------------------------------------------
# Shared state: every method takes the one lock
# --------------------------------------------------------------------------

@dataclass
class AutoRule:
    action: str      # "approve" | "deny"
    user: str
    after: float     # seconds after creation

    def as_json(self) -> dict:
        return {"action": self.action, "user": self.user, "after": self.after}


@dataclass
class Settings:
    code_ttl: float
    auto: AutoRule | None
    default_user: str    # who /_mock/approve and the page pick when not told
    auto_after: float    # delay used when /_mock/config gives an auto rule without one
    token_lifetime: int | None = TOKEN_LIFETIME  # exp - iat of tokens issued from now on; None: no exp
    accept_expired: bool = False          # /auth/me answers for expired tokens too


@dataclass
class DeviceCode:
    code: str
    created: float
    expires_at: int
    auto: AutoRule | None          # snapshot: config changes affect only later codes
    intent: str | None = None
    state: str = "pending"         # pending | approved | denied | expired
    user: str | None = None
    token: str | None = None
    # CLOCK_MONOTONIC (shared by every process) when it was approved or denied, for
    # the benchmark's approval-to-success time; an auto rule's is when it fell due.
    decided_monotonic: float | None = None


@dataclass
class Fault:
    endpoint: str
    kind: str
    remaining: int                 # -1: until reset
    params: dict = field(default_factory=dict)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_token(user_id: str, now: int, lifetime: int | None = TOKEN_LIFETIME) -> str:
    header = {"alg": "RS256", "typ": "JWT"}
    payload: dict = {"sub": user_id, "iat": now}
    if lifetime is not None:
        payload["exp"] = now + lifetime
    enc = lambda obj: _b64url(json.dumps(obj, separators=(",", ":")).encode())  # noqa: E731
    return f"{enc(header)}.{enc(payload)}.{_b64url(secrets.token_bytes(64))}"


class MockState:
    def __init__(self, defaults: Settings):
        self.lock = threading.Lock()
        self.defaults = defaults
        self.port = 0
        self.tokens: dict[str, tuple[str, int]] = {}   # token -> (user, exp); survives reset
        self._reset_locked()

    def _reset_locked(self) -> None:
        d = self.defaults
        self.settings = Settings(d.code_ttl, d.auto, d.default_user, d.auto_after)
        self.codes: dict[str, DeviceCode] = {}
        self.last_code: str | None = None
        self.faults: list[Fault] = []
        self.revoked: set[str] = set()
        self.requests = dict.fromkeys(COUNTED, 0)
        self.connections = 0
        self.tls_failures = 0
        self.last_create_body = None
        self.log: deque[dict] = deque(maxlen=LOG_KEEP)

    # ---- counters -------------------------------------------------------

    def count_connection(self, delta: int) -> None:
        with self.lock:
            self.connections += delta

    def count_tls_failure(self) -> None:
        with self.lock:
            self.tls_failures += 1

    def record_request(self, endpoint: str | None, entry: dict) -> None:
        with self.lock:
            if endpoint in self.requests:
                self.requests[endpoint] += 1
            self.log.append(entry)

    def take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.endpoint in (endpoint, "any"):
                    if fault.remaining > 0:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            del self.faults[i]
                    return Fault(fault.endpoint, fault.kind, fault.remaining, dict(fault.params))
            return None

    # ---- device codes ----------------------------------------------------

    def _issue_token_locked(self, user: str) -> str:
        now = int(time.time())
        lifetime = self.settings.token_lifetime
        token = make_token(user, now, lifetime)
        self.tokens[token] = (user, now + (lifetime if lifetime is not None else NO_EXP_LIFETIME))
        return token

    def _decide_locked(self, dc: DeviceCode, action: str, user: str | None,
                       when: float | None = None) -> None:
        dc.decided_monotonic = time.monotonic() if when is None else when
        if action == "approve":
            dc.state, dc.user, dc.token = "approved", user, self._issue_token_locked(user)
        else:
            dc.state = "denied"

    def _settle_locked(self, dc: DeviceCode, now: float) -> None:
        """Apply, lazily, whatever time has decided: an auto decision or expiry.

        The auto decision wins if it was due before the code expired, so the outcome
        depends only on the clock, never on when someone happened to poll.
        """
        if dc.state != "pending":
            return
        rule = dc.auto
        if rule and dc.created + rule.after < dc.expires_at and now >= dc.created + rule.after:
            due = time.monotonic() - (now - (dc.created + rule.after))
            self._decide_locked(dc, rule.action, rule.user, due)
        elif now >= dc.expires_at:
            dc.state = "expired"

    def create_code(self, body: object) -> DeviceCode:
        with self.lock:
            now = time.time()
            while True:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if code not in self.codes:
                    break
            intent = body.get("intent") if isinstance(body, dict) else None
            dc = DeviceCode(code=code, created=now,
                            expires_at=math.ceil(now + self.settings.code_ttl),
                            auto=self.settings.auto,
                            intent=intent if isinstance(intent, str) else None)
            self.codes[code] = dc
            self.last_code = code
            self.last_create_body = body
            return dc

    def lookup(self, code: str) -> DeviceCode | None:
        """A settled copy of the code, safe to read without the lock."""
        with self.lock:
            dc = self.codes.get(code)
            if dc is None:
                return None
            self._settle_locked(dc, time.time())
            return DeviceCode(**dc.__dict__)

    def decide(self, code: str | None, action: str, user: str | None = None) -> DeviceCode:
        """approve / deny / expire a pending code, for the control API and the page."""
        with self.lock:
            if code is None:
                code = self.last_code
                if code is None:
                    raise BadRequest("no device code has been created yet", 404)
            dc = self.codes.get(code)
            if dc is None:
                raise BadRequest(f"no such device code: {code}", 404)
            self._settle_locked(dc, time.time())
            if action == "expire":
                # Forcing expiry is allowed in any state: a test may want an approved
                # code to turn expired under a client that keeps polling.
                dc.state = "expired"
            elif dc.state == "expired":
                raise BadRequest(f"device code {code} has expired", 410)
            elif dc.state != "pending":
                raise BadRequest(f"device code {code} is already {dc.state}", 409)
            else:
                self._decide_locked(dc, action, user)
            return DeviceCode(**dc.__dict__)

    # ---- tokens ----------------------------------------------------------

    def exchange_key(self, api_key: str | None) -> tuple[str, str] | None:
        with self.lock:
            user = API_KEYS.get(api_key or "")
            return (self._issue_token_locked(user), user) if user else None

    def whoami(self, token: str | None) -> dict | None:
        with self.lock:
            known = self.tokens.get(token or "")
            if known is None or token in self.revoked:
                return None
            if known[1] <= time.time() and not self.settings.accept_expired:
                return None
            return dict(USERS[known[0]])

    def reassign(self, user: str | None, token: str | None, to: str) -> int:
        """Existing tokens (of user, or the one token) answer for `to` from now on."""
        with self.lock:
            moved = [t for t, (u, _) in self.tokens.items()
                     if (user is not None and u == user) or t == token]
            for t in moved:
                self.tokens[t] = (to, self.tokens[t][1])
            return len(moved)

    def add_user(self, user: dict) -> None:
        with self.lock:
            USERS[user["id"]] = user

    def revoke(self, user: str | None, token: str | None) -> int:
        with self.lock:
            doomed = {t for t, (u, _) in self.tokens.items() if u == user} if user else set()
            if token:
                doomed.add(token)
            self.revoked |= doomed
            return len(doomed)

    # ---- control ---------------------------------------------------------

    def configure(self, auto: object, code_ttl: object, token_lifetime: object = _UNSET,
                  accept_expired: object = _UNSET) -> dict:
        with self.lock:
            if auto is not _UNSET:
                self.settings.auto = auto
            if code_ttl is not _UNSET:
                self.settings.code_ttl = code_ttl
            if token_lifetime is not _UNSET:
                self.settings.token_lifetime = token_lifetime
            if accept_expired is not _UNSET:
                self.settings.accept_expired = accept_expired
            return self._settings_json_locked()

    def _settings_json_locked(self) -> dict:
        s = self.settings
        return {"code_ttl": s.code_ttl, "auto": s.auto.as_json() if s.auto else None,
                "token_lifetime": s.token_lifetime, "accept_expired": s.accept_expired}

    def add_fault(self, fault: Fault) -> int:
        with self.lock:
            self.faults.append(fault)
            return len(self.faults)

    def reset(self) -> None:
        with self.lock:
            self._reset_locked()

    def stats(self) -> dict:
        with self.lock:
            now = time.time()
            codes = []
            for dc in self.codes.values():
                self._settle_locked(dc, now)
                codes.append({"code": dc.code, "state": dc.state, "user": dc.user,
                              "expires_at": dc.expires_at,
                              "decided_monotonic": dc.decided_monotonic})
            return {
                "requests": dict(self.requests),
                "connections": self.connections,
                "tls_failures": self.tls_failures,
                "codes": codes,
                "last_create_body": self.last_create_body,
                "config": self._settings_json_locked(),
                "faults": [{"endpoint": f.endpoint, "kind": f.kind, "count": f.remaining,
                            **f.params} for f in self.faults],
                "log": list(self.log),
            }


# --------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_reply(status: int, obj: object, headers: list | None = None) -> Reply:
    return Reply(status, json.dumps(obj).encode(), "application/json", headers or [])


def error_reply(status: int, code: str, message: str, headers: list | None = None) -> Reply:
    return json_reply(status, {"ok": False, "error": {"code": code, "message": message}}, headers)


def status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:
        return "MOCK_FAULT"


def _visible(text: str) -> str:
    """Show control characters as \\xNN so the page reveals hostile names instead of hiding them."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 else c
                   for c in text)


def _e(text: object) -> str:
    return html.escape(_visible(str(text)), quote=True)


PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · NextPay (mock)</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto;
        padding: 0 1rem; color: #1d2330; line-height: 1.5; }}
 h1 {{ font-size: 1.4rem; }}
 .code {{ font: 700 2.2rem ui-monospace, monospace; letter-spacing: .25em;
         background: #f1f3f7; padding: .4rem .8rem; display: inline-block; border-radius: .4rem; }}
 select, button {{ font: inherit; padding: .35rem .7rem; }}
 button {{ margin-right: .5rem; cursor: pointer; }}
 .foot {{ margin-top: 3rem; color: #7a8293; font-size: .85rem; }}
</style>
</head>
<body>
<h1>{title}</h1>
{content}
<p class="foot">NextPay mock server, for tests only.</p>
</body>
</html>
"""


def page(status: int, title: str, content: str) -> Reply:
    text = PAGE_TEMPLATE.format(title=html.escape(title), content=content)
    return Reply(status, text.encode("utf-8"), "text/html; charset=utf-8")


def approval_page(dc: DeviceCode, default_user: str) -> Reply:
    options = "\n".join(
        f'  <option value="{_e(u["id"])}"{" selected" if u["id"] == default_user else ""}>'
        f'{_e(u["name"])} &lt;{_e(u["email"])}&gt; ({_e(u["id"])})</option>'
        for u in USERS.values())
    intent = f"<p>Purpose: <b>{_e(dc.intent)}</b></p>\n" if dc.intent else ""
    content = (
        "<p>A device is asking to sign in with this code. Check that it matches the "
        "code shown on your terminal.</p>\n"
        f'<p class="code">{_e(dc.code)}</p>\n{intent}'
        '<form method="post" action="/auth/device">\n'
        f' <input type="hidden" name="code" value="{_e(dc.code)}">\n'
        f' <p><label>Sign in as<br><select name="user">\n{options}\n </select></label></p>\n'
        ' <p><button type="submit" name="action" value="approve">Approve</button>'
        '<button type="submit" name="action" value="deny">Deny</button></p>\n'
        "</form>")
    return page(200, "Approve sign-in", content)


def code_entry_page() -> Reply:
    content = ('<form method="get" action="/auth/device">\n'
               ' <p><label>Code<br><input name="code" size="8" autofocus></label></p>\n'
               ' <p><button type="submit">Continue</button></p>\n</form>')
    return page(400, "Enter your code", content)


def code_problem_page(problem: BadRequest) -> Reply:
    titles = {404: "Unknown code", 410: "Code expired", 409: "Code already used"}
    return page(problem.status, titles.get(problem.status, "Cannot use this code"),
                f"<p>{_e(str(problem)[:1].upper() + str(problem)[1:])}.</p>\n<p>Start the sign-in again on your terminal "
                "to get a new code.</p>")


def oversized_pieces(size: int):
    """A syntactically valid JSON document of exactly `size` bytes, in pieces."""
    if size < len('{"pad":""}'):
        yield b"1" * size          # a JSON number, still valid (empty if size is 0)
        return
    yield b'{"pad":"'
    left = size - len('{"pad":""}')
    block = b"x" * 65536
    while left > 0:
        yield block[:left]
        left -= min(left, len(block))
    yield b'"}'


# --------------------------------------------------------------------------
# Validation of control payloads
# --------------------------------------------------------------------------

def _number(obj: dict, key: str, default, minimum: float = 0, integer: bool = False,
            maximum: float | None = None):
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (integer and not isinstance(value, int)):
        raise BadRequest(f"{key} must be {'an integer' if integer else 'a number'}")
    if value < minimum or (maximum is not None and value > maximum):
        raise BadRequest(f"{key} is out of range")
    return value


def _known_user(user: object) -> str:
    if user not in USERS:
        raise BadRequest(f"unknown user {user!r}; known: {', '.join(USERS)}")
    return user


def _optional_code(payload: dict) -> str | None:
    code = payload.get("code")
    if code is not None and not isinstance(code, str):
        raise BadRequest("code must be a string")
    return code


def parse_fault(payload: dict) -> Fault:
    endpoint = payload.get("endpoint", "any")
    kind = payload.get("kind")
    if endpoint not in FAULT_ENDPOINTS:
        raise BadRequest(f"endpoint must be one of {sorted(FAULT_ENDPOINTS)}")
    if kind not in FAULT_KINDS:
        raise BadRequest(f"kind must be one of {sorted(FAULT_KINDS)}")
    count = payload.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not (count == -1 or count >= 1):
        raise BadRequest("count must be a positive integer or -1")
    params = {k: v for k, v in payload.items() if k not in ("endpoint", "kind", "count")}
    # Validate now so a typo fails the test's setup, not some later request.
    unknown = set(params) - FAULT_PARAMS
    if unknown:
        raise BadRequest(f"unknown fault fields: {sorted(unknown)}")
    if "status" in params:
        _number(params, "status", 0, 100, integer=True, maximum=599)
    if kind == "body" and "body" not in params and "body_base64" not in params:
        raise BadRequest("a body fault needs body (or body_base64)")
    if "body_base64" in params:
        try:
            base64.b64decode(params["body_base64"], validate=True)
        except (ValueError, TypeError):
            raise BadRequest("body_base64 is not base64") from None
    if "delay" in params:
        _number(params, "delay", 0, 0, maximum=3600)
    if "size" in params:
        _number(params, "size", 0, 0, integer=True, maximum=1 << 31)
    if "pad" in params:
        _number(params, "pad", 0, 0, integer=True, maximum=PAD_MAX)
    for key, default in (("pad_text", "A"), ("pad_close", "")):
        text = params.get(key, default)
        if not isinstance(text, str) or len(text.encode()) > 64:
            raise BadRequest(f"{key} must be a string of at most 64 bytes")
    if "pad" in params and params["pad"] * max(len(params.get("pad_text", "A").encode()),
                                                len(params.get("pad_close", "").encode())) > PAD_MAX:
        raise BadRequest("pad makes the body too large")
    if "retry_after" in params and not isinstance(params["retry_after"], (int, float, str)):
        raise BadRequest("retry_after must be a number or a string")
    return Fault(endpoint, kind, count, params)


def state_user(state: MockState, payload: dict) -> str:
    """Adds (or replaces an added) identity from {"id", "email", "name"}."""
    unknown = set(payload) - {"id", "email", "name"}
    if unknown:
        raise BadRequest(f"unknown user fields: {sorted(unknown)}")
    user_id, email = payload.get("id"), payload.get("email")
    name = payload.get("name", "Added Person")
    if not isinstance(user_id, str) or not USER_ID_RE.match(user_id):
        raise BadRequest("id must be usr_ and letters, digits, _ or -")
    if user_id in BUILTIN_USERS:
        raise BadRequest(f"{user_id} is built in and does not change", 409)
    if not isinstance(email, str) or not 0 < len(email) <= 254 or \
            not isinstance(name, str) or len(name) > 128:
        raise BadRequest("email must be a string of 1 to 254 characters, name at most 128")
    state.add_user({"id": user_id, "email": email, "name": name})
    return user_id


def parse_auto(value: object, settings: Settings) -> AutoRule | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("auto must be an object or null")
    action = value.get("action")
    if action not in AUTO_ACTIONS:
        raise BadRequest("auto.action must be approve or deny")
    user = _known_user(value.get("user", settings.default_user))
    after = _number(value, "after", settings.auto_after)
    return AutoRule(action, user, float(after))


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

POLL_PATH = re.compile(r"^/v1/auth/device-code/([^/]+)$")


def route(method: str, path: str) -> tuple[str | None, str | None, str | None]:
    """(endpoint, argument, allowed-method-if-wrong) for an API or page path."""
    if path == "/v1/auth/device-code":
        return ("create", None, None) if method == "POST" else (None, None, "POST")
    m = POLL_PATH.match(path)
    if m:
        return ("poll", urllib.parse.unquote(m.group(1)), None) if method == "GET" \
            else (None, None, "GET")
    if path == "/v1/auth/token":
        return ("token", None, None) if method == "POST" else (None, None, "POST")
    if path == "/v1/auth/me":
        return ("me", None, None) if method == "GET" else (None, None, "GET")
    if path == "/auth/device":
        return ("page", None, None) if method in ("GET", "POST") else (None, None, "GET, POST")
    return None, None, None


class ConnectionAborted(Exception):
    """The handler closed (or reset) the connection itself; nothing more to send."""


class MockHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NextPayMock/1.0"
    timeout = IDLE_TIMEOUT
    # The head and the body of an answer go out as two writes: with Nagle's algorithm
    # the second waits for the client's delayed ACK, some 40 ms on every request.
    disable_nagle_algorithm = True
    server: "MockServer"

    # One TLS connection = one handler instance.  `counted`: this connection is in
    # the connections stat; `api_seen`: it has carried a non-control request.
    def setup(self):
        super().setup()
        self.counted = True
        self.api_seen = False

    def version_string(self):
        return self.server_version

    @property
    def state(self) -> MockState:
        return self.server.state

    # ---- logging: one line per request into mock.log -----------------------

    def log_request(self, code="-", size="-"):
        code = getattr(code, "value", code)
        # After a malformed request line there is no command or path, only the raw line.
        target = getattr(self, "path", "") if self.command else self.requestline
        log.info("%s %s %s", self.command or "-", _visible(target), code)

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass    # timeouts and parse errors: the status line in log_request says enough

    # ---- dispatch ---------------------------------------------------------

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self):
        self._replied = False
        try:
            self._handle()
        except ConnectionAborted:
            self.close_connection = True
        except OSError:                      # includes ssl.SSLError
            self.close_connection = True     # the client went away mid-answer
        except Exception:  # noqa: BLE001 - a bug here must not kill the server
            log.error("handler error on %s %s:\n%s", self.command, _visible(self.path),
                      traceback.format_exc().rstrip())
            self.close_connection = True
            if not self._replied:
                try:
                    self._send(error_reply(500, "INTERNAL", "mock server error"))
                except OSError:
                    pass

    def _handle(self):
        path = urllib.parse.urlsplit(self.path).path
        body = self._read_body()
        if isinstance(body, Reply):
            self.close_connection = True    # framing is unknown after a refused body
            self._send(body)
            return
        control = path.startswith("/_mock/")
        self._count_connection(control)
        if control:
            self._send(self._control(path, body))
            return

        endpoint, arg, allowed = route(self.command, path)
        self.state.record_request(endpoint, {
            "method": self.command,
            "path": self.path,
            "endpoint": endpoint,
            "authorization": self.headers.get("Authorization"),
            "body": body.decode("utf-8", errors="replace"),
            "headers": {k.lower(): v for k, v in self.headers.items()},
        })
        if allowed:
            self._send(error_reply(405, "METHOD_NOT_ALLOWED", "Method not allowed",
                                   [("Allow", allowed)]))
        elif endpoint is None:
            self._send(error_reply(404, "NOT_FOUND", "No such endpoint"))
        elif endpoint == "page":
            self._send(self._page(body))
        else:
            fault = self.state.take_fault(endpoint)
            answer = lambda: self._api(endpoint, arg, body)  # noqa: E731
            if fault:
                self._apply_fault(fault, answer)
            else:
                self._send(answer())

    def _count_connection(self, control: bool) -> None:
        # The connections stat is for the client under test: a connection that has
        # only carried control requests (mockctl, the test itself) is taken back out.
        if not control:
            self.api_seen = True
            if not self.counted:
                self.counted = True
                self.state.count_connection(+1)
        elif self.counted and not self.api_seen:
            self.counted = False
            self.state.count_connection(-1)

    # ---- request bodies ---------------------------------------------------

    def _read_body(self) -> bytes | Reply:
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower() != "chunked":
                return error_reply(501, "NOT_IMPLEMENTED", "Unsupported Transfer-Encoding")
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            return error_reply(400, "BAD_REQUEST", "Bad Content-Length")
        n = int(length)
        if n > BODY_CAP:
            return error_reply(413, "PAYLOAD_TOO_LARGE", "Request body too large")
        data = self.rfile.read(n)
        if len(data) < n:
            raise ConnectionAborted()
        return data

    def _read_chunked(self) -> bytes | Reply:
        data = bytearray()
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionAborted()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return error_reply(400, "BAD_REQUEST", "Bad chunk size")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass    # trailers: ignored
                return bytes(data)
            if len(data) + size > BODY_CAP:
                return error_reply(413, "PAYLOAD_TOO_LARGE", "Request body too large")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ConnectionAborted()
            data += chunk
            self.rfile.readline(1024)

    # ---- the API ----------------------------------------------------------

    def _bearer(self) -> str | None:
        value = self.headers.get("Authorization", "")
        scheme, _, credential = value.partition(" ")
        return credential.strip() if scheme.lower() == "bearer" and credential.strip() else None

    def _api(self, endpoint: str, arg: str | None, body: bytes) -> Reply:
        if endpoint == "create":
            try:
                parsed = json.loads(body) if body.strip() else {}
            except ValueError:
                return error_reply(400, "BAD_REQUEST", "Body is not JSON")
            dc = self.state.create_code(parsed)
            return json_reply(200, {
                "code": dc.code,
                "verification_url": f"https://127.0.0.1:{self.state.port}/auth/device?code={dc.code}",
                "expires_at": dc.expires_at,
            })
        if endpoint == "poll":
            dc = self.state.lookup(arg)
            if dc is None:
                return json_reply(404, {"status": "not_found"})
            if dc.state == "approved":
                return json_reply(200, {"status": "approved", "token": dc.token})
            return json_reply(200, {"status": dc.state})
        if endpoint == "token":
            issued = self.state.exchange_key(self._bearer())
            if issued is None:
                return error_reply(401, "UNAUTHORIZED", "Invalid API key")
            return json_reply(200, {"ok": True, "data": {"token": issued[0], "user_id": issued[1]}})
        if endpoint == "me":
            user = self.state.whoami(self._bearer())
            if user is None:
                return error_reply(401, "UNAUTHORIZED", "Not authenticated")
            return json_reply(200, {"ok": True, "data": user})
        raise AssertionError(endpoint)

    # ---- faults -----------------------------------------------------------

    def _apply_fault(self, fault: Fault, answer) -> None:
        p, kind = fault.params, fault.kind
        if kind == "status":
            status = p.get("status", 503)
            headers = [("Retry-After", str(p["retry_after"]))] if "retry_after" in p else []
            self._send(error_reply(status, status_code_name(status),
                                   "Injected fault from the mock", headers))
        elif kind == "body":
            if "body_base64" in p:
                raw = base64.b64decode(p["body_base64"])
            elif isinstance(p["body"], str):
                raw = p["body"].encode("utf-8")
            else:
                raw = json.dumps(p["body"]).encode()
            if "pad" in p:
                # Bodies of megabytes, which the control API's own body cap cannot carry.
                raw = raw.replace(PAD_MARKER, p.get("pad_text", "A").encode() * p["pad"], 1)
                raw = raw.replace(PAD_CLOSE_MARKER, p.get("pad_close", "").encode() * p["pad"], 1)
            reply = Reply(p.get("status", 200), raw, p.get("content_type", "application/json"))
            if p.get("chunked"):
                self._send_chunked(reply)
            else:
                self._send(reply)
        elif kind == "garbage":
            self._send(Reply(p.get("status", 200), b"<<<not json>>>"))
        elif kind == "html":
            self._send(page(p.get("status", 502), "502 Bad Gateway",
                            "<p>The upstream server returned an invalid response.</p>"
                            "<hr><p>nginx</p>"))
        elif kind == "empty":
            self._send(Reply(p.get("status", 200), b"", None))
        elif kind == "oversized":
            self._send_oversized(p.get("size", 1 << 20), bool(p.get("chunked")))
        elif kind == "slow":
            time.sleep(p.get("delay", 5))
            self._send(answer())
        elif kind == "trickle":
            self._send(answer(), trickle=p.get("delay", 1))
        elif kind == "cut":
            self._send_cut(answer())
        elif kind == "reset":
            self._reset()
        else:
            raise AssertionError(kind)

    def _send(self, reply: Reply, trickle: float | None = None) -> None:
        self._replied = True
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if trickle is None:
            self.wfile.write(reply.body)
            return
        # Headers go out at once; the body then crawls, so only an overall
        # transfer timeout (not a connect or first-byte timeout) can save the client.
        for byte in reply.body:
            time.sleep(trickle)
            self.wfile.write(bytes((byte,)))

    def _send_oversized(self, size: int, chunked: bool) -> None:
        self._replied = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        for piece in oversized_pieces(size):
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _send_chunked(self, reply: Reply) -> None:
        """The reply without Content-Length: the client learns its size only by reading it."""
        self._replied = True
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        for start in range(0, len(reply.body), 65536):
            piece = reply.body[start:start + 65536]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def _send_cut(self, reply: Reply) -> None:
        self._replied = True
        part = reply.body[:len(reply.body) // 2]
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type or "application/json")
        self.send_header("Content-Length", str(max(len(reply.body), len(part) + 1)))
        self.end_headers()
        self.wfile.write(part)
        self.connection.shutdown(socket.SHUT_RDWR)
        raise ConnectionAborted()

    def _reset(self) -> None:
        self._replied = True
        log.info("%s %s RESET", self.command, _visible(self.path))
        # Linger 0 makes close() send a RST instead of an orderly FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        raise ConnectionAborted()

    # ---- the approval page --------------------------------------------------

    def _page(self, body: bytes) -> Reply:
        default_user = self.state.settings.default_user
        if self.command == "GET":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            code = (query.get("code") or [""])[0].strip().upper()
            if not code:
                return code_entry_page()
            dc = self.state.lookup(code)
            if dc is None:
                return code_problem_page(BadRequest(f"The code {code} is not known", 404))
            if dc.state == "expired":
                return code_problem_page(BadRequest(f"The code {code} has expired", 410))
            if dc.state != "pending":
                return code_problem_page(BadRequest(f"The code {code} was already {dc.state}", 409))
            return approval_page(dc, default_user)

        form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        field_ = lambda name: (form.get(name) or [""])[0]  # noqa: E731
        code, action, user = field_("code").strip().upper(), field_("action"), field_("user")
        if action not in AUTO_ACTIONS or (action == "approve" and user not in USERS):
            return page(400, "Bad request", "<p>Choose a known user and Approve or Deny.</p>")
        try:
            self.state.decide(code, action, user if action == "approve" else None)
        except BadRequest as problem:
            return code_problem_page(problem)
        if action == "approve":
            return page(200, "Approved",
                        f"<p>Approved — you can return to your terminal.</p>\n"
                        f"<p>Signed in as {_e(USERS[user]['name'])} ({_e(user)}).</p>")
        return page(200, "Denied", "<p>Denied. The sign-in request was refused.</p>")

    # ---- the control API ----------------------------------------------------

    def _control(self, path: str, body: bytes) -> Reply:
        name = path[len("/_mock/"):]
        wanted = "GET" if name == "stats" else "POST"
        if name not in ("approve", "deny", "expire", "config", "fault", "revoke", "reassign",
                        "user", "reset", "stats"):
            return error_reply(404, "NOT_FOUND", f"no control endpoint {name!r}")
        if self.command != wanted:
            return error_reply(405, "METHOD_NOT_ALLOWED", f"use {wanted}", [("Allow", wanted)])
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            return error_reply(400, "BAD_REQUEST", "body is not JSON")
        if not isinstance(payload, dict):
            return error_reply(400, "BAD_REQUEST", "body must be a JSON object")
        try:
            return json_reply(200, {"ok": True, **self._control_action(name, payload)})
        except BadRequest as problem:
            return error_reply(problem.status, status_code_name(problem.status), str(problem))

    def _control_action(self, name: str, payload: dict) -> dict:
        state = self.state
        if name == "stats":
            return state.stats()
        if name == "reset":
            state.reset()
            return {}
        if name in ("approve", "deny", "expire"):
            user = _known_user(payload.get("user", state.settings.default_user)) \
                if name == "approve" else None
            dc = state.decide(_optional_code(payload), name, user)
            return {"code": dc.code, "state": dc.state}
        if name == "config":
            unknown = set(payload) - {"auto", "code_ttl", "token_lifetime", "accept_expired"}
            if unknown:
                raise BadRequest(f"unknown config fields: {sorted(unknown)}")
            auto = parse_auto(payload["auto"], state.settings) if "auto" in payload else _UNSET
            ttl = float(_number(payload, "code_ttl", 0)) if "code_ttl" in payload else _UNSET
            if "token_lifetime" not in payload:
                lifetime = _UNSET
            elif payload["token_lifetime"] is None:
                lifetime = None
            else:
                lifetime = _number(payload, "token_lifetime", 0, 1, integer=True,
                                   maximum=NO_EXP_LIFETIME)
            accept = payload.get("accept_expired", _UNSET)
            if accept is not _UNSET and not isinstance(accept, bool):
                raise BadRequest("accept_expired must be true or false")
            return {"config": state.configure(auto, ttl, lifetime, accept)}
        if name == "fault":
            return {"queued": state.add_fault(parse_fault(payload))}
        if name == "revoke":
            user, token = payload.get("user"), payload.get("token")
            if user is None and token is None:
                raise BadRequest("give user or token")
            if user is not None:
                _known_user(user)
            if token is not None and not isinstance(token, str):
                raise BadRequest("token must be a string")
            return {"revoked": state.revoke(user, token)}
        if name == "reassign":
            user, token = payload.get("user"), payload.get("token")
            if (user is None) == (token is None):
                raise BadRequest("give user or token")
            if user is not None:
                _known_user(user)
            if token is not None and not isinstance(token, str):
                raise BadRequest("token must be a string")
            return {"reassigned": state.reassign(user, token, _known_user(payload.get("to")))}
        if name == "user":
            return {"user": state_user(state, payload)}
        raise AssertionError(name)


class MockServer(http.server.ThreadingHTTPServer):
    # A trickling or idle connection must never hold up shutdown: daemon threads, and
    # server_close() must not join them.
    daemon_threads = True
    block_on_close = False
    # The benchmark opens 1,000 connections at once: a short backlog would make the
    # kernel drop SYNs and the clients wait out a 1 s (then 3 s) retransmission.  The
    # kernel caps it at net.core.somaxconn (4096 on Debian 12).
    request_queue_size = 4096

    def __init__(self, tls: ssl.SSLContext, state: MockState):
        self.tls = tls
        self.state = state
        super().__init__(("127.0.0.1", 0), MockHandler)
        state.port = self.server_address[1]

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup of 127.0.0.1: skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # Runs in the connection's own thread, so a client that stalls or botches the
        # handshake blocks only itself, never accept().
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            self.state.count_tls_failure()
            return
        self.state.count_connection(+1)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ConnectionAborted):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        log.error("unhandled error:\n%s", traceback.format_exc().rstrip())


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Mock NextPay auth API over HTTPS, for tests.")
    ap.add_argument("--dir", required=True, help="working directory (certificates, port, log)")
    ap.add_argument("--code-ttl", type=float, default=300.0, metavar="SECONDS",
                    help="lifetime of device codes (default 300)")
    ap.add_argument("--auto", choices=sorted(AUTO_ACTIONS),
                    help="approve or deny every new code automatically")
    ap.add_argument("--auto-user", default="usr_demo", choices=list(USERS),
                    help="user that automatic approvals sign in (default usr_demo)")
    ap.add_argument("--auto-after", type=float, default=3.0, metavar="SECONDS",
                    help="delay before the automatic decision (default 3)")
    ap.add_argument("--cert", choices=("good", "wrongname", "expired"), default="good",
                    help="serve srv.crt (good), wrong.crt (made for another name) or "
                         "expired.crt (right name and CA, validity over two days ago)")
    args = ap.parse_args(argv)
    if args.code_ttl < 0 or args.auto_after < 0:
        ap.error("durations must not be negative")
    return args


def setup_logging(directory: str) -> None:
    handler = logging.FileHandler(os.path.join(directory, "mock.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _remove_if_ours(directory: str) -> None:
    # Another mock started later in the same DIR owns the files now: leave them.
    pid_path = os.path.join(directory, "mock.pid")
    try:
        with open(pid_path) as f:
            if f.read().strip() != str(os.getpid()):
                return
    except OSError:
        return
    for name in ("port", "mock.pid"):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    directory = os.path.abspath(args.dir)
    try:
        os.makedirs(directory, exist_ok=True)
        ensure_certs(directory)
        cert = {"good": "srv", "wrongname": "wrong", "expired": "expired"}[args.cert]
        if cert == "expired" and not os.path.exists(os.path.join(directory, "expired.crt")):
            _issue_expired_cert(directory)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(os.path.join(directory, cert + ".crt"),
                            os.path.join(directory, cert + ".key"))
    except (SetupError, OSError, ssl.SSLError) as e:
        print(f"nextpay_mock: {e}", file=sys.stderr)
        return 1
    setup_logging(directory)

    # Block the stop signals before any thread exists (threads inherit the mask), then
    # wait for them synchronously: no signal handler ever interrupts server code.
    # A shell without job control starts `mock &` with SIGINT ignored, and an ignored
    # signal is dropped even while blocked, so restore the default action first.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    for sig in stop_signals:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    # One descriptor per connection: 1,000 at once need more than the usual soft
    # limit of 1024 (threads, one per connection, have no such limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    auto = AutoRule(args.auto, args.auto_user, args.auto_after) if args.auto else None
    state = MockState(Settings(args.code_ttl, auto, args.auto_user, args.auto_after))
    try:
        server = MockServer(tls, state)
    except OSError as e:
        print(f"nextpay_mock: cannot listen: {e}", file=sys.stderr)
        return 1
    _write_file(os.path.join(directory, "mock.pid"), str(os.getpid()))
    _write_file(os.path.join(directory, "port"), str(state.port))
    log.info("listening on https://127.0.0.1:%d (cert %s, pid %d)", state.port, cert, os.getpid())

    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()
    try:
        sig = signal.sigwait(stop_signals)
        log.info("stopping on signal %d", sig)
    finally:
        server.shutdown()
        server.server_close()
        _remove_if_ours(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
