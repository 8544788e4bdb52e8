"""Step 02, the forking pizzeria: a cook (a child process) per customer.

What the architecture promises (and costs), as a client and /proc can see
it: orders from several customers bake at the same time, each in its own
process whose pid is the cook; a silent customer holds up no one; every
connection costs a process, counted against --max-conns; cooks who go home
are reaped at once (no zombie), and closing time leaves no cook behind.
"""
import signal
import threading
import time

import blocking
import pizzeria as pz

STEP = "02-fork"


def cook_pid(receipt):
    kind, pid = receipt["cook"].split()
    assert kind == "pid", receipt
    return int(pid)


def live_children(server):
    return [pid for pid, state in server.children() if state != "Z"]


def zombies(server):
    return [pid for pid, state in server.children() if state == "Z"]


def order_at_once(server, k, timeout=10):
    """K customers, each on its own connection, order at the same moment.
    Returns (seconds until the last answer, [receipt, ...])."""
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
    for w in workers:
        w.join(timeout + 5)
    assert all(done), done
    assert all(r.status == 200 for _, r in done), done
    return max(t for t, _ in done) - t0, [r.json() for _, r in done]


def test_concurrent_orders_bake_together_each_in_its_own_cook(start_server):
    """K orders of 300 ms from K customers at once take well under K bakes;
    each is cooked by a different process (not the host), and each cook
    numbers its own orders from 1: the kitchen is a copy, not shared."""
    k, bake_ms = 4, 300
    server = start_server("--bake-ms", str(bake_ms))
    total, receipts = order_at_once(server, k)
    assert total < 0.6 * k * bake_ms / 1000, (
        f"{k} orders of {bake_ms} ms took {total:.3f} s: not overlapped")
    cooks = [cook_pid(r) for r in receipts]
    assert len(set(cooks)) == k, f"cooks shared between customers: {cooks}"
    assert server.pid not in cooks, "the host cooked an order itself"
    assert all(r["baked_ms"] >= bake_ms for r in receipts), receipts
    assert [r["order"] for r in receipts] == [1] * k, (
        "every cook's copy of the kitchen starts counting at 1: "
        f"{[r['order'] for r in receipts]}")


def test_a_cook_serves_every_request_of_its_customer(start_server):
    """Keep-alive: one connection, one cook, its own order numbers."""
    server = start_server("--bake-ms", "0")
    with server.connect() as c:
        receipts = [c.order("diavola").json() for _ in range(3)]
    assert len({r["cook"] for r in receipts}) == 1, receipts
    assert [r["order"] for r in receipts] == [1, 2, 3], receipts


def test_each_connection_costs_a_process_until_it_leaves(start_server):
    """N idle customers: N cooks in /proc, each a child of the host; when
    they leave, the cooks go home and are reaped (no zombie left)."""
    n = 20
    server = start_server("--bake-ms", "0")
    assert server.children() == []
    clients = [server.connect() for _ in range(n)]
    try:
        assert pz.wait_until(lambda: len(live_children(server)) == n, 3.0), (
            f"{len(live_children(server))} cooks for {n} customers")
        time.sleep(0.2)
        assert len(server.children()) == n, server.children()
        assert clients[0].get("/menu").status == 200
    finally:
        for c in clients:
            c.close()
    assert pz.wait_until(lambda: server.children() == [], 3.0), (
        f"left after the customers left: {server.children()}")


def test_no_zombie_during_or_after_a_burst(start_server):
    """A burst of short visits, several at a time: a cook who went home is
    reaped within moments while the burst goes on, and when it is over
    there is no child at all, not even one that left while the host was
    waiting at the door."""
    server = start_server("--bake-ms", "5")
    seen_zombies = {}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            now = time.monotonic()
            for pid in zombies(server):
                seen_zombies.setdefault(pid, now)
            for pid, since in list(seen_zombies.items()):
                if pid not in zombies(server):
                    del seen_zombies[pid]
                else:
                    assert now - since < 0.5, f"zombie {pid} for 0.5 s"
            time.sleep(0.01)

    failures = []

    def guarded_watch():
        try:
            watch()
        except AssertionError as e:
            failures.append(e)

    watcher = threading.Thread(target=guarded_watch)
    watcher.start()
    try:
        def visits(count):
            for _ in range(count):
                with server.connect() as c:
                    assert c.order("marinara").status == 200
        workers = [threading.Thread(target=visits, args=(10,))
                   for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(20)
    finally:
        stop.set()
        watcher.join(5)
    assert not failures, failures
    # The last cooks leave while the host sits in accept: the reaping must
    # not wait for a next customer.
    assert pz.wait_until(lambda: server.children() == [], 1.0), (
        f"after the burst: {server.children()}")


def test_max_conns_counts_cooks_503_then_recovers(start_server):
    """--max-conns 2: two customers keep two cooks busy; the third gets 503
    from the host without a cook being hired; when the first two leave, a
    new customer is served again."""
    server = start_server("--max-conns", "2", "--bake-ms", "0")
    a, b = server.connect(), server.connect()
    try:
        assert a.get("/menu").status == 200
        assert b.get("/menu").status == 200
        with server.connect() as c:
            r = c.read_response(timeout=3.0)
            pz.assert_error(r, 503)
            assert r.closes
        assert len(live_children(server)) == 2, server.children()
    finally:
        a.close()
        b.close()

    def served():
        with server.connect() as c:
            c.request("GET", "/menu")
            return c.read_response(timeout=3.0).status == 200
    assert pz.wait_until(served, 3.0), "no recovery after the customers left"


def test_a_silent_customer_holds_up_no_one(start_server):
    """A connects and says nothing: its cook waits on it, and B, who comes
    after, is answered at once by a cook of its own."""
    server = start_server("--idle-timeout-ms", "5000", "--bake-ms", "0")
    with server.connect() as a:
        time.sleep(0.1)
        with server.connect() as b:
            t0 = time.monotonic()
            r = b.get("/menu", timeout=3.0)
            waited = time.monotonic() - t0
        assert r.status == 200, r
        assert waited < 1.0, f"B waited {waited:.3f} s behind a silent A"
        assert not a.is_closed_by_server(0.1), "A was closed early"


def test_sigterm_with_orders_in_the_oven_sends_every_cook_home(start_server):
    """Closing time with three orders of 5 s in the oven and two customers
    sitting idle on open connections: the host exits 0 within 2 s and no
    cook is left (stop() asserts both); every customer's connection is
    closed."""
    server = start_server("--bake-ms", "5000")
    clients = []
    try:
        for _ in range(3):
            c = server.connect()
            c.request("POST", "/order", body=pz.order_body("margherita"))
            clients.append(c)
        for _ in range(2):
            c = server.connect()
            assert c.get("/menu").status == 200
            clients.append(c)
        assert pz.wait_until(lambda: len(live_children(server)) == 5, 3.0)
        time.sleep(0.1)  # the orders are in the oven
        taken = server.stop(signal.SIGTERM)
        assert taken < 2.0, taken
        for c in clients:
            assert c.is_closed_by_server(1.0)
    finally:
        for c in clients:
            c.close()


def test_out_of_descriptors_the_door_waits(start_server):
    blocking.door_waits_when_out_of_descriptors(start_server)
