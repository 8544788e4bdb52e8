"""Exercise 07-make-room (chapter 07): when the kitchen is full, a new
customer is seated in place of the one who has sat idle the longest
(between requests, holding no buffer), as nginx reuses its idle keep-alive
connections; only when every seat is busy is the newcomer told 503. A
customer whose order is in the oven is never shown out."""
import time

import pizzeria


def test_an_idle_customer_makes_room(serve):
    server = serve("07", "--max-conns", "3", "--bake-ms", "1500")
    baking = server.connect()
    idle = [server.connect() for _ in range(2)]
    try:
        for c in idle:
            assert c.get("/menu").status == 200
        baking.request("POST", "/order",
                       body=pizzeria.order_body("margherita"))
        time.sleep(0.2)
        with server.connect() as newcomer:
            assert newcomer.get("/menu").status == 200, (
                "a full kitchen with idle customers turned a newcomer away")
        # The first to fall idle has been idle the longest: they go.
        assert idle[0].is_closed_by_server(timeout=1.0), (
            "the customer idle the longest was not the one shown out")
        assert idle[1].get("/menu").status == 200
        assert baking.read_response().status == 200
    finally:
        baking.close()
        for c in idle:
            c.close()


def test_no_idle_customer_means_503(serve):
    server = serve("07", "--max-conns", "2", "--bake-ms", "1500")
    bakers = [server.connect() for _ in range(2)]
    try:
        for c in bakers:
            c.request("POST", "/order",
                      body=pizzeria.order_body("marinara"))
        time.sleep(0.2)
        with server.connect() as newcomer:
            assert newcomer.get("/menu").status == 503
        for c in bakers:
            assert c.read_response().status == 200
    finally:
        for c in bakers:
            c.close()
