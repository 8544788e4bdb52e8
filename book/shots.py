#!/usr/bin/env python3
"""Pictures of the book's key pages, at a desktop width and a phone width,
for a person to look at (make book-shots): what a reader sees first, a
chapter's diff, the diffs appendix, a plot and the contents.

    python3 book/shots.py book/out/pizzeria.html book/out/shots
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser  # noqa: E402  (book/browser.py)

WIDTHS = {"desktop": 1280, "phone": 390}

# name -> what to scroll to the top of the window (None: the page's start).
PLACES = {
    "start": None,
    "contents": 'nav#TOC a[href="#ch-conclusion"]',   # its end: the appendices
    "chapter-diff": "#ch-02-fork--fork-hire",
    "appendix-diff": "#ch-appendix-diffs--diff-05-poll",
    "plot": 'img[src*="svg"][alt^="Wall time"]',
}


def main(html, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with browser.Browser() as chromium:
        for width_name, width in WIDTHS.items():
            page = chromium.open(html, width)
            for name, selector in PLACES.items():
                if selector:
                    found = page.evaluate(f"""(() => {{
                        const el = document.querySelector({selector!r});
                        if (!el) return false;
                        el.scrollIntoView();
                        scrollBy(0, -12);
                        return true;
                    }})()""")
                    if not found:
                        sys.exit(f"shots: nothing in the book matches {selector}")
                else:
                    page.evaluate("scrollTo(0, 0)")
                path = out_dir / f"{name}-{width_name}.png"
                page.screenshot(path)
                print(path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(*sys.argv[1:])
