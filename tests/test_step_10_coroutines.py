"""Step 10, coroutines: every visit a stackless coroutine on step 07's loop.

What the step promises, as a client (and /proc) can see it: one process
with one thread, waiting on step 07's tablet (an epoll descriptor); the
visits interleave, so ten orders bake at once however the recipe reads;
and every promise of step 07's kitchen, kept by the same tests run
against this step: pipelined requests wait their turn behind an order,
the oven rings on time, a customer who leaves mid-bake leaves no oven
ringing, an order in the oven and an idle customer hold no buffer,
closing time mid-bake is prompt, a greedy pipeline leaves room for
others. What every one-cook step promises alike is in test_readiness.py;
the contract in test_protocol.py.
"""
import os
import threading
import time

import pizzeria as pz
# Step 07's promises, collected here again and run against this step.
from test_step_07_state_machine import (  # noqa: F401
    test_a_greedy_pipeline_leaves_room_for_others,
    test_an_idle_customer_holds_no_buffer_and_no_ticket,
    test_an_order_in_the_oven_holds_no_input_buffer,
    test_baked_ms_is_the_bake_time,
    test_closing_time_mid_bake,
    test_leaving_while_baking_cancels_the_oven,
    test_pipelined_requests_behind_an_order_wait_their_turn,
)

STEP = "10-coroutines"


def descriptor_kinds(pid):
    kinds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            kinds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return kinds


def test_one_thread_on_step_07s_tablet(start_server):
    """The coroutines are not threads: the kitchen is one thread, before,
    during and after a bake, and it waits on an epoll descriptor (step
    07's loop), not on a descriptor per order."""
    server = start_server("--bake-ms", "300")
    assert len(server.threads()) == 1, server.threads()
    clients = [server.connect() for _ in range(5)]
    try:
        for c in clients:
            c.request("POST", "/order", body=pz.order_body("margherita"))
        time.sleep(0.1)  # the orders are in the oven
        assert len(server.threads()) == 1, server.threads()
        kinds = descriptor_kinds(server.pid)
        assert sum("eventpoll" in k for k in kinds) == 1, kinds
        assert not [k for k in kinds if "timerfd" in k], kinds
        for c in clients:
            assert c.read_response().status == 200
    finally:
        for c in clients:
            c.close()
    assert len(server.threads()) == 1, server.threads()


def test_ten_orders_bake_at_once(start_server):
    """Ten customers order at the same moment, a one-second bake each. A
    visit that waits at its oven await returns to the loop, so the other
    nine are taken meanwhile: all ten are answered in a little over one
    second, not ten (the bound, five, leaves room for a slow machine)."""
    bake_ms, n = 1000, 10
    server = start_server("--bake-ms", str(bake_ms))
    answers, failures = [], []

    def order():
        try:
            with server.connect() as c:
                answers.append(c.order("margherita"))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)

    started = time.monotonic()
    customers = [threading.Thread(target=order) for _ in range(n)]
    for t in customers:
        t.start()
    for t in customers:
        t.join(15)
    took = time.monotonic() - started
    assert not failures, failures
    assert len(answers) == n
    for r in answers:
        assert r.status == 200
        assert r.json()["baked_ms"] >= bake_ms
    assert bake_ms / 1000 <= took < 5.0, f"{n} orders took {took:.2f} s"
    numbers = sorted(r.json()["order"] for r in answers)
    assert numbers == list(range(numbers[0], numbers[0] + n))
