#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Reads a QR code drawn with Unicode half blocks (as pam_nextpay draws it)
from a file, renders it as a PNG and decodes it with zbarimg: prints what a
phone would read.  Light modules are drawn, dark ones are blank."""
import struct
import subprocess
import sys
import tempfile
import zlib

GLYPHS = {" ": (0, 0), "\u2584": (0, 1), "\u2580": (1, 0), "\u2588": (1, 1)}
SCALE = 6


def matrix(text):
    rows = []
    for line in text.splitlines():
        if not line or any(ch not in GLYPHS for ch in line):
            continue
        top = [GLYPHS[ch][0] for ch in line]
        bottom = [GLYPHS[ch][1] for ch in line]
        rows.extend([top, bottom])
    return rows


def png(rows):
    width = len(rows[0]) * SCALE
    raw = b""
    for row in rows:
        line = b"\x00" + bytes(255 if light else 0 for light in row for _ in range(SCALE))
        raw += line * SCALE
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, len(rows) * SCALE, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = matrix(f.read())
    if not rows:
        print("no QR code found", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile(suffix=".png") as image:
        image.write(png(rows))
        image.flush()
        out = subprocess.run(["zbarimg", "--raw", "-q", image.name],
                             capture_output=True, text=True, check=False)
    sys.stdout.write(out.stdout.strip())
    return out.returncode


if __name__ == "__main__":
    sys.exit(main())
