"""Exercise 09-oven-on-a-heap (chapter 09): step 09 keeps every deadline
(the ovens, the customers' patience) on one heap, step 07's timer_heap.c,
and hands the kernel one timeout job, the alarm, for the soonest of them,
instead of a timeout job per table. At closing time it says, on a line of
its own,

    pizzeria: timer jobs in the kernel at most: K

and with a hundred pizzas in the ovens at once K stays at one or two.
The ovens still ring on time, an idle customer is still shown out at the
end of their patience, and a customer who leaves mid-bake leaves nothing
behind."""
import re
import time

import pizzeria

STEP = "09"
TIMER_JOBS = re.compile(r"timer jobs in the kernel at most: (\d+)")


def most_timer_jobs(server):
    server.stop()
    said = server.stderr_text()
    found = TIMER_JOBS.search(said)
    assert found, (
        "expected a line 'timer jobs in the kernel at most: K' on stderr at "
        f"closing time; the pizzeria said:\n{said[-800:]}")
    return int(found.group(1))


def order_bytes():
    return pizzeria.request_bytes(
        "POST", "/order", {"Content-Type": pizzeria.FORM},
        body=pizzeria.order_body("margherita"))


def test_a_hundred_ovens_one_timer_job(serve):
    bake_ms = 300
    server = serve("09", "--bake-ms", str(bake_ms))
    customers = [server.connect() for _ in range(100)]
    try:
        for customer in customers:
            customer.send(order_bytes())
        for i, customer in enumerate(customers):
            receipt = customer.read_response(timeout=10)
            assert receipt.status == 200, (
                f"expected customer {i + 1}'s pizza; got {receipt.status}")
            assert receipt.json()["baked_ms"] >= bake_ms, (
                f"expected a pizza baked {bake_ms} ms; got "
                f"{receipt.json()['baked_ms']} ms")
    finally:
        for customer in customers:
            customer.close()
    most = most_timer_jobs(server)
    assert 1 <= most <= 2, (
        f"expected one timer job in the kernel for a hundred ovens (two for "
        f"a moment at most); there were up to {most}")


def test_an_idle_customer_is_still_shown_out(serve):
    server = serve("09", "--bake-ms", "0", "--idle-timeout-ms", "300")
    with server.connect() as talker, server.connect() as silent:
        assert talker.get("/menu").status == 200
        started = time.monotonic()
        assert silent.is_closed_by_server(3.0), (
            "expected a silent customer shown out after 300 ms; they were "
            "still seated 3 s later")
        assert time.monotonic() - started < 2.0, (
            "expected a silent customer shown out soon after 300 ms")
    most_timer_jobs(server)


def test_leaving_mid_bake_leaves_nothing_behind(serve):
    server = serve("09", "--bake-ms", "300")
    for _ in range(20):
        customer = server.connect()
        customer.send(order_bytes())
        customer.close()
    with server.connect() as customer:
        receipt = customer.order("margherita")
        assert receipt.status == 200, (
            f"expected the kitchen to go on baking; got {receipt.status}")
    assert most_timer_jobs(server) <= 2
