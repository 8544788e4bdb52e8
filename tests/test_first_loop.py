"""Chapter 04's first loop, steps/04-select/echo.c: the smallest select
loop, built and run on its own. Every byte a customer sends comes back to
them, several customers are served at once by one thread, and one who
sends without reading fills their own table and no one else's."""
import fcntl
import os
import select
import socket
import subprocess
import time

import pytest

import pizzeria as pz

STEP_DIR = pz.STEPS_DIR / "04-select"


@pytest.fixture(scope="module")
def built():
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    directory = os.open(STEP_DIR, os.O_RDONLY)  # the exercises' lock too
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        made = subprocess.run(["make", "-s", "-C", str(STEP_DIR), "echo"],
                              env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
    finally:
        os.close(directory)
    assert made.returncode == 0, made.stdout


@pytest.fixture
def echo(built):
    proc = subprocess.Popen([str(STEP_DIR / "echo"), "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("echo on 127.0.0.1:"), line
        yield proc, int(line.rsplit(":", 1)[1])
    finally:
        proc.kill()
        proc.wait(timeout=5)


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_exactly(sock, n):
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        assert chunk, f"the echo closed after {len(got)} of {n} bytes"
        got += chunk
    return got


def test_every_byte_comes_back_to_its_sender(echo):
    proc, port = echo
    customers = [connect(port) for _ in range(5)]
    try:
        for round_ in range(3):
            for i, c in enumerate(customers):
                c.sendall(f"order {round_} from {i}\n".encode())
            for i, c in enumerate(customers):
                want = f"order {round_} from {i}\n".encode()
                assert read_exactly(c, len(want)) == want
    finally:
        for c in customers:
            c.close()
    assert len(pz.threads(proc.pid)) == 1, "one thread serves every table"


def test_a_customer_who_never_reads_is_held_back_not_dropped(echo):
    proc, port = echo
    seated = pz.fd_count(proc.pid) + 1
    # A small window of their own: what comes back to them soon fills it.
    greedy = socket.socket()
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    greedy.settimeout(5)
    greedy.connect(("127.0.0.1", port))
    greedy.setblocking(False)
    sent = 0
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # until every buffer is full
            try:
                sent += greedy.send(b"x" * 65536)
            except BlockingIOError:
                if not select.select([], [greedy], [], 0.5)[1]:
                    break
        assert sent > 4096, "the loop read nothing from the greedy customer"
        # Held back, not shown out: still seated, and what comes back to
        # them once they read is what they sent.
        assert pz.fd_count(proc.pid) == seated, (
            "the customer who stopped reading was shown out")
        with connect(port) as polite:
            polite.sendall(b"a margherita, please\n")
            assert read_exactly(polite, 21) == b"a margherita, please\n"
        greedy.settimeout(5)
        assert read_exactly(greedy, 65536) == b"x" * 65536
    finally:
        greedy.close()


def test_a_customer_who_leaves_frees_their_table(echo):
    proc, port = echo
    before = pz.fd_count(proc.pid)
    for _ in range(20):
        with connect(port) as c:
            c.sendall(b"hi\n")
            assert read_exactly(c, 3) == b"hi\n"
    assert pz.wait_until(lambda: pz.fd_count(proc.pid) == before, 3.0), (
        f"{pz.fd_count(proc.pid) - before} descriptors still open")
