"""Exercise 03-thread-pool (chapter 03): four cooks hired at opening time,
and a queue between the door and them. Twice as many customers as cooks
are all served, by those four cooks, with no fifth cook ever hired; and
closing time still sends everyone home."""
import re
import threading
import time

import pizzeria

STEP = "03"
STAFF = 4


def cook_tid(receipt):
    found = re.fullmatch(r"pid \d+ tid (\d+)", receipt["cook"])
    assert found, (
        f"expected a receipt from a cook thread, 'pid P tid T'; this one "
        f"says cook {receipt['cook']!r}")
    return int(found.group(1))


def test_four_cooks_serve_eight_customers(serve):
    server = serve("03", "--bake-ms", "300")
    assert pizzeria.wait_until(lambda: len(server.threads()) == 1 + STAFF,
                               2.0), (
        f"expected 1 + {STAFF} threads (the host and its cooks) before the "
        f"first customer; there are {len(server.threads())}")
    k = 2 * STAFF
    receipts = [None] * k
    counts = []
    barrier = threading.Barrier(k)

    def customer(i):
        with server.connect(timeout=10) as c:
            barrier.wait(timeout=5)
            r = c.order("margherita", timeout=10)
            if r.status == 200:
                receipts[i] = r.json()

    workers = [threading.Thread(target=customer, args=(i,)) for i in range(k)]
    for w in workers:
        w.start()
    while any(w.is_alive() for w in workers):
        counts.append(len(server.threads()))
        time.sleep(0.02)
    served = sum(1 for r in receipts if r)
    assert served == k, (
        f"expected all {k} customers served; {served} got a receipt")
    assert set(counts) == {1 + STAFF}, (
        f"expected 1 + {STAFF} threads all through the rush; counts seen: "
        f"{sorted(set(counts))}")
    cooks = {cook_tid(r) for r in receipts}
    assert len(cooks) <= STAFF, (
        f"expected the {STAFF} cooks to serve everyone; {len(cooks)} "
        f"different cooks did")
    assert len(server.threads()) == 1 + STAFF, (
        f"expected 1 + {STAFF} threads after the rush; there are "
        f"{len(server.threads())}")


def test_closing_time_with_busy_cooks_and_a_full_queue(serve):
    server = serve("03", "--bake-ms", "5000")
    customers = [server.connect() for _ in range(3 * STAFF)]
    try:
        for c in customers:
            c.request("POST", "/order", body=pizzeria.order_body("diavola"))
        time.sleep(0.5)
        taken = server.stop()
        assert taken < 2.0, (
            f"expected closing time within 2 s with busy cooks and a full "
            f"queue; it took {taken:.1f} s")
    finally:
        for c in customers:
            c.close()
