#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Row 6 of make bench (tests/bench/bench.py runs this): the journal write of a sign-in's
event next to today's syslog line, both received by one journald of our own.

In a private mount namespace (tests/lib/journald.py), with /dev/log leading to that
journald's syslog socket as on a systemd host, build/tests/event-bench sends the same
event N times each way, in turns; this prints one JSON object: every call's wall and CPU
time per way, journald's CPU per way, and how many entries arrived by each transport.

    /usr/bin/python3 tests/bench/journal_row.py EVENT_BENCH N     (root)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib.journald import in_private_mount_namespace, private_journald  # noqa: E402
from lib.system import temp_dir  # noqa: E402


def main() -> int:
    bench, n = sys.argv[1], int(sys.argv[2])
    in_private_mount_namespace()
    with temp_dir("npbench-journal.") as tmp, private_journald(tmp, syslog=True) as journald:
        done = subprocess.run([bench, str(n), str(journald.pid)], capture_output=True,
                              text=True, check=False, timeout=600)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        calls = {"journal": [], "syslog": []}
        ticks = {"journal": 0, "syslog": 0}
        for line in done.stdout.splitlines():
            words = line.split()
            if words[0] == "block":
                ticks[words[1]] += int(words[3])
            else:
                calls[words[0]].append((int(words[1]), int(words[2])))
        entries = subprocess.run(["journalctl", "--no-pager", "-o", "json",
                                  "--output-fields=_TRANSPORT,MESSAGE"],
                                 capture_output=True, text=True, check=True).stdout
        arrived = {"journal": 0, "syslog": 0}
        for entry in map(json.loads, entries.splitlines()):
            if "pam_nextpay(sshd:auth): success: " in entry.get("MESSAGE", ""):
                arrived[entry["_TRANSPORT"]] = arrived.get(entry["_TRANSPORT"], 0) + 1
    print(json.dumps({"calls": calls, "ticks": ticks, "tick_hz": os.sysconf("SC_CLK_TCK"),
                      "arrived": arrived}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
