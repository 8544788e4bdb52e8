"""Exercise 03-thread-pool (chapter 03): four cooks hired at opening time,
and a queue between the door and them. Twice as many customers as cooks
are all served, by those four cooks, with no fifth cook ever hired; and
closing time still sends everyone home."""
import re
import threading
import time

import pizzeria

STAFF = 4


def cook_tid(receipt):
    found = re.fullmatch(r"pid \d+ tid (\d+)", receipt["cook"])
    assert found, f"not a threaded cook: {receipt}"
    return int(found.group(1))


def test_four_cooks_serve_eight_customers(serve):
    server = serve("03", "--bake-ms", "300")
    assert pizzeria.wait_until(lambda: len(server.threads()) == 1 + STAFF,
                               2.0), \
        f"threads before the first customer: {server.threads()}"
    k = 2 * STAFF
    receipts = [None] * k
    counts = []
    barrier = threading.Barrier(k)

    def customer(i):
        with server.connect(timeout=10) as c:
            barrier.wait(timeout=5)
            r = c.order("margherita", timeout=10)
            assert r.status == 200, r
            receipts[i] = r.json()

    workers = [threading.Thread(target=customer, args=(i,)) for i in range(k)]
    for w in workers:
        w.start()
    while any(w.is_alive() for w in workers):
        counts.append(len(server.threads()))
        time.sleep(0.02)
    assert all(receipts), f"not every customer was served: {receipts}"
    assert set(counts) == {1 + STAFF}, f"thread counts seen: {sorted(set(counts))}"
    cooks = {cook_tid(r) for r in receipts}
    assert len(cooks) <= STAFF, f"{len(cooks)} different cooks: {cooks}"
    assert len(server.threads()) == 1 + STAFF


def test_closing_time_with_busy_cooks_and_a_full_queue(serve):
    server = serve("03", "--bake-ms", "5000")
    customers = [server.connect() for _ in range(3 * STAFF)]
    try:
        for c in customers:
            c.request("POST", "/order", body=pizzeria.order_body("diavola"))
        time.sleep(0.5)
        taken = server.stop()
        assert taken < 2.0
    finally:
        for c in customers:
            c.close()
