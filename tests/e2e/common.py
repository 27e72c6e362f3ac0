# SPDX-License-Identifier: BSD-2-Clause
"""What pam_nextpay's end-to-end tests (real sshd, real sudo, a login-style
conversation) share beyond the test library (tests/lib/): the build under test, the
module's config and identity map, the words of the instructions, transcripts.
Run with /usr/bin/python3 and Debian's python3-pexpect.

E2E_BUILD (or NP_BUILD) tests another build of the module and helper (e.g. a
deliberately broken one, to see the tests fail); default: this tree's build/.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(E2E_DIR))
from lib import runner  # noqa: E402  (needs the path above)
from lib.mock import Mock, mock_api  # noqa: E402,F401
from lib.paths import BUILD, REPO  # noqa: E402,F401
# The process bookkeeping, also for the e2e scripts (kill_tree, remove_pam_wrapper_dirs).
from lib.procs import (become_subreaper, descendants, kill_tree,  # noqa: E402,F401
                       remove_pam_wrapper_dirs, stray_processes)
from lib.runner import Failure, Skip, check, syslog_stuck, wait_for  # noqa: E402,F401
from lib.screen import Screen, clean_screen, indent, pexpect_eof  # noqa: E402,F401
from lib.system import (free_port, random_suffix, temp_dir,  # noqa: E402,F401
                        throwaway_account, write_root_file, write_usermap)
from lib.time_limit import TimeLimitExceeded, banner, seconds, time_limit  # noqa: E402,F401

MODULE = os.path.join(BUILD, "pam_nextpay.so")
HELPER = os.path.join(BUILD, "nextpay-helper")
TRANSCRIPT_DIR = os.path.join(E2E_DIR, "transcripts")

# The device codes the mock hands out: six of A-Z0-9.
CODE_RE = r"[A-Z0-9]{6}"
# The instructions' last words to the approver, before the prompt or waiting line.
APPROVE_ONLY = "Approve only if you started this sign-in yourself."
# Prompt mode's last line, and with api_key = yes (then every such prompt says so).
PROMPT = "Press Enter once you have approved: "
KEY_PROMPT = "Press Enter once you have approved (or type an API key): "
# The mock's API key of usr_bob; the suites that use it map usr_bob to their account.
BOB_KEY = "npk_bob_0123456789abcdef"
# What the person reads when NextPay refuses a key.
KEY_REFUSED = "NextPay did not accept the sign-in."
# What every refusal or error ends with: the sign-in's reference (Crockford's base32).
REFERENCE_RE = r"Reference: ([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4})"


def reference_on(text: str) -> str | None:
    """The one reference on the screen ("K7QX-2M4D"), None if there is none; two fail."""
    found = re.findall(REFERENCE_RE, text)
    check(len(found) <= 1, f"more than one reference on the screen:\n{text}")
    return found[0] if found else None


def neutral_reference(text: str) -> str:
    """Each sign-in has a reference of its own: the same placeholder for all."""
    return re.sub(REFERENCE_RE, "Reference: <REFERENCE>", text)


def first_line_of_instructions(host: str, account: str, service: str, rhost: str = "") -> str:
    """What the instructions' first line says: who signs in to what, over which service, from where."""
    source = f"{service} from {rhost}" if rhost else service
    return f"NextPay sign-in to {host} as {account} ({source})."


def run_tests(group: str, tests: list, fixture=None, requires_root: bool = False,
              requires: tuple[str, ...] = (), built: tuple[str, ...] = (),
              needs_pexpect: bool = True) -> int:
    """lib.runner.run_tests() for a suite that needs the module and the helper built."""
    return runner.run_tests(group, tests, fixture, requires_root=requires_root,
                            requires=requires, built=(MODULE, HELPER, *built),
                            needs_pexpect=needs_pexpect)


def write_config(path: str, mock: Mock, usermap: str, **extra) -> str:
    """A module config pointing at the mock; extra keys (login_timeout=10 ...) appended."""
    settings = {
        "api_url": mock.url,
        "ca_file": mock.ca_cert,
        "usermap": usermap,
        "helper": HELPER,
        "poll_interval": 1,
        # The token cache would let one test's approval sign in the next test.
        "cache": "no",
        # What the module logs is read from pam_syslog(), even where journald runs.
        "log": "syslog",
        **extra,
    }
    text = "# written by tests/e2e\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    return write_root_file(path, text)


@contextlib.contextmanager
def sudo_service(service: str, users: list[str], pam_text: str, staging: str,
                 defaults: str = ""):
    """/etc/pam.d/SERVICE (pam_text) and /etc/sudoers.d/SERVICE, which points the sudo of
    users at it and lets them run /usr/bin/id as root; the drop-in is checked with visudo
    in staging first.  Both are removed afterwards whatever happens, and so are sudo's
    time stamps of the users."""
    pam_file = os.path.join("/etc/pam.d", service)
    sudoers_file = os.path.join("/etc/sudoers.d", service)
    for path in (pam_file, sudoers_file):
        if os.path.lexists(path):
            raise RuntimeError(f"{path} exists already: not ours, not touching it")
    who = ",".join(users)
    sudoers = (f"# pam_nextpay end-to-end test, removed when the test ends\n"
               f"Defaults:{who} pam_service={service}, timestamp_timeout=0, "
               f"!lecture{defaults}\n"
               f"{who} ALL=(root) /usr/bin/id\n")
    made = []
    try:
        made.append(pam_file)
        write_root_file(pam_file, pam_text)
        # Checked before it goes live: a broken drop-in would break every sudo on the host.
        staged = os.path.join(staging, "sudoers.check")
        write_root_file(staged, sudoers, 0o440)
        done = subprocess.run(["visudo", "-cf", staged], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"visudo -cf: {done.stdout}{done.stderr}")
        made.append(sudoers_file)
        write_root_file(sudoers_file, sudoers, 0o440)
        yield
    finally:
        for path in made:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for user in users:
            # sudo's own record for the account (its time stamp file), if it made one.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join("/run/sudo/ts", user))


def save_transcript(name: str, command: str, screen_text: str,
                    replacements: dict[str, str]) -> None:
    """tests/e2e/transcripts/NAME.txt, only with E2E_SAVE_TRANSCRIPTS=1.

    command is the line the person typed, shown with a "$ " prompt in front; the
    screen text is kept as it was apart from ANSI codes, with the random parts
    (code, port, account, host name, reference) replaced by placeholders.
    """
    if os.environ.get("E2E_SAVE_TRANSCRIPTS") != "1":
        return
    text = neutral_reference(f"$ {command}\n{screen_text}")
    # Whole words only (a short host name must not eat parts of other words), the
    # longest first, so a value inside another is not replaced too early.
    for value in sorted(replacements, key=len, reverse=True):
        if value:
            text = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])",
                          lambda _, new=replacements[value]: new, text)
    os.makedirs(TRANSCRIPT_DIR, exist_ok=True)
    path = os.path.join(TRANSCRIPT_DIR, name + ".txt")
    with open(path + ".tmp", "w") as f:
        f.write(text.rstrip("\n") + "\n")
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)


def cache_settings(tmp: str, **settings) -> dict:
    """Settings for the approval cache on, in tmp/cache emptied now, with a key of tmp's
    own (made once): for write_config()."""
    cache_dir = os.path.join(tmp, "cache")
    if os.path.isdir(cache_dir):
        for name in os.listdir(cache_dir):
            os.unlink(os.path.join(cache_dir, name))
    key = os.path.join(tmp, "cache.key")
    if not os.path.exists(key):
        with open(write_root_file(key, "", 0o600), "wb") as f:
            f.write(os.urandom(32))
    return {"cache": "yes", "cache_dir": cache_dir, "cache_key": key, **settings}


def cache_entries(tmp: str) -> list[str]:
    """The entries in tmp/cache (cache_settings())."""
    cache_dir = os.path.join(tmp, "cache")
    return sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []


def processes_showing(secret: str) -> list[str]:
    """The processes whose command line or environment holds secret: "pid name"."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for part in ("cmdline", "environ"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/{part}", "rb") as f:
                if secret.encode() in f.read():
                    found.append(f"{pid} {part}")
    return found


def mock_last_code(mock: Mock) -> str | None:
    return mock.last_code()


def creates(mock: Mock) -> int:
    return mock.count("create")
