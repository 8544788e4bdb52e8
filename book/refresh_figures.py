#!/usr/bin/env python3
"""Bring the chapters' quoted figures up to date with the benchmark's files.

A chapter quotes a measured figure as a span, e.g.

    [55,047]{.measured csv="throughput" server="07-state-machine"
             request="GET /" column="requests_per_s"}

and the book's filter prints the value from book/figures/bench/ in the
shape of the span's text (see "Measured figures" in filters/include.lua).
The text is what someone reading the Markdown sees, so after `make bench`
this script rewrites each text to the value the filter will print:

    book/refresh_figures.py            rewrite the chapters in place
    book/refresh_figures.py --check    list stale quotes; exit 1 if any

It formats exactly as the filter does; tests/test_book.py holds the two
to agreement.
"""
import argparse
import re
import sys
from pathlib import Path

import measured

ROOT = Path(__file__).resolve().parent.parent
SPAN = re.compile(r"\[([^\[\]]*)\]\{\.measured(\s[^{}]*)\}")
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
OWN = {"csv", "column", "divide", "json", "key"}


class Figures:
    """The benchmark's files, read as the filter reads them (measured.py)."""

    def __init__(self, folder):
        self.data = measured.figures(folder)

    def value(self, attrs):
        if "json" in attrs:
            return self.data["json"][attrs["json"]][attrs["key"]]
        wanted = {k: v for k, v in attrs.items() if k not in OWN}
        found = [row for row in self.data["csv"][attrs["csv"]]["rows"]
                 if all(row.get(k) == v for k, v in wanted.items())]
        if len(found) != 1:
            raise LookupError(f"{len(found)} rows of {attrs['csv']}.csv match {wanted}")
        value = found[0][attrs["column"]]
        if value == "":
            raise LookupError(f"{attrs['csv']}.csv: no value in {attrs['column']} "
                              f"for {wanted} ({found[0].get('note')})")
        return value


def shaped(value, quote, divide=None):
    """The value printed the way the quote is written."""
    try:
        number = float(value)
    except ValueError:
        return value
    number /= float(divide or 1)
    decimals = re.search(r"\.(\d+)$", quote)
    places = len(decimals.group(1)) if decimals else 0
    return f"{number:{',' if ',' in quote else ''}.{places}f}"


def quotes(text):
    """(match, quote, attributes) for every .measured span in text."""
    for m in SPAN.finditer(text):
        yield m, m.group(1), dict(ATTRIBUTE.findall(m.group(2)))


def refresh(path, figures):
    """The chapter's text with every quote brought up to date, and the
    list of (old, new) changes."""
    text = path.read_text()
    changes, out, last = [], [], 0
    for m, quote, attrs in quotes(text):
        new = shaped(figures.value(attrs), quote, attrs.get("divide"))
        if new != quote:
            changes.append((quote, new))
        out += [text[last:m.start(1)], new]
        last = m.end(1)
    return "".join(out) + text[last:], changes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="list stale quotes and exit 1 if there are any")
    parser.add_argument("--figures", default=ROOT / "book" / "figures" / "bench")
    parser.add_argument("chapters", nargs="*", type=Path)
    args = parser.parse_args()
    figures = Figures(args.figures)
    chapters = args.chapters or sorted((ROOT / "chapters").glob("*.md"))
    stale = 0
    for path in chapters:
        text, changes = refresh(path, figures)
        for old, new in changes:
            print(f"{path.name}: {old} -> {new}")
        stale += len(changes)
        if changes and not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"{stale} stale figure(s); book/refresh_figures.py rewrites them",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
