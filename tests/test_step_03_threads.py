"""Step 03, the threaded pizzeria: a cook (thread) for every customer, all
in one process.

What the architecture promises (and costs), as a client can see it: orders
from several customers bake at the same time; every receipt names the one
process and a thread of its own; the threads share one order counter, which
never hands out a number twice; a thread lives exactly as long as its
customer stays, so idle customers cost one thread each; --max-conns bounds
the threads (503 past it); and closing time stops every cook, also one
waiting at the oven or for a silent customer.
"""
import re
import signal
import threading
import time

import blocking
import pizzeria as pz

STEP = "03-threads"

COOK = re.compile(r"pid (\d+) tid (\d+)")


def orders_at_once(server, k, timeout=10):
    """k customers, each on its own connection, order at the same moment.
    Returns [(finished_at, response)] and the moment they started."""
    done = [None] * k
    barrier = threading.Barrier(k)

    def customer(i):
        with server.connect(timeout=timeout) as c:
            barrier.wait(timeout=5)
            r = c.order("margherita", timeout=timeout)
            done[i] = (time.monotonic(), r)

    workers = [threading.Thread(target=customer, args=(i,)) for i in range(k)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    return workers, done, t0


def cook_of(receipt):
    m = COOK.fullmatch(receipt["cook"])
    assert m, f"cook is not 'pid P tid T': {receipt}"
    return int(m.group(1)), int(m.group(2))


def test_concurrent_orders_overlap(start_server):
    """K orders of 300 ms from K customers at once take about one bake, not
    K: each customer has a cook of their own."""
    k, bake_ms = 4, 300
    server = start_server("--bake-ms", str(bake_ms))
    workers, done, t0 = orders_at_once(server, k)
    for w in workers:
        w.join(15)
    assert all(done), done
    assert all(r.status == 200 for _, r in done), done
    total = max(t for t, _ in done) - t0
    assert total < 0.5 * k * bake_ms / 1000, f"{k} orders took {total:.3f} s"
    for _, r in done:
        assert r.json()["baked_ms"] >= bake_ms, r.json()


def test_one_process_a_thread_per_customer(start_server):
    """Concurrent customers are served by distinct threads of the one server
    process: the receipts say so, and /proc/PID/task agrees while the
    orders are in the oven."""
    k, bake_ms = 4, 600
    server = start_server("--bake-ms", str(bake_ms))
    assert server.threads() == [server.pid]
    workers, done, _ = orders_at_once(server, k)
    seen = pz.wait_until(lambda: len(server.threads()) == 1 + k, 0.5)
    during = server.threads()
    for w in workers:
        w.join(15)
    assert seen, f"threads while {k} orders bake: {during}"
    assert server.children() == []
    cooks = [cook_of(r.json()) for _, r in done]
    assert {pid for pid, _ in cooks} == {server.pid}, cooks
    tids = [tid for _, tid in cooks]
    assert len(set(tids)) == k, f"cooks shared a thread: {tids}"
    assert server.pid not in tids, "the main thread cooked"
    assert set(tids) <= set(during), (tids, during)


def test_1000_orders_get_1000_distinct_numbers(start_server):
    """50 customers place 20 orders each, all at once: the shared, atomic
    counter gives out 1..1000, each number once."""
    clients, each = 50, 20
    server = start_server("--bake-ms", "0")
    numbers = [[] for _ in range(clients)]
    failures = []
    barrier = threading.Barrier(clients)

    def customer(i):
        try:
            with server.connect(timeout=20) as c:
                barrier.wait(timeout=10)
                for _ in range(each):
                    r = c.order("marinara", timeout=20)
                    assert r.status == 200, r
                    numbers[i].append(r.json()["order"])
        except Exception as e:  # reported below, with the others
            failures.append(repr(e))

    workers = [threading.Thread(target=customer, args=(i,))
               for i in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not failures, failures[:5]
    taken = sorted(n for per_customer in numbers for n in per_customer)
    assert len(taken) == clients * each
    assert taken == list(range(1, clients * each + 1)), (
        f"{len(taken) - len(set(taken))} numbers handed out twice")


def test_max_conns_bounds_the_cooks(start_server):
    """With --max-conns 2 and two orders in the oven, a third customer gets
    503 at once (not after the bake), no third cook is hired, and once
    the two leave the next customer is served."""
    server = start_server("--max-conns", "2", "--bake-ms", "800")
    a, b = server.connect(), server.connect()
    try:
        a.request("POST", "/order", body=pz.order_body("diavola"))
        b.request("POST", "/order", body=pz.order_body("diavola"))
        assert pz.wait_until(lambda: len(server.threads()) == 3, 2.0), \
            server.threads()
        started = time.monotonic()
        with server.connect() as c:
            r = c.read_response(timeout=3.0)
            assert r.status == 503, r
            assert r.closes
            assert c.is_closed_by_server(1.0)
        assert time.monotonic() - started < 0.6, "503 waited for the oven"
        assert len(server.threads()) == 3, server.threads()
        assert a.read_response(timeout=3.0).status == 200
        assert b.read_response(timeout=3.0).status == 200
    finally:
        a.close()
        b.close()
    assert pz.wait_until(lambda: len(server.threads()) == 1, 3.0), \
        server.threads()
    with server.connect() as c:
        r = c.order("margherita", timeout=5.0)
        assert r.status == 200, r


def test_sigterm_with_orders_in_the_oven_and_silent_customers(start_server,
                                                               tmp_path):
    """Closing time while three cooks wait at the oven (5 s bakes) and two
    wait for customers who say nothing: exit 0 within 2 s (stop() asserts
    it), every connection closed. And not by the exit: every cook woke up
    (the bell, or its socket shut down) and closed its own connection, as
    the trace shows, well before the grace period ran out."""
    trace = tmp_path / "trace"
    server = start_server("--bake-ms", "5000", "--trace", trace)
    ovens = [server.connect() for _ in range(3)]
    silent = [server.connect() for _ in range(2)]
    try:
        for c in ovens:
            c.request("POST", "/order", body=pz.order_body("margherita"))

        def all_in():
            text = trace.read_text() if trace.exists() else ""
            return text.count(" oven-in ") == 3 and text.count(" accept ") == 5
        assert pz.wait_until(all_in, 3.0), trace.read_text()
        assert len(server.threads()) == 6, server.threads()
        taken = server.stop(signal.SIGTERM)
        assert taken < 1.0, f"cooks took {taken:.3f} s to notice closing time"
        for c in ovens + silent:
            assert c.is_closed_by_server(1.0), "connection left open"
        closes = [line for line in trace.read_text().splitlines()
                  if " close " in line]
        assert len(closes) == 5, trace.read_text()
    finally:
        for c in ovens + silent:
            c.close()


def test_a_silent_customer_does_not_delay_others(start_server):
    """A customer who connects and says nothing holds only their own cook:
    the next customer is answered at once, long before the idle timeout."""
    server = start_server("--idle-timeout-ms", "3000", "--bake-ms", "0")
    with server.connect() as silent:
        time.sleep(0.1)            # a cook is now waiting on the silent one
        started = time.monotonic()
        with server.connect() as other:
            assert other.get("/menu", timeout=3.0).status == 200
        waited = time.monotonic() - started
        assert waited < 1.0, f"the second customer waited {waited:.3f} s"
        assert not silent.is_closed_by_server(0.1)


def test_idle_customers_cost_a_thread_each(start_server):
    """20 customers who stay connected (keep-alive, idle) keep 20 cook
    threads alive; when they leave, the threads end: back to the main
    thread alone."""
    n = 20
    server = start_server("--bake-ms", "0")
    assert len(server.threads()) == 1, server.threads()
    customers = []
    try:
        for _ in range(n):
            c = server.connect()
            customers.append(c)
            assert c.get("/menu").status == 200   # its cook is running
        assert pz.wait_until(lambda: len(server.threads()) == 1 + n, 2.0), \
            server.threads()
    finally:
        for c in customers:
            c.close()
    assert pz.wait_until(lambda: len(server.threads()) == 1, 3.0), \
        server.threads()


def test_out_of_descriptors_the_door_waits(start_server):
    blocking.door_waits_when_out_of_descriptors(start_server)
