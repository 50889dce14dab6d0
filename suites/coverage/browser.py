"""Headless Chromium for the coverage page: its rendered DOM, a screenshot, and the screenshot's pixels.

`python -m suites.coverage.browser .run/coverage.html docs/coverage.png` takes the README's
screenshot of the page `make coverage` wrote.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1")


def chromium() -> str | None:
    """The Chromium binary on PATH (Debian's package installs `chromium`), if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(binary: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory() as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, timeout=120, check=True)


def dom(binary: str, page: Path) -> str:
    """The page's DOM after Chromium loaded and rendered it."""
    return _run(binary, "--dump-dom", page.resolve().as_uri()).stdout.decode()


def screenshot(binary: str, page: Path, out: Path, size: tuple[int, int] = (1400, 1800)) -> Path:
    """A PNG of the page's first `size` pixels."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(binary, f"--screenshot={out.resolve()}", f"--window-size={size[0]},{size[1]}", page.resolve().as_uri())
    return out


def pixels(png: bytes) -> Counter[tuple[int, int, int]]:
    """How many pixels of each RGB colour the PNG holds (8-bit RGB or RGBA, not interlaced)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, data, header = 8, b"", b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        header = body if kind == b"IHDR" else header
        data += body if kind == b"IDAT" else b""
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"only 8-bit RGB(A), not interlaced: depth {depth}, colour type {colour}")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(data)
    stride = width * channels
    previous = bytearray(stride)
    counts: Counter[tuple[int, int, int]] = Counter()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        counts.update(zip(line[0::channels], line[1::channels], line[2::channels], strict=True))
        previous = line
    return counts


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        corner = previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            guess = left + up - corner
            pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + predictor) & 0xFF


if __name__ == "__main__":
    found = chromium()
    if found is None:
        raise SystemExit("no chromium on PATH (Debian/Ubuntu: apt-get install chromium)")
    page, target = Path(sys.argv[1]), Path(sys.argv[2])
    print(screenshot(found, page, target))
