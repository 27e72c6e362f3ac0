#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: signing in at a real display manager (root only).

LightDM with lightdm-gtk-greeter on Xvfb (tests/lib/display_manager.py), the module in
LightDM's own PAM stack in place of common-auth, with wait = auto, against the HTTPS
mock.  The tests type at the greeter with xdotool and read it from screenshots with
tesseract (tests/lib/ocr.py), as a person would; they assert on the words on the
screen, on LightDM's debug log, on the module's log lines (build/tests/pam-log-shim.so
preloaded into LightDM) and on the mock's records, and for a sign-in on the user
session itself: the file it writes and the owner of its process.

    sudo /usr/bin/python3 tests/e2e/e2e_lightdm.py [NAME ...]

Screenshots of the last run stay in build/e2e-lightdm/; E2E_SAVE_SCREENSHOTS=1 also
writes the pictures of docs/greeter/.  Needs the packages of DEB_CHECK_PACKAGES
(lightdm, lightdm-gtk-greeter, xvfb, xdotool, imagemagick, tesseract-ocr, dbus,
x11-utils, xauth); without one every test is skipped, saying which.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BUILD, MODULE, REPO, check, mock_api, run_tests, temp_dir,  # noqa: E402
                    throwaway_account, wait_for, write_config, write_root_file, write_usermap)
from lib import ocr  # noqa: E402
from lib.display_manager import (REQUIRES, Seat, lightdm_seat, process_uid,  # noqa: E402
                                 session_report)

PAM_LOG_SHIM = os.path.join(BUILD, "tests", "pam-log-shim.so")
SHOTS = os.path.join(BUILD, "e2e-lightdm")
PICTURES = os.path.join(REPO, "docs", "greeter")
APPROVER = "usr_demo"

GET_CODE = "Press Enter to get a sign-in code"
START_AGAIN = "Press Enter to start again"
APPROVE_ONLY = "Approve only if you started this sign-in yourself."
WAITING = "Waiting for your approval"
CODE_WITHIN = 20        # Enter -> the code on screen (a helper, a request, a screenshot)
DECIDED_WITHIN = 15     # a decision in the mock -> its effect on screen (poll_interval 1 s)
SESSION_WITHIN = 20     # the approval -> the user session running


@dataclass
class Env:
    tmp: str
    user: str
    home: str
    mock: object
    conf: str
    usermap: str
    pam_log: str
    seat: Seat


@contextlib.contextmanager
def fixture():
    with temp_dir("npe2e-lightdm.") as tmp, throwaway_account() as user, \
            mock_api(tmp) as mock:
        usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"), {APPROVER: user})
        conf = os.path.join(tmp, "pam_nextpay.conf")
        pam_log = write_root_file(os.path.join(tmp, "pam.log"), "", mode=0o600)
        auth = f"auth required {MODULE} config={conf}"
        env = {"LD_PRELOAD": PAM_LOG_SHIM, "NP_E2E_PAM_LOG": pam_log}
        with lightdm_seat(tmp, auth, [user], SHOTS, env) as seat:
            yield Env(tmp, user, pwd.getpwnam(user).pw_dir, mock, conf, usermap, pam_log, seat)


# ---- the steps of a sign-in --------------------------------------------------------

@contextlib.contextmanager
def greeter(env: Env, **settings):
    """A fresh mock, the module's settings, its log emptied; LightDM up, and stopped after."""
    env.mock.reset()
    write_config(env.conf, env.mock, env.usermap, debug="yes", **settings)
    with open(env.pam_log, "w"):
        pass
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(env.home, "npdm-session.txt"))
    try:
        took = env.seat.start()
        print(f"LightDM and the greeter up in {took:.1f} s")
        yield
    finally:
        env.seat.stop()


def screen_until(env: Env, name: str, want, timeout: float, what: str) -> str:
    """Screenshots NAME.png until want(text of the dialog) holds; that text."""
    last = ""

    def look():
        nonlocal last
        last = env.seat.dialog_text(name)
        return want(last)
    try:
        wait_for(look, timeout, what, step=0.3)
    except AssertionError:
        raise AssertionError(f"{what}: not on {SHOTS}/{name}.png within {timeout:g} s; "
                             f"the greeter shows:\n{last}") from None
    return last


def on_screen(text: str, *phrases: str) -> bool:
    return all(ocr.has_phrase(text, p) for p in phrases)


def enter_name(env: Env) -> str:
    """The account's name and Enter: the greeter's new conversation asks for the code."""
    codes = env.mock.count("create")
    started = rf"start authentication for {re.escape(env.user)}\b"
    conversations = env.seat.log_count(started)
    env.seat.type(env.user)
    env.seat.key("Return")
    env.seat.wait_log(started, 10, "LightDM starting the account's conversation",
                      conversations + 1)
    text = screen_until(env, "ready", lambda t: on_screen(t, GET_CODE), 15,
                        "the prompt for a code")
    check(on_screen(text, "NextPay sign-in to", f"{os.uname().nodename} as"),
          f"the greeter does not say what the sign-in is for:\n{text}")
    check(env.mock.count("create") == codes, "a code was made before the person asked for one")
    return text


def ask_for_code(env: Env, name: str = "code") -> tuple[str, str]:
    """Enter at the prompt: (the code, the text of the dialog showing it)."""
    before = env.mock.count("create")
    env.seat.key("Return")
    wait_for(lambda: env.mock.count("create") > before, CODE_WITHIN, "a code from the module")
    code = env.mock.last_code()
    text = screen_until(env, name, lambda t: not instructions_lack(env, t, code), CODE_WITHIN,
                        f"the instructions with code {code}")
    return code, text


def instructions_lack(env: Env, text: str, code: str) -> list[str]:
    """What of the instructions is not on screen.  The URL up to its "?": tesseract reads
    "?code=" as "?7code=" at times, and shows_code() reads the code after it."""
    missing = [p for p in (f"https://127.0.0.1:{env.mock.port}/auth/device", "and approve code",
                           "valid for", APPROVE_ONLY, WAITING) if not ocr.has_phrase(text, p)]
    return missing + ([f"code {code}"] if not ocr.shows_code(text, code) else [])



def read(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def module_log(env: Env) -> str:
    """What the module logged (pam_syslog), one "<PRIORITY> MESSAGE" a line."""
    return read(env.pam_log)


def expect_module_logged(env: Env, pattern: str, what: str) -> None:
    try:
        wait_for(lambda: re.search(pattern, module_log(env)), 10, f"the module's log: {what}")
    except AssertionError:
        raise AssertionError(f"the module did not log {what} ({pattern}):\n"
                             f"{module_log(env)}") from None


def expect_session(env: Env) -> dict[str, str]:
    """The user session runs as the account: its own file, and its process's owner."""
    report = wait_for(lambda: session_report(env.home), SESSION_WITHIN, "the user session")
    uid = pwd.getpwnam(env.user).pw_uid
    check(report.get("user") == env.user and report.get("uid") == str(uid),
          f"the session says it runs as {report}, not as {env.user} ({uid})")
    check(process_uid(int(report["pid"])) == uid,
          f"process {report['pid']} of the session is not {env.user}'s")
    log = env.seat.log()
    check(f"User {env.user} authorized" in log, "LightDM never authorized the account")
    check(f"Greeter requests session {env.seat.session}" in log,
          "the greeter did not ask for the test's session")
    return report


def end_session(env: Env, report: dict[str, str]) -> None:
    """The person logs out: the greeter comes back."""
    greeters = env.seat.log_count(r"Greeter connected")
    os.kill(int(report["pid"]), signal.SIGTERM)
    env.seat.wait_log(r"Greeter connected", 20, "the greeter after the session", greeters + 1)
    wait_for(env.seat.greeter_window, 20, "the greeter's window again")
    time.sleep(0.7)


def refusal_stays(env: Env, name: str, reason: str) -> None:
    """The reason on screen, still there 5 s later: the greeter did not start over."""
    text = screen_until(env, f"{name}", lambda t: on_screen(t, reason, START_AGAIN),
                        DECIDED_WITHIN, f"the reason \"{reason}\"")
    check("Failed to authenticate" not in text and "Incorrect password" not in text,
          f"the greeter's own words beside the module's:\n{text}")
    time.sleep(5)
    text = env.seat.dialog_text(f"{name}-5s")
    check(on_screen(text, reason, START_AGAIN), f"the reason went away within 5 s:\n{text}")
    check(env.mock.count("create") == 1, f"{env.mock.count('create')} codes made, not 1")
    check(f"Authenticate result for user {env.user}" not in env.seat.log(),
          "the conversation ended before the person read the reason")


def start_again(env: Env) -> None:
    """Enter after a refusal: a new conversation asks for a code, and makes none."""
    env.seat.key("Return")
    env.seat.wait_log(rf"Authenticate result for user {re.escape(env.user)}: ", 10,
                      "LightDM's result of the refused conversation")
    screen_until(env, "start-again", lambda t: on_screen(t, GET_CODE), 15,
                 "the prompt for a new code")
    check(env.mock.count("create") == 1, "a code was made before the person asked again")
    check(not os.path.exists(os.path.join(env.home, "npdm-session.txt")), "a session started")


def save_picture(path: str, name: str) -> None:
    """docs/greeter/NAME.png from a screenshot (E2E_SAVE_SCREENSHOTS=1): the dialog, small."""
    if os.environ.get("E2E_SAVE_SCREENSHOTS") != "1":
        return
    w, h, x, y = ocr.dialog_box(path)
    os.makedirs(PICTURES, exist_ok=True)
    out = os.path.join(PICTURES, name + ".png")
    subprocess.run([ocr.CONVERT, path, "-crop", f"{w + 40}x{h + 40}+{x - 20}+{y - 20}",
                    "+repage", "-strip", "-colors", "32", out], check=True)
    os.chmod(out, 0o644)


# ---- the tests ------------------------------------------------------------------------

def test_approval_starts_the_session(env: Env):
    with greeter(env):
        enter_name(env)
        save_picture(env.seat.shot("ready"), "ready")
        code, _ = ask_for_code(env)
        save_picture(os.path.join(SHOTS, "code.png"), "code")
        check(env.mock.stats()["codes"][-1]["state"] == "pending", "the code is not pending")
        t0 = time.monotonic()
        env.mock.approve(user=APPROVER, code=code)
        # Nothing pressed, nothing clicked: the greeter starts the session by itself.
        report = expect_session(env)
        print(f"approval -> user session running: {time.monotonic() - t0:.2f} s")
        expect_module_logged(env, rf"success: account=\"{re.escape(env.user)}\" "
                                  rf"nextpay_id=\"{APPROVER}\".* method=\"device-code\"",
                             "success by device code")
        expect_module_logged(env, r"display manager: PAM_XDISPLAY=\":\d+\" PAM_TTY=\":\d+\", no "
                                  r"controlling terminal", "how it knew it is at a greeter")
        time.sleep(1)
        shot = env.seat.shot("session")
        save_picture(shot, "session")
        check("session running as" in ocr.read_screen(shot), "the session's window is not on screen")
        check(env.mock.count("create") == 1, "more than one code")
        end_session(env, report)


def decided_against(env: Env, decide, result: str, reason: str, picture: bool = False) -> None:
    """A code decided against in the mock (decide(code=...)): the reason stays, Enter
    starts over; screenshots RESULT*.png (and docs/greeter/RESULT.png with picture), the
    module's log line RESULT: account=..."""
    with greeter(env):
        enter_name(env)
        code, _ = ask_for_code(env)
        decide(code=code)
        refusal_stays(env, result, reason)
        if picture:
            save_picture(os.path.join(SHOTS, f"{result}.png"), result)
        expect_module_logged(env, rf"{result}: account=\"{re.escape(env.user)}\"", result)
        start_again(env)


def test_denial_stays_readable(env: Env):
    decided_against(env, env.mock.deny, "denied", "The sign-in was denied in NextPay.",
                    picture=True)


def test_expired_code_stays_readable(env: Env):
    decided_against(env, env.mock.expire, "expired", "The code expired before it was approved.")


def test_login_timeout_ends_the_wait(env: Env):
    with greeter(env, login_timeout=10):
        enter_name(env)
        ask_for_code(env)
        t0 = time.monotonic()
        # Nobody touches anything: the module's own time ends the wait.
        screen_until(env, "timeout", lambda t: on_screen(t, "expired", START_AGAIN), 25,
                     "the expiry without a key pressed")
        took = time.monotonic() - t0
        check(took < 20, f"the wait ended {took:.1f} s after the code, login_timeout is 10 s")
        expect_module_logged(env, r"expired: account=.*reason=\"login_timeout or code lifetime",
                             "login_timeout")


def test_not_allowed_for_this_account_is_readable(env: Env):
    with greeter(env):
        enter_name(env)
        code, _ = ask_for_code(env)
        env.mock.approve(user="usr_alice", code=code)     # maps to nobody here
        refusal_stays(env, "not-mapped", "may not sign in as")
        expect_module_logged(env, r"refused: account=.*nextpay_id=\"usr_alice\"", "the refusal")


def test_unreachable_nextpay_is_readable(env: Env):
    with greeter(env):
        env.mock.fault(endpoint="create", kind="status", status=503, count=10)
        enter_name(env)
        env.seat.key("Return")
        screen_until(env, "unreachable", lambda t: on_screen(t, "could not be reached",
                                                             START_AGAIN),
                     DECIDED_WITHIN, "NextPay could not be reached")
        expect_module_logged(env, r"unavailable: account=", "the API's failure")


def test_keys_while_waiting_keep_the_code(env: Env):
    with greeter(env):
        enter_name(env)
        code, _ = ask_for_code(env)
        t_code = time.monotonic()
        # Out of habit: into the password field and Enter, then "Log In", before approving.
        env.seat.click_phrase("click-field", "Enter", "your", "password")
        env.seat.key("Return")
        screen_until(env, "after-enter", lambda t: not instructions_lack(env, t, code), 6,
                     "the instructions again after Enter")
        env.seat.click_phrase("click-log-in", "Log", "In")
        screen_until(env, "after-log-in", lambda t: not instructions_lack(env, t, code), 6,
                     "the instructions again after Log In")
        # liblightdm refuses an answer when no prompt is out (its log says so): nothing reached
        # the module, whose conversation stays in step.
        check("n_responses_waiting" in read(os.path.join(env.seat.dir, "log", "seat0-greeter.log")),
              "the greeter never tried to answer: the keys did not reach it")
        # Past the first 30 s: the URL is still there, with less time left.
        time.sleep(max(0.0, 32 - (time.monotonic() - t_code)))
        text = screen_until(env, "after-30s", lambda t: not instructions_lack(env, t, code), 6,
                            "the instructions after 30 s")
        left = re.search(r"valid for (\d+) seconds", text)
        check(left is None or int(left.group(1)) < 80, f"the time left does not run:\n{text}")
        check(env.mock.count("create") == 1, f"{env.mock.count('create')} codes made, not 1")
        env.mock.approve(user=APPROVER, code=code)
        expect_session(env)


def test_qr_stays_with_the_terminal(env: Env):
    with greeter(env, qr="yes"):
        enter_name(env)
        code, text = ask_for_code(env, "qr")
        check("\u2580" not in text and "\u2588" not in text, f"a QR drawing:\n{text}")
        expect_module_logged(env, r"QR code not drawn: the application shows one message",
                             "why there is no QR code")
        env.mock.approve(user=APPROVER, code=code)
        expect_session(env)


def test_next_person_at_the_seat_gets_a_new_code(env: Env):
    cache = os.path.join(env.tmp, "cache")
    key = os.path.join(env.tmp, "cache.key")
    write_root_file(key, "", mode=0o600)
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    with greeter(env, cache="yes", cache_dir=cache, cache_key=key):
        enter_name(env)
        code, _ = ask_for_code(env, "first-code")
        env.mock.approve(user=APPROVER, code=code)
        report = expect_session(env)
        end_session(env, report)
        os.unlink(os.path.join(env.home, "npdm-session.txt"))
        # Someone else types the same name at the same seat.
        enter_name(env)
        env.seat.key("Return")
        time.sleep(3)
        reused = session_report(env.home) is not None or \
            re.search(r"method=\"cached-approval\"", module_log(env))
        check(not reused, "the second sign-in at the seat reused the first one's approval "
                          "(method=\"cached-approval\"): no new code, the session started")
        wait_for(lambda: env.mock.count("create") == 2, CODE_WITHIN, "a second code")
        screen_until(env, "second-code", lambda t: ocr.shows_code(t, env.mock.last_code()),
                     CODE_WITHIN, "the second code on the greeter")


TESTS = [
    test_approval_starts_the_session,
    test_denial_stays_readable,
    test_expired_code_stays_readable,
    test_login_timeout_ends_the_wait,
    test_not_allowed_for_this_account_is_readable,
    test_unreachable_nextpay_is_readable,
    test_keys_while_waiting_keep_the_code,
    test_qr_stays_with_the_terminal,
    test_next_person_at_the_seat_gets_a_new_code,
]

if __name__ == "__main__":
    sys.exit(run_tests("e2e_lightdm", TESTS, fixture=fixture, requires_root=True,
                       requires=REQUIRES, built=(PAM_LOG_SHIM,), needs_pexpect=False))
