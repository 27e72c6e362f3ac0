#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Reads tests/mutation/mutants.txt and applies one mutant to a tree.

    mutants.py names                    the mutants' names, one a line
    mutants.py describe NAME            "FILE<TAB>what it breaks"
    mutants.py check TREE [NAME...]     is each find text in its file exactly once?
    mutants.py apply TREE NAME          apply one, refusing unless found exactly once

Exit status 0, or 1 with the reason on stderr.  run-mutants.sh uses it; so can a
maintainer updating the table after files moved (check).
"""

from __future__ import annotations

import os
import sys

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mutants.txt")
KEYS = ("mutant", "file", "breaks", "find", "replace")


class TableError(Exception):
    """The table itself is wrong: a missing field, a name twice, a bad escape."""


def unescape(text: str, where: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt not in ("n", "t", "\\"):
            raise TableError(f"{where}: unknown escape \\{nxt} (only \\n, \\t and \\\\)")
        out.append({"n": "\n", "t": "\t", "\\": "\\"}[nxt])
        i += 2
    return "".join(out)


def load(path: str = TABLE) -> dict[str, dict[str, str]]:
    """{name: {file, breaks, find, replace}}, in the table's order."""
    mutants: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}

    def finish(line_no: int) -> None:
        if not current:
            return
        missing = [k for k in KEYS if k not in current]
        if missing:
            raise TableError(f"{path}:{line_no}: mutant {current.get('mutant', '?')} has no "
                             f"{', '.join(missing)}")
        if current["mutant"] in mutants:
            raise TableError(f"{path}:{line_no}: mutant {current['mutant']} twice")
        if current["find"] == current["replace"]:
            raise TableError(f"{path}:{line_no}: mutant {current['mutant']} changes nothing")
        mutants[current["mutant"]] = dict(current)
        current.clear()

    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        if line.strip() == "":
            finish(n)
            continue
        key, _, value = line.partition(" ")
        value = value.lstrip(" ")
        if key not in KEYS:
            raise TableError(f"{path}:{n}: unknown field {key!r}")
        if key in current:
            raise TableError(f"{path}:{n}: {key} twice in one mutant")
        if key == "mutant" and (not value or any(c.isspace() for c in value)):
            raise TableError(f"{path}:{n}: a mutant's name is one word")
        current[key] = unescape(value, f"{path}:{n}") if key in ("find", "replace") else value
    finish(len(lines))
    return mutants


def occurrences(tree: str, mutant: dict[str, str]) -> int:
    try:
        with open(os.path.join(tree, mutant["file"]), encoding="utf-8") as f:
            return f.read().count(mutant["find"])
    except FileNotFoundError:
        return -1


def apply(tree: str, mutant: dict[str, str]) -> None:
    path = os.path.join(tree, mutant["file"])
    found = occurrences(tree, mutant)
    if found != 1:
        what = "no such file" if found < 0 else f"find text found {found} times, not once"
        raise TableError(f"{mutant['mutant']}: {mutant['file']}: {what}")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(mutant["find"], mutant["replace"], 1))


def main(argv: list[str]) -> int:
    try:
        mutants = load()
        if argv[1:2] == ["names"] and len(argv) == 2:
            print("\n".join(mutants))
        elif argv[1:2] == ["describe"] and len(argv) == 3 and argv[2] in mutants:
            print(f"{mutants[argv[2]]['file']}\t{mutants[argv[2]]['breaks']}")
        elif argv[1:2] == ["check"] and len(argv) >= 3:
            names = argv[3:] or list(mutants)
            bad = 0
            for name in names:
                if name not in mutants:
                    print(f"{name}: no such mutant", file=sys.stderr)
                    bad += 1
                    continue
                found = occurrences(argv[2], mutants[name])
                verdict = "ok" if found == 1 else \
                    "NO SUCH FILE" if found < 0 else f"FOUND {found} TIMES"
                print(f"{name:32} {mutants[name]['file']:24} {verdict}")
                bad += found != 1
            return 1 if bad else 0
        elif argv[1:2] == ["apply"] and len(argv) == 4:
            if argv[3] not in mutants:
                raise TableError(f"{argv[3]}: no such mutant")
            apply(argv[2], mutants[argv[3]])
        else:
            print(__doc__.split("\n\n")[1], file=sys.stderr)
            return 2
    except TableError as e:
        print(f"mutants: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
