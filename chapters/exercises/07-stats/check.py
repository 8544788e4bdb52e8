"""Exercise 07-stats (chapter 07): GET /stats answers 200 with
application/json, {"customers":C,"baking":B,"timers":T}: the customers
seated (the one asking included), the orders in the oven right now, and
the timers on the loop's heap. Every seated customer waits for a deadline
of some kind (the idle timeout, the oven), so with the idle timeout on
there are as many timers as customers; with it off (--idle-timeout-ms 0),
only the ovens ring."""
import pizzeria


def stats(client):
    response = client.get("/stats")
    assert response.status == 200, (
        f"GET /stats answered {response.status}, not 200: {response.body!r}")
    assert response.headers.get("Content-Type") == "application/json"
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
        assert settles_at(asker, busy) == busy
        for c in bakers:
            assert c.read_response(timeout=5.0).status == 200
        # Out of the oven: still seated, waiting now for their patience.
        served = {"customers": 9, "baking": 0, "timers": 9}
        assert settles_at(asker, served) == served
        for c in idlers:
            c.close()
        left = {"customers": 4, "baking": 0, "timers": 4}
        assert settles_at(asker, left) == left, (
            "five customers left; the stats did not say so")
    finally:
        for c in idlers + bakers + [asker]:
            c.close()


def test_without_idle_timeout_only_the_ovens_ring(serve):
    server = serve("07", "--bake-ms", "5000", "--idle-timeout-ms", "0")
    idlers, bakers = seat(server, 5, 3, "marinara")
    asker = server.connect()
    try:
        expected = {"customers": 9, "baking": 3, "timers": 3}
        assert settles_at(asker, expected) == expected, (
            "with no idle timeout, the heap holds the ovens' timers only")
    finally:
        for c in idlers + bakers + [asker]:
            c.close()
