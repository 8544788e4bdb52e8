"""Fixtures for every pizzeria test. The harness itself is pizzeria.py.

    step          the step under test, a pizzeria.Step. A test that takes it
                  runs once per step present (steps/NN-name/server.c); a
                  module that sets STEP = "01-blocking" runs for that step
                  only (and is skipped while that step does not exist); one
                  that sets STEPS_WHERE = predicate, for the steps whose
                  manifest the predicate accepts. A completion step
                  (io_uring) is skipped, with the reason, on a kernel that
                  refuses io_uring.
    built         builds every step once per session (`make all`, or
                  `make asan`, `make faults` with PIZZERIA_BUILD=asan or
                  faults).
    start_server  a factory: start_server("--bake-ms", "50") -> Server for
                  the current step, started with --port 0. At teardown
                  every server it started is stopped with SIGTERM and must
                  exit 0 within 2 s, leave no child or zombie, and print no
                  sanitizer report.
    server        a fresh server of the current step with --bake-ms 0, for
                  this test alone.
    shared_server one server with --bake-ms 0 shared by the tests of a
                  module (for the many stateless request/response tests:
                  one start and one stop instead of hundreds, which matters
                  under the sanitizers). It must be alive, with no sanitizer
                  report on stderr, before and after each test (so a crash
                  is charged to the test that caused it); a dead one is
                  replaced. Its full stop check runs at the module's end.
                  Tests using it must not care about order numbers, stderr
                  or descriptor counts, and must close their connections.
"""
import pytest

import pizzeria as pz


# Discovered once: the same Step objects for every test, so that
# module-scoped fixtures are shared across a module's tests.
_STEPS = pz.steps()


def pytest_report_header(config):
    names = ", ".join(s.name for s in pz.steps()) or "none"
    build = (f"{pz.BUILD} (build/{pz.BUILD}/NN/pizzeria)"
             if pz.BUILD in pz.BUILT_APART else "plain")
    return [f"pizzeria steps: {names}; build: {build}"]


def pytest_generate_tests(metafunc):
    if "step" not in metafunc.fixturenames:
        return
    found = _STEPS
    only = getattr(metafunc.module, "STEP", None)
    if only:
        found = [s for s in found if s.name == only]
    where = getattr(metafunc.module, "STEPS_WHERE", None)
    if where:
        found = [s for s in found if where(s)]
    metafunc.parametrize("step", [_param(s) for s in found],
                         ids=[s.name for s in found],
                         indirect=True, scope="module")


def _param(step):
    """A step as a parameter: skipped, with the kernel's reason, when it is
    a completion step (io_uring) and this kernel refuses io_uring."""
    refused = step.get("completion") and pz.io_uring_refused()
    marks = [pytest.mark.skip(reason=refused)] if refused else []
    return pytest.param(step, marks=marks)


@pytest.fixture(scope="session")
def built():
    pz.build()


@pytest.fixture(scope="module")
def step(request, built):
    return request.param


@pytest.fixture
def start_server(step, built):
    servers = []

    def start(*flags, env=None, nofile=None):
        server = pz.start(step, *flags, env=env, nofile=nofile)
        servers.append(server)
        return server

    yield start

    problems = []
    for server in servers:
        try:
            server.stop()
        except AssertionError as e:
            problems.append(f"{server.step.name} {' '.join(server.flags)}: "
                            f"{e}")
        finally:
            if not server.stopped:
                server.kill()
            server.close_files()
    if problems:
        pytest.fail("at teardown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def server(start_server):
    return start_server("--bake-ms", "0")


class _Shared:
    def __init__(self, step):
        self.step = step
        self.server = None
        self.dead = []

    def get(self):
        if self.server is None or not self.server.alive():
            if self.server is not None:
                self.dead.append(self.server)
            self.server = pz.start(self.step, "--bake-ms", "0")
        return self.server


@pytest.fixture(scope="module")
def _shared(step, built):
    shared = _Shared(step)
    yield shared
    for dead in shared.dead:
        dead.close_files()
    if shared.server is not None:
        try:
            shared.server.stop()
        except AssertionError as e:
            pytest.fail(f"the module's shared server ({step.name} "
                        f"{' '.join(shared.server.flags)}), stopped at the "
                        f"end of the module: {e}", pytrace=False)
        finally:
            if not shared.server.stopped:
                shared.server.kill()
            shared.server.close_files()


@pytest.fixture
def shared_server(_shared):
    server = _shared.get()
    yield server
    assert server.alive(), (
        f"the server died during this test (status {server.proc.returncode})"
        f"; stderr:\n{server.stderr_text()[-4000:]}")
    server.check_exit()
