"""Shared pieces of pam_nextpay's end-to-end tests (real sshd, real sudo, a login-style
conversation), run with /usr/bin/python3 and Debian's python3-pexpect.

A tiny test runner that prints cmocka-style lines (tests/run-tests.sh counts them),
context managers for a throwaway account and the HTTPS mock API, writers for the
module's config and identity map, and the bookkeeping that makes sure a test leaves
no process behind: this process becomes a child subreaper, so whatever a test starts
(ssh, sshd's per-connection processes, su, sudo, the module's helper) stays
findable as a descendant of ours even after its parent exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(E2E_DIR))
# E2E_BUILD: test another build of the module and helper (e.g. a deliberately broken
# one, to see the tests fail); default: this tree's build/.
BUILD = os.path.abspath(os.environ.get("E2E_BUILD") or os.path.join(REPO, "build"))
MODULE = os.path.join(BUILD, "pam_nextpay.so")
HELPER = os.path.join(BUILD, "nextpay-helper")
TRANSCRIPT_DIR = os.path.join(E2E_DIR, "transcripts")

sys.path.insert(0, os.path.join(REPO, "tests", "mock"))
from mockctl import Mock  # noqa: E402  (needs the path above)

try:
    import pexpect
except ImportError:          # reported as a skip by run_tests(), not a crash
    pexpect = None

# The device codes the mock hands out: six of A-Z0-9.
CODE_RE = r"[A-Z0-9]{6}"
# The instructions' last words to the approver, before the prompt or waiting line.
APPROVE_ONLY = "Approve only if you started this sign-in yourself."


def first_line_of_instructions(host: str, account: str, service: str, rhost: str = "") -> str:
    """What the instructions' first line says: who signs in to what, over which service, from where."""
    source = f"{service} from {rhost}" if rhost else service
    return f"NextPay sign-in to {host} as {account} ({source})."
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


class Failure(AssertionError):
    """A test's expectation did not hold; the message says what was seen instead."""


class Skip(Exception):
    """The test cannot run here (missing tool, not root); counted as skipped."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failure(message)


# ---------------------------------------------------------------------------
# Processes: subreaper bookkeeping
# ---------------------------------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _proc_stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[1])


def descendants(root: int | None = None) -> dict[int, tuple[str, str]]:
    """{pid: (comm, state)} of every process below root (default: this process)."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _proc_stat(int(entry))
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
        alive = [p for p in tree if (_proc_stat(p) or ("", "Z", 0))[1] != "Z"]
        if not alive:
            return
        time.sleep(0.05)
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


# ---------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------

def _say(line: str) -> None:
    print(line, flush=True)


def run_tests(group: str, tests: list, fixture=None, requires_root: bool = False,
              requires: tuple[str, ...] = ()) -> int:
    """Run test functions and print cmocka-style lines; returns the exit status.

    fixture: a context manager factory; each test gets what it yields (or nothing).
    requires: executables that must exist, else every test is reported as skipped;
    a missing build/ output fails every test instead.
    """
    names = [t.__name__ for t in tests]
    if sys.argv[1:] == ["--list"]:      # for tests/run-tests.sh's count of skipped tests
        print("\n".join(names))
        return 0
    # A run that is stopped still cleans up: /etc files, the account, sshd, the mock.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    become_subreaper()
    why_skip = why_fail = None
    if requires_root and os.geteuid() != 0:
        why_skip = "needs root"
    elif pexpect is None:
        why_skip = "python3-pexpect is not installed (make deps)"
    else:
        for exe in requires:
            if not (os.path.isabs(exe) and os.access(exe, os.X_OK) or shutil.which(exe)):
                why_skip = f"{exe} is not installed (make deps)"
                break
    for built in (MODULE, HELPER):
        if not why_skip and not os.access(built, os.R_OK):
            why_fail = f"{built} is missing (make all)"   # never a silent skip
    if not why_skip and not why_fail:
        why_fail = syslog_stuck()       # else useradd, su and sshd would hang at once
    _say(f"[==========] {group}: Running {len(tests)} test(s).")
    passed, failed, skipped = [], [], []
    started = time.monotonic()
    if why_fail:
        for name in names:
            _say(f"[ RUN      ] {name}")
            _say(f"    {why_fail}")
            _say(f"[  FAILED  ] {name}")
            failed.append(name)
    elif why_skip:
        for name in names:
            _say(f"[ RUN      ] {name}")
            _say(f"[  SKIPPED ] {name}: {why_skip}")
            skipped.append(name)
    else:
        try:
            with (fixture() if fixture else contextlib.nullcontext()) as env:
                _say(f"[----------] set-up took {time.monotonic() - started:.1f} s")
                for test in tests:
                    _run_one(test, env, passed, failed, skipped)
                teardown = time.monotonic()
            _say(f"[----------] tear-down took {time.monotonic() - teardown:.1f} s")
        except Exception as e:  # the fixture itself broke: every unrun test fails
            _say(f"fixture failed: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
            unrun = [name for name in names if name not in passed + failed + skipped]
            for name in unrun:
                _say(f"[  FAILED  ] {name}")
            # A teardown that breaks after the last test (say, userdel) fails the run too.
            failed.extend(unrun or ["(fixture teardown)"])
        strays = stray_processes(set(), grace=3.0)
        if strays:
            _say(f"left behind after the fixture: {', '.join(strays)} (killed)")
            failed.append("(left-behind processes)")
    _say(f"[==========] {group}: {len(passed) + len(failed)} test(s) run."
         f" ({time.monotonic() - started:.1f} s)")
    _say(f"[  PASSED  ] {len(passed)} test(s).")
    if skipped:
        _say(f"[  SKIPPED ] {len(skipped)} test(s), listed below:")
        for name in skipped:
            _say(f"[  SKIPPED ] {name}")
    if failed:
        _say(f"[  FAILED  ] {len(failed)} test(s), listed below:")
        for name in failed:
            _say(f"[  FAILED  ] {name}")
    return 1 if failed else 0


def syslog_stuck() -> str | None:
    """Why syslog() would block right now, or None.

    su, sudo, sshd, userdel and the module all log through /dev/log, and glibc's
    syslog() blocks once its queue is full: a process that binds /dev/log itself and
    stops reading (a test capturing the log, say) hangs every one of them.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.setblocking(False)
        probe.connect("/dev/log")
        probe.send(b"<15>npe2e: syslog probe from tests/e2e")
    except (BlockingIOError, InterruptedError):
        return "/dev/log is not draining: every syslog() caller (su, sudo, sshd, " \
               "userdel, the module) blocks; is something else bound to /dev/log?"
    except OSError:
        return None      # no syslog socket at all: syslog() drops messages, never blocks
    finally:
        probe.close()
    return None


def _stop(signum, _frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def _run_one(test, env, passed: list, failed: list, skipped: list) -> None:
    name = test.__name__
    _say(f"[ RUN      ] {name}")
    before = set(descendants())
    t0 = time.monotonic()
    problem = None
    try:
        if env is None:
            test()
        else:
            test(env)
    except Skip as e:
        _say(f"[  SKIPPED ] {name}: {e}")
        skipped.append(name)
        return
    except Failure as e:
        problem = str(e)
    except Exception as e:  # a crash in the test is a failure too, with its traceback
        problem = f"{type(e).__name__}: {e}\n{traceback.format_exc().rstrip()}"
    strays = stray_processes(before)
    if strays:
        note = f"processes left behind (now killed): {', '.join(strays)}"
        problem = note if problem is None else f"{problem}\n{note}"
    if problem is not None and syslog_stuck():
        problem += f"\nnote: {syslog_stuck()}"
    if problem is None:
        _say(f"[       OK ] {name} ({time.monotonic() - t0:.1f} s)")
        passed.append(name)
    else:
        for line in problem.splitlines():
            _say(f"    {line}")
        _say(f"[  FAILED  ] {name}")
        failed.append(name)


# ---------------------------------------------------------------------------
# Accounts, files, ports
# ---------------------------------------------------------------------------

def random_suffix() -> str:
    return secrets.token_hex(4)


def _account_tool(argv: list[str], ok: tuple[int, ...] = (0,), patience: float = 60.0) -> None:
    """useradd/userdel, retried while another one holds the /etc/passwd locks."""
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
def temp_dir(prefix: str = "npe2e."):
    """A temporary directory, 0755 (the helper runs as nobody and reads ca.crt from it)."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


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


def write_root_file(path: str, text: str, mode: int = 0o644) -> str:
    """Write a file owned by root (us) with exactly this mode; never through a symlink."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def write_usermap(path: str, rules: dict[str, str]) -> str:
    """rules: {identity: account}."""
    lines = ["# written by tests/e2e"] + [f"{who} {account}" for who, account in rules.items()]
    return write_root_file(path, "\n".join(lines) + "\n")


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
        **extra,
    }
    text = "# written by tests/e2e\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    return write_root_file(path, text)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


# ---------------------------------------------------------------------------
# Driving a terminal program
# ---------------------------------------------------------------------------

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


def save_transcript(name: str, command: str, screen_text: str,
                    replacements: dict[str, str]) -> None:
    """tests/e2e/transcripts/NAME.txt, only with E2E_SAVE_TRANSCRIPTS=1.

    command is the line the person typed, shown with a "$ " prompt in front; the
    screen text is kept as it was apart from ANSI codes, with the random parts
    (code, port, account, host name) replaced by placeholders.
    """
    if os.environ.get("E2E_SAVE_TRANSCRIPTS") != "1":
        return
    text = f"$ {command}\n{screen_text}"
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


def mock_last_code(mock: Mock) -> str | None:
    codes = mock.stats()["codes"]
    return codes[-1]["code"] if codes else None


def creates(mock: Mock) -> int:
    return mock.stats()["requests"]["create"]


def remove_pam_wrapper_dirs(marker: str) -> list[str]:
    """Remove pam_wrapper's /tmp/pam.X copies of a service dir of ours.

    Every process that loads pam_wrapper copies PAM_WRAPPER_SERVICE_DIR to a
    /tmp/pam.X of its own and removes it when it exits normally; a process that
    is killed or calls _exit() leaves it behind.  Ours are the ones whose files
    mention marker (our unique temp dir) and whose owner process is gone.
    """
    removed = []
    for entry in sorted(os.listdir("/tmp")):
        path = os.path.join("/tmp", entry)
        if not entry.startswith("pam.") or os.path.islink(path) or not os.path.isdir(path):
            continue
        ours = False
        owner_alive = False
        with contextlib.suppress(OSError):
            for name in os.listdir(path):
                with open(os.path.join(path, name), errors="replace") as f:
                    content = f.read(65536)
                if name == "pid" and content.strip().isdigit():
                    st = _proc_stat(int(content.strip()))
                    owner_alive = st is not None and st[1] != "Z"
                elif marker in content:
                    ours = True
        if ours and not owner_alive:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def pexpect_eof():
    """pexpect.EOF, for expect() lists in the test files."""
    return pexpect.EOF
