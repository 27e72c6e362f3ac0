#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Tests of the manual pages in build/man/ and of the settings they document.

    /usr/bin/python3 tests/man/man_test.py

Every page renders without a warning (groff -ww -mandoc) and man-db's lexgrog
reads its NAME; each names this build's version and paths; and the settings
table of the code (printed by build/tests/print-settings), conf/pam_nextpay.conf
and pam_nextpay.conf(5) list exactly the same keys with the same defaults; every
kind of event and MESSAGE_ID of the code (build/tests/print-events) is in
pam_nextpay(8) and in the journal catalog, packaging/pam_nextpay.catalog.
Needs `make all tests`; runs under tests/lib/runner.py (cmocka-style lines).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.paths import BUILD, REPO  # noqa: E402
from lib.runner import Failure, check, run_tests  # noqa: E402

# ---- MERGE: settings that the documentation describes and the code does not have yet -------
# Keys being added on other branches go here until they land: a key missing from the code
# is a failure like any other, and a key listed here that the code has is one too.
NOT_YET_IN_CODE: set[str] = set()
# ---------------------------------------------------------------------------------------------

MAN_DIR = os.path.join(BUILD, "man")
PAGES = {  # page file: the names its NAME section gives
    "pam_nextpay.8": ["pam_nextpay"],
    "pam_nextpay.conf.5": ["pam_nextpay.conf", "pam_nextpay.users"],
    "nextpayctl.8": ["nextpayctl"],
}
PRINT_SETTINGS = os.path.join(BUILD, "tests", "print-settings")
PRINT_EVENTS = os.path.join(BUILD, "tests", "print-events")
CATALOG = os.path.join(REPO, "packaging", "pam_nextpay.catalog")
NEXTPAYCTL = os.path.join(BUILD, "nextpayctl")
CONF = os.path.join(REPO, "conf", "pam_nextpay.conf")
# conf/pam_nextpay.conf is not generated: it shows the paths of a build with the default
# PREFIX and SYSCONFDIR, while the code and the pages carry this build's.
CONF_PATHS = {
    "helper": "/usr/libexec/pam_nextpay/nextpay-helper",
    "usermap": "/etc/security/pam_nextpay.users",
    "cache_key": "/etc/security/pam_nextpay.key",
}
# Nothing the product ships may point outside the repository.
OUTSIDE = re.compile(r"interface\.md|nextpay-api\.md|testing\.md|README|/work/|shared/")


def page(name: str) -> str:
    path = os.path.join(MAN_DIR, name)
    check(os.path.exists(path), f"{path} is missing (make all)")
    with open(path, encoding="utf-8") as f:
        return f.read()


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


# ---- where the settings are listed -------------------------------------------------------


def code_table() -> list[list[str]]:
    """The code's own table: [key, default, and "argument" for a module argument only]."""
    done = run([PRINT_SETTINGS])
    check(done.returncode == 0, f"{PRINT_SETTINGS}: exit {done.returncode}: {done.stderr}")
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    check(len(rows) > 20, f"only {len(rows)} settings printed:\n{done.stdout}")
    return rows


def code_settings() -> dict[str, str]:
    """{key: default} from the code's own table; "" (none) becomes "none"."""
    return {row[0]: row[1] or "none" for row in code_table()}


def argument_only_settings() -> set[str]:
    """The settings only a module argument may give: a config file line with one is an error."""
    return {row[0] for row in code_table() if row[2:] == ["argument"]}


def conf_settings() -> dict[str, str]:
    """{key: default} from conf/pam_nextpay.conf: each key is one commented-out
    "#key = value" line at its default; where the default is none, the line is an
    example and the comment above it says "Default: none"."""
    settings: dict[str, str] = {}
    paragraph: list[str] = []
    with open(CONF, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            found = re.fullmatch(r"#([a-z_]+) = (.*)", line)
            if found:
                key, value = found.groups()
                check(key not in settings, f"{CONF}:{number}: {key} is listed twice")
                says_none = any("Default: none" in text for text in paragraph)
                settings[key] = "none" if says_none else value
            elif line.startswith("#"):
                paragraph.append(line)
            else:
                paragraph = []
    return settings


def man_settings(text: str) -> dict[str, str]:
    """{key: default} from pam_nextpay.conf(5): every ".It Cm KEY Ns = Ns ..." item and
    the first "Default:" line after it (the word after it, or the .Ql line below)."""
    settings: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        found = re.match(r"\.It Cm ([a-z_]+) Ns = Ns ", line)
        if not found:
            continue
        key = found.group(1)
        check(key not in settings, f"pam_nextpay.conf(5): {key} is described twice")
        value = None
        for j in range(i + 1, len(lines)):
            if re.match(r"\.It Cm [a-z_]+ Ns = Ns ", lines[j]):
                break
            if lines[j].startswith("Default:"):
                rest = lines[j][len("Default:"):].strip()
                if rest:
                    value = rest.split()[0].rstrip(".,;")
                else:
                    ql = re.fullmatch(r"\.Ql (\S+)(?: [.,;])?", lines[j + 1])
                    value = ql.group(1) if ql else f"(unreadable: {lines[j + 1]!r})"
                break
        check(value is not None, f"pam_nextpay.conf(5): {key} has no \"Default:\" line")
        settings[key] = value
    return settings


def differences(what: str, expected: dict[str, str], seen: dict[str, str]) -> list[str]:
    problems = [f"{what} lacks {key}" for key in sorted(expected.keys() - seen.keys())]
    problems += [f"{what} has {key}, which the code does not know"
                 for key in sorted(seen.keys() - expected.keys())]
    problems += [f"{what}: {key} defaults to {seen[key]!r}, the code to {expected[key]!r}"
                 for key in sorted(expected.keys() & seen.keys())
                 if expected[key] is not None and seen[key] != expected[key]]
    return problems


# ---- tests ---------------------------------------------------------------------------------


def test_pages_render_without_warnings():
    for name in PAGES:
        page(name)
        done = run(["groff", "-ww", "-z", "-mandoc", os.path.join(MAN_DIR, name)])
        check(done.returncode == 0 and not done.stderr.strip(),
              f"groff -ww -z -mandoc {name}: exit {done.returncode}:\n{done.stderr}")


def test_lexgrog_reads_each_name():
    for name, names in PAGES.items():
        path = os.path.join(MAN_DIR, name)
        page(name)
        done = run(["lexgrog", path])
        check(done.returncode == 0, f"lexgrog {name}: exit {done.returncode}: "
                                    f"{done.stdout}{done.stderr}")
        for title in names:
            check(re.search(rf'"{re.escape(title)} - \S', done.stdout),
                  f"lexgrog {name} does not name {title}:\n{done.stdout}")


def test_pages_carry_this_builds_version_and_paths():
    code = code_settings()
    done = run([NEXTPAYCTL, "--version"])
    version = re.search(r"\d+\.\d+\.\d+\S*", done.stdout)
    check(version, f"nextpayctl --version: {done.stdout!r}")
    for name in PAGES:
        text = page(name)
        check(f".Os pam_nextpay {version.group(0)}\n" in text,
              f"{name} does not say version {version.group(0)}")
        left = re.findall(r"@[A-Z_]+@", text)
        check(not left, f"{name}: not substituted: {left}")
    for key in ("helper", "usermap", "cache_key"):
        for name in PAGES:
            check(code[key] in page(name), f"{name} does not name {key} {code[key]}")


def test_settings_agree_in_code_conf_and_manual():
    code = code_settings()
    documented = dict(code, **{key: None for key in NOT_YET_IN_CODE})
    conf = conf_settings()
    for key, path in CONF_PATHS.items():
        if key in conf and key in code and conf[key] == path and \
                os.path.basename(code[key]) == os.path.basename(path):
            conf[key] = code[key]
    problems = [f"NOT_YET_IN_CODE lists {key}, which the code has now: remove it from the "
                f"list in {os.path.relpath(__file__, REPO)}"
                for key in sorted(NOT_YET_IN_CODE & code.keys())]
    # A module argument only is described in the manual, and absent from the file, where it
    # would be an error.
    arguments = argument_only_settings()
    problems += [f"conf/pam_nextpay.conf lists {key}, which only a module argument may set"
                 for key in sorted(arguments & conf.keys())]
    problems += differences("conf/pam_nextpay.conf",
                            {k: v for k, v in documented.items() if k not in arguments},
                            {k: v for k, v in conf.items() if k not in arguments})
    problems += differences("pam_nextpay.conf(5)", documented, man_settings(page("pam_nextpay.conf.5")))
    if problems:
        raise Failure("the settings disagree:\n" + "\n".join(f"  {p}" for p in problems))


def test_nothing_points_outside_the_tree():
    shipped = [os.path.join(MAN_DIR, name) for name in PAGES]
    shipped += [os.path.join(REPO, "conf", name) for name in os.listdir(os.path.join(REPO, "conf"))]
    packaging = os.path.join(REPO, "packaging")
    for top, _, files in os.walk(packaging):
        shipped += [os.path.join(top, name) for name in files]
    for path in shipped:
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                check(not OUTSIDE.search(line),
                      f"{os.path.relpath(path, REPO)}:{number} points outside: {line.strip()}")


def test_every_event_is_documented_and_explained():
    """Each kind, result and MESSAGE_ID of the code in pam_nextpay(8), each id in the catalog."""
    done = run([PRINT_EVENTS])
    check(done.returncode == 0, f"{PRINT_EVENTS}: exit {done.returncode}: {done.stderr}")
    types = [line.split("\t") for line in done.stdout.splitlines()]
    text = page("pam_nextpay.8")
    logging = text[text.index(".Sh LOGGING"):text.index(".Sh FILES")]
    for kind, result, message_id, _ in types:
        check(f".It Cm {kind}" in logging, f"pam_nextpay(8) LOGGING does not name {kind}")
        check(message_id in logging, f"pam_nextpay(8) LOGGING lacks {kind} {result} {message_id}")
        if result != "-":
            check(f".It Ql {result}" in logging, f"pam_nextpay(8) lacks the result {result}")
    with open(CATALOG) as f:
        catalog = re.findall(r"(?m)^-- ([0-9a-f]{32})$", f.read())
    code = [message_id for _, _, message_id, _ in types]
    check(sorted(catalog) == sorted(code) and len(set(code)) == len(code),
          f"packaging/pam_nextpay.catalog and the code disagree: {set(catalog) ^ set(code)}")


if __name__ == "__main__":
    sys.exit(run_tests("man", [
        test_pages_render_without_warnings,
        test_lexgrog_reads_each_name,
        test_pages_carry_this_builds_version_and_paths,
        test_settings_agree_in_code_conf_and_manual,
        test_nothing_points_outside_the_tree,
        test_every_event_is_documented_and_explained,
    ], requires=("groff", "lexgrog"), built=(PRINT_SETTINGS, PRINT_EVENTS, NEXTPAYCTL)))
