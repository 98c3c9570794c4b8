"""Opening a page as a person would: headless Chromium, a screenshot, and the DOM it rendered.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it when run as
root, as it does gcc and strace).  The screenshot is a PNG, read back here
without an imaging library (zlib + the five PNG row filters, numpy for speed).
"""

from __future__ import annotations

import pathlib
import shutil
import struct
import subprocess
import zlib

import numpy as np
import numpy.typing as npt
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser's path; the test is skipped, naming the package, when there is none."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "no headless browser: install Debian's `chromium` package (apt-get install chromium)"
    )


def _run(args: list[str], profile: pathlib.Path) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def screenshot(
    url: str, out: pathlib.Path, profile: pathlib.Path, size: tuple[int, int] = (1100, 1400)
) -> npt.NDArray[np.uint8]:
    """Render ``url`` at ``size`` (width, height), save the PNG at ``out``, return its pixels."""
    proc = _run([f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", url], profile)
    assert out.exists(), proc.stderr.decode(errors="replace")[-2000:]
    return read_png(out.read_bytes())


def dump_dom(url: str, profile: pathlib.Path) -> str:
    """The DOM Chromium built from ``url``, serialised."""
    proc = _run(["--dump-dom", url], profile)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode()


def read_png(data: bytes) -> npt.NDArray[np.uint8]:
    """An 8-bit RGB(A) non-interlaced PNG as a (height, width, channels) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {2: 3, 6: 4}.get(colour)
    assert depth == 8 and channels and not interlace, (depth, colour, interlace)
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), dtype=np.uint8)
    prev = np.zeros(width * channels, dtype=np.int32)
    bpp = channels
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:  # Up
            row = (line + prev) & 0xFF
        elif kind == 1:  # Sub: a running sum per channel
            row = (np.cumsum(line.reshape(width, bpp), axis=0) & 0xFF).reshape(-1)
        else:  # Average (3) or Paeth (4): each byte needs the one just decoded
            row = np.zeros_like(line)
            for x in range(width * bpp):
                a = int(row[x - bpp]) if x >= bpp else 0
                b = int(prev[x])
                if kind == 3:
                    row[x] = (line[x] + (a + b) // 2) & 0xFF
                else:
                    c = int(prev[x - bpp]) if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    row[x] = (line[x] + pred) & 0xFF
        out[y] = row
        prev = row
    return out.reshape(height, width, channels)


def ink(pixels: npt.NDArray[np.uint8]) -> tuple[float, int]:
    """(fraction of pixels unlike the top-left background pixel, number of distinct colours)."""
    rgb = pixels[:, :, :3].reshape(-1, 3)
    differs = np.any(rgb != rgb[0], axis=1).mean()
    colours = len(np.unique(rgb[:: max(1, len(rgb) // 200_000)], axis=0))
    return float(differs), colours
