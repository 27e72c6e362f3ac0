#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""valgrind's XML reports as text, for tests/run-valgrind.sh.

    /usr/bin/python3 tests/valgrind/show_reports.py REPORT.xml...

The first few in full (kind, what, each stack, and the report as a suppression for
tests/valgrind.supp when it is third-party noise), then the files' names.
"""
import sys
import xml.etree.ElementTree as ET

for n, path in enumerate(sys.argv[1:]):
    if n >= 3:
        print(f"---- {path} (not shown)")
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    # A killed process leaves its XML unclosed.
    if "</valgrindoutput>" not in text:
        text += "</valgrindoutput>\n"
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        print(f"---- {path}: unreadable ({e})")
        continue
    exe = root.findtext("args/argv/exe", "?")
    print(f"---- {path}: {exe}")
    for err in root.iter("error"):
        print(f"  {err.findtext('kind')}:")
        # what, the stack, then "Address ... alloc'd" and its stack, in order.
        for part in err:
            if part.tag in ("what", "auxwhat"):
                print(f"    {part.text}")
            elif part.tag == "xwhat":
                print(f"    {part.findtext('text')}")
            elif part.tag == "stack":
                for frame in part.iter("frame"):
                    where = frame.findtext("file")
                    loc = f"{where}:{frame.findtext('line')}" if where else frame.findtext("obj", "?")
                    print(f"      {frame.findtext('fn', '???')}  ({loc})")
        sup = err.findtext("suppression/rawtext")
        if sup:
            print("    as a suppression (tests/valgrind.supp), if this is third-party noise:")
            print("    " + sup.strip().replace("\n", "\n    "))
