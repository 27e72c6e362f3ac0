#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: screen lockers go to the password (root only).

A screen locker calls PAM as the person whose screen it locks: i3lock runs as that
user, and xscreensaver's xscreensaver-auth, though set-uid root, becomes the user
before pam_start.  There the module can read neither the identity map (root's, with
no access for others) nor the cache key, and its helper keeps the user's uid.  i3lock
shows no PAM message at all, and xscreensaver cuts the verification URL at the edge
of its dialog.  So the packaged pam-auth-update profile names the lockers in
skip_services, and they fall through to the password.

Each test locks a real screen (Xvfb) as a throwaway account that has a password,
with the packaged profile's NextPay line in front of pam_unix, types the password
with xdotool, and checks the outcome on the screen (OCR with tesseract), in the
locker's own record and in the mock's:

- with the locker in skip_services, the password unlocks and no code is made;
- with the locker left out of skip_services, the unlock is refused at once (no
  code, no helper, no wait), the screen stays locked and says so.

i3lock is not set-uid: it runs under pam_wrapper, whose log (the module's lines)
the test reads.  xscreensaver-auth is set-uid, so its test puts the stack into
/etc/pam.d/xscreensaver and restores that file byte for byte.

    sudo /usr/bin/python3 tests/e2e/e2e_locker.py
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (MODULE, REPO, Failure, check, kill_tree, mock_api,  # noqa: E402
                    remove_pam_wrapper_dirs, run_tests, temp_dir, throwaway_account,
                    wait_for, write_config, write_root_file, write_usermap)

PROFILE = os.path.join(REPO, "packaging", "pam-configs", "nextpay")
XSS_PAM = "/etc/pam.d/xscreensaver"
# Letters only: xdotool types them alike into every locker, whatever its keymap.
PASSWORD = "correcthorsebattery"
REFUSED_WITHIN = 10         # from Enter to the refusal: no code, no wait
UNLOCKED_WITHIN = 15
TOOLS = ("Xvfb", "xdotool", "import", "convert", "tesseract", "i3lock", "xscreensaver",
         "xscreensaver-command", "chpasswd", "useradd")


@dataclass
class Env:
    tmp: str
    user: str
    mock: object
    conf: str
    display: str


@contextlib.contextmanager
def xvfb(tmp: str):
    """An X server of its own; its display number is the first one free (-displayfd)."""
    read_end, write_end = os.pipe()
    # -ac: the lockers, running as the throwaway account, connect too (local socket only).
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-ac",
                               "-screen", "0", "1024x768x24"], pass_fds=(write_end,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as f:
            number = f.readline().strip()
        if not number.isdigit():
            raise RuntimeError("Xvfb gave no display number")
        yield f":{number}"
    finally:
        kill_tree(server.pid)
        server.wait()


@contextlib.contextmanager
def fixture():
    with temp_dir("npe2e-locker.") as tmp, throwaway_account() as user, \
            mock_api(tmp) as mock:
        subprocess.run(["chpasswd"], input=f"{user}:{PASSWORD}\n", text=True, check=True)
        # The identity map as installed: root's, no access for others.
        usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {"usr_demo": user})
        os.chmod(usermap, 0o640)
        conf = os.path.join(tmp, "pam_nextpay.conf")
        # debug: a skipped service is logged too.
        write_config(conf, mock, usermap, debug="yes")
        try:
            with xvfb(tmp) as display:
                yield Env(tmp, user, mock, conf, display)
        finally:
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


def profile_stack(env: Env, locker: str, skipped: bool) -> str:
    """The packaged profile's NextPay line, with this build's module and config, in
    common-auth as pam-auth-update writes it: in front of the password, "end" become the
    jump past it.  With skipped False, the locker is taken out of its skip_services."""
    with open(PROFILE) as f:
        text = f.read()
    line = re.search(r"(?m)^\s+(\[[^\]]*\])\s+pam_nextpay\.so\s+(.*)$", text)
    check(line, f"no pam_nextpay.so line in {PROFILE}")
    control, args = line.group(1).replace("=end", "=2"), line.group(2).split()
    skip = next((a for a in args if a.startswith("skip_services=")), "skip_services=")
    services = skip.split("=", 1)[1].split(",")
    check(locker in services, f"{locker} is not in the profile's {skip}")
    if not skipped:
        args[args.index(skip)] = "skip_services=" + ",".join(s for s in services if s != locker)
    return (f"auth {control} {MODULE} config={env.conf} {' '.join(args)}\n"
            "auth [success=1 default=ignore] pam_unix.so\n"
            "auth requisite pam_deny.so\n"
            "auth required pam_permit.so\n"
            "account required pam_permit.so\n")


def as_user(env: Env) -> dict:
    pw = pwd.getpwnam(env.user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [], "cwd": pw.pw_dir,
            "env": {"DISPLAY": env.display, "HOME": pw.pw_dir, "USER": env.user,
                    "LOGNAME": env.user, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}}


def xdo(env: Env, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={"DISPLAY": env.display, "PATH": "/usr/bin:/bin"},
                   check=True, capture_output=True)


def type_password(env: Env) -> float:
    xdo(env, "type", "--delay", "40", PASSWORD)
    xdo(env, "key", "Return")
    return time.monotonic()


def screen_words(env: Env, name: str, crop: str, channel: str = "Gray") -> str:
    """What tesseract reads in a region of the screen (kept as NAME.png in the test's
    directory): crop is ImageMagick's WxH+X+Y; channel R reads black on red."""
    shot = os.path.join(env.tmp, f"{name}.png")
    subprocess.run(["import", "-window", "root", shot], check=True, capture_output=True,
                   env={"DISPLAY": env.display, "PATH": "/usr/bin:/bin"})
    prepared = os.path.join(env.tmp, f"{name}-ocr.png")
    select = ["-channel", "R", "-separate"] if channel == "R" else ["-colorspace", "Gray"]
    subprocess.run(["convert", shot, "-alpha", "off", "-crop", crop, "+repage", *select,
                    "-resize", "300%", prepared], check=True, capture_output=True)
    done = subprocess.run(["tesseract", prepared, "-"], capture_output=True, text=True,
                          check=False)
    return done.stdout


def log_text(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


# ---- i3lock -------------------------------------------------------------------------

@contextlib.contextmanager
def i3lock(env: Env, skipped: bool):
    """i3lock -n as the account, under pam_wrapper with the profile's stack as its
    `i3lock` service; yields (process, path of its log: the module's lines)."""
    services = os.path.join(env.tmp, "services")
    shutil.rmtree(services, ignore_errors=True)
    os.makedirs(services, mode=0o755)
    write_root_file(os.path.join(services, "i3lock"), profile_stack(env, "i3lock", skipped))
    write_root_file(os.path.join(services, "other"),
                    "".join(f"{t} required pam_deny.so\n"
                            for t in ("auth", "account", "password", "session")))
    log = os.path.join(env.tmp, "i3lock.log")
    user = as_user(env)
    user["env"] |= {"LD_PRELOAD": "libpam_wrapper.so", "PAM_WRAPPER": "1",
                    "PAM_WRAPPER_SERVICE_DIR": services, "PAM_WRAPPER_DEBUGLEVEL": "2"}
    with open(log, "w") as out:
        locker = subprocess.Popen(["i3lock", "-n"], stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=out, **user)
    try:
        # Locked once it has drawn its screen and grabbed the keyboard.
        time.sleep(1.5)
        check(locker.poll() is None, f"i3lock ended at once:\n{log_text(log)}")
        yield locker, log
    finally:
        if locker.poll() is None:
            kill_tree(locker.pid)
        locker.wait()


def test_i3lock_in_skip_services_unlocks_with_the_password(env: Env):
    env.mock.reset()
    with i3lock(env, skipped=True) as (locker, log):
        entered = type_password(env)
        try:
            status = locker.wait(UNLOCKED_WITHIN)
        except subprocess.TimeoutExpired:
            raise Failure(f"still locked {UNLOCKED_WITHIN} s after the password:\n"
                          f"{log_text(log)}") from None
        took = time.monotonic() - entered
        check(status == 0, f"i3lock exited with {status}:\n{log_text(log)}")
        text = log_text(log)
        check(re.search(r'skipped: .*service="i3lock".*reason="service in skip_services"', text),
              f"no skip in the module's log:\n{text}")
    check(env.mock.count("create") == 0, f"{env.mock.count('create')} codes made")
    print(f"    unlocked {took:.1f} s after Enter")


def test_i3lock_not_in_skip_services_is_refused_at_once(env: Env):
    env.mock.reset()
    with i3lock(env, skipped=False) as (locker, log):
        entered = type_password(env)
        line = wait_for(lambda: re.search(r"(?m)^.*error: .*service=\"i3lock\".*$",
                                          log_text(log)),
                        REFUSED_WITHIN, "the module's refusal in i3lock's log")
        took = time.monotonic() - entered
        words = screen_words(env, "i3lock-refused", "240x120+392+324", channel="R")
        text = log_text(log)
        check('reason="identity map unusable"' in line.group(0), f"why: {line.group(0)}")
        check("Permission denied" in text, f"not the map's permissions:\n{text}")
        check(re.search(r'not readable by uid \d+, .*name its service "i3lock" in skip_services',
                        text), f"no word of skip_services in the log:\n{text}")
        check("helper started" not in text, f"a helper was started:\n{text}")
        check("Wrong!" in words, f"i3lock's screen reads {words!r}, not Wrong!")
        time.sleep(2)
        check(locker.poll() is None, "i3lock unlocked")
    check(env.mock.count("create") == 0, f"{env.mock.count('create')} codes made")
    print(f"    refused {took:.1f} s after Enter; the screen: {words.strip()!r}")


# ---- xscreensaver -----------------------------------------------------------------

@contextlib.contextmanager
def xscreensaver_stack(env: Env, skipped: bool):
    """/etc/pam.d/xscreensaver with the profile's stack; put back byte for byte."""
    before = None
    if os.path.lexists(XSS_PAM):
        check(not os.path.islink(XSS_PAM), f"{XSS_PAM} is a symbolic link: not touching it")
        with open(XSS_PAM, "rb") as f:
            before = f.read()
        mode = os.stat(XSS_PAM).st_mode & 0o7777
    try:
        write_root_file(XSS_PAM, profile_stack(env, "xscreensaver", skipped))
        yield
    finally:
        if before is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(XSS_PAM)
        else:
            with open(XSS_PAM + ".np-restore", "wb") as f:
                f.write(before)
            os.chmod(XSS_PAM + ".np-restore", mode)
            os.replace(XSS_PAM + ".np-restore", XSS_PAM)


def xss_command(env: Env, *args: str) -> str:
    done = subprocess.run(["xscreensaver-command", *args], capture_output=True, text=True,
                          check=False, **as_user(env))
    return done.stdout + done.stderr


@contextlib.contextmanager
def xscreensaver(env: Env, skipped: bool):
    """xscreensaver as the account, its screen locked, the unlock dialog up; yields the
    path of its --verbose log (which names each PAM call and its result)."""
    log = os.path.join(env.tmp, "xscreensaver.log")
    with xscreensaver_stack(env, skipped), open(log, "w") as out:
        daemon = subprocess.Popen(["xscreensaver", "--no-splash", "--verbose"],
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                  **as_user(env))
        try:
            wait_for(lambda: "locking" in xss_command(env, "-lock"), 10, "xscreensaver to lock")
            wait_for(lambda: "locked" in xss_command(env, "-time"), 10, "a locked screen")
            # A key brings up the unlock dialog, with its password field (once the screen
            # has faded out: press it again until the dialog asks).
            wait_for(lambda: xdo(env, "key", "shift") or "pam_conversation" in log_text(log),
                     20, "the unlock dialog", step=2)
            time.sleep(1)
            yield log
        finally:
            kill_tree(daemon.pid)
            daemon.wait()


def test_xscreensaver_in_skip_services_unlocks_with_the_password(env: Env):
    env.mock.reset()
    with xscreensaver(env, skipped=True) as log:
        type_password(env)
        wait_for(lambda: "locked" not in xss_command(env, "-time"), UNLOCKED_WITHIN,
                 "the screen unlocked")
        text = log_text(log)
        check(re.search(r"pam_authenticate \(\.\.\.\) ==> 0 ", text),
              f"no successful pam_authenticate:\n{text[-3000:]}")
        check("NextPay" not in text, f"NextPay in the dialog:\n{text[-3000:]}")
    check(env.mock.count("create") == 0, f"{env.mock.count('create')} codes made")


def test_xscreensaver_not_in_skip_services_is_refused_at_once(env: Env):
    env.mock.reset()
    with xscreensaver(env, skipped=False) as log:
        entered = type_password(env)
        result = wait_for(lambda: re.search(r"pam_authenticate \(\.\.\.\) ==> (\d+) \((.*)\)",
                                            log_text(log)),
                          REFUSED_WITHIN, "the result of pam_authenticate in xscreensaver's log")
        took = time.monotonic() - entered
        words = screen_words(env, "xscreensaver-refused", "790x340+117+214")
        # PAM_SERVICE_ERR: the module could not read the identity map as the user.
        check(result.group(1) == "3", f"pam_authenticate gave {result.group(0)}")
        check("Authentication failed" in words, f"the dialog reads {words!r}")
        time.sleep(2)
        check("locked" in xss_command(env, "-time"), "the screen unlocked")
    check(env.mock.count("create") == 0, f"{env.mock.count('create')} codes made")
    print(f"    refused {took:.1f} s after Enter ({result.group(2)}); "
          f"the dialog: {' '.join(words.split())!r}")


TESTS = [
    test_i3lock_in_skip_services_unlocks_with_the_password,
    test_i3lock_not_in_skip_services_is_refused_at_once,
    test_xscreensaver_in_skip_services_unlocks_with_the_password,
    test_xscreensaver_not_in_skip_services_is_refused_at_once,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_locker", TESTS, fixture=fixture, requires_root=True,
                       requires=TOOLS))
