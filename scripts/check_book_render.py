#!/usr/bin/env python3
"""Renders pages of the built book in headless Chromium, as a reader's browser would, and
checks what it shows: a screenshot that is not blank (enough of the page differs from its
background, in enough colours for text), and a rendered page that holds the expected
text and no unexpanded mdBook template or include.

    scripts/check_book_render.py BOOK_DIR SCREENSHOT_DIR PAGE=TEXT...

Each PAGE (relative to BOOK_DIR) is saved as SCREENSHOT_DIR/<page>.png, for a person to
look at too. Exits 1 naming each page that does not render.
"""
import collections
import os
import struct
import subprocess
import sys
import zlib

WIDTH, HEIGHT = 1280, 900
# A blank or unstyled page is nearly one colour; a rendered book page has a sidebar,
# headings and body text in anti-aliased shades.
MIN_INK = 0.03
MIN_COLOURS = 16
RAW_TEMPLATE_MARKS = ("{{#", "{{ ", "{{/", "{% ")


def chromium(*args):
    # The virtual time budget lets the page's scripts and fonts settle before the capture.
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--virtual-time-budget=5000", f"--window-size={WIDTH},{HEIGHT}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def png_pixels(path):
    """The width, height and RGB(A) rows of an 8-bit, non-interlaced PNG."""
    with open(path, "rb") as file:
        data = file.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"{path}: unexpected PNG format"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def screenshot_problems(path):
    width, height, channels, rows = png_pixels(path)
    if (width, height) != (WIDTH, HEIGHT):
        return [f"the screenshot is {width}x{height}, not {WIDTH}x{HEIGHT}"]
    counts = collections.Counter()
    for row in rows[::2]:
        for x in range(0, width * channels, channels * 2):
            counts[row[x:x + 3]] += 1
    total = sum(counts.values())
    _, background = counts.most_common(1)[0]
    ink = 1 - background / total
    problems = []
    if ink < MIN_INK:
        problems.append(f"the screenshot is blank: {ink:.1%} of it differs from the background")
    if len(counts) < MIN_COLOURS:
        problems.append(f"the screenshot has {len(counts)} colours: no rendered text")
    return problems


def main(book, shots, checks):
    os.makedirs(shots, exist_ok=True)
    failures = []
    for check in checks:
        page, expected = check.split("=", 1)
        url = "file://" + os.path.abspath(os.path.join(book, page))
        shot = os.path.join(shots, page.split("#")[0].replace("/", "_").replace(".html", ".png"))
        chromium(f"--screenshot={shot}", url)
        dom = chromium("--dump-dom", url).stdout
        problems = screenshot_problems(shot)
        if expected not in dom:
            problems.append(f"the rendered page does not show `{expected}`")
        problems += [f"the rendered page holds the raw template text `{mark}`"
                     for mark in RAW_TEMPLATE_MARKS if mark in dom]
        failures += [f"{page}: {problem}" for problem in problems]
        print(f"{page}: {'ok' if not problems else 'FAILED'} ({shot})")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
