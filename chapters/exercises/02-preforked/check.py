"""Exercise 02-preforked (chapter 02): four cooks hired at opening time,
each taking customers from the shared door; the same four serve every
customer, and the pizzeria still stops cleanly."""
import threading
import time

import pizzeria

COOKS = 4


def cooks_at_work(server):
    return sorted(pid for pid, state in server.children() if state != "Z")


def cook_of(receipt):
    return int(receipt["cook"].split()[1])


def test_four_cooks_are_at_work_before_the_first_customer(serve):
    server = serve("02", "--bake-ms", "0")
    assert pizzeria.wait_until(lambda: len(cooks_at_work(server)) == COOKS,
                               3.0), (
        f"before any customer: cooks {server.children()}, want {COOKS}")


def test_thirty_customers_are_served_by_the_same_few_cooks(serve):
    server = serve("02", "--bake-ms", "0")
    cooks = set()
    for _ in range(30):
        with server.connect() as customer:
            answer = customer.order("margherita")
            assert answer.status == 200, answer
            cooks.add(cook_of(answer.json()))
    assert len(cooks) <= COOKS, (
        f"30 customers met {len(cooks)} different cooks, want at most "
        f"{COOKS}")
    assert server.pid not in cooks, "the host cooked"


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
    assert done == [200] * COOKS, done
    assert took < 0.6 * COOKS * 0.3, f"{COOKS} orders took {took:.3f} s"
