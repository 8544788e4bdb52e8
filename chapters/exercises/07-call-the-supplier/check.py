"""Exercise 07-call-the-supplier (chapter 07): GET /supplier answers 200
with the supplier's JSON, {"supplier": ..., "call_ms": ...}, once the
supplier has answered the phone (supplier_call(), which blocks for
call_ms). While the supplier talks, every other customer is served as
if nobody were on the phone: the call is made on a helper thread, and its
answer comes back to the cook through the loop. A customer who hangs up
before the supplier answers costs nobody else anything."""
import threading
import time

import pizzeria

STEP = "07"

# The supplier takes half a second (SUPPLIER_CALL_MS). A cook on the
# phone stalls the others for all of it; one who is not answers a menu in
# a millisecond or two. A quarter of a second leaves room on both sides,
# on a crowded machine too.
STALL_S = 0.25


def ask_the_supplier(client, timeout=5.0):
    started = time.monotonic()
    response = client.exchange("GET", "/supplier", timeout=timeout)
    waited = time.monotonic() - started
    assert response.status == 200, (
        f"expected 200 for GET /supplier; got {response.status} "
        f"{response.reason} {response.body!r}")
    answer = response.json()
    assert "supplier" in answer and "call_ms" in answer, (
        f"expected the supplier's own answer, with supplier and call_ms; "
        f"got {answer}")
    return answer, waited


def test_the_supplier_answers_in_their_own_time(serve):
    server = serve("07")
    with server.connect() as client:
        answer, waited = ask_the_supplier(client)
        called = answer["call_ms"] / 1000
        assert waited >= 0.8 * called, (
            f"the supplier takes {called:.2f} s to answer, but GET /supplier "
            f"came back in {waited:.3f} s: was the supplier called?")
        # The same customer may ask again, on the same connection.
        ask_the_supplier(client)


def test_others_are_served_while_the_supplier_talks(serve):
    server = serve("07")
    callers = [server.connect() for _ in range(2)]
    answers = {}

    def call(i):
        answers[i] = ask_the_supplier(callers[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.1)   # both calls are under way
        slowest = 0.0
        with server.connect() as other:
            for _ in range(3):
                started = time.monotonic()
                menu = other.get("/menu", timeout=5.0)
                slowest = max(slowest, time.monotonic() - started)
                assert menu.status == 200, f"GET /menu: {menu.status}"
        assert slowest < STALL_S, (
            f"with two customers waiting on the supplier, GET /menu took "
            f"{slowest:.3f} s for another customer; expected well under "
            f"{STALL_S} s: is the cook waiting on the phone?")
        for t in threads:
            t.join(timeout=10)
        assert sorted(answers) == [0, 1], (
            f"expected both callers to hear from the supplier; "
            f"{len(answers)} did")
    finally:
        for c in callers:
            c.close()


def test_a_customer_who_hangs_up_costs_nobody(serve):
    server = serve("07")
    for _ in range(3):
        gone = server.connect()
        gone.request("GET", "/supplier")
        gone.reset()          # gone before the supplier answers
    time.sleep(0.6)           # their answers come back to empty tables
    with server.connect() as client:
        menu = client.get("/menu", timeout=5.0)
        assert menu.status == 200, (
            f"after customers hung up on the supplier, GET /menu got "
            f"{menu.status}")
        ask_the_supplier(client)
