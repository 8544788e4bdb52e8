"""The built book in a real browser (headless Chromium), at a desktop width
and a phone width: every image loads, nothing spills sideways out of the
page but inside its own scroll box, and every link of the contents lands
on its heading. book/browser.py drives the browser.

Run with: tests/tools/pytest tests/test_book_browser.py
"""
import subprocess
import sys
from pathlib import Path

import pytest

# The book is built into book/out by tests/test_book.py too: one process
# runs both files, so two builds never write the same file at once.
pytestmark = pytest.mark.xdist_group("book")

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
sys.path.insert(0, str(BOOK))
import browser  # noqa: E402  (book/browser.py)

WIDTHS = {"desktop": 1280, "phone": 390}

# Each check is a JavaScript expression whose value is the list of what is
# wrong, each item saying where: empty when the page is right.

IMAGES_LOAD = """(() => {
  const bad = [];
  for (const img of document.images)
    if (!img.complete || img.naturalWidth === 0)
      bad.push(`image "${img.alt.slice(0, 60)}" (${(img.getAttribute('src') || '').slice(0, 40)}) did not load`);
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) bad.push(`inline svg ${svg.id} has no size`);
  }
  for (const figure of document.querySelectorAll('div.figure, figure'))
    if (!figure.querySelector('img, svg'))
      bad.push(`figure ${figure.id} holds no picture`);
  return bad;
})()"""

# An element may stick out of the window only inside a box of its own that
# scrolls (a listing's pre, a table) and that itself fits in the window. A
# box that does not scroll lets its content spill: count the content.
NOTHING_SPILLS = """(() => {
  const width = document.documentElement.clientWidth;
  const scrolls = el => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX);
  const fits = box => box.left >= -1 && box.right <= width + 1;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
  const bad = [];
  for (const el of document.querySelectorAll(
      'pre, div.sourceCode, div.listing, div.figure, figure, img, svg, table')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    const right = scrolls(el) ? box.right : Math.max(box.right, box.left + el.scrollWidth);
    if (box.left >= -1 && right <= width + 1) continue;
    let held = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement)
      if (scrolls(up)) { held = fits(up.getBoundingClientRect()); break; }
    if (!held)
      bad.push(`${name(el)} spans ${Math.round(box.left)}..${Math.round(right)} px ` +
               `in a ${width} px window: ${(el.textContent || '').trim().slice(0, 50)}`);
  }
  const page = document.documentElement.scrollWidth;
  if (page > width + 1) bad.push(`the page scrolls sideways: ${page} px in a ${width} px window`);
  return bad;
})()"""

# Follow every link of the contents: its target must exist, and be at the
# top of the window afterwards (or, near the end of the book, in view with
# the page scrolled as far as it goes).
CONTENTS_LAND = """(async () => {
  const bad = [];
  const links = [...document.querySelectorAll('nav#TOC a')];
  if (links.length === 0) bad.push('no contents');
  const bottom = document.documentElement.scrollHeight - innerHeight;
  for (const a of links) {
    const href = a.getAttribute('href') || '';
    const id = decodeURIComponent(href.replace(/^#/, ''));
    const target = href.startsWith('#') && document.getElementById(id);
    if (!target) { bad.push(`contents link ${href}: no such target`); continue; }
    a.click();
    await new Promise(done => setTimeout(done, 0));
    const top = target.getBoundingClientRect().top;
    const atEnd = Math.abs(scrollY - bottom) <= 2 && top >= 0 && top < innerHeight;
    if (Math.abs(top) > 2 && !atEnd)
      bad.push(`contents link ${href}: its heading is ${Math.round(top)} px from the top`);
  }
  scrollTo(0, 0);
  return bad;
})()"""

CHECKS = {"images": IMAGES_LOAD, "overflow": NOTHING_SPILLS, "contents": CONTENTS_LAND}


def need_chromium():
    r = subprocess.run([str(ROOT / "tests" / "tools" / "need"), "chromium"],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0 or not browser.chromium():
        pytest.skip(f"chromium is not installed and cannot be: {(r.stdout + r.stderr).strip()}")


@pytest.fixture(scope="module")
def chromium():
    need_chromium()
    with browser.Browser() as b:
        yield b


@pytest.fixture(scope="module")
def book():
    """book/out/pizzeria.html, built (make does nothing when tests/test_book.py
    has just built it)."""
    r = subprocess.run(["make", "-s", "-C", str(BOOK)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return BOOK / "out" / "pizzeria.html"


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_book_in_a_browser(chromium, book, width):
    page = chromium.open(book, width)
    found = {name: page.evaluate(check) for name, check in CHECKS.items()}
    assert page.evaluate("document.querySelectorAll('nav#TOC a').length") > 50
    assert page.evaluate("document.images.length") > 10
    assert found == {name: [] for name in CHECKS}


BROKEN_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>broken</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ max-width: 40em; margin: 0 auto; }}
pre.scrolls {{ overflow-x: auto; }} pre.spills {{ overflow: visible; }}</style></head>
<body>
<nav id="TOC"><ul><li><a href="#here">here</a></li><li><a href="#gone">gone</a></li></ul></nav>
<div class="figure"><img src="figures/no-such-plot.svg" alt="a plot"></div>
<div class="figure"><img src="{good}" alt="a square"></div>
<pre class="scrolls">{line}</pre>
<pre class="spills">{line}</pre>
<h2 id="here">Here</h2>
{filler}
</body></html>"""

SQUARE = ("data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmci"
          "IHdpZHRoPSIxMCIgaGVpZ2h0PSIxMCIvPg==")   # <svg ... width="10" height="10"/>


def test_the_checks_catch_a_broken_page(chromium, tmp_path):
    """A missing image, a pre that lets a long line spill out (beside one that
    scrolls it, which is fine), and a contents link to nothing: each check
    says so, and names the culprit."""
    page_file = tmp_path / "broken.html"
    page_file.write_text(BROKEN_PAGE.format(good=SQUARE, line="x" * 400,
                                            filler="<p>Text.</p>\n" * 200))
    for width in WIDTHS.values():
        page = chromium.open(page_file, width)
        found = {name: page.evaluate(check) for name, check in CHECKS.items()}
        assert len(found["images"]) == 1 and "no-such-plot.svg" in found["images"][0]
        spilled = [f for f in found["overflow"] if f.startswith("pre")]
        assert len(spilled) == 1 and spilled[0].startswith("pre.spills"), found["overflow"]
        assert any("scrolls sideways" in f for f in found["overflow"])
        # (On a phone, the spilled line makes the browser zoom the page out,
        # and the heading too lands out of place: the missing target is the
        # finding that matters here.)
        assert "contents link #gone: no such target" in found["contents"]
        if width == WIDTHS["desktop"]:
            assert found["contents"] == ["contents link #gone: no such target"]


def test_a_heading_out_of_place_is_caught(chromium, tmp_path):
    """A contents link whose heading ends up elsewhere than the top (here, a
    stylesheet that keeps a scroll margin) fails the check."""
    page_file = tmp_path / "margin.html"
    page_file.write_text(BROKEN_PAGE.format(good=SQUARE, line="x", filler="<p>Text.</p>\n" * 200)
                         .replace('<h2 id="here">', '<h2 id="here" style="scroll-margin-top: 200px">')
                         .replace('<li><a href="#gone">gone</a></li>', ""))
    page = chromium.open(page_file, WIDTHS["desktop"])
    found = page.evaluate(CONTENTS_LAND)
    assert len(found) == 1 and found[0].startswith("contents link #here: its heading is"), found
