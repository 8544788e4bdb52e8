"""The book machinery: book/Makefile and the pandoc filter book/filters/include.lua.

Run with: /usr/bin/python3 -m pytest tests/test_book.py
"""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# These tests build into book/out: with pytest-xdist, one process runs them
# all, so that two builds never write the same file at once.
pytestmark = pytest.mark.xdist_group("book")

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
FILTER = BOOK / "filters" / "include.lua"
CHAPTERS = sorted((ROOT / "chapters").glob("*.md")) if (ROOT / "chapters").is_dir() else []
CHAPTERS = [c for c in CHAPTERS if c.name != "README.md"]

needs_pandoc = pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc not installed")
needs_chapters = pytest.mark.skipif(not CHAPTERS, reason="no chapters/*.md yet")

MARKER = re.compile(r"^\s*(?://|#)\s*@(snippet|end)\b(.*)$")
NAME = re.compile(r"^\s+([\w.\-]+)\s*$")


# ---------------------------------------------------------------- helpers

def pandoc(chapters, root, tmp_path, to="json"):
    """Run pandoc with the filter the way book/Makefile does."""
    return subprocess.run(
        ["pandoc", "--from=markdown",
         f"--metadata=pizzeria-root:{root}",
         f"--metadata=pizzeria-figures:{tmp_path}/figures",
         f"--lua-filter={FILTER}", f"--to={to}",
         *[str(c) for c in chapters]],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)


def chapter(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def walk(node):
    """Every pandoc JSON element under node."""
    if isinstance(node, dict):
        if "t" in node:
            yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def code_blocks(doc):
    """(classes, attributes, text) of every CodeBlock in a pandoc JSON doc."""
    for el in walk(doc):
        if el["t"] == "CodeBlock":
            (_ident, classes, attrs), text = el["c"]
            yield classes, dict(attrs), text


def links(doc):
    for el in walk(doc):
        if el["t"] == "Link":
            yield el["c"][2][0]


def convert(chapters, root, tmp_path):
    r = pandoc(chapters, root, tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def markers(path):
    """{name: (first, last)} line ranges (0-based, inclusive) of a file's
    snippets, and the set of marker line indexes; asserts they are sound."""
    lines = path.read_text().split("\n")
    open_, regions, marker_lines = {}, {}, set()
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        kind, rest = m.groups()
        n = NAME.match(rest)
        assert n, f"{path}:{i + 1}: malformed marker: {line!r}"
        name = n.group(1)
        marker_lines.add(i)
        if kind == "snippet":
            assert name not in open_ and name not in regions, \
                f"{path}:{i + 1}: duplicate snippet name {name!r}"
            open_[name] = i
        else:
            assert name in open_, f"{path}:{i + 1}: @end {name} without @snippet"
            regions[name] = (open_.pop(name) + 1, i - 1)
    assert not open_, f"{path}: snippet(s) without @end: {sorted(open_)}"
    return lines, regions, marker_lines


def expected_snippet(path, name):
    lines, regions, marker_lines = markers(path)
    first, last = regions[name]
    body = [lines[i] for i in range(first, last + 1) if i not in marker_lines]
    indents = [re.match(r"[ \t]*", l).group(0) for l in body if l.strip()]
    cut = len(os.path.commonprefix(indents)) if indents else 0
    return "\n".join(l[cut:] if l.strip() else "" for l in body)


def source_files():
    for path in sorted((ROOT / "steps").rglob("*")):
        if path.is_file():
            try:
                path.read_text()
            except UnicodeDecodeError:
                continue  # a built binary
            yield path


# ------------------------------------------- (a) the real chapters build

@needs_pandoc
@needs_chapters
def test_make_check_on_the_real_chapters():
    r = subprocess.run(["make", "-s", "-C", str(BOOK), "check"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


# ------------------------------------------- (b) missing things fail loudly

@needs_pandoc
def test_missing_file_fails(tmp_path):
    ch = chapter(tmp_path, "03-lost.md", "# Lost\n\nText.\n\n"
                 '```{.c include="steps/99-nowhere/server.c" snippet="main"}\n```\n')
    r = pandoc([ch], ROOT, tmp_path)
    assert r.returncode != 0
    assert "03-lost.md:5" in r.stderr            # the chapter and the block's line
    assert "steps/99-nowhere/server.c" in r.stderr
    assert "not found" in r.stderr


@needs_pandoc
def test_missing_snippet_fails(tmp_path):
    ch = chapter(tmp_path, "03-lost.md", "# Lost\n\n"
                 '```{.c include="steps/01-blocking/server.c" snippet="no-such-snippet"}\n```\n')
    r = pandoc([ch], ROOT, tmp_path)
    assert r.returncode != 0
    assert "03-lost.md" in r.stderr
    assert "steps/01-blocking/server.c" in r.stderr
    assert "no-such-snippet" in r.stderr


@needs_pandoc
def test_make_check_fails_on_a_missing_snippet(tmp_path):
    ch = chapter(tmp_path, "03-lost.md", "# Lost\n\n"
                 '```{.c include="steps/01-blocking/server.c" snippet="no-such-snippet"}\n```\n')
    r = subprocess.run(["make", "-s", "-C", str(BOOK), "check", f"CHAPTERS={ch}",
                        f"OUT={tmp_path}/out"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "no-such-snippet" in r.stderr


@pytest.mark.parametrize("source, message", [
    ("// @snippet a\nint x;\n", "has no `// @end a`"),
    ("// @snippet a\nint x;\n// @end a\n// @snippet a\n// @end a\n", "duplicate snippet name 'a'"),
    ("int x;\n// @end a\n", "without a `@snippet a`"),
    ("// @snippet\nint x;\n", "malformed marker"),
])
@needs_pandoc
def test_broken_markers_fail(tmp_path, source, message):
    (tmp_path / "bad.c").write_text(source)
    ch = chapter(tmp_path, "01-x.md", '# X\n\n```{.c include="bad.c" snippet="a"}\n```\n')
    r = pandoc([ch], tmp_path, tmp_path)
    assert r.returncode != 0
    assert message in r.stderr and "bad.c" in r.stderr


@pytest.mark.parametrize("block, message", [
    ('```c\nint pasted;\n```', "C code must come from the sources"),
    ('```{.c include="a.c"}\nint pasted;\n```', "must have an empty body"),
    ('```{.c include="a.c" lines="1-2"}\n```', "lines= is not supported"),
    ('```dot\ndigraph { a -> b }\n```', "needs alt="),
    ('```{.dot alt="x"}\ndigraph { a -> \n```', "dot failed"),
    ('[gone](#nowhere)', "no #nowhere"),
])
@needs_pandoc
def test_other_mistakes_fail(tmp_path, block, message):
    (tmp_path / "a.c").write_text("int a;\nint b;\n")
    ch = chapter(tmp_path, "01-x.md", f"# X\n\n{block}\n")
    r = pandoc([ch], tmp_path, tmp_path)
    assert r.returncode != 0
    assert message in r.stderr


# ------------------------------------------- (c) what a snippet is

NESTED = """\
#include <stdio.h>
// @snippet outer
static int f(void)
{
    // @snippet inner
    int x = 1;

    x += 2;
    // @end inner
    return x;
}
// @end outer
int main(void)
{
        // @snippet indented
        if (f()) {
            puts("hi");
        }
        // @end indented
}
"""


@needs_pandoc
def test_snippet_extraction(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "nested.c").write_text(NESTED)
    ch = chapter(tmp_path, "01-x.md", "# X\n\n"
                 '```{.c include="src/nested.c" snippet="outer"}\n```\n\n'
                 '```{.c include="src/nested.c" snippet="inner"}\n```\n\n'
                 '```{.c include="src/nested.c" snippet="indented"}\n```\n\n'
                 '```{.c include="src/nested.c"}\n```\n')
    blocks = list(code_blocks(convert([ch], tmp_path, tmp_path)))
    texts = [text for _c, _a, text in blocks]
    assert texts[0] == "static int f(void)\n{\n    int x = 1;\n\n    x += 2;\n    return x;\n}"
    assert texts[1] == "int x = 1;\n\nx += 2;"
    assert texts[2] == 'if (f()) {\n    puts("hi");\n}'
    whole = [l for l in NESTED.rstrip("\n").split("\n") if "@snippet" not in l and "@end" not in l]
    assert texts[3] == "\n".join(whole)
    for classes, attrs, _text in blocks:
        assert classes == ["c"]
        assert "include" not in attrs and "snippet" not in attrs


@needs_pandoc
def test_a_listing_longer_than_a_page_may_run_over_pages(tmp_path):
    """In print, a listing is kept in one piece; one taller than a page
    cannot be, and kept whole it would be pushed to the next page with
    its label left alone at the foot of this one. The filter marks it
    long-listing, and pdf.css lets it run over pages, label first."""
    (tmp_path / "src").mkdir()
    short = "\n".join(f"int a{i};" for i in range(10))
    long = "\n".join(f"int b{i};" for i in range(80))
    (tmp_path / "src" / "short.c").write_text(short + "\n")
    (tmp_path / "src" / "long.c").write_text(long + "\n")
    ch = chapter(tmp_path, "01-x.md", "# X\n\n"
                 '```{.c include="src/short.c"}\n```\n\n'
                 '```{.c include="src/long.c"}\n```\n')
    doc = convert([ch], tmp_path, tmp_path)
    listings = [el["c"][0][1] for el in walk(doc)
                if el["t"] == "Div" and "listing" in el["c"][0][1]]
    assert listings == [["listing"], ["listing", "long-listing"]], listings
    css = (BOOK / "pdf.css").read_text()
    assert re.search(r"div\.long-listing[^{]*pre[^{]*\{[^}]*break-inside: auto",
                     css), "pdf.css must let a long listing break"


@needs_pandoc
def test_every_real_snippet_extracts(tmp_path):
    """The filter and this file agree on every snippet in steps/."""
    wanted = []
    for path in source_files():
        _lines, regions, _m = markers(path)
        for name in sorted(regions):
            wanted.append((path.relative_to(ROOT).as_posix(), name))
    if not wanted:
        pytest.skip("no snippets in steps/")
    ch = chapter(tmp_path, "01-all.md", "# All\n\n" + "\n\n".join(
        f'```{{.text include="{p}" snippet="{n}"}}\n```' for p, n in wanted) + "\n")
    texts = [t for _c, _a, t in code_blocks(convert([ch], ROOT, tmp_path))]
    assert len(texts) == len(wanted)
    for (path, name), text in zip(wanted, texts):
        assert text == expected_snippet(ROOT / path, name), (path, name)
        assert "@snippet" not in text and "@end" not in text


@needs_pandoc
def test_diff_blocks(tmp_path):
    (tmp_path / "a.c").write_text("// @snippet s\nint a;\nint b;\n// @end s\nint c;\n")
    (tmp_path / "b.c").write_text("// @snippet s\nint a;\nint bb;\n// @end s\nint c;\nint d;\n")
    ch = chapter(tmp_path, "01-x.md", "# X\n\n"
                 '```{.diff diff="a.c b.c"}\n```\n\n'
                 '```{.diff diff="a.c b.c" snippet="s"}\n```\n')
    whole, snip = [t for _c, _a, t in code_blocks(convert([ch], tmp_path, tmp_path))]
    assert whole.startswith("--- a.c\n+++ b.c\n@@ ")  # no timestamps
    assert "-int b;\n+int bb;" in whole and "+int d;" in whole
    assert "@snippet" not in whole and "@end" not in whole
    assert snip.startswith("--- a.c\n+++ b.c\n@@ ")
    assert "+int bb;" in snip and "int d;" not in snip


@needs_pandoc
def test_links_between_chapters_and_dot(tmp_path):
    one = chapter(tmp_path, "01-one.md",
                  "# One\n\n## Try it\n\nSee [two](02-two.md), [its try](02-two.md#try-it),"
                  " [mine](#try-it), [web](https://example.com).\n\n"
                  '```{.dot #door alt="A door and a cook"}\ndigraph { door -> cook }\n```\n')
    two = chapter(tmp_path, "02-two.md", "# Two\n\n## Try it\n\n## 3. Bake\n\n"
                  "Back to [one](01-one.md#one), [bake](#3-bake).\n")
    doc = convert([one, two], ROOT, tmp_path)
    assert list(links(doc)) == ["#ch-02-two", "#ch-02-two--try-it", "#ch-01-one--try-it",
                                "https://example.com", "#ch-01-one", "#ch-02-two--bake"]
    ids = [el["c"][1][0] for el in walk(doc) if el["t"] == "Header"]
    assert ids == ["ch-01-one", "ch-01-one--try-it", "ch-02-two", "ch-02-two--try-it",
                   "ch-02-two--bake"]
    images = [el["c"] for el in walk(doc) if el["t"] == "Image"]
    assert len(images) == 1 and images[0][2][0] == "figures/01-one-door.svg"
    assert "<svg" in (tmp_path / "figures" / "01-one-door.svg").read_text()


# ------------------------------------------- (d) no hand-pasted C

@needs_pandoc
@needs_chapters
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapters_paste_no_c(path):
    r = subprocess.run(["pandoc", "--from=markdown", "--to=json", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for classes, attrs, text in code_blocks(json.loads(r.stdout)):
        if "c" in classes:
            assert "include" in attrs, f"{path.name}: C block without include=: {text[:60]!r}"
            assert not text.strip(), f"{path.name}: C block with a body: {text[:60]!r}"


# ------------------------------------------- (e) the markers in steps/

def test_markers_in_steps_are_sound():
    for path in source_files():
        markers(path)  # asserts: names unique per file, every @snippet has its @end


# ------------------------------------------- (f) the book builds

@needs_pandoc
@needs_chapters
def test_make_builds_html_and_epub():
    r = subprocess.run(["make", "-s", "-C", str(BOOK)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    html = BOOK / "out" / "pizzeria.html"
    epub = BOOK / "out" / "pizzeria.epub"
    assert html.stat().st_size > 0 and zipfile.is_zipfile(epub)
    page = html.read_text()
    assert 'id="TOC"' in page and "The Asynchronous Pizzeria" in page


@needs_pandoc
def test_make_builds_a_sample_book(tmp_path):
    """The whole pipeline on temporary chapters, into a temporary out/."""
    one = chapter(tmp_path, "01-one.md",
                  "# One\n\nOn to [two](02-two.md#the-loop).\n\n"
                  '```{.c include="steps/01-blocking/server.c"}\n```\n\n'
                  '```{.dot alt="A door and a cook"}\ndigraph { door -> cook }\n```\n')
    two = chapter(tmp_path, "02-two.md", "# Two\n\n## The loop\n\nText.\n")
    out = tmp_path / "out"
    r = subprocess.run(["make", "-s", "-C", str(BOOK), f"CHAPTERS={one} {two}", f"OUT={out}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    page = (out / "pizzeria.html").read_text()
    assert '<a href="#ch-02-two--the-loop">' in page
    assert 'class="sourceCode c"' in page                 # highlighted C
    assert 'src="data:image/svg+xml' in page              # figure embedded
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched
    with zipfile.ZipFile(out / "pizzeria.epub") as epub:
        names = epub.namelist()
        assert any(n.endswith(".svg") for n in names)
        text = "".join(epub.read(n).decode() for n in names if n.endswith(".xhtml"))
    assert "serve_one_customer_at_a_time" in text
    assert 'href="ch002.xhtml#ch-02-two--the-loop"' in text


# ------------------------------------------- (g) EPUB and PDF are valid

def need(tool):
    """Install a tool through tests/tools/need, or skip saying why not."""
    r = subprocess.run([str(ROOT / "tests" / "tools" / "need"), tool],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.skip(f"{tool} is not installed and cannot be: {(r.stdout + r.stderr).strip()}")


@needs_pandoc
@needs_chapters
def test_epub_passes_epubcheck(tmp_path):
    need("epubcheck")
    # Into a directory of its own: another build of book/out/ may be running.
    r = subprocess.run(["make", "-s", "-C", str(BOOK), "epubcheck", f"OUT={tmp_path}/out"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


@needs_pandoc
def test_make_pdf_of_a_sample_book(tmp_path):
    need("weasyprint")
    one = chapter(tmp_path, "01-one.md",
                  "# One\n\n## Code\n\n"
                  '```{.c include="steps/01-blocking/server.c" snippet="main"}\n```\n\n'
                  "| step | cooks |\n|---|---|\n| 01 | one |\n\n"
                  '```{.dot alt="A door and a cook"}\ndigraph { door -> cook }\n```\n\n'
                  # A gnuplot plot with point markers, as the chapters show them.
                  "![Wall time](../book/figures/bench/scaling-wall.svg)\n\n"
                  # Long diff lines that wrap (weasyprint once failed hyphenating one).
                  '```{.diff diff="steps/05-poll/server.c steps/06-epoll/server.c"}\n```\n')
    out = tmp_path / "out"
    r = subprocess.run(["make", "-s", "-C", str(BOOK), "pdf", f"CHAPTERS={one}", f"OUT={out}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Failed to load image" not in r.stderr, r.stderr   # the figure is in it
    pdf = (out / "pizzeria.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out / "pizzeria.pdf"), "-"],
                              capture_output=True, text=True, timeout=60).stdout
        assert "The Asynchronous Pizzeria" in text and "int main" in text
        assert "door" in text and "cook" in text                # the figure's labels


# ------------------------------------------- (h) manual pages, linked once

MANPAGES = BOOK / "manpages.txt"


def manpage_table():
    """{name: url} from book/manpages.txt."""
    table = {}
    for line in MANPAGES.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            name, section, *page = fields
            page = page[0] if page else name
            table[name] = (f"https://man7.org/linux/man-pages/man{section[0]}/"
                           f"{page}.{section}.html", section)
    return table


def book_chapters(chapter_dir=ROOT / "chapters"):
    """The chapters in the book's order, as book/Makefile takes them."""
    r = subprocess.run(["make", "-s", "-C", str(BOOK), "chapters",
                        f"CHAPTER_DIR={chapter_dir}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [Path(chapter_dir) / name for name in r.stdout.split()]


def inline_codes(node, link=None, in_header=False):
    """(text, classes, target of the enclosing link or None) of every inline
    Code outside headings, in document order."""
    if isinstance(node, list):
        for v in node:
            yield from inline_codes(v, link, in_header)
    elif isinstance(node, dict) and "t" in node:
        t, c = node["t"], node.get("c")
        if t == "Header":
            return
        if t == "Code":
            (_i, classes, _a), text = c
            yield text, classes, link
        elif t == "Link":
            yield from inline_codes(c[1], c[2][0], in_header)
        elif c is not None:
            yield from inline_codes(c, link, in_header)


def names_code(text, name, section):
    return text in (name, f"{name}()", f"{name}({section})")


def assert_linked_once(doc, table):
    """Each name of the table the book uses is linked to its page at its
    first use and nowhere else; returns how many names the book uses. A
    name inside some other link (to a chapter, say) is not a use."""
    codes = list(inline_codes(doc["blocks"]))
    seen = 0
    for name, (url, section) in table.items():
        uses = [target for text, classes, target in codes  # not inside another link
                if names_code(text, name, section) and "plain" not in classes
                and target in (None, url)]
        if not uses:
            continue
        seen += 1
        assert uses[0] == url, f"`{name}` is not linked to {url} where it first appears"
        assert uses.count(url) == 1, f"`{name}`: linked {uses.count(url)} times, want once"
    return seen


@needs_pandoc
def test_manual_pages_are_linked_at_first_use(tmp_path):
    one = chapter(tmp_path, "01-one.md",
                  "# One\n\n## The `accept` call\n\n"
                  "First `accept()`, then `accept`; `kill`{.plain} is a command;"
                  " `kill(1)` too; [`recv`](https://example.com) is linked by hand.\n")
    two = chapter(tmp_path, "02-two.md",
                  "# Two\n\n| call | |\n|---|---|\n| `poll(2)` | `accept4` |\n\n"
                  "Again `accept`, `poll`, `recv`, and `kill`.\n")
    doc = convert([one, two], ROOT, tmp_path)
    targets = [t for _text, _c, t in inline_codes(doc["blocks"])]
    man = "https://man7.org/linux/man-pages/"
    assert targets == [man + "man2/accept.2.html", None, None, None, "https://example.com",
                       man + "man2/poll.2.html", man + "man2/accept.2.html",
                       None, None, man + "man2/recv.2.html", man + "man2/kill.2.html"]
    headers = [el for el in walk(doc) if el["t"] == "Header"]
    assert not any(el["t"] == "Link" for el in walk(headers))
    table = manpage_table()
    assert assert_linked_once(doc, table) == 5    # accept, kill, recv, poll, accept4


@needs_pandoc
@needs_chapters
def test_every_manual_page_in_the_book_is_linked_once(tmp_path):
    table = manpage_table()
    assert len(table) > 20
    doc = convert(book_chapters(), ROOT, tmp_path)
    seen = assert_linked_once(doc, table)
    assert seen >= 5, "the book names hardly any system call"


def test_chapters_link_no_manual_page_by_hand():
    for path in CHAPTERS:
        assert "man7.org" not in path.read_text(), \
            f"{path.name}: write the name in backticks; the filter links it"


# ------------------------------------------- (i) one analogy: the glossary

GLOSSARY = ROOT / "chapters" / "appendix-glossary.md"
ANALOGY = BOOK / "analogy.txt"
# Chapters still being written: their analogy warnings are their authors'
# to settle (the build warns; this test does not hold them to it yet).
GLOSSARY_PENDING = ()


def filter_warnings(chapters, tmp_path, *metadata):
    r = subprocess.run(
        ["pandoc", "--from=markdown", f"--metadata=pizzeria-root:{ROOT}",
         f"--metadata=pizzeria-figures:{tmp_path}/figures", *metadata,
         f"--lua-filter={FILTER}", "--to=native", "--output=/dev/null",
         *[str(c) for c in chapters]],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr          # a warning never stops the book
    return [l for l in r.stderr.splitlines() if "analogy term" in l]


@needs_pandoc
def test_analogy_terms_missing_from_the_glossary_warn(tmp_path):
    glossary = chapter(tmp_path, "glossary.md",
                       "# Glossary\n\ncook, cooks\n:   A thread.\n\noven\n:   Slow I/O.\n")
    (tmp_path / "analogy.txt").write_text("# words\ncook\noven\nchef\nwaiter\ntablet\n")
    ch = chapter(tmp_path, "01-x.md",
                 "# X\n\nTwo cooks and an oven. The chef shouts.\n\n"
                 "A *ringing oven*, a *cook*, *the oven was slow and nobody came*.\n\n"
                 "`waiter` is code.\n\n```sh\necho tablet\n```\n")
    warnings = filter_warnings([ch, glossary], tmp_path,
                               f"--metadata=pizzeria-glossary:{glossary}",
                               f"--metadata=pizzeria-analogy:{tmp_path / 'analogy.txt'}")
    assert len(warnings) == 2, warnings
    assert "01-x.md: analogy term 'chef' is not in the glossary" in warnings[0]
    assert "01-x.md: analogy term 'ringing oven' is not in the glossary" in warnings[1]


def glossary_terms():
    r = subprocess.run(["pandoc", "--from=markdown", "--to=json", str(GLOSSARY)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    terms = set()
    for el in walk(json.loads(r.stdout)):
        if el["t"] == "DefinitionList":
            for term, _definitions in el["c"]:
                text = "".join(i["c"] if i["t"] == "Str" else " " for i in term)
                terms.update(t.strip().lower() for t in text.split(","))
    return terms


@needs_pandoc
def test_glossary_maps_the_pizzeria_to_the_machine():
    terms = glossary_terms()
    for term in ("cook", "customer", "order", "order ticket", "tablet", "ringing oven",
                 "waiter", "door", "queue", "closing bell", "oven", "kitchen"):
        assert term in terms, f"the glossary lacks {term!r}"


@needs_pandoc
@needs_chapters
def test_finished_chapters_use_only_glossary_terms(tmp_path):
    done = [c for c in book_chapters() if not c.name.startswith(GLOSSARY_PENDING)]
    warnings = filter_warnings(done, tmp_path)
    assert not warnings, "\n".join(warnings)


# ------------------------------------------- (j) the steps appendix

def stepdiffs(root, tmp_path):
    """The generated appendix: {step: row cells} and the sections' text."""
    ch = chapter(tmp_path, "appendix-steps.md", "# Steps\n\n```{.stepdiffs}\n```\n")
    r = pandoc([ch], root, tmp_path, to="markdown")
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*`(\d\d-[\w-]+)`\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", line)
        if m:
            rows[m.group(1)] = m.groups()[1:]
    return rows, r.stdout


def unmarked(path):
    return "".join(l for l in path.read_text().splitlines(keepends=True)
                   if not MARKER.match(l))


STEP_A = """/*
 * Step 01 - one: the first
 * kitchen. More text.
 */
// @snippet main
static int helper(void)
{
    return 1;
}

int main(void)
{
    return helper();
}
// @end main
"""

STEP_B = """/*
 * Step 02 - two: the second kitchen.
 */
static int other(int x,
                 int y)
{
    return x + y;
}

int main(void)
{
    return other(1, 2);
}
"""


@needs_pandoc
def test_stepdiffs_on_sample_steps(tmp_path):
    for name, text in (("01-one", STEP_A), ("02-two", STEP_B), ("wip-03-three", STEP_B)):
        (tmp_path / "steps" / name).mkdir(parents=True)
        (tmp_path / "steps" / name / "server.c").write_text(text)
    (tmp_path / "steps" / "kitchen").mkdir()
    (tmp_path / "steps" / "kitchen" / "server.c").write_text(STEP_B)
    rows, text = stepdiffs(tmp_path, tmp_path)
    assert list(rows) == ["01-one", "02-two"]                  # not wip-, not kitchen
    assert rows["01-one"][0] == str(len(STEP_A.splitlines()))
    r = subprocess.run(["diff", "-u", "-", str(tmp_path / "steps/02-two/server.c")],
                       input=unmarked(tmp_path / "steps/01-one/server.c"),
                       capture_output=True, text=True)
    diff = r.stdout.splitlines()
    added = sum(1 for l in diff if l.startswith("+") and not l.startswith("+++ "))
    removed = sum(1 for l in diff if l.startswith("-") and not l.startswith("--- "))
    assert rows["02-two"] == (str(len(STEP_B.splitlines())), str(len(diff)),
                              f"+{added}", f"−{removed}")
    flat = " ".join(text.split())
    assert "One: the first kitchen." in flat and "Two: the second kitchen." in flat
    assert "**New:** `other`" in flat and "**Changed:** `main`" in flat
    assert "**Gone:** `helper`" in flat


@needs_pandoc
def test_stepdiffs_on_the_real_steps(tmp_path):
    steps = sorted(d for d in (ROOT / "steps").glob("[0-9][0-9]-*") if (d / "server.c").is_file())
    if not steps:
        pytest.skip("no steps yet")
    rows, _text = stepdiffs(ROOT, tmp_path)
    assert list(rows) == [d.name for d in steps]
    for before, after in zip(steps, steps[1:]):
        plain_after = tmp_path / f"{after.name}.c"
        plain_after.write_text(unmarked(after / "server.c"))
        r = subprocess.run(["diff", "-u", "-", str(plain_after)],
                           input=unmarked(before / "server.c"), capture_output=True, text=True)
        size, diff_lines, added, removed = rows[after.name]
        assert size == str(len((after / "server.c").read_text().splitlines()))
        assert diff_lines == str(len(r.stdout.splitlines())), after.name


@needs_chapters
def test_the_book_has_the_steps_appendix():
    text = (ROOT / "chapters" / "appendix-steps.md").read_text()
    assert re.search(r"^```\{\.stepdiffs\}\n```$", text, re.M)


# ------------------------------------------- (k) measured figures

REFRESH = BOOK / "refresh_figures.py"
BENCH_FIGURES = BOOK / "figures" / "bench"


def measured_texts(doc):
    """The printed text of every .measured span, in document order."""
    texts = []
    for el in walk(doc):
        if el["t"] == "Span" and "measured" in el["c"][0][1]:
            texts.append("".join(i["c"] if i["t"] == "Str" else " " for i in el["c"][1]))
    return texts


def sample_figures(folder):
    folder.mkdir()
    (folder / "speed.csv").write_text(
        "server,request,per_s,note\n"
        "a,GET /,12345.678,ok\n"
        'b,GET /,,"failed: too slow, twice"\n'
        "b,POST /,0.5,ok\n"
        "c,GET /,1,ok\nc,GET /,2,ok\n")
    (folder / "machine.json").write_text(json.dumps(
        {"cpu": "Some CPU", "cores": 2, "parts": {"cpu": "not this"}}, indent=1))
    return folder


@needs_pandoc
def test_measured_figures_come_from_the_bench_files(tmp_path):
    figures = sample_figures(tmp_path / "bench")
    ch = chapter(tmp_path, "01-x.md",
                 '# X\n\n[12,000]{.measured csv="speed" server="a" request="GET /" column="per_s"}'
                 ' [12.3]{.measured csv="speed" server="a" column="per_s" divide="1000"}'
                 ' [9]{.measured csv="speed" server="b" request="POST /" column="per_s"}'
                 ' [failed: too slow, twice]{.measured csv="speed" server="b" request="GET /"'
                 ' column="note"}\n[CPU]{.measured json="machine" key="cpu"}'
                 ' [2]{.measured json="machine" key="cores"}\n')
    r = subprocess.run(
        ["pandoc", "--from=markdown", f"--metadata=pizzeria-root:{ROOT}",
         f"--metadata=pizzeria-bench:{figures}", f"--lua-filter={FILTER}",
         "--to=json", str(ch)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert measured_texts(json.loads(r.stdout)) == [
        "12,346", "12.3", "0", "failed: too slow, twice", "Some CPU", "2"]
    # A quote that differs from the figures is printed as measured, and warned about.
    assert "quotes 12,000, the figures say 12,346" in r.stderr
    assert "quotes CPU, the figures say Some CPU" in r.stderr
    assert "quotes 12.3" not in r.stderr and "quotes 2," not in r.stderr
    # The refresh script formats exactly as the filter prints.
    out = subprocess.run([sys.executable, str(REFRESH), "--figures", str(figures), str(ch)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "12,000 -> 12,346" in out.stdout and "9 -> 0" in out.stdout
    check = subprocess.run([sys.executable, str(REFRESH), "--check", "--figures",
                            str(figures), str(ch)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


@needs_pandoc
@pytest.mark.parametrize("span, message", [
    ('[1]{.measured csv="speed" server="c" column="per_s"}', "2 rows of speed.csv match"),
    ('[1]{.measured csv="speed" server="z" column="per_s"}', "0 rows of speed.csv match"),
    ('[1]{.measured csv="speed" server="a" column="nope"}', "speed.csv has no column nope"),
    ('[1]{.measured csv="speed" colour="a" column="per_s"}', "speed.csv has no column colour"),
    ('[1]{.measured csv="speed" server="b" request="GET /" column="per_s"}',
     "no value in per_s (note: failed: too slow, twice)"),
    ('[1]{.measured csv="gone" server="a" column="per_s"}', "no measured figures at"),
    ('[1]{.measured server="a" column="per_s"}', "needs csv= or json="),
    ('[1]{.measured json="machine" key="nope"}', "has no top-level key nope"),
])
def test_a_measured_figure_that_cannot_be_found_stops_the_book(tmp_path, span, message):
    figures = sample_figures(tmp_path / "bench")
    ch = chapter(tmp_path, "01-x.md", f"# X\n\nIt did {span} a second.\n")
    r = subprocess.run(
        ["pandoc", "--from=markdown", f"--metadata=pizzeria-root:{ROOT}",
         f"--metadata=pizzeria-bench:{figures}", f"--lua-filter={FILTER}",
         "--to=json", str(ch)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert message in r.stderr and "01-x.md" in r.stderr


@needs_pandoc
def test_measured_figures_are_read_with_real_parsers(tmp_path):
    """A quoted CSV field may hold a comma, a quote and a line break, and a
    JSON string escapes: both come out as written (book/measured.py reads
    them with Python's csv and json)."""
    figures = tmp_path / "bench"
    figures.mkdir()
    (figures / "speed.csv").write_text(
        'server,note,per_s\n'
        'a,"slow, then ""fast""\nat last",1\n'
        'b,ok,2\n')
    (figures / "machine.json").write_text(json.dumps(
        {"cpu": 'A "quoted" CPU \u00fc', "quick": False, "sizes": {"cpu": "no"}}, indent=1))
    ch = chapter(tmp_path, "01-x.md",
                 '# X\n\n[x]{.measured csv="speed" server="a" column="note"}'
                 ' [2]{.measured csv="speed" server="b" column="per_s"}'
                 ' [x]{.measured json="machine" key="cpu"}'
                 ' [false]{.measured json="machine" key="quick"}\n')
    r = subprocess.run(
        ["pandoc", "--from=markdown", f"--metadata=pizzeria-root:{ROOT}",
         f"--metadata=pizzeria-bench:{figures}", f"--lua-filter={FILTER}",
         "--to=json", str(ch)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert measured_texts(json.loads(r.stdout)) == [
        'slow, then "fast"\nat last', "2", 'A "quoted" CPU \u00fc', "false"]


@needs_pandoc
def test_the_book_build_hands_the_filter_the_figures_read_once(tmp_path):
    """book/Makefile runs book/measured.py before pandoc and names its
    output with pizzeria-measured: the filter reads that, not the folder."""
    figures = sample_figures(tmp_path / "bench")
    table = tmp_path / "measured.lua"
    r = subprocess.run([sys.executable, str(BOOK / "measured.py"), "--figures", str(figures),
                        "--output", str(table)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(figures)
    ch = chapter(tmp_path, "01-x.md",
                 '# X\n\n[2]{.measured csv="speed" server="b" request="POST /" column="per_s"'
                 ' divide="0.25"} [Some CPU]{.measured json="machine" key="cpu"}\n')
    r = subprocess.run(
        ["pandoc", "--from=markdown", f"--metadata=pizzeria-root:{ROOT}",
         f"--metadata=pizzeria-bench:{figures}", f"--metadata=pizzeria-measured:{table}",
         f"--lua-filter={FILTER}", "--to=json", str(ch)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert measured_texts(json.loads(r.stdout)) == ["2", "Some CPU"]
    makefile = (BOOK / "Makefile").read_text()
    assert "--metadata=pizzeria-measured:" in makefile and "measured.py" in makefile


def figures_are_the_committed_ones():
    r = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                        str(BENCH_FIGURES)], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout == ""


@needs_pandoc
@needs_chapters
def test_chapters_quote_the_committed_figures(tmp_path):
    """Every quote in the Markdown is what the book prints, and the script
    that refreshes quotes agrees with the filter on every one of them."""
    if not figures_are_the_committed_ones():
        pytest.skip("book/figures/bench differs from the committed run "
                    "(make bench ran here): book/refresh_figures.py updates the quotes")
    doc = convert(book_chapters(), ROOT, tmp_path)
    printed = measured_texts(doc)
    sys.path.insert(0, str(BOOK))
    try:
        import refresh_figures
    finally:
        sys.path.pop(0)
    figures = refresh_figures.Figures(BENCH_FIGURES)
    quoted, expected = [], []
    for path in book_chapters():
        for _m, quote, attrs in refresh_figures.quotes(path.read_text()):
            quoted.append(f"{path.name}: {quote}")
            expected.append(refresh_figures.shaped(figures.value(attrs), quote,
                                                   attrs.get("divide")))
    assert len(printed) == len(quoted), "the script and the filter find different spans"
    stale = [f"{q} (the figures say {p})" for q, p in zip(quoted, printed)
             if not q.endswith(": " + p)]
    assert not stale, "stale quotes; run book/refresh_figures.py:\n" + "\n".join(stale)
    assert printed == expected


# ------------------------------------------- (l) the order of the chapters

@pytest.mark.parametrize("names, order", [
    (["01-b.md", "appendix-z.md", "conclusion.md", "00-a.md", "appendix-a.md",
      "README.md", "02-c.md"],
     ["00-a.md", "01-b.md", "02-c.md", "conclusion.md", "appendix-a.md", "appendix-z.md"]),
    (["00-a.md", "appendix-a.md"], ["00-a.md", "appendix-a.md"]),   # no conclusion yet
])
def test_chapter_order_rule(tmp_path, names, order):
    for name in names:
        (tmp_path / name).write_text("# A chapter\n")
    assert [p.name for p in book_chapters(tmp_path)] == order


def test_a_chapter_the_order_does_not_know_stops_the_book(tmp_path):
    for name in ("00-a.md", "epilogue.md"):
        (tmp_path / name).write_text("# A chapter\n")
    r = subprocess.run(["make", "-s", "-C", str(BOOK), "check", f"CHAPTER_DIR={tmp_path}",
                        f"OUT={tmp_path}/out"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "not a chapter name: epilogue.md" in r.stderr


def html_chapter_ids(html):
    """The anchors of the chapters (h1 in the HTML, level-1 sections in the EPUB)."""
    return [h1 or section for h1, section in
            re.findall(r'<h1 id="(ch-[^"]+)"|<section id="(ch-[^"]+)" class="level1"', html)]


@needs_pandoc
@needs_chapters
def test_the_book_reads_from_the_story_to_the_conclusion():
    """In the HTML (and so the PDF, made from the same page) and in the
    EPUB: the story, chapters 01 to 07 in order, the conclusion, then the
    appendices, each chapter once."""
    r = subprocess.run(["make", "-s", "-C", str(BOOK)], capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = sorted(d.name for d in (ROOT / "steps").glob("[0-9][0-9]-*")
                   if (d / "server.c").is_file())
    # The appendices in name order, the whole diffs last (book/Makefile).
    appendices = sorted((c.stem == "appendix-diffs", c.stem) for c in CHAPTERS
                        if c.name.startswith("appendix-"))
    appendices = [stem for _, stem in appendices]
    want = ["ch-00-story"] + [f"ch-{s}" for s in steps] + ["ch-conclusion"] + \
        [f"ch-{a}" for a in appendices]
    assert sorted(want) == sorted(f"ch-{c.stem}" for c in CHAPTERS), \
        "a chapter for every step, a story, a conclusion and appendices, nothing else"
    html = (BOOK / "out" / "pizzeria.html").read_text()
    assert html_chapter_ids(html) == want
    with zipfile.ZipFile(BOOK / "out" / "pizzeria.epub") as epub:
        opf = epub.read("EPUB/content.opf").decode()
        spine = re.findall(r'<itemref idref="([^"]+)"', opf)
        files = dict(re.findall(r'<item id="([^"]+)" href="([^"]+)"', opf))
        ids = []
        for item in spine:
            ids += html_chapter_ids(epub.read("EPUB/" + files[item]).decode())
    assert ids == want


# ------------------------------------------- (m) each step's diff, linked from its chapter

def chapter_links(path):
    """The target of every link in a chapter, as written."""
    r = subprocess.run(["pandoc", "--from=markdown", "--to=json", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return set(links(json.loads(r.stdout)))


def whole_file_diffs(path):
    """The diff= attribute of every whole-file diff block in a chapter."""
    r = subprocess.run(["pandoc", "--from=markdown", "--to=json", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {attrs["diff"] for _c, attrs, _t in code_blocks(json.loads(r.stdout))
            if "diff" in attrs and "snippet" not in attrs}


STEP_DIRS = sorted(d for d in (ROOT / "steps").glob("[0-9][0-9]-*") if (d / "server.c").is_file())
# Chapters that do not link to their step's diff yet; take a name out once
# its chapter does.
DIFF_PENDING = ()


@needs_pandoc
@pytest.mark.parametrize("before, after", list(zip(STEP_DIRS, STEP_DIRS[1:])),
                         ids=lambda d: d.name)
def test_every_step_chapter_links_to_its_diff(before, after):
    """Chapter NN links to the whole `diff -u` of step NN-1's server.c against
    step NN's, in the diffs appendix (generated, so that it never drifts),
    and shows the diffs of the functions it discusses itself: so that what
    a chapter teaches is visible line by line, without a wall of diff in
    the middle of the chapter."""
    path = ROOT / "chapters" / f"{after.name}.md"
    assert path.is_file(), f"step {after.name} has no chapter {path.name}"
    want = f"appendix-diffs.md#diff-{after.name}"
    assert not whole_file_diffs(path), \
        f"{path.name} shows a whole-file diff: link to {want} instead"
    if want in chapter_links(path):
        return
    if after.name in DIFF_PENDING:
        pytest.skip(f"{path.name} does not link to its diff yet: [..]({want})")
    pytest.fail(f"{path.name} does not link to its step's whole diff: [..]({want})")


@needs_chapters
def test_the_book_has_the_diffs_appendix():
    text = (ROOT / "chapters" / "appendix-diffs.md").read_text()
    assert re.search(r"^```\{\.wholediffs\}\n```$", text, re.M)


@needs_pandoc
def test_wholediffs_on_sample_steps(tmp_path):
    """One section per step from the second, #diff-NN-name, holding the whole
    diff against the step before (markers out), linked to its chapter."""
    for name, text in (("01-one", STEP_A), ("02-two", STEP_B), ("03-three", STEP_A),
                       ("wip-04-four", STEP_B)):
        (tmp_path / "steps" / name).mkdir(parents=True)
        (tmp_path / "steps" / name / "server.c").write_text(text)
    ch = chapter(tmp_path, "appendix-diffs.md", "# Diffs\n\n```{.wholediffs}\n```\n")
    two = chapter(tmp_path, "02-two.md", "# Two\n\n[The diff](appendix-diffs.md#diff-02-two).\n")
    steps = chapter(tmp_path, "appendix-steps.md", "# Steps\n\n```{.stepdiffs}\n```\n")
    doc = convert([two, ch, steps], tmp_path, tmp_path)
    headers = [el["c"][1][0] for el in walk(doc) if el["t"] == "Header"]
    assert headers[:4] == ["ch-02-two", "ch-appendix-diffs",
                           "ch-appendix-diffs--diff-02-two", "ch-appendix-diffs--diff-03-three"]
    targets = list(links(doc))
    # The chapter's link and the steps appendix's, and back to the chapter.
    assert targets.count("#ch-appendix-diffs--diff-02-two") == 2
    assert targets.count("#ch-appendix-diffs--diff-03-three") == 1
    assert "#ch-02-two" in targets
    diffs = [(attrs, t) for c, attrs, t in code_blocks(doc) if "diff" in c]
    assert len(diffs) == 2
    r = subprocess.run(["diff", "-u", "--label", "steps/01-one/server.c", "--label",
                        "steps/02-two/server.c", "-", str(tmp_path / "steps/02-two/server.c")],
                       input=unmarked(tmp_path / "steps/01-one/server.c"),
                       capture_output=True, text=True)
    assert diffs[0][1] == r.stdout.rstrip("\n")


DIFF_A = "// @snippet s\nint a;\nint b;\nint c;\nint d;\nint e;\nint f;\nint g;\nint h;\nint i;\n// @end s\n"
DIFF_B = "// @snippet s\nint a;\nint bb;\nint c;\nint d;\nint e;\nint f;\nint g;\nint h;\nint i;\nint j;\n// @end s\n"


@needs_pandoc
def test_a_snippet_diff_shows_the_whole_snippet(tmp_path):
    """A function's diff is the whole function, what changed marked in it:
    lines further than diff's usual three from a change stay."""
    (tmp_path / "a.c").write_text(DIFF_A)
    (tmp_path / "b.c").write_text(DIFF_B)
    ch = chapter(tmp_path, "01-x.md", '# X\n\n```{.diff diff="a.c b.c" snippet="s"}\n```\n')
    [text] = [t for _c, _a, t in code_blocks(convert([ch], tmp_path, tmp_path))]
    assert text.splitlines()[2:] == [
        "@@ -1,9 +1,10 @@", " int a;", "-int b;", "+int bb;", " int c;", " int d;",
        " int e;", " int f;", " int g;", " int h;", " int i;", "+int j;"]


@needs_pandoc
def test_diffs_on_a_page_mark_each_line(tmp_path):
    """In the HTML (and the EPUB and PDF made like it), every line of a diff
    is a line of its own with its kind, the +/- sign kept in front of it,
    in bold: red and green are not the only cue."""
    (tmp_path / "a.c").write_text(DIFF_A)
    (tmp_path / "b.c").write_text(DIFF_B.replace("int a;", "int a < 1 && 2;"))
    ch = chapter(tmp_path, "01-x.md", '# X\n\n```{.diff diff="a.c b.c"}\n```\n')
    r = pandoc([ch], tmp_path, tmp_path, to="html5")
    assert r.returncode == 0, r.stderr
    lines = re.findall(r'<span class="diff-line (diff-\w+)">(.*?)</span>(?=\n|</code>)',
                       r.stdout)
    kinds = [k for k, _ in lines]
    assert kinds == ["diff-file", "diff-file", "diff-hunk", "diff-del", "diff-del",
                     "diff-add", "diff-add", "diff-ctx", "diff-ctx", "diff-ctx",
                     "diff-hunk", "diff-ctx", "diff-ctx", "diff-ctx", "diff-add"]
    assert lines[3][1] == '<span class="diff-sign">-</span>int a;'
    assert lines[5][1] == '<span class="diff-sign">+</span>int a &lt; 1 &amp;&amp; 2;'
    assert "Changes from <code>a.c</code> to <code>b.c</code>" in r.stdout


CSS_RULES = re.compile(r"([^{}]+)\{([^{}]*)\}")


@pytest.mark.parametrize("sheet", ["style.css", "pdf.css"])
def test_diff_colours(sheet):
    """Removed lines red, added lines green, in both stylesheets (the EPUB
    takes style.css); the removed tint darker than the added one, so that
    they differ in grey too; the sign in bold."""
    def rule(selector):
        for selectors, body in CSS_RULES.findall((BOOK / sheet).read_text()):
            if selector in [s.strip() for s in selectors.split(",")]:
                return dict(p.split(":", 1) for p in
                            [d.strip() for d in body.split(";")] if ":" in p)
        pytest.fail(f"{sheet} has no rule for {selector}")

    def rgb(colour):
        colour = colour.strip().lstrip("#")
        return [int(colour[i:i + 2], 16) for i in (0, 2, 4)]

    def grey(colour):
        r, g, b = rgb(colour)
        return 0.299 * r + 0.587 * g + 0.114 * b

    removed, added = rule("pre.diff .diff-del"), rule("pre.diff .diff-add")
    r, g, b = rgb(removed["background"])
    assert r > g and r > b, "removed lines are tinted red"
    r, g, b = rgb(added["background"])
    assert g > r and g > b, "added lines are tinted green"
    assert grey(removed["background"]) < grey(added["background"]) - 12
    assert rule("pre.diff .diff-sign")["font-weight"].strip() == "bold"
