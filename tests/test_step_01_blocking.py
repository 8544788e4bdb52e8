"""Step 01, the blocking pizzeria: one cook, one customer at a time.

What the architecture promises (and costs), as a client can see it:
orders from several customers are baked one after the other; a customer
who says nothing holds everyone else up until the idle timeout; and the
whole pizzeria is one process with one thread.
"""
import threading
import time

import blocking
import pizzeria as pz

STEP = "01-blocking"


def test_concurrent_orders_are_serialised(start_server):
    """K customers order at the same moment: the answers come one bake
    apart, K bakes in all."""
    k, bake_ms = 4, 200
    bake = bake_ms / 1000
    server = start_server("--bake-ms", str(bake_ms))
    done = [None] * k
    barrier = threading.Barrier(k)

    def customer(i):
        with server.connect(timeout=10) as c:
            barrier.wait(timeout=5)
            r = c.order("margherita", timeout=10)
            done[i] = (time.monotonic(), r)

    workers = [threading.Thread(target=customer, args=(i,)) for i in range(k)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join(15)
    assert all(done), done
    receipts = [r.json() for _, r in done]
    assert all(r.status == 200 for _, r in done)
    total = max(t for t, _ in done) - t0
    assert total >= 0.9 * k * bake, f"{k} orders in {total:.3f} s: overlapped"
    for receipt in receipts:
        assert receipt["baked_ms"] >= bake_ms, receipt
        assert receipt["cook"] == f"pid {server.pid}", receipt
    assert sorted(r["order"] for r in receipts) == list(range(1, k + 1))
    finished = sorted(t for t, _ in done)
    gaps = [b - a for a, b in zip(finished, finished[1:])]
    assert all(g >= 0.5 * bake for g in gaps), f"answers not a bake apart: {gaps}"


def test_silent_customer_delays_the_next_until_idle_timeout(start_server):
    """Customer A connects and says nothing; customer B, arriving just
    after, is answered only once A's 600 ms idle deadline closes A."""
    server = start_server("--idle-timeout-ms", "600", "--bake-ms", "0")
    a = server.connect()
    try:
        t_a = time.monotonic()
        time.sleep(0.1)            # the cook is now waiting on A
        with server.connect() as b:
            b.request("GET", "/menu")
            r = b.read_response(timeout=5.0)
            t_b = time.monotonic()
            assert r.status == 200, r
        assert t_b - t_a >= 0.5, f"B answered {t_b - t_a:.3f} s after A came"
        assert a.is_closed_by_server(0.5), "A should have been closed by now"
    finally:
        a.close()


def test_a_customer_is_served_only_after_the_previous_one_leaves(start_server):
    """While A keeps its connection open (keep-alive), B waits in the
    backlog; the moment A leaves, B is answered."""
    server = start_server("--bake-ms", "0")
    with server.connect() as a:
        assert a.get("/menu").status == 200
        b = server.connect()
        try:
            b.request("GET", "/menu")
            try:
                early = b.read_response(timeout=0.4)
            except pz.ResponseTimeout:
                early = None
            assert early is None, f"B served while A was connected: {early!r}"
            a.close()
            assert b.read_response(timeout=5.0).status == 200
        finally:
            b.close()


def test_one_process_one_thread(start_server):
    server = start_server("--bake-ms", "300")
    assert len(server.threads()) == 1, server.threads()
    assert server.children() == []
    with server.connect() as c:
        c.request("POST", "/order", body=pz.order_body("diavola"))
        time.sleep(0.1)            # in the oven now
        assert len(server.threads()) == 1, server.threads()
        assert server.children() == []
        r = c.read_response()
        assert r.status == 200
        assert r.json()["cook"] == f"pid {server.pid}"
    assert len(server.threads()) == 1


def test_out_of_descriptors_the_door_waits(start_server):
    blocking.door_waits_when_out_of_descriptors(start_server)
