# SPDX-License-Identifier: BSD-2-Clause
"""A real display manager for the tests: LightDM with lightdm-gtk-greeter on Xvfb, as root.

    with lightdm_seat(tmp, auth_line, accounts=[user]) as seat:
        seat.start()                       # lightdm, its X server and the greeter
        seat.type(user); seat.key("Return")
        text = seat.dialog_text("after-name")   # a screenshot, read (lib/ocr.py)
        seat.stop()

No systemd, logind, ConsoleKit or AccountsService: LightDM warns and uses a default seat.
It needs a D-Bus system bus, so the seat starts one of its own (its socket in the seat's
directory, passed as DBUS_SYSTEM_BUS_ADDRESS).  Xvfb stands in for X through a wrapper
that drops the arguments only a real X server knows (vtN, -novtswitch, -seat) and execs
it, so that X's "ready" signal still reaches LightDM.

What the seat puts on the machine, and takes away again whatever happens: a PAM service
/etc/pam.d/npdm-lightdm-XXXXXX (LightDM's own stack, its common-auth replaced by the
test's auth lines; named by LightDM's pam-service=), a session
/usr/share/xsessions/npdm-XXXXXX.desktop (the greeter reads sessions only there),
LightDM's /var/lib/lightdm-data/ACCOUNT directories, and the wtmp and btmp records of the
accounts given.  Everything else (run, cache and log directories, the greeter's home, the
session script) lives in the seat's directory.

The user session is a script that writes who it runs as to ~/npdm-session.txt
(user=NAME uid=N pid=N display=:N) and shows it in an xmessage window until killed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from lib import ocr
from lib.procs import alive, kill_tree
from lib.runner import Failure, wait_for
from lib.system import random_suffix, write_root_file

GREETER = "lightdm-gtk-greeter"
# What a seat runs; without any of them every test of a suite is skipped (make deps).
REQUIRES = ("/usr/sbin/lightdm", f"/usr/sbin/{GREETER}", "/usr/bin/Xvfb", "/usr/bin/xdotool",
            "/usr/bin/dbus-daemon", "/usr/bin/xmessage", "/usr/bin/utmpdump", *ocr.TOOLS)
LIGHTDM_PAM = "/etc/pam.d/lightdm"
XSESSIONS = "/usr/share/xsessions"
LIGHTDM_DATA = "/var/lib/lightdm-data"
SESSION_FILE = "npdm-session.txt"
FIRST_DISPLAY = 70              # clear of a desktop's :0 and of the tests' other X servers
START_WITHIN = 30


def _write(path: str, text: str, mode: int) -> str:
    return write_root_file(path, text, mode=mode)


def _bus_config(socket_path: str) -> str:
    return f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket_path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/>
    <allow send_type="method_call"/> <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/> <allow receive_type="method_return"/>
    <allow receive_type="error"/> <allow receive_type="signal"/>
  </policy>
</busconfig>
"""


XVFB_WRAPPER = """#!/bin/sh
# LightDM runs "X :N -seat seat0 -auth FILE -nolisten tcp vtN -novtswitch"; Xvfb knows no
# vtN, -novtswitch or -seat.  exec keeps SIGUSR1 ignored, so Xvfb still tells LightDM
# (its parent) when it is ready.
args=""; skip=0
for a in "$@"; do
	if [ $skip = 1 ]; then skip=0; continue; fi
	case "$a" in
		vt[0-9]*|-novtswitch|-sharevts) continue ;;
		-seat) skip=1; continue ;;
	esac
	args="$args $a"
done
exec /usr/bin/Xvfb $args -screen 0 1024x768x24
"""

SESSION_SCRIPT = f"""#!/bin/sh
# The user session: says who it runs as, in a file and on the screen, until killed.
echo "user=$(id -un) uid=$(id -u) pid=$$ display=$DISPLAY" >"$HOME/{SESSION_FILE}"
exec /usr/bin/xmessage -center -geometry 600x120 "npdm session running as $(id -un)"
"""


class Seat:
    """One configured LightDM seat; start() and stop() it, drive and read its screen."""

    def __init__(self, directory: str, service: str, session: str, shots: str,
                 env: dict[str, str]):
        self.dir = directory
        self.service = service
        self.session = session
        self.shots = shots
        self._env = env
        self.lightdm: subprocess.Popen | None = None
        self.display = ""
        self.xauthority = ""
        self.log_path = os.path.join(directory, "lightdm.out")

    # ---- LightDM ------------------------------------------------------------------

    def start(self) -> float:
        """LightDM up, the greeter on screen and asking for a name; returns the seconds it took."""
        t0 = time.monotonic()
        log = open(self.log_path, "w")
        self.lightdm = subprocess.Popen(
            ["/usr/sbin/lightdm", "-d", "--config", os.path.join(self.dir, "lightdm.conf")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self._env,
            start_new_session=True)
        log.close()
        self.wait_log(r"Prompt greeter with", START_WITHIN, "the greeter's first conversation")
        run_root = os.path.join(self.dir, "run", "root")
        self.display = wait_for(lambda: next(iter(os.listdir(run_root)), None), START_WITHIN,
                                "LightDM's X authority file")
        self.xauthority = os.path.join(run_root, self.display)
        wait_for(self.greeter_window, START_WITHIN, "the greeter's window")
        time.sleep(0.7)     # its first paint
        return time.monotonic() - t0

    def stop(self) -> None:
        """SIGTERM to LightDM, which ends its X server, greeter and sessions; by pid."""
        if self.lightdm is None:
            return
        self.lightdm.send_signal(signal.SIGTERM)
        try:
            self.lightdm.wait(15)
        except subprocess.TimeoutExpired:
            kill_tree(self.lightdm.pid)
            self.lightdm.wait()
            raise Failure("LightDM was still running 15 s after SIGTERM") from None
        finally:
            self.lightdm = None

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log()))

    def wait_log(self, pattern: str, timeout: float, what: str, at_least: int = 1) -> None:
        wait_for(lambda: self.log_count(pattern) >= at_least, timeout, what)

    # ---- the X display ----------------------------------------------------------------

    def _x(self, *argv: str) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/bin:/bin", "DISPLAY": self.display, "XAUTHORITY": self.xauthority}
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                              timeout=30)

    def greeter_window(self) -> bool:
        return self._x("/usr/bin/xdotool", "search", "--onlyvisible", "--class",
                       GREETER).returncode == 0

    def type(self, text: str) -> None:
        self._x("/usr/bin/xdotool", "type", "--delay", "20", text)

    def key(self, name: str) -> None:
        self._x("/usr/bin/xdotool", "key", name)

    def click(self, xy: tuple[int, int]) -> None:
        self._x("/usr/bin/xdotool", "mousemove", str(xy[0]), str(xy[1]), "click", "1")

    def shot(self, name: str) -> str:
        return ocr.screenshot(self.display, self.xauthority, os.path.join(self.shots, name + ".png"))

    def dialog_text(self, name: str) -> str:
        """A screenshot NAME.png of the greeter, and the words in its dialog."""
        return ocr.read_dialog(self.shot(name))

    def click_phrase(self, name: str, *words: str) -> None:
        """Clicks the words (a button) where a fresh screenshot NAME.png shows them."""
        path = self.shot(name)
        xy = ocr.find_phrase(path, *words)
        if xy is None:
            raise Failure(f"no \"{' '.join(words)}\" on {path}:\n{ocr.read_dialog(path)}")
        self.click(xy)


def _lightdm_conf(directory: str, service: str, session: str) -> str:
    return f"""[LightDM]
run-directory={directory}/run
cache-directory={directory}/cache
log-directory={directory}/log
minimum-display-number={FIRST_DISPLAY}
user-authority-in-system-dir=true
backup-logs=false
[Seat:*]
type=local
pam-service={service}
xserver-command={directory}/xvfb-wrapper.sh
greeter-session={GREETER}
greeter-wrapper={directory}/greeter-wrapper.sh
greeter-hide-users=true
user-session={session}
session-wrapper={directory}/session-wrapper.sh
"""


def _files(directory: str, service: str, session: str, auth_lines: str) -> list[str]:
    """The seat's files; returns those outside its directory, for the clean-up."""
    home = os.path.join(directory, "greeter-home")
    for sub in ("run", "cache", "log", "greeter-home"):
        os.makedirs(os.path.join(directory, sub), mode=0o755, exist_ok=True)
    # The greeter (user lightdm) keeps its state (last user, last session) in its cache.
    shutil.chown(home, "lightdm", "lightdm")
    os.chmod(home, 0o700)
    _write(os.path.join(directory, "xvfb-wrapper.sh"), XVFB_WRAPPER, 0o755)
    _write(os.path.join(directory, "greeter-wrapper.sh"),
           f"#!/bin/sh\nexport HOME={home} XDG_CACHE_HOME={home}/cache "
           f"XDG_CONFIG_HOME={home}/config\nexec \"$@\"\n", 0o755)
    _write(os.path.join(directory, "session-wrapper.sh"), "#!/bin/sh\nexec \"$@\"\n", 0o755)
    _write(os.path.join(directory, "session.sh"), SESSION_SCRIPT, 0o755)
    _write(os.path.join(directory, "lightdm.conf"), _lightdm_conf(directory, service, session),
           0o644)
    with open(LIGHTDM_PAM) as f:
        stack = f.read()
    if "\n@include common-auth\n" not in stack:
        raise Failure(f"{LIGHTDM_PAM} has no \"@include common-auth\" to replace")
    pam_file = _write(f"/etc/pam.d/{service}",
                      stack.replace("\n@include common-auth\n", f"\n{auth_lines}\n"), 0o644)
    desktop = _write(os.path.join(XSESSIONS, f"{session}.desktop"),
                     f"[Desktop Entry]\nName={session}\nComment=pam_nextpay test session "
                     f"(removed after the test)\nExec={directory}/session.sh\n"
                     "Type=Application\n", 0o644)
    return [pam_file, desktop]


def strip_login_records(accounts: list[str]) -> None:
    """Removes LightDM's wtmp and btmp records of the accounts (utmpdump, keeping the file)."""
    for path in ("/var/log/wtmp", "/var/log/btmp"):
        if not accounts or not os.path.exists(path) or os.path.getsize(path) == 0:
            continue
        dump = subprocess.run(["/usr/bin/utmpdump", path], capture_output=True, text=True,
                              check=False).stdout
        kept = [line for line in dump.splitlines(keepends=True)
                if not any(f"[{name}" in line for name in accounts)]
        if len(kept) == len(dump.splitlines()):
            continue
        raw = subprocess.run(["/usr/bin/utmpdump", "-r"], input="".join(kept).encode(),
                             capture_output=True, check=True).stdout
        with open(path, "r+b") as f:   # the same file: its owner and mode stay
            f.write(raw)
            f.truncate()


@contextlib.contextmanager
def lightdm_seat(directory: str, auth_lines: str, accounts: list[str], shots: str,
                 extra_env: dict[str, str] | None = None):
    """A configured seat with its D-Bus bus running; LightDM is started by the test."""
    suffix = random_suffix()
    service, session = f"npdm-lightdm-{suffix}", f"npdm-{suffix}"
    seat_dir = tempfile.mkdtemp(prefix="npdm-seat.", dir=directory)
    os.chmod(seat_dir, 0o755)
    greeter_data = os.path.join(LIGHTDM_DATA, "lightdm")
    had_greeter_data = os.path.exists(greeter_data)
    outside: list[str] = []
    bus = None
    try:
        outside = _files(seat_dir, service, session, auth_lines)
        socket_path = os.path.join(seat_dir, "system_bus_socket")
        _write(os.path.join(seat_dir, "bus.conf"), _bus_config(socket_path), 0o644)
        bus = subprocess.Popen(["/usr/bin/dbus-daemon", f"--config-file={seat_dir}/bus.conf",
                                "--nofork", "--nopidfile"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(socket_path), 10, "the D-Bus system bus")
        # DISPLAY in LightDM's environment would make it start nested Xephyr servers.
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={socket_path}", **(extra_env or {})}
        os.makedirs(shots, exist_ok=True)
        seat = Seat(seat_dir, service, session, shots, env)
        try:
            yield seat
        finally:
            seat.stop()
    finally:
        if bus is not None and alive(bus.pid):
            bus.terminate()
            bus.wait(10)
        for path in outside:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for name in accounts:
            shutil.rmtree(os.path.join(LIGHTDM_DATA, name), ignore_errors=True)
        if not had_greeter_data:
            shutil.rmtree(greeter_data, ignore_errors=True)
        strip_login_records(accounts)


def session_report(home: str) -> dict[str, str] | None:
    """What the user session wrote (user, uid, pid, display), or None before it ran."""
    try:
        with open(os.path.join(home, SESSION_FILE)) as f:
            line = f.read().strip()
    except FileNotFoundError:
        return None
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    return fields if "pid" in fields else None


def process_uid(pid: int) -> int | None:
    """The real uid of a running process, from /proc."""
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    return None
