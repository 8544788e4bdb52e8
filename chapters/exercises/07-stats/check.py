"""Exercise 07-stats (chapter 07): GET /stats answers 200 with
application/json, {"customers":C,"baking":B,"timers":T}: the customers
seated (the one asking included), the orders in the oven right now, and
the timers on the loop's heap. Every seated customer waits for a deadline
of some kind (the idle timeout, the oven), so with the idle timeout on
there are as many timers as customers; with it off (--idle-timeout-ms 0),
only the ovens ring."""
import pizzeria

STEP = "07"


def stats(client):
    response = client.get("/stats")
    assert response.status == 200, (
        f"expected 200 for GET /stats; got {response.status} "
        f"{response.reason} {response.body!r}")
    kind = response.headers.get("Content-Type")
    assert kind == "application/json", (
        f"expected GET /stats to say Content-Type: application/json; it "
        f"says {kind}")
    return response.json()


def settles_at(client, expected, timeout=2.0):
    """Ask until the answer is the one expected: the kitchen sees orders
    arrive and customers leave a moment after the client does. The last
    answer, for the assertion's message."""
    seen = []

    def asked():
        seen.append(stats(client))
        return seen[-1] == expected

    pizzeria.wait_until(asked, timeout=timeout, interval=0.05)
    return seen[-1]


def seat(server, idle, ordering, pizza):
    """Seat idle customers who say nothing, and customers whose order goes
    into the oven."""
    idlers = [server.connect() for _ in range(idle)]
    bakers = [server.connect() for _ in range(ordering)]
    for c in bakers:
        c.request("POST", "/order", body=pizzeria.order_body(pizza))
    return idlers, bakers


def test_stats_follow_the_oven_and_the_door(serve):
    server = serve("07", "--bake-ms", "2000")
    idlers, bakers = seat(server, 5, 3, "margherita")
    asker = server.connect()
    try:
        busy = {"customers": 9, "baking": 3, "timers": 9}
        seen = settles_at(asker, busy)
        assert seen == busy, (
            f"with 5 idle, 3 baking and the asker seated, expected {busy}; "
            f"the stats say {seen}")
        for c in bakers:
            receipt = c.read_response(timeout=5.0)
            assert receipt.status == 200, (
                f"expected every order served; got {receipt.status} "
                f"{receipt.reason}")
        # Out of the oven: still seated, waiting now for their patience.
        served = {"customers": 9, "baking": 0, "timers": 9}
        seen = settles_at(asker, served)
        assert seen == served, (
            f"with the pizzas out of the oven, expected {served}; the stats "
            f"say {seen}")
        for c in idlers:
            c.close()
        left = {"customers": 4, "baking": 0, "timers": 4}
        seen = settles_at(asker, left)
        assert seen == left, (
            f"once the 5 idle customers left, expected {left}; the stats "
            f"say {seen}")
    finally:
        for c in idlers + bakers + [asker]:
            c.close()


def test_without_idle_timeout_only_the_ovens_ring(serve):
    server = serve("07", "--bake-ms", "5000", "--idle-timeout-ms", "0")
    idlers, bakers = seat(server, 5, 3, "marinara")
    asker = server.connect()
    try:
        expected = {"customers": 9, "baking": 3, "timers": 3}
        seen = settles_at(asker, expected)
        assert seen == expected, (
            f"with no idle timeout only the ovens ring: expected {expected}; "
            f"the stats say {seen}")
    finally:
        for c in idlers + bakers + [asker]:
            c.close()
