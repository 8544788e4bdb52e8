"""Exercise 07-make-room (chapter 07): when the kitchen is full, a new
customer is seated in place of the one who has sat idle the longest
(between requests, holding no buffer), as nginx reuses its idle keep-alive
connections; only when every seat is busy is the newcomer told 503. A
customer whose order is in the oven is never shown out."""
import time

import pizzeria

STEP = "07"


def test_an_idle_customer_makes_room(serve):
    server = serve("07", "--max-conns", "3", "--bake-ms", "1500")
    baking = server.connect()
    idle = [server.connect() for _ in range(2)]
    try:
        for c in idle:
            menu = c.get("/menu")
            assert menu.status == 200, (
                f"expected 200 for GET /menu; got {menu.status} "
                f"{menu.reason}")
        baking.request("POST", "/order",
                       body=pizzeria.order_body("margherita"))
        time.sleep(0.2)
        with server.connect() as newcomer:
            answer = newcomer.get("/menu")
            assert answer.status == 200, (
                "expected a newcomer to a full kitchen with idle customers "
                f"seated and served; got {answer.status} {answer.reason}")
        # The first to fall idle has been idle the longest: they go.
        assert idle[0].is_closed_by_server(timeout=1.0), (
            "expected the customer idle the longest shown out to make room; "
            "their connection is still open")
        answer = idle[1].get("/menu")
        assert answer.status == 200, (
            "expected the customer idle a shorter time still served; got "
            f"{answer.status} {answer.reason}")
        receipt = baking.read_response()
        assert receipt.status == 200, (
            "expected the customer whose order was in the oven served; got "
            f"{receipt.status} {receipt.reason}")
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
            answer = newcomer.get("/menu")
            assert answer.status == 503, (
                "expected 503 for a newcomer when every seat is busy baking;"
                f" got {answer.status} {answer.reason}")
        for c in bakers:
            receipt = c.read_response()
            assert receipt.status == 200, (
                "expected every order in the oven served; got "
                f"{receipt.status} {receipt.reason}")
    finally:
        for c in bakers:
            c.close()
