"""blocking.py - what steps 01 (blocking), 02 (fork) and 03 (threads)
promise alike at the door, as checks their test modules call.

Their door is a blocking accept loop (kitchen_accept_failed decides what a
failed accept means), so the kernel's listen backlog is where customers
wait when the kitchen has no room.

    door_waits_when_out_of_descriptors(start_server)
                                    EMFILE: no spin, no death, a line on
                                    stderr; served once there is room
"""
import errno
import os
import resource
import time

import pytest

import pizzeria as pz
from readiness import assert_not_spinning


def door_waits_when_out_of_descriptors(start_server):
    """The door process may open no more descriptors, so accept fails with
    EMFILE: the kitchen says so on stderr, does not spin (little CPU over
    a second), does not die, and the customer waiting in the backlog is
    served as soon as descriptors are allowed again."""
    if pz.VALGRIND:
        pytest.skip("valgrind keeps descriptors of its own")
    server = start_server("--bake-ms", "0")
    assert server.fetch("GET", "/menu").status == 200
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held = pz.settled_fd_count(server)
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (held, hard))
    try:
        # accept takes its descriptor before it waits, so the door may
        # hold one already: a customer who comes and goes uses it up.
        with server.connect():
            pass
        with server.connect(timeout=5.0) as c:
            c.request("GET", "/menu")
            time.sleep(0.5)
            assert_not_spinning(server, "with every descriptor in use")
            assert server.alive()
            said = f"pizzeria: accept: {os.strerror(errno.EMFILE)}"
            assert said in server.stderr_text(), server.stderr_text()

            resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (hard, hard))
            assert c.read_response(timeout=5.0).status == 200
    finally:
        if server.alive():
            resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (hard, hard))
