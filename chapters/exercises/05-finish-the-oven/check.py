"""Exercise 05-finish-the-oven (chapter 05): at closing time, the orders
already in the oven are still baked and handed over, with Connection:
close; a customer who is only sitting there is shown out; the server
still exits 0 within 2 s."""
import time

import pizzeria

STEP = "05"


def test_an_order_in_the_oven_is_served_at_closing_time(serve):
    server = serve("05", "--bake-ms", "800")
    baking = server.connect()
    sitting = server.connect()
    try:
        menu = sitting.get("/menu")
        assert menu.status == 200, (
            f"expected 200 for GET /menu; got {menu.status} {menu.reason}")
        baking.request("POST", "/order",
                       body=pizzeria.order_body("margherita"))
        time.sleep(0.3)                     # in the oven now
        taken = server.stop()               # SIGTERM: exit 0 within 2 s
        assert taken >= 0.3, (
            f"expected the pizzeria to finish the order in the oven (0.5 s "
            f"more) before it exits; it exited {taken:.2f} s after SIGTERM")
        receipt = baking.read_response(timeout=2)
        assert receipt.status == 200, (
            f"expected the order in the oven served at closing time; got "
            f"{receipt.status} {receipt.reason}")
        baked = receipt.json().get("baked_ms", 0)
        assert baked >= 800, (
            f"expected the pizza baked its full 800 ms; the receipt says "
            f"baked_ms {baked}")
        assert receipt.closes, (
            "expected the receipt at closing time to say Connection: close; "
            f"it says Connection: {receipt.headers.get('Connection')}")
        assert sitting.is_closed_by_server(timeout=1), (
            "expected the customer only sitting there shown out at closing "
            "time; their connection was still open")
    finally:
        baking.close()
        sitting.close()


def test_an_empty_kitchen_still_closes_at_once(serve):
    server = serve("05")
    menu = server.fetch("GET", "/menu")
    assert menu.status == 200, (
        f"expected 200 for GET /menu; got {menu.status} {menu.reason}")
    taken = server.stop()
    assert taken < 1.0, (
        f"expected an empty kitchen to close at once; it took {taken:.1f} s")
