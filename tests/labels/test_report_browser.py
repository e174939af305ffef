"""The HTML report rendered by a real browser (Debian's chromium, headless).

A copy of the page gets a probe script that measures the rendered layout and writes what
it found into the DOM, which ``--dump-dom`` hands back: elements whose text overflows
their box, charts with no size, chart labels outside their chart or on top of each
other. The browser's log is searched for console errors, and a screenshot (at half the
pixels, to decode it quickly with zlib) must show ink inside every chart. A probe
page with a deliberate error and overflow checks that the checks can fail.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from report_seed import DAY, seed_story

from monitor.report.html import render_html
from monitor.report.model import load_report
from monitor.store.db import Database

WINDOW = (1280, 4000)
SCALE = 0.5  # screenshot pixels per CSS pixel (chromium's smallest device scale)

PROBE = """<script>
(function () {
  var doc = document.documentElement, body = document.body;
  var overflow = [], charts = [], cut = [], overlap = [];
  if (doc.scrollWidth > doc.clientWidth + 1) overflow.push("page " + doc.scrollWidth);
  var all = body.getElementsByTagName("*");
  for (var i = 0; i < all.length; i++) {
    var el = all[i];
    if (el.closest("svg")) continue;
    var scrolls = /auto|scroll/.test(getComputedStyle(el).overflowX);  // a scroll box is fine
    if (!scrolls && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
      overflow.push(el.tagName + ": " + (el.textContent || "").slice(0, 60));
  }
  var svgs = document.querySelectorAll("svg");
  for (var s = 0; s < svgs.length; s++) {
    var r = svgs[s].getBoundingClientRect();
    charts.push([r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]);
    var texts = svgs[s].querySelectorAll("text"), boxes = [];
    for (var t = 0; t < texts.length; t++) {
      var b = texts[t].getBoundingClientRect();
      boxes.push(b);
      if (b.left < r.left - 0.5 || b.right > r.right + 0.5 ||
          b.top < r.top - 0.5 || b.bottom > r.bottom + 0.5)
        cut.push(s + ": " + texts[t].textContent);
    }
    for (var p = 0; p < boxes.length; p++)
      for (var q = p + 1; q < boxes.length; q++) {
        var A = boxes[p], B = boxes[q];
        if (A.width && B.width && A.left < B.right - 1 && B.left < A.right - 1 &&
            A.top < B.bottom - 1.5 && B.top < A.bottom - 1.5)
          overlap.push(s + ": " + texts[p].textContent + " / " + texts[q].textContent);
      }
  }
  var out = document.createElement("pre");
  out.id = "probe";
  out.setAttribute("data-found", JSON.stringify(
    {overflow: overflow, charts: charts, cut: cut, overlap: overlap}));
  body.appendChild(out);
})();
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium is not installed: apt-get install chromium (the report's browser "
            "test renders the page in it; .ci/run installs it)"
        )
    return found


def _browse(page: Path, tmp: Path, *mode: str, width: int = WINDOW[0]) -> tuple[str, str]:
    """Run headless chromium on ``page``; its stdout and its log."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    done = subprocess.run(
        [
            _chromium(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
            "--enable-logging=stderr", "--v=0", f"--window-size={width},{WINDOW[1]}",
            *mode, page.as_uri(),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def _probe(page: Path, tmp: Path, width: int = WINDOW[0]) -> tuple[dict[str, list], list[str]]:
    probed = tmp / f"probed-{width}.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    dom, log = _browse(probed, tmp, "--dump-dom", width=width)
    found = re.search(r'id="probe" data-found="([^"]*)"', dom)
    assert found is not None, "the probe script did not run:\n" + dom[-500:]
    data = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return data, _console_errors(log)


def _png(path: Path) -> tuple[int, int, int, list[bytearray]]:
    """Width, height, bytes per pixel and unfiltered rows of an 8-bit RGB(A) PNG."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        kind, data = blob[pos + 4 : pos + 8], blob[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, "an unexpected PNG format"
    bpp = 3 if colour == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows


def _ink(rows: list[bytearray], bpp: int, box: tuple[float, float, float, float]) -> int:
    """How many pixels inside ``box`` (CSS pixels) are not near-white."""
    left, top, width, height = (int(v * SCALE) for v in box)
    count = 0
    for row in rows[top : top + height]:
        for x in range(left, left + width):
            if min(row[x * bpp : x * bpp + 3]) < 200:
                count += 1
    return count


@pytest.fixture
def page(database: Database, tmp_path: Path) -> Path:
    seed_story(database)
    html = render_html(load_report(database, day=DAY, baseline_days=7))
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_report_renders_without_errors_overflow_or_cut_labels(page: Path, tmp_path: Path) -> None:
    """In chromium: no console error, no text overflowing its box, every chart sized,
    no chart label outside its chart or on another, on a wide, a narrow and a phone's
    window (a table wider than a phone scrolls in its own box)."""
    for width in (WINDOW[0], 760, 420):
        found, errors = _probe(page, tmp_path, width)
        assert errors == [], f"console errors at {width}px: {errors}"
        assert found["overflow"] == [], f"text overflows its box at {width}px: {found['overflow']}"
        assert len(found["charts"]) >= 8
        sizes = [(w, h) for _, _, w, h in found["charts"]]
        assert all(w > 50 and h > 50 for w, h in sizes), f"a chart without size: {sizes}"
        assert found["cut"] == [], f"chart labels cut at {width}px: {found['cut']}"
        assert found["overlap"] == [], f"chart labels overlap at {width}px: {found['overlap']}"


def test_screenshot_shows_every_chart(page: Path, tmp_path: Path) -> None:
    """The rendered page is not blank, and each chart's area holds drawn pixels."""
    found, _ = _probe(page, tmp_path)
    shot = tmp_path / "report.png"
    _browse(page, tmp_path, f"--screenshot={shot}", f"--force-device-scale-factor={SCALE}")
    width, height, bpp, rows = _png(shot)
    assert (width, height) == (int(WINDOW[0] * SCALE), int(WINDOW[1] * SCALE))
    values = [v for row in rows[: height // 2] for v in row[::bpp]]
    mean = sum(values) / len(values)
    assert sum((v - mean) ** 2 for v in values) / len(values) > 100, "the page looks blank"
    for box in found["charts"]:
        if box[1] + box[3] <= WINDOW[1]:  # charts below the window are not in the shot
            assert _ink(rows, bpp, box) > 20, f"the chart at {box} is blank"


def test_the_checks_catch_an_error_and_an_overflow(tmp_path: Path) -> None:
    """A page with a script error and a too-wide box fails the checks above."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><div style='width:100px;overflow:hidden'>"
        f"<span style='white-space:nowrap'>{'wide ' * 80}</span></div>"
        "<svg width='100' height='60'><text x='80' y='20'>cut label</text>"
        "<text x='80' y='22'>on top</text></svg>"
        "<script>undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    found, errors = _probe(bad, tmp_path)
    assert any("undefinedFunction" in e for e in errors), errors
    assert found["overflow"] and found["cut"] and found["overlap"]
