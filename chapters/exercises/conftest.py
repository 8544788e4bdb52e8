"""Fixtures for the exercises' checks: the test harness in tests/pizzeria.py,
and `serve`, which starts a step and stops it (checking it stops cleanly)
when the check is over.

Run a check with `make exercise EX=NAME` from the top of the repository.

Each check says which step it starts, `STEP = "04"`, and that step is
built once, before the first test runs: when the tests run in several
processes (PIZZERIA_JOBS), they all start the same binary, which nobody
is writing any more. A build that fails stops everything at once, with the
compiler's errors. A test that fails says in a line or two what it
expected and what came back, and where in check.py; no traceback.
"""
import ast
import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

import pizzeria  # noqa: E402  (the harness, from tests/)


# ---------------------------------------------------------------- building

def build_step(step):
    """`make -C steps/NN`, holding a lock on the step's directory: whoever
    comes second waits, then finds nothing left to build. The
    CompletedProcess, with the compiler's words in .stdout."""
    directory = os.open(step.dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        return subprocess.run(["make", "-s", "-C", str(step.dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    finally:
        os.close(directory)     # and the lock with it


def declared_step(check):
    """The STEP = "NN" a check.py declares, or None."""
    for node in ast.parse(check.read_text()).body:
        names = [getattr(t, "id", None) for t in getattr(node, "targets", ())]
        if isinstance(node, ast.Assign) and "STEP" in names:
            return ast.literal_eval(node.value)
    return None


def checks_asked_for(config):
    """The check.py files named on the command line (or under a directory
    named there)."""
    found = []
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0])
        found += [path] if path.is_file() else sorted(path.rglob("check.py"))
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Build the steps the checks start, before any test runs. With xdist
    this runs in the process that starts the workers, before it starts
    them; the workers themselves skip it."""
    config = session.config
    if hasattr(config, "workerinput"):
        return
    names = {declared_step(check) for check in checks_asked_for(config)}
    for name in sorted(filter(None, names)):
        step = pizzeria.step_named(name)
        if step is None:
            raise pytest.UsageError(f"a check declares STEP = {name!r}: "
                                    "there is no such step")
        made = build_step(step)
        if made.returncode != 0:
            # pytest says "ERROR: " and this, once, and exits 4: no test ran.
            raise pytest.UsageError(
                f"{step.name} does not build; the compiler says:\n\n"
                f"{made.stdout.rstrip()}")


@pytest.fixture
def serve(request):
    started = []

    def start(step_name, *flags):
        step = pizzeria.step_named(step_name)
        assert step is not None, f"there is no step {step_name}"
        declared = getattr(request.module, "STEP", None)
        assert step_name == declared, (
            f"this check starts step {step_name}, but its STEP (the step "
            f"built before its tests run) is {declared!r}")
        # Built before the first test: make finds nothing left to do,
        # unless a source has changed since.
        made = build_step(step)
        assert made.returncode == 0, (
            f"{step.name} does not build: the compiler says\n{made.stdout}")
        server = pizzeria.start(step, *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# ---------------------------------------------------------------- reporting

def in_words(error):
    """What went wrong, for a reader: an assertion's own message; for a
    socket's error, what the pizzeria did."""
    if isinstance(error, AssertionError):
        return str(error)
    if isinstance(error, ConnectionRefusedError):
        return ("expected the pizzeria to let a customer in; the connection "
                "was refused (is it still running?)")
    if isinstance(error, (ConnectionResetError, BrokenPipeError)):
        return ("expected the pizzeria to keep the connection open; it "
                "reset it (did it crash, or close a customer it was serving?)")
    if isinstance(error, socket.timeout):
        return "expected the pizzeria to answer; it timed out"
    return f"{type(error).__name__}: {error}"


def where_in(item, excinfo):
    """'check.py line N: the statement', the last line of the check the
    failure went through, or None if it came from outside the check."""
    for entry in reversed(excinfo.traceback):
        if Path(entry.path) == Path(item.path):
            line = f"check.py line {entry.lineno + 1}"
            statement = gist(entry.statement)
            return f"{line}: {statement}" if statement else line
    return None


def gist(statement):
    """A statement on one line, an assert without its message; nothing for
    a raise, whose message says it all."""
    source = str(statement).strip()
    try:
        node = ast.parse(source).body[0]
    except (SyntaxError, IndexError):     # the head of a with or a for
        return source.splitlines()[0] if source else ""
    if isinstance(node, ast.Raise):
        return ""
    if isinstance(node, ast.Assert):
        node = ast.Assert(test=node.test, msg=None)
    text = ast.unparse(node)
    return text if len(text) <= 100 else text[:97] + "..."


def told_briefly(config):
    """--tb=no (pytest.ini's choice): failures in a line or two. Any other
    --tb on the command line brings pytest's own tracebacks back."""
    return config.option.tbstyle == "no"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failure's report becomes what went wrong and where in check.py."""
    outcome = yield
    report = outcome.get_result()
    if (not report.failed or call.excinfo is None
            or not told_briefly(item.config)):
        return
    words = in_words(call.excinfo.value) or "an assertion failed"
    if call.when == "setup":
        words = f"before the test: {words}"
    elif call.when == "teardown":
        words = f"when the pizzeria was stopped after the test: {words}"
    where = where_in(item, call.excinfo)
    report.longrepr = words + (f"\n({where})" if where else "")


def pytest_terminal_summary(terminalreporter, config):
    """Each failure: the test's name, then what went wrong and where."""
    if not told_briefly(config):
        return
    failures = (terminalreporter.stats.get("failed", [])
                + terminalreporter.stats.get("error", []))
    for report in failures:
        terminalreporter.write_line("")
        terminalreporter.write_line(f"FAILED {report.head_line}", red=True,
                                    bold=True)
        for line in str(report.longrepr).splitlines():
            terminalreporter.write_line(f"    {line}")
    if failures:
        terminalreporter.write_line("")
