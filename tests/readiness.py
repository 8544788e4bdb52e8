"""readiness.py - what the one-cook steps (04 select, 05 poll, 06 epoll,
07 the event loop, and 09's ring, which is told of completions instead of
readiness) promise alike, as checks that test_readiness.py runs
for each of them (and a step's own module may call with its own numbers).

One cook (one process, one thread) with a tablet serves every table: no
customer may hold up another, whether they talk slowly, never read, sit in
silence, or arrive when the kitchen has run out of descriptors.

    one_cook_with_a_tablet(step)            the steps these checks are for
    single_thread(start_server)
    orders_overlap(start_server, k)
    serves_while_idle(start_server, n)      n silent connections held open
    slow_customers_do_not_delay_others(start_server)
    never_reader_is_held_back(start_server)  backpressure, seen in the trace
    no_descriptor_leak_after_bursts(start_server)
    idle_timeout_closes_while_others_are_served(start_server)
    out_of_descriptors(start_server, step)  EMFILE: no spin, no death
    no_descriptor_to_spare(start_server, step)  not even the spare helps: the
                                            door shuts for a moment
    raise_fd_limit(needed)                  soft limit up to the hard one,
                                            or skip with the reason
"""
import resource
import select
import socket
import threading
import time

import pytest

import pizzeria as pz


def one_cook_with_a_tablet(step):
    """What the manifest says of a step these checks are for: concurrent,
    yet one cook (the receipts say "pid": one process, one thread), and no
    process per customer nor several worker processes. Only a tablet can
    make that."""
    return (step["concurrent"] and step["cook"] == "pid"
            and not step["process_per_connection"]
            and not step["worker_processes"])


def raise_fd_limit(needed):
    """Make sure this process (and the servers it starts, which inherit
    it) may open `needed` descriptors; skip the test if the hard limit is
    too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} descriptors, the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


settled_fd_count = pz.settled_fd_count


trace_lines = pz.trace_lines


def events_of(path, conn, event):
    """How many `event` lines the trace has for connection number conn."""
    count = 0
    for line in trace_lines(path):
        fields = line.split(" ")
        if len(fields) >= 3 and fields[1] == event and fields[2] == str(conn):
            count += 1
    return count


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rfind(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / __import__("os").sysconf("SC_CLK_TCK")


def kitchen_cpu_seconds(server):
    """The server's CPU time; for a step of worker processes, the master's
    and every worker's (a worker that spins is the kitchen spinning)."""
    pids = [server.pid]
    if server.step.get("worker_processes"):
        pids += [p for p, _ in pz.descendants(server.pid)]
    return sum(cpu_seconds(p) for p in pids)


SPIN_WINDOW = 1.0     # seconds watched for spinning
MAX_SPIN_SHARE = 0.2  # of one core, over that window


def assert_not_spinning(server, what):
    """A kitchen with nothing it can do sleeps: over SPIN_WINDOW it uses
    less than MAX_SPIN_SHARE of a core (a loop that spins uses all of one,
    however busy the machine; a sleeping one, next to nothing)."""
    before = kitchen_cpu_seconds(server)
    time.sleep(SPIN_WINDOW)
    used = kitchen_cpu_seconds(server) - before
    assert used < MAX_SPIN_SHARE * SPIN_WINDOW, (
        f"{used:.2f} s of CPU in {SPIN_WINDOW} s {what}: spinning")


def busy_seconds(pid):
    """How long a process has been running or ready to run (on a CPU, or
    waiting for one), in seconds (/proc/PID/schedstat, its main thread's).
    Unlike CPU time this does not shrink when other work crowds the
    machine: a cook who spins is busy the whole time, one who waits is
    not."""
    with open(f"/proc/{pid}/schedstat") as f:
        on_cpu, waiting = f.read().split()[:2]
    return (int(on_cpu) + int(waiting)) / 1e9


def open_silent(server, n, saying=b""):
    """n connections that say nothing (or only `saying`, once each); the
    caller closes them."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection((server.host, server.port),
                                         timeout=5)
            socks.append(s)
            if saying:
                s.sendall(saying)
    except BaseException:
        close_all(socks)
        raise
    return socks


def readable(socks, timeout):
    """The sockets with something to read (an answer, an end, a reset),
    waiting up to timeout seconds for the first. (poll, not select: the
    test's own descriptors may be past FD_SETSIZE too.)"""
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(timeout * 1000)]


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def still_open(sock):
    """The server has neither closed nor answered this silent connection."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True    # nothing to read, no end: still seated
    except OSError:
        return False   # reset
    return False       # an answer (503?) or the end


# ---------------------------------------------------------------- checks

def single_thread(start_server):
    """One process, one thread, also with orders in the oven and
    customers connected."""
    server = start_server("--bake-ms", "300")
    assert len(server.threads()) == 1, server.threads()
    clients = [server.connect() for _ in range(4)]
    try:
        for c in clients:
            c.request("POST", "/order", body=pz.order_body("diavola"))
        time.sleep(0.1)   # all four in the oven now
        assert len(server.threads()) == 1, server.threads()
        assert server.children() == []
        for c in clients:
            r = c.read_response()
            assert r.status == 200, r
            assert r.json()["cook"] == f"pid {server.pid}"
    finally:
        for c in clients:
            c.close()
    assert len(server.threads()) == 1


def orders_overlap(start_server, k=8, bake_ms=300):
    """K customers order at once: one cook bakes them all together, so the
    last answer comes after about one bake, not K."""
    server = start_server("--bake-ms", str(bake_ms))
    clients = [server.connect(timeout=10) for _ in range(k)]
    try:
        t0 = time.monotonic()
        for c in clients:
            c.request("POST", "/order", body=pz.order_body("margherita"))
        receipts = [c.read_response(timeout=10).json() for c in clients]
        took = time.monotonic() - t0
    finally:
        for c in clients:
            c.close()
    assert took >= 0.9 * bake_ms / 1000, took
    assert took < 0.5 * k * bake_ms / 1000, (
        f"{k} orders of {bake_ms} ms took {took:.3f} s: not overlapped")
    assert sorted(r["order"] for r in receipts) == list(range(1, k + 1))
    assert all(r["baked_ms"] >= bake_ms for r in receipts), receipts


def serves_while_idle(start_server, n, bake_ms=50, extra_flags=()):
    """n silent customers sit at their tables; another customer's pages and
    orders are still answered promptly, and the silent ones are all still
    seated (not refused, not closed)."""
    raise_fd_limit(n + 200)   # the server inherits the raised limit
    server = start_server("--bake-ms", str(bake_ms), "--idle-timeout-ms",
                          "0", "--max-conns", str(n + 10), *extra_flags)
    assert server.fetch("GET", "/menu").status == 200   # fully open now
    baseline = settled_fd_count(server)
    socks = open_silent(server, n)
    try:
        assert pz.wait_until(lambda: server.fd_count() >= baseline + n,
                             10.0), (server.fd_count(), baseline, n)
        with server.connect() as c:
            t0 = time.monotonic()
            for _ in range(5):
                assert c.get("/menu").status == 200
                r = c.order("margherita")
                assert r.status == 200 and r.json()["baked_ms"] >= bake_ms
            took = time.monotonic() - t0
        assert took < 5 * bake_ms / 1000 + 3.0, took
        sample = socks[:: max(1, n // 50)]
        assert all(still_open(s) for s in sample), \
            "a silent customer was refused or closed"
    finally:
        close_all(socks)
    assert pz.wait_until(lambda: server.fd_count() <= baseline, 10.0), (
        server.fd_count(), baseline)


def slow_customers_do_not_delay_others(start_server):
    """A customer trickling one byte every 20 ms and a customer who sends
    2000 pipelined requests and never reads an answer: a third customer's
    twenty requests are answered as if they were not there."""
    server = start_server("--bake-ms", "0", "--idle-timeout-ms", "10000")
    trickler = server.connect()
    flooder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    flooder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stop = threading.Event()

    def trickle():
        raw = pz.request_bytes("GET", "/menu", {"X-Pad": "p" * 200})
        try:
            for byte in raw:
                if stop.wait(0.02):
                    return
                trickler.send(bytes([byte]))
        except OSError:
            pass

    flood = pz.request_bytes("GET", "/") * 2000

    def never_read():
        flooder.settimeout(3.0)
        try:
            flooder.sendall(flood)
        except OSError:
            pass   # the server stopped reading: that is the point

    try:
        flooder.connect((server.host, server.port))
        workers = [threading.Thread(target=trickle),
                   threading.Thread(target=never_read)]
        for w in workers:
            w.start()
        time.sleep(0.2)
        with server.connect() as c:
            t0 = time.monotonic()
            for i in range(20):
                r = c.order("margherita") if i % 5 == 4 else c.get("/menu")
                assert r.status == 200, r
            took = time.monotonic() - t0
        assert took < 2.0, f"20 requests took {took:.3f} s"
        assert server.alive()
    finally:
        stop.set()
        for w in workers:
            w.join(5)
        trickler.close()
        flooder.close()


def never_reader_is_held_back(start_server, tmp_path, n=4000):
    """Backpressure: a customer who sends n pipelined requests and reads
    nothing gets only as many parsed as the socket buffers hold answers
    for; the server stops reading that connection instead of piling up
    answers. Once the customer reads, every answer comes, in order and
    whole, and a request sent after that is heard too."""
    trace = tmp_path / "trace"
    server = start_server("--bake-ms", "0", "--trace", trace)
    flooder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    flooder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    flood = pz.request_bytes("GET", "/") * n
    finished = threading.Event()

    def send_everything():
        try:
            flooder.sendall(flood)
            finished.set()
        except OSError:
            pass

    flooder.connect((server.host, server.port))
    flooder.settimeout(20.0)
    writer = threading.Thread(target=send_everything)
    writer.start()
    try:
        time.sleep(1.0)
        parsed = events_of(trace, 1, "request")
        assert 0 < parsed < n // 2, (
            f"{parsed} of {n} requests parsed while the customer read "
            f"nothing: the server does not stop reading")
        reader = pz.Client.__new__(pz.Client)
        reader.sock, reader.buffer, reader.eof = flooder, b"", False
        reader.timeout = 20.0
        page = None
        for i in range(n):
            r = reader.read_response(timeout=10.0)
            assert r.status == 200, (i, r)
            # Every answer whole: one the socket took only in part goes
            # on from where it stopped, not from its start again.
            page = r.body if page is None else page
            assert r.body == page, f"answer {i} is not the page"
        assert finished.wait(5.0)
        # Held back and let go, the customer is still heard: a request
        # sent now, after the server stopped reading and started again,
        # is answered like the first.
        flooder.sendall(pz.request_bytes("GET", "/menu"))
        assert reader.read_response(timeout=5.0).status == 200
        assert events_of(trace, 1, "request") == n + 1
    finally:
        flooder.close()
        writer.join(5)


def no_descriptor_leak_after_bursts(start_server):
    """Bursts of customers who leave in every awkward state: with an order
    in the oven, in the middle of a pipelined batch of answers, halfway
    through a request. Every descriptor comes back."""
    server = start_server("--bake-ms", "200")
    assert server.fetch("GET", "/menu").status == 200
    baseline = settled_fd_count(server)
    order = pz.request_bytes("POST", "/order", body=pz.order_body("diavola"))
    batch = pz.request_bytes("GET", "/") * 50
    half = b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\npi"
    for round_ in range(4):
        clients = [server.connect() for _ in range(60)]
        for i, c in enumerate(clients):
            c.send([order, batch, half][i % 3])
        time.sleep(0.05)
        for i, c in enumerate(clients):
            c.reset() if i % 2 else c.close()
    with server.connect() as c:
        assert c.get("/menu").status == 200
        assert c.order("margherita").status == 200
    assert pz.wait_until(lambda: server.fd_count() <= baseline, 5.0), (
        f"{server.fd_count()} descriptors open, {baseline} at the start")
    assert server.fd_count() == baseline


def idle_timeout_closes_while_others_are_served(start_server, tmp_path):
    """--idle-timeout-ms 400: a silent customer is closed at about 400 ms
    and a customer who stopped reading a long answer when it stalls for
    400 ms, while a third, talking every 50 ms, is served throughout and
    never closed."""
    trace = tmp_path / "trace"
    server = start_server("--idle-timeout-ms", "400", "--bake-ms", "0",
                          "--trace", trace)
    silent = server.connect()                       # connection 1
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(5.0)
    try:
        t0 = time.monotonic()
        assert pz.wait_until(lambda: events_of(trace, 1, "accept"), 2.0)
        stalled.connect((server.host, server.port))  # connection 2
        stalled.sendall(pz.request_bytes("GET", "/") * 3000)
        with server.connect() as talker:            # connection 3
            silent_closed_at = None
            while time.monotonic() - t0 < 1.2:
                assert talker.get("/menu").status == 200
                if silent_closed_at is None and events_of(trace, 1, "close"):
                    silent_closed_at = time.monotonic() - t0
                time.sleep(0.05)
            assert not talker.is_closed_by_server(0.05)
        assert silent_closed_at is not None, "the silent customer is open"
        assert 0.3 <= silent_closed_at <= 1.2, silent_closed_at
        assert silent.is_closed_by_server(0.5)
        assert pz.wait_until(lambda: events_of(trace, 2, "close"), 2.0), \
            "a customer who stopped reading was never closed"
        assert events_of(trace, 2, "response") < 3000
    finally:
        silent.close()
        stalled.close()


def out_of_descriptors(start_server, step, limit=64, customers=120):
    """The server may hold only `limit` descriptors and more customers come:
    those it cannot seat are told 503 (or at worst closed), it does not spin
    (little CPU over a second), does not die, and serves again once they
    leave.

    A completion step (io_uring) is started under the limit: the kernel's
    accept job takes the limit in force when the job is handed over, and
    the door's job is handed over once, at opening (chapter 09)."""
    if step.get("completion"):
        server = start_server("--bake-ms", "0", "--idle-timeout-ms", "0",
                              nofile=limit)
    else:
        server = start_server("--bake-ms", "0", "--idle-timeout-ms", "0")
        resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (limit, limit))
    assert server.fetch("GET", "/menu").status == 200
    socks = open_silent(server, customers)
    try:
        time.sleep(0.5)
        assert_not_spinning(server, "with every descriptor in use")
        assert server.alive()
        answered = readable(socks, 1.0)
        assert len(answered) >= customers - limit, len(answered)
        for s in answered:
            s.settimeout(2.0)
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.1 503 "), data
    finally:
        close_all(socks)

    def served():
        try:
            return server.fetch("GET", "/menu", timeout=1.0).status == 200
        except AssertionError:
            return False
    assert pz.wait_until(served, 5.0), "not serving again after they left"


def door_past_the_kernel(start_server, step, limit=64):
    """A server whose own accept4 minds the door, and no crowd; or for a
    completion step, whose door is the kernel's accept job (which took the
    descriptor limit when it was handed over), one started under `limit`
    with a crowd of silent customers that used it up: the kernel's accept
    has failed (EMFILE) and the cook minds the door himself, with accept4,
    which heeds a limit lowered now."""
    if not step.get("completion"):
        server = start_server("--bake-ms", "0", "--idle-timeout-ms", "0")
        assert server.fetch("GET", "/menu").status == 200
        return server, []
    server = start_server("--bake-ms", "0", "--idle-timeout-ms", "0",
                          nofile=limit)
    assert server.fetch("GET", "/menu").status == 200
    crowd = open_silent(server, limit)
    readable(crowd, 1.0)  # the last few are told 503: the door was walked
    return server, crowd


def no_descriptor_to_spare(start_server, step, customers=5):
    """The descriptor limit is lowered below what the kitchen already
    holds, so not even giving up the spare makes room: accept fails for
    every customer who comes. The door says "try later" and shuts for a
    moment each time, so the cook neither spins (little CPU over a second)
    nor dies; once the limit is raised again, the customers who waited in
    the queue are seated and served."""
    server, crowd = door_past_the_kernel(start_server, step)
    limits = resource.prlimit(server.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (3, limits[1]))
    socks = []
    try:
        socks = open_silent(server, customers)
        time.sleep(0.3)
        busy_before = busy_seconds(server.pid)
        time.sleep(1.0)
        busy = busy_seconds(server.pid) - busy_before
        # A spinning cook is busy all the second, however crowded the
        # machine; one that waits only wakes when the door reopens.
        assert busy < 0.5, f"busy {busy:.2f} s of 1 s: spinning"
        assert server.alive()
        close_all(crowd)
        resource.prlimit(server.pid, resource.RLIMIT_NOFILE, limits)
        for s in socks:
            s.settimeout(5.0)
            s.sendall(pz.request_bytes("GET", "/menu"))
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
    finally:
        close_all(socks)


def past_fd_setsize(start_server, fd_setsize=1024, extra=80):
    """select cannot watch descriptor FD_SETSIZE or above: with --max-conns
    set higher, the customers who would get such a descriptor are told 503
    and closed, while the ones seated below it are still served, and a
    newcomer is seated again once some leave."""
    n = fd_setsize + extra
    raise_fd_limit(n + 200)   # the server inherits the raised limit
    server = start_server("--bake-ms", "0", "--idle-timeout-ms", "0",
                          "--max-conns", str(2 * n))
    assert server.fetch("GET", "/menu").status == 200
    socks = open_silent(server, n)
    try:
        refused = []
        deadline = time.monotonic() + 5.0
        while len(refused) < extra and time.monotonic() < deadline:
            ready = readable(socks, 0.5)
            refused = [s for s in ready if not still_open(s)]
        assert len(refused) >= extra, (len(refused), extra)
        assert len(refused) < extra + 40, (
            f"{len(refused)} refused: far more than the descriptors past "
            f"FD_SETSIZE")
        for s in refused[:20]:
            s.setblocking(True)
            s.settimeout(2.0)
            assert s.recv(4096).startswith(b"HTTP/1.1 503 ")
        seated = [s for s in socks[:50] if still_open(s)]
        assert len(seated) == 50, "an early customer was refused"
        for s in seated[:5]:
            s.setblocking(True)
            s.settimeout(5.0)
            s.sendall(pz.request_bytes("GET", "/menu"))
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert server.alive()
    finally:
        close_all(socks)

    def served():
        try:
            return server.fetch("GET", "/menu", timeout=1.0).status == 200
        except AssertionError:
            return False
    assert pz.wait_until(served, 5.0), "not serving again after they left"
