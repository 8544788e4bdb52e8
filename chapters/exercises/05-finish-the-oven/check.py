"""Exercise 05-finish-the-oven (chapter 05): at closing time, the orders
already in the oven are still baked and handed over, with Connection:
close; a customer who is only sitting there is shown out; the server
still exits 0 within 2 s."""
import time

import pizzeria


def test_an_order_in_the_oven_is_served_at_closing_time(serve):
    server = serve("05", "--bake-ms", "800")
    baking = server.connect()
    sitting = server.connect()
    try:
        assert sitting.get("/menu").status == 200
        baking.request("POST", "/order",
                       body=pizzeria.order_body("margherita"))
        time.sleep(0.3)                     # in the oven now
        taken = server.stop()               # SIGTERM: exit 0 within 2 s
        assert taken >= 0.3, "the order cannot have been baked yet"
        receipt = baking.read_response(timeout=2)
        assert receipt.status == 200, receipt
        assert receipt.json()["baked_ms"] >= 800
        assert receipt.closes, "after closing time, Connection: close"
        assert sitting.is_closed_by_server(timeout=1)
    finally:
        baking.close()
        sitting.close()


def test_an_empty_kitchen_still_closes_at_once(serve):
    server = serve("05")
    assert server.fetch("GET", "/menu").status == 200
    assert server.stop() < 1.0
