"""Fixtures for the exercises' checks: the test harness in tests/pizzeria.py,
and `serve`, which starts a step and stops it (checking it stops cleanly)
when the check is over.

Run a check with `make exercise EX=NAME` from the top of the repository.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

import pizzeria  # noqa: E402  (the harness, from tests/)


def build_step(step):
    """Build just the step a check uses: checks should be quick to run."""
    import subprocess
    made = subprocess.run(["make", "-s", "-C", str(step.dir)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    assert made.returncode == 0, f"building {step.name} failed:\n{made.stdout}"


@pytest.fixture
def serve():
    started = []

    def start(step_name, *flags):
        step = pizzeria.step_named(step_name)
        assert step is not None, f"no step {step_name}"
        build_step(step)
        server = pizzeria.start(step, *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
