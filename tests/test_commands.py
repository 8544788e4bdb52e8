"""Every command the book tells the reader to type works.

Each shell block in a chapter (```sh, or bash, shell, console) carries one
tag saying how it can be tried (book/README.md, "Commands"):

    {.sh .run}             runs on its own, from the repository root, with
                           every step built; must exit 0 (or exit="N")
    {.sh .with-server}     needs a pizzeria on 127.0.0.1:8080; this test
                           starts one (step="01" picks the step, default the
                           newest; server-args="--bake-ms 100" its flags)
    {.sh .starts-server}   starts a pizzeria on port 8080 and keeps running
                           (make run): it must answer on 8080, then is stopped
    {.sh .manual}          not run here: interactive (nc, a browser) or too
                           long for the suite (make test)

Optional attributes: exit="N" (the status the reader should see, default 0;
diff says 1 when files differ), timeout="S" (default 60).

Every chapter not listed in NOT_YET_TAGGED must tag all its shell blocks;
tagged blocks run wherever they are. Port 8080 is the book's port: a block
that needs it is skipped, with the reason, when something else holds it.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import pizzeria as pz

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(c for c in (ROOT / "chapters").glob("*.md") if c.name != "README.md")

# Chapters whose shell blocks are not tagged yet (their authors tag them).
NOT_YET_TAGGED = ()

SHELL = {"sh", "bash", "shell", "console"}
TAGS = {"run", "with-server", "starts-server", "manual"}
PORT = 8080
DEFAULT_TIMEOUT = 60.0


def shell_blocks(path):
    """(index, classes, attributes, text) of every shell block of a chapter."""
    r = subprocess.run(["pandoc", "--from=markdown", "--to=json", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("t") == "CodeBlock":
                (_id, classes, attrs), text = node["c"]
                if SHELL & set(classes):
                    found.append((len(found) + 1, classes, dict(attrs), text))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(r.stdout))
    return found


def all_blocks():
    if shutil.which("pandoc") is None:
        return []
    return [(c, *b) for c in CHAPTERS for b in shell_blocks(c)]


BLOCKS = all_blocks()
RUNNABLE = [b for b in BLOCKS if TAGS - {"manual"} & set(b[2])]


def builds_the_book(block):
    """A block that writes book/out/, as the book's own tests do."""
    text = block[4]
    return "make book" in text or "make -C book" in text


# The blocks that build the book run in the book's tests' process, one
# after the other with them: two makes writing book/out/ at once would
# leave each other half an EPUB.
BOOK_BUILDERS = [b for b in RUNNABLE if builds_the_book(b)]
RUNNABLE = [b for b in RUNNABLE if not builds_the_book(b)]


def block_id(block):
    chapter, index, _classes, _attrs, text = block
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{chapter.stem}#{index}:{first[:40]}"


# ------------------------------------------------------------ port 8080

def port_answers(port=PORT):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def port_is_free(port=PORT):
    if port_answers(port):
        return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_answers():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def stop(proc):
    """SIGTERM the process group, then SIGKILL what is left after 5 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    # The port must be free again for the next block.
    pz.wait_until(port_is_free, timeout=5)


def start_in_background(argv, **kwargs):
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kwargs)


def output_of(proc):
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        return "(no output: still running)"
    return out


# ------------------------------------------------------------ the tests

@pytest.mark.skipif(shutil.which("pandoc") is None, reason="pandoc not installed")
@pytest.mark.parametrize("chapter", [c for c in CHAPTERS
                                     if not c.name.startswith(NOT_YET_TAGGED)],
                         ids=lambda c: c.stem)
def test_every_shell_block_is_tagged(chapter):
    for index, classes, _attrs, text in shell_blocks(chapter):
        tags = TAGS & set(classes)
        assert len(tags) == 1, (
            f"{chapter.name}: shell block {index} ({text.strip()[:60]!r}) has "
            f"tags {sorted(tags) or 'none'}; give it one of {sorted(TAGS)} "
            "(book/README.md, Commands)")


def test_the_tags_are_in_use():
    """The machinery is not idle: the book has commands that run."""
    if not BLOCKS:
        pytest.skip("pandoc not installed, or no shell blocks")
    assert RUNNABLE, "no chapter has a runnable shell block"


@pytest.fixture(scope="module")
def built():
    pz.build()
    r = subprocess.run(["make", "-s", "-C", str(ROOT / "bench")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    if shutil.which("curl") is None:
        subprocess.run([str(ROOT / "tests" / "tools" / "need"), "curl"],
                       capture_output=True, timeout=600)


@pytest.mark.xdist_group("book")
@pytest.mark.parametrize("block", BOOK_BUILDERS, ids=block_id)
def test_book_command_works(block, built):
    try_block(block)


@pytest.mark.xdist_group("port-8080")  # one block at a time on the port
@pytest.mark.parametrize("block", RUNNABLE, ids=block_id)
def test_command_works(block, built):
    try_block(block)


def try_block(block):
    chapter, index, classes, attrs, text = block
    where = f"{chapter.name}, shell block {index}:\n{text}"
    timeout = float(attrs.get("timeout", DEFAULT_TIMEOUT))
    expected = int(attrs.get("exit", "0"))
    command = ["bash", "-e", "-o", "pipefail", "-c", text]

    if "run" in classes and "with-server" not in classes:
        r = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        assert r.returncode == expected, f"{where}\nexit {r.returncode}:\n{r.stdout}{r.stderr}"
        return

    if not port_is_free():
        pytest.skip(f"port {PORT} is in use: cannot try {chapter.name} block {index}")

    if "starts-server" in classes:
        proc = start_in_background(command, stdin=subprocess.DEVNULL)
        try:
            up = wait_for_port(proc, timeout)
        finally:
            stop(proc)
        assert up, f"{where}\nnothing answered on port {PORT}:\n{output_of(proc)}"
        return

    # with-server: our own pizzeria on 8080, then the reader's command.
    name = attrs.get("step") or pz.steps()[-1].name
    step = pz.step_named(name)
    assert step, f"{where}\nno step {name!r}"
    server = start_in_background([str(step.binary(asan=False)), "--port", str(PORT),
                                  *attrs.get("server-args", "").split()],
                                 stdin=subprocess.DEVNULL)
    try:
        assert wait_for_port(server, 10), \
            f"{step.name} did not answer on port {PORT}:\n{output_of(server)}"
        r = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        stop(server)
    assert r.returncode == expected, f"{where}\nexit {r.returncode}:\n{r.stdout}{r.stderr}"
