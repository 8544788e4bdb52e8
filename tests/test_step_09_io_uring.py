"""Step 09, the asynchronous kitchen: a proactor on io_uring.

What the architecture promises, as a client (and /proc) can see it: one
thread, an io_uring and no epoll; many jobs handed over in each system
call; a silent customer holds no buffer while the kernel waits on their
socket; closing a customer cancels what the kernel still does for them,
so that the socket really closes; a kernel that refuses io_uring gets a
message saying how to check, and a non-zero exit. What every one-cook
step promises alike is in test_readiness.py; the contract in
test_protocol.py.
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

import pizzeria as pz
import readiness

STEP = "09-io-uring"
ROOT = pz.ROOT
IO_URING_ENTER = 426  # its system call number, on every architecture
REPORT = re.compile(
    r"the ring: (\d+) io_uring_enter calls for (\d+) jobs and (\d+) results;"
    r" rack buffers held: (\d+) now, (\d+) at most; receives armed at most:"
    r" (\d+)")


def ring_report(server):
    """Stop the server and read its closing report."""
    server.stop()
    m = REPORT.search(server.stderr_text())
    assert m, f"no ring report on stderr:\n{server.stderr_text()[-2000:]}"
    enters, jobs, results, held_now, held_most, receiving = map(
        int, m.groups())
    return dict(enters=enters, jobs=jobs, results=results, held_now=held_now,
                held_most=held_most, receiving=receiving)


def anon_inodes(pid):
    kinds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("anon_inode:"):
            kinds.append(link)
    return kinds


def test_a_ring_and_no_tablet(start_server):
    """The kitchen's descriptors: an io_uring, and no epoll, select or poll
    anywhere (no eventpoll inode; the other two leave none, so the cook's
    system calls are asked of the kernel's count as well: one thread,
    waiting in io_uring_enter)."""
    server = start_server("--bake-ms", "0")
    assert server.fetch("GET", "/menu").status == 200
    kinds = anon_inodes(server.pid)
    assert "anon_inode:[io_uring]" in kinds, kinds
    assert not [k for k in kinds if "eventpoll" in k], kinds
    assert len(server.threads()) == 1

    def waiting_in_io_uring_enter():
        with open(f"/proc/{server.pid}/syscall") as f:
            return f.read().split()[0] == str(IO_URING_ENTER)
    assert pz.wait_until(waiting_in_io_uring_enter, 2.0)


def test_many_jobs_are_handed_over_in_each_system_call(start_server):
    """Twenty seated customers send twenty requests each (pipelined, in one
    write) while the cook is stopped, so that all of them are there when
    he comes back, however fast the customers are. Every request is at
    least one job's result (its answer sent), yet the cook enters the
    kernel far fewer times than there are requests: each io_uring_enter
    hands over the jobs of a whole round, every customer's next answer."""
    server = start_server("--bake-ms", "0")
    customers, each = 20, 20
    baseline = pz.settled_fd_count(server)
    seated = [server.connect() for _ in range(customers)]
    try:
        assert pz.wait_until(
            lambda: server.fd_count() >= baseline + customers, 5.0)
        requests = pz.request_bytes("GET", "/menu", None, b"", "1.1",
                                    seated[0].host_header, None) * each
        os.kill(server.pid, signal.SIGSTOP)
        try:
            for c in seated:
                c.send(requests)
        finally:
            os.kill(server.pid, signal.SIGCONT)
        for c in seated:
            for _ in range(each):
                assert c.read_response().status == 200
    finally:
        for c in seated:
            c.close()
    report = ring_report(server)
    requests = customers * each
    assert report["results"] >= requests, report
    # A round per answer of each customer, and a few: about `each`.
    assert report["enters"] < requests / 4, (
        f"{report['enters']} io_uring_enter calls for {requests} requests:"
        f" one system call per job, not per round")


def test_silent_customers_hold_no_buffer(start_server):
    """A thousand silent customers, each with a receive waiting in the
    kernel, and one who orders: the receives name no buffer, so the kitchen
    never holds more than the talking customer's, and none at the end."""
    n = 1000
    readiness.raise_fd_limit(n + 200)
    server = start_server("--bake-ms", "0", "--idle-timeout-ms", "0")
    socks = readiness.open_silent(server, n)
    try:
        assert pz.wait_until(lambda: server.fd_count() >= n, 5.0)
        assert server.fetch("POST", "/order", headers={
            "Content-Type": pz.FORM},
            body=pz.order_body("margherita")).status == 200
    finally:
        readiness.close_all(socks)
    report = ring_report(server)
    assert report["receiving"] >= n, report
    assert report["held_most"] <= 2, report
    assert report["held_now"] == 0, report


def test_closing_a_customer_cancels_their_receive(start_server):
    """A customer who says nothing is shown out at their idle timeout: the
    kitchen's close must cancel the receive the kernel holds for them, or
    the socket stays open in the kernel and they never see it close."""
    server = start_server("--bake-ms", "0", "--idle-timeout-ms", "300")
    with server.connect() as silent:
        started = time.monotonic()
        assert silent.is_closed_by_server(2.0), "never closed"
        assert time.monotonic() - started < 1.5


def test_leaving_mid_bake_leaves_nothing_behind(start_server):
    """Customers who leave while their order bakes: their receive, their
    timer and their close come back from the kernel, the table is freed,
    and the descriptors go back to what they were."""
    server = start_server("--bake-ms", "300")
    before = pz.settled_fd_count(server)
    for _ in range(20):
        c = server.connect()
        c.send(pz.request_bytes("POST", "/order",
                                {"Content-Type": pz.FORM},
                                body=pz.order_body("margherita")))
        c.close()
    time.sleep(0.5)
    assert pz.wait_until(lambda: server.fd_count() <= before, 3.0), \
        server.fd_count()
    assert server.fetch("GET", "/menu").status == 200


@pytest.fixture(scope="module")
def no_io_uring(tmp_path_factory):
    """tests/tools/no_io_uring.c, built: runs a program under a seccomp
    filter that refuses io_uring_setup, as a container's may."""
    out = tmp_path_factory.mktemp("seccomp") / "no_io_uring"
    subprocess.run(["cc", "-Wall", "-Wextra", "-Werror", "-o", str(out),
                    str(ROOT / "tests/tools/no_io_uring.c")], check=True)
    return out


@pytest.mark.parametrize("error, says", [
    ("EPERM", "sysctl kernel.io_uring_disabled"),
    ("ENOSYS", "CONFIG_IO_URING"),
])
def test_a_kernel_that_refuses_io_uring_is_named(step, no_io_uring, error,
                                                 says):
    """io_uring_setup refused (EPERM: the sysctl, or a filter; ENOSYS: no
    io_uring at all): the kitchen says which and how to check, never
    opens, and exits 3."""
    result = subprocess.run(
        [str(no_io_uring), error, str(step.binary()), "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, timeout=10,
        env=pz.server_env())
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "listening" not in result.stdout
    assert "io_uring_setup" in result.stderr, result.stderr
    assert says in result.stderr, result.stderr


def test_a_customer_who_leaves_takes_their_timer_along(start_server):
    """One seat, and a patience of a minute: each customer's timer job is
    removed with their close, so their table is freed as soon as the
    kernel hands the close back, and the next customer has the seat. A
    timer left in the kernel would keep the table (and the seat) until it
    rang, a minute later: the next customer would be told 503."""
    server = start_server("--bake-ms", "0", "--max-conns", "1",
                          "--idle-timeout-ms", "60000")
    for _ in range(3):
        # The seat is free again once the kernel has handed back the
        # last customer's close (a moment: until then, 503).
        assert pz.wait_until(
            lambda: server.fetch("GET", "/menu").status == 200, 3.0)

