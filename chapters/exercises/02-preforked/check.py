"""Exercise 02-preforked (chapter 02): four cooks hired at opening time,
each taking customers from the shared door; the same four serve every
customer, and the pizzeria still stops cleanly."""
import threading
import time

import pizzeria

STEP = "02"
COOKS = 4


def cooks_at_work(server):
    return sorted(pid for pid, state in server.children() if state != "Z")


def cook_of(receipt):
    return int(receipt["cook"].split()[1])


def test_four_cooks_are_at_work_before_the_first_customer(serve):
    server = serve("02", "--bake-ms", "0")
    assert pizzeria.wait_until(lambda: len(cooks_at_work(server)) == COOKS,
                               3.0), (
        f"expected {COOKS} cooks at work before the first customer; the "
        f"host has {len(cooks_at_work(server))}")


def test_thirty_customers_are_served_by_the_same_few_cooks(serve):
    server = serve("02", "--bake-ms", "0")
    cooks = set()
    for _ in range(30):
        with server.connect() as customer:
            answer = customer.order("margherita")
            assert answer.status == 200, (
                f"expected 200 for an order; got {answer.status} "
                f"{answer.reason} {answer.body!r}")
            cooks.add(cook_of(answer.json()))
    assert len(cooks) <= COOKS, (
        f"expected 30 customers served by the same {COOKS} cooks; they met "
        f"{len(cooks)} different cooks")
    assert server.pid not in cooks, (
        "expected only the hired cooks to cook; the host cooked too")


def test_four_orders_still_bake_together(serve):
    server = serve("02", "--bake-ms", "300")
    done = []
    barrier = threading.Barrier(COOKS)

    def customer():
        with server.connect(timeout=10) as c:
            barrier.wait(timeout=5)
            done.append(c.order("diavola", timeout=10).status)

    workers = [threading.Thread(target=customer) for _ in range(COOKS)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join(15)
    took = time.monotonic() - started
    assert done == [200] * COOKS, (
        f"expected {COOKS} orders at once all served with 200; the answers "
        f"were {done}")
    assert took < 0.6 * COOKS * 0.3, (
        f"expected {COOKS} orders of 0.3 s each to bake side by side, in "
        f"well under {0.6 * COOKS * 0.3:.2f} s; they took {took:.2f} s")
