# SPDX-License-Identifier: BSD-2-Clause
"""Reading an X display as a person would: a screenshot, and the words on it.

    shot = screenshot(display, "approve-code.png")   # ImageMagick's import, whole screen
    text = read_dialog(shot)          # the light box on the dark screen (a greeter's dialog)
    text = read_screen(shot)          # everything (a session's window)
    xy = find_phrase(shot, "Log", "In")   # the screen centre of those words, or None
    shows_code(text, "JT7Q2B")        # the code after "code", read leniently

Tests assert on words, never on pixel positions or exact lines: a line the greeter
wraps differently, or one added below (a reference number), must not break them.
Tesseract reads the greeter's font well but for a few letters in codes (J as "]", T as
"7"): shows_code() forgives exactly those.  Only ImageMagick and tesseract-ocr.
"""

from __future__ import annotations

import os
import re
import subprocess

IMPORT = "/usr/bin/import"      # ImageMagick's, not another import earlier in PATH
CONVERT = "/usr/bin/convert"
TESSERACT = "/usr/bin/tesseract"
TOOLS = (IMPORT, CONVERT, TESSERACT)
SCALE = 3                       # tesseract reads small screen fonts better enlarged
TOP_PANEL = 24                  # lightdm-gtk-greeter's panel (host name, clock): not the dialog


class OcrError(RuntimeError):
    """A screenshot or its reading failed."""


def _run(argv: list[str], data: bytes | None = None) -> bytes:
    done = subprocess.run(argv, input=data, capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise OcrError(f"{' '.join(argv[:2])}: exit {done.returncode}: "
                       f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def screenshot(display: str, xauthority: str, path: str) -> str:
    """The whole screen of display into path (PNG); returns path."""
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": display, "XAUTHORITY": xauthority}
    done = subprocess.run([IMPORT, "-window", "root", path], env=env, capture_output=True,
                          check=False, timeout=60)
    if done.returncode != 0 or not os.path.exists(path):
        raise OcrError(f"import: {done.stderr.decode(errors='replace').strip()}")
    return path


def _size(path: str) -> tuple[int, int]:
    w, h = _run([CONVERT, path, "-format", "%w %h", "info:"]).decode().split()
    return int(w), int(h)


def dialog_box(path: str) -> tuple[int, int, int, int]:
    """(width, height, x, y) of what is not black below the top panel."""
    width, height = _size(path)
    box = _run([CONVERT, path, "-crop", f"{width}x{height - TOP_PANEL}+0+{TOP_PANEL}",
                "+repage", "-fuzz", "10%", "-format", "%@", "info:"]).decode().strip()
    m = re.fullmatch(r"(\d+)x(\d+)\+(\d+)\+(\d+)", box)
    if not m:
        raise OcrError(f"no dialog on {path} ({box!r})")
    w, h, x, y = map(int, m.groups())
    return w, h, x, y + TOP_PANEL


def _tesseract(path: str, box: tuple[int, int, int, int] | None, tsv: bool) -> str:
    crop = ["-crop", "{}x{}+{}+{}".format(*box), "+repage"] if box else []
    image = _run([CONVERT, path, *crop, "-colorspace", "Gray", "-resize", f"{SCALE * 100}%",
                  "png:-"])
    return _run([TESSERACT, "stdin", "stdout", "--psm", "6", *(["tsv"] if tsv else [])],
                image).decode(errors="replace")


def read_dialog(path: str) -> str:
    """The text of the dialog on the screenshot, as tesseract reads it."""
    return _tesseract(path, dialog_box(path), tsv=False)


def read_screen(path: str) -> str:
    """The text of the whole screenshot."""
    return _tesseract(path, None, tsv=False)


def find_phrase(path: str, *words: str) -> tuple[int, int] | None:
    """The screen position of words (consecutive, in the dialog), for a click; None if absent."""
    box = dialog_box(path)
    found = []
    for row in _tesseract(path, box, tsv=True).splitlines()[1:]:
        f = row.split("\t")
        if len(f) == 12 and f[11].strip():
            left, top, width, height = (int(v) for v in f[6:10])
            found.append((f[11].strip(), left, top, width, height))
    for i in range(len(found) - len(words) + 1):
        if all(found[i + k][0] == w for k, w in enumerate(words)):
            first, last = found[i], found[i + len(words) - 1]
            x = (first[1] + last[1] + last[3]) / 2 / SCALE + box[2]
            y = (first[2] + first[4] / 2) / SCALE + box[3]
            return int(x), int(y)
    return None


def words(text: str) -> str:
    """text with every run of white space one space: for phrases the greeter may wrap."""
    return " ".join(text.split())


def has_phrase(text: str, phrase: str) -> bool:
    return words(phrase) in words(text)


# The letters this font makes tesseract mix up in codes, each to one representative.
_CONFUSED = str.maketrans({"]": "J", "}": "J", ")": "J", "7": "T", "O": "0", "I": "1", "l": "1",
                           "|": "1", "5": "S", "2": "Z", "8": "B", "6": "G"})


def shows_code(text: str, code: str) -> bool:
    """Whether code is read after "code " or "code=" somewhere in text."""
    want = code.translate(_CONFUSED)
    return any(token.translate(_CONFUSED) == want
               for token in re.findall(r"code[= ]([^\s(]{4,16})", text))
