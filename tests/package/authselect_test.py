#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The RPM's authselect profiles, rendered by the real authselect and run by the real libpam.

    sudo /usr/bin/python3 tests/package/authselect_test.py

Fedora and RHEL write /etc/pam.d/system-auth and password-auth with authselect.
The RPM brings the profiles nextpay-local and nextpay-sssd (packaging/authselect/),
and packaging/AUTHSELECT.md shows how to make the same change in a custom profile.
What must hold: NextPay comes before every auth line that can succeed or skip, so
that no account, local or from a directory, reaches a password, a fingerprint or a
smartcard instead, and only the services in skip_services reach them.

authselect 1.5.0 (tests/package/fetch-authselect.sh: trixie's packages, the
program and its real templates) runs in a scratch root with chroot, into which the
profiles are unpacked from the RPM that make rpm built.  It selects each profile
with no feature, with each feature alone and with all of them, and the tests read
the system-auth and password-auth it wrote.  The auth lines of those files then
run through the real libpam (pamtester under pam_wrapper) with the real
pam_nextpay.so against the mock API, the real pam_env, pam_faildelay (its delay
cut to 0), pam_faillock (its tally in the test's directory), pam_usertype,
pam_localuser (with file= a list of local accounts that leaves out the directory
account) and pam_unix, and stand-ins for what Debian 12 lacks: pam_sss, pam_fprintd,
pam_u2f, pam_systemd_home and the like become pam_exec running a script that notes
its name and lets everyone in (the worst case), or, for the directory password,
checks it.

Root only (chroot, throwaway accounts); where authselect cannot be had (not root,
no network, the archive lacks it) every test is skipped with the reason.  Runs
under tests/lib/runner.py (cmocka-style lines).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.mock import MOCKCTL, Mock, mock_api  # noqa: E402
from lib.paths import BUILD, REPO  # noqa: E402
from lib.procs import remove_pam_wrapper_dirs  # noqa: E402
from lib.runner import Failure, Skip, check, run_tests  # noqa: E402
from lib.screen import Screen, indent  # noqa: E402
from lib.system import temp_dir, throwaway_account, write_root_file, write_usermap  # noqa: E402

AUTHSELECT = os.environ.get("NP_AUTHSELECT") or os.path.join(BUILD, "authselect")
RPM_GLOB = os.path.join(BUILD, "rpm", "RPMS", "*", "pam_nextpay-*.rpm")
MODULE = os.path.join(BUILD, "pam_nextpay.so")
HELPER = os.path.join(BUILD, "nextpay-helper")
DOC = os.path.join(REPO, "packaging", "AUTHSELECT.md")
VENDOR = "usr/share/authselect/vendor"
DEFAULT = "usr/share/authselect/default"
PROFILES = {"nextpay-local": "local", "nextpay-sssd": "sssd"}
STACKS = ("system-auth", "password-auth")
# What the RPM's profiles add: the NextPay line, and a comment that says so.
NEXTPAY_LINE = "auth        [success=done ignore=ignore default=die]     pam_nextpay.so"
HEADER_RE = re.compile(r"# nextpay-(local|sssd): authselect ")
# Lines that may come before NextPay: they neither end the stack nor skip a line.
PREAMBLE = {"pam_env.so", "pam_faildelay.so"}
AUTH_RE = re.compile(r"^(-?auth)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$")
SKIPPED_SERVICE = "polkit-1"
SERVICE = "login"
SECURITY_DIR = "/lib/" + subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"],
                                        capture_output=True, text=True,
                                        check=False).stdout.strip() + "/security"
# Stand-ins for the modules Debian 12 lacks: the name noted, and whether they take a
# password (pam_exec's expose_authtok asks for it) or a device that matches anyone
# (pam_sss with a certificate option is the smartcard).
PASSWORD_STANDINS = {"pam_sss.so": "sss", "pam_systemd_home.so": "homed"}
DEVICE_STANDINS = {"pam_fprintd.so": "fprintd", "pam_u2f.so": "u2f", "pam_sss_gss.so": "sss_gss",
                   "pam_gnome_keyring.so": "gnome_keyring", "smartcard": "smartcard"}
SHOW_CODE_WITHIN = 15
ANSWER_WITHIN = 15
DENIED = "The sign-in was denied in NextPay."


@dataclass
class Env:
    unavailable: str | None = None
    tmp: str = ""
    root: str = ""
    mock: Mock | None = None
    local_user: str = ""
    directory_user: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    conf: str = ""
    local_accounts: str = ""
    record: str = ""
    standin: str = ""
    services: int = 0


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60, **kwargs)


def need_authselect(env: Env) -> None:
    if env.unavailable:
        raise Skip(env.unavailable)


def why_unavailable() -> str | None:
    """None when authselect is ready; a reason to skip; a Failure when it broke."""
    if os.geteuid() != 0:
        return "needs root: authselect runs in a chroot, and the accounts are throwaway ones"
    for name, skip in (("unavailable.txt", True), ("failed.txt", False)):
        path = os.path.join(AUTHSELECT, name)
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if skip:
                return text
            raise Failure(text)
    check(os.access(os.path.join(AUTHSELECT, "root", "usr", "bin", "authselect"), os.X_OK),
          f"{AUTHSELECT} has no authselect (tests/package/fetch-authselect.sh, make check-package)")
    return None


def unpack_vendor_profiles(rpm: str, root: str) -> None:
    """The RPM's usr/share/authselect/vendor/, as rpm would install it, into root."""
    archive = os.path.join(os.path.dirname(root), "rpm.tgz")
    with open(rpm, "rb") as src, open(archive, "wb") as out:
        done = subprocess.run(["rpm2archive", "-"], stdin=src, stdout=out, stderr=subprocess.PIPE,
                              check=False, timeout=60)
    check(done.returncode == 0, f"rpm2archive {rpm}: {done.stderr.decode(errors='replace')}")
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.lstrip("./").startswith(VENDOR + "/")]
        for m in members:
            check(".." not in m.name.split("/") and not m.name.startswith("/"),
                  f"odd path in the RPM: {m.name}")
        tar.extractall(root, members)


def authselect(env: Env, *args: str, cwd_in_root: str = "/") -> str:
    done = run(["chroot", env.root, "/usr/bin/authselect", *args])
    check(done.returncode == 0, f"authselect {' '.join(args)}: exit {done.returncode}\n"
                                f"{indent(done.stdout + done.stderr)}")
    return done.stdout


def select(env: Env, profile: str, features: tuple[str, ...]) -> dict[str, str]:
    """authselect select in the scratch root; {stack: what it wrote to /etc/authselect/STACK}."""
    authselect(env, "select", profile, *features, "--force", "--nobackup", "--quiet")
    stacks = {}
    for stack in STACKS:
        with open(os.path.join(env.root, "etc", "authselect", stack)) as f:
            stacks[stack] = f.read()
    return stacks


def features_of(env: Env, profile: str) -> list[str]:
    return authselect(env, "list-features", profile).split()


def auth_lines(text: str) -> list[tuple[str, str, str, str]]:
    """(type, control, module, arguments) of each auth line, in order."""
    lines = []
    for line in text.splitlines():
        m = AUTH_RE.match(line)
        if m:
            lines.append(m.groups())
    return lines


def nextpay_comes_first(stack: str, what: str) -> None:
    """Exactly one NextPay line, and nothing before it that can end the stack or skip."""
    lines = auth_lines(stack)
    at = [i for i, (_, _, module, _) in enumerate(lines) if module == "pam_nextpay.so"]
    check(len(at) == 1, f"{what}: {len(at)} NextPay lines:\n{indent(stack)}")
    _, control, _, args = lines[at[0]]
    check(control == "[success=done ignore=ignore default=die]" and args == "",
          f"{what}: the NextPay line is {lines[at[0]]}")
    for kind, ctl, module, _ in lines[:at[0]]:
        check(kind == "auth" and ctl in ("required", "requisite") and module in PREAMBLE,
              f"{what}: {ctl} {module} comes before NextPay:\n{indent(stack)}")


# ---- the stacks through libpam ------------------------------------------------------


STANDIN_SCRIPT = """#!/bin/sh
# A module Debian 12 lacks: note its name, then let in the right password or any device.
echo "$1" >>{record}
case $1 in
{password_names}) [ "$(tr -d '\\0')" = "$2" ] ;;
*) exit 0 ;;
esac
"""


def service_text(env: Env, stack: str) -> str:
    """The auth lines of a rendered stack, runnable here: stand-ins, test paths."""
    out = []
    for kind, control, module, args in auth_lines(stack):
        if module == "pam_nextpay.so":
            module, args = MODULE, f"config={env.conf} {args}"
        elif module == "pam_localuser.so":
            args = f"file={env.local_accounts} {args}"
        elif module == "pam_faildelay.so":
            args = "delay=0"
        elif module == "pam_faillock.so":
            args = f"{args} dir={env.tmp}/faillock"
        elif module == "pam_sss.so" and "cert_auth" in args:
            module, args = "pam_exec.so", f"quiet /bin/sh {env.standin} {DEVICE_STANDINS['smartcard']}"
        elif module in PASSWORD_STANDINS:
            name = PASSWORD_STANDINS[module]
            module, args = "pam_exec.so", f"quiet expose_authtok /bin/sh {env.standin} {name} " \
                                          f"{env.passwords['directory']}"
        elif module in DEVICE_STANDINS:
            module, args = "pam_exec.so", f"quiet /bin/sh {env.standin} {DEVICE_STANDINS[module]}"
        else:
            check(os.path.exists(os.path.join(SECURITY_DIR, module)),
                  f"{module} is neither on this machine nor given a stand-in here")
        out.append(f"{kind} {control} {module} {args}".rstrip())
    return "\n".join(out) + "\n"


def install_service(env: Env, stack: str) -> str:
    """A pam_wrapper service directory whose SERVICE and SKIPPED_SERVICE run this stack."""
    env.services += 1
    path = os.path.join(env.tmp, f"services-{env.services}")
    os.makedirs(path, mode=0o755)
    text = service_text(env, stack)
    for name in (SERVICE, SKIPPED_SERVICE):
        write_root_file(os.path.join(path, name), text)
    write_root_file(os.path.join(path, "other"),
                    "".join(f"{t} required pam_deny.so\n"
                            for t in ("auth", "account", "password", "session")))
    return path


def pamtester(services: str, service: str, user: str) -> Screen:
    return Screen(["pamtester", service, user, "authenticate"],
                  env={"PATH": "/usr/bin:/bin", "TERM": "dumb", "LANG": "C.UTF-8",
                       "LD_PRELOAD": "libpam_wrapper.so", "PAM_WRAPPER": "1",
                       "PAM_WRAPPER_SERVICE_DIR": services})


def recorded(env: Env) -> list[str]:
    with contextlib.suppress(FileNotFoundError), open(env.record) as f:
        return f.read().split()
    return []


@dataclass
class Outcome:
    signed_in: bool
    codes: int          # device codes the mock created
    others: list[str]   # the stand-ins that ran
    text: str           # what the person saw


def sign_in(env: Env, services: str, user: str, decide: str, what: str,
            service: str = SERVICE) -> Outcome:
    """One pamtester sign-in.  decide: "deny" or "approve" the code the person is shown,
    or "password": answer a password prompt with the account's password."""
    what = f"{what}, {service} as {user}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(env.record)
    before = env.mock.count("create")
    with pamtester(services, service, user) as screen:
        if decide in ("deny", "approve"):
            screen.expect(r"approve code ([A-Z0-9]{6})", SHOW_CODE_WITHIN, f"the NextPay code ({what})")
            code = screen.match(1)
            if decide == "deny":
                env.mock.deny(code=code)
            else:
                env.mock.approve(user="usr_demo", code=code)
        else:
            if screen.expect([r"[Pp]assword: ", r"pamtester: "], ANSWER_WITHIN,
                             f"a password prompt or pamtester's answer ({what})") == 0:
                screen.send(env.passwords[user] + "\r")
        status = screen.finish(ANSWER_WITHIN)
        text = screen.text
    signed_in = "successfully authenticated" in text
    check(signed_in == (status == 0), f"{what}: pamtester exited {status}:\n{indent(text)}")
    return Outcome(signed_in, env.mock.count("create") - before, recorded(env), text)


def meets_nextpay(env: Env, services: str, user: str, what: str) -> None:
    """A denied code signs nobody in, and nothing else of the stack was asked."""
    seen = sign_in(env, services, user, "deny", what)
    where = f"{what}, {user}"
    check(seen.codes == 1, f"{where}: {seen.codes} codes created:\n{indent(seen.text)}")
    check(DENIED in seen.text, f"{where}: no denial on the screen:\n{indent(seen.text)}")
    check(not seen.signed_in, f"{where}: signed in after a denial:\n{indent(seen.text)}")
    check(not seen.others, f"{where}: after NextPay, {seen.others} ran")
    check("assword" not in seen.text, f"{where}: a password was asked:\n{indent(seen.text)}")


def skipped_service_is_as_without_nextpay(env: Env, ours: str, base: str, user: str,
                                          what: str) -> Outcome:
    """For a service in skip_services, no code, and the same sign-in as the base
    profile's stack gives: the same ways in asked, the same answer."""
    seen = sign_in(env, ours, user, "password", what, SKIPPED_SERVICE)
    without = sign_in(env, base, user, "password", f"{what} without NextPay", SKIPPED_SERVICE)
    where = f"{what}, {SKIPPED_SERVICE} as {user}"
    check(seen.codes == 0, f"{where}: {seen.codes} codes created:\n{indent(seen.text)}")
    check("NextPay" not in seen.text, f"{where}: NextPay spoke:\n{indent(seen.text)}")
    check((seen.signed_in, seen.others, "assword" in seen.text)
          == (without.signed_in, without.others, "assword" in without.text),
          f"{where}:\n{indent(seen.text)}\nbut without NextPay:\n{indent(without.text)}")
    return seen


# ---- fixture --------------------------------------------------------------------------


@contextlib.contextmanager
def fixture():
    reason = why_unavailable()
    if reason:
        yield Env(unavailable=reason)
        return
    rpms = sorted(glob.glob(RPM_GLOB))
    check(len(rpms) == 1, f"{len(rpms)} RPMs match {RPM_GLOB} (make rpm)")
    with temp_dir("npauthselect.") as tmp, throwaway_account("npasl") as local_user, \
            throwaway_account("npasd") as directory_user:
        env = Env(tmp=tmp, root=os.path.join(tmp, "root"), local_user=local_user,
                  directory_user=directory_user)
        try:
            shutil.copytree(os.path.join(AUTHSELECT, "root"), env.root, symlinks=True)
            unpack_vendor_profiles(rpms[0], env.root)
            env.passwords = {local_user: "local-" + os.urandom(6).hex(),
                             directory_user: "directory-" + os.urandom(6).hex()}
            env.passwords["directory"] = env.passwords[directory_user]
            chpasswd = run(["chpasswd"], input=f"{local_user}:{env.passwords[local_user]}\n")
            check(chpasswd.returncode == 0, f"chpasswd: {chpasswd.stderr}")
            # pam_localuser's list of local accounts: the directory account is not there,
            # as an SSSD account is not in /etc/passwd.
            env.local_accounts = write_root_file(
                os.path.join(tmp, "passwd.local"),
                run(["getent", "passwd", "root", local_user]).stdout)
            env.record = os.path.join(tmp, "standins.txt")
            env.standin = write_root_file(os.path.join(tmp, "standin.sh"), STANDIN_SCRIPT.format(
                record=env.record, password_names="|".join(PASSWORD_STANDINS.values())), 0o755)
            os.makedirs(os.path.join(tmp, "faillock"), mode=0o700)
            usermap = write_usermap(os.path.join(tmp, "pam_nextpay.users"),
                                    {"usr_demo": local_user, "usr_alice": directory_user})
            with mock_api(tmp) as mock:
                env.mock = mock
                env.conf = write_root_file(os.path.join(tmp, "pam_nextpay.conf"), "".join(
                    f"{k} = {v}\n" for k, v in {
                        "api_url": mock.url, "ca_file": mock.ca_cert, "usermap": usermap,
                        "helper": HELPER, "poll_interval": 1, "cache": "no",
                        "skip_services": SKIPPED_SERVICE}.items()))
                yield env
        finally:
            for path in remove_pam_wrapper_dirs(tmp):
                print(f"removed pam_wrapper's leftover {path}")


# ---- tests ----------------------------------------------------------------------------


def test_rpm_profiles_are_authselects_with_the_nextpay_line(env: Env):
    need_authselect(env)
    for profile, base in PROFILES.items():
        here = os.path.join(env.root, VENDOR, profile)
        upstream = os.path.join(env.root, DEFAULT, base)
        check(os.path.isdir(here), f"the RPM has no {VENDOR}/{profile}")
        check(sorted(os.listdir(here)) == sorted(os.listdir(upstream)),
              f"{profile} has {sorted(os.listdir(here))}, {base} has {sorted(os.listdir(upstream))}")
        for name in os.listdir(upstream):
            path = os.path.join(here, name)
            if name in STACKS:
                with open(path) as f:
                    ours = f.read().splitlines()
                with open(os.path.join(upstream, name)) as f:
                    theirs = f.read().splitlines()
                check(HEADER_RE.match(ours[0]) and ours[1].startswith("# "),
                      f"{profile}/{name} does not begin by saying what it is: {ours[:2]}")
                check(ours.count(NEXTPAY_LINE) == 1, f"{profile}/{name}: no NextPay line")
                at = ours.index(NEXTPAY_LINE)
                check(ours[2:at] + ours[at + 1:] == theirs,
                      f"{profile}/{name} differs from {base}/{name} by more than the NextPay line")
                check(re.match(r"auth\s+required\s+pam_faildelay\.so", ours[at - 1]),
                      f"{profile}/{name}: NextPay follows {ours[at - 1]!r}")
            elif name == "README":
                with open(path) as f:
                    check(f.readline().startswith("NextPay sign-in first"), f"{path}'s title")
            else:
                check(os.readlink(path) == f"../../default/{base}/{name}",
                      f"{profile}/{name} is not a link to {base}'s")
    listed = authselect(env, "list")
    for profile in PROFILES:
        check(f"- {profile}" in listed, f"authselect list has no {profile}:\n{indent(listed)}")


def test_nextpay_comes_first_with_every_feature(env: Env):
    need_authselect(env)
    for profile in PROFILES:
        features = features_of(env, profile)
        check(len(features) >= 5, f"{profile}: features {features}")
        for chosen in [()] + [(f,) for f in features] + [tuple(features)]:
            for stack, text in select(env, profile, chosen).items():
                nextpay_comes_first(text, f"{profile} {' '.join(chosen)}: {stack}")


def test_documented_custom_profile_gives_the_same_stacks(env: Env):
    """The recipe in AUTHSELECT.md, run as written, makes what the RPM ships."""
    need_authselect(env)
    recipe = documented_recipe()
    for profile, base in PROFILES.items():
        made = run_recipe(env, recipe, base)
        for chosen in ((), tuple(features_of(env, profile))):
            custom = select(env, made, chosen)
            shipped = select(env, profile, chosen)
            for stack in STACKS:
                check(auth_lines(custom[stack]) == auth_lines(shipped[stack]),
                      f"the documented {made} {' '.join(chosen)} {stack}:\n"
                      f"{indent(custom[stack])}\nbut {profile}:\n{indent(shipped[stack])}")
        shutil.rmtree(os.path.join(env.root, "etc", "authselect", "custom"))


def test_every_account_meets_nextpay(env: Env):
    """Local and directory accounts alike get a code, and a denial signs nobody in."""
    need_authselect(env)
    for profile in PROFILES:
        for chosen in ((), tuple(features_of(env, profile))):
            for stack, text in select(env, profile, chosen).items():
                services = install_service(env, text)
                for user in (env.local_user, env.directory_user):
                    meets_nextpay(env, services, user, f"{profile} {' '.join(chosen)}: {stack}")


def test_approval_signs_in_without_a_password(env: Env):
    need_authselect(env)
    for profile in PROFILES:
        services = install_service(env, select(env, profile, ())["system-auth"])
        seen = sign_in(env, services, env.local_user, "approve", profile)
        check(seen.signed_in and seen.codes == 1, f"{profile}:\n{indent(seen.text)}")
        check(not seen.others and "assword" not in seen.text,
              f"{profile}: more than NextPay was asked:\n{indent(seen.text)}")


def test_skipped_services_sign_in_as_without_nextpay(env: Env):
    need_authselect(env)
    for profile, base in PROFILES.items():
        for chosen in ((), tuple(features_of(env, profile))):
            ours = select(env, profile, chosen)
            theirs = select(env, base, chosen)
            for stack in STACKS:
                services = install_service(env, ours[stack])
                base_services = install_service(env, theirs[stack])
                for user in (env.local_user, env.directory_user):
                    seen = skipped_service_is_as_without_nextpay(
                        env, services, base_services, user, f"{profile} {' '.join(chosen)}: {stack}")
                    # Without features, the password of the profile signs in: the local
                    # one, or for sssd the directory's too.
                    if not chosen and (user == env.local_user or base == "sssd"):
                        check(seen.signed_in and "assword" in seen.text,
                              f"{profile} {stack}, {user}: no password:\n{indent(seen.text)}")


def test_the_old_recipe_is_caught(env: Env):
    """NextPay just before pam_unix (this project's first recipe): a directory account
    skips it, and these checks see that, so they can see a bypass at all."""
    need_authselect(env)
    authselect(env, "create-profile", "old", "--base-on=sssd")
    path = os.path.join(env.root, "etc", "authselect", "custom", "old", "system-auth")
    with open(path) as f:
        lines = f.read().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if re.match(r"auth\s+sufficient\s+pam_unix\.so", line))
    lines.insert(at, NEXTPAY_LINE + "\n")
    write_root_file(path, "".join(lines))
    services = install_service(env, select(env, "custom/old", ())["system-auth"])
    shutil.rmtree(os.path.join(env.root, "etc", "authselect", "custom"))
    seen = sign_in(env, services, env.directory_user, "password", "the old recipe")
    check(seen.signed_in and seen.codes == 0 and seen.others == ["sss"],
          f"the old recipe: signed in {seen.signed_in}, {seen.codes} codes, stand-ins "
          f"{seen.others}:\n{indent(seen.text)}")


# ---- the documented recipe ------------------------------------------------------------


def documented_recipe() -> list[str]:
    """The shell lines of AUTHSELECT.md's custom-profile block, in order."""
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    recipe = [b for b in blocks if "authselect create-profile" in b]
    check(len(recipe) == 1, f"{DOC}: {len(recipe)} ```sh blocks with authselect create-profile")
    return [line.strip() for line in recipe[0].splitlines()
            if line.strip() and not line.strip().startswith("#")]


def run_recipe(env: Env, recipe: list[str], base: str) -> str:
    """Runs the recipe for BASE in the scratch root: authselect in the chroot, cd and sed
    on its files from here.  Returns the profile it selects ("custom/NAME")."""
    cwd = env.root
    for line in recipe:
        line = re.sub(r"--base-on=\S+", f"--base-on={base}", line)
        if line.startswith("authselect select "):
            return line.split()[2]
        if line.startswith("authselect "):
            authselect(env, *line.split()[1:])
        elif line.startswith("cd "):
            cwd = os.path.join(env.root, line.split()[1].lstrip("/"))
        elif line.startswith("sed "):
            done = run(["sh", "-c", line], cwd=cwd)
            check(done.returncode == 0, f"{line}: {done.stderr}")
        else:
            raise Failure(f"{DOC}: the recipe has a line this test cannot run: {line}")
    raise Failure(f"{DOC}: the recipe selects no profile")


if __name__ == "__main__":
    sys.exit(run_tests("authselect", [
        test_rpm_profiles_are_authselects_with_the_nextpay_line,
        test_nextpay_comes_first_with_every_feature,
        test_documented_custom_profile_gives_the_same_stacks,
        test_every_account_meets_nextpay,
        test_approval_signs_in_without_a_password,
        test_skipped_services_sign_in_as_without_nextpay,
        test_the_old_recipe_is_caught,
    ], fixture=fixture, requires=("pamtester", "chroot", "rpm2archive"),
        built=(MODULE, HELPER, MOCKCTL)))
