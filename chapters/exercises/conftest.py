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


@pytest.fixture
def serve():
    pizzeria.build()
    started = []

    def start(step_name, *flags):
        step = pizzeria.step_named(step_name)
        assert step is not None, f"no step {step_name}"
        server = pizzeria.start(step, *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
