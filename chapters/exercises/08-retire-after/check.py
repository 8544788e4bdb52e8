"""Exercise 08-retire-after (chapter 08): with --retire-after N, a cook who
has let in N customers shuts its door, finishes with the customers it
has, and leaves; the master hires a fresh cook for the same door at once.
Apache calls it MaxConnectionsPerChild: whatever a cook's code leaks, it
cannot leak for long. Nobody at the door is turned away, and the order
numbers go on counting across the cooks."""
import collections
import re

import pizzeria

STEP = "08"


def cook_pid(receipt):
    return int(re.fullmatch(r"pid (\d+)", receipt["cook"]).group(1))


def cooks_of(server):
    return sorted(p for p, state in server.children() if state != "Z")


def test_a_cook_retires_after_n_customers(serve):
    server = serve("08", "--workers", "1", "--retire-after", "5",
                   "--bake-ms", "0")
    served_by, numbers = [], []
    for i in range(17):
        # A new connection each: one customer each, one after another.
        with server.connect() as customer:
            receipt = customer.order("margherita")
            assert receipt.status == 200, (
                f"expected customer {i + 1} to get their pizza; got "
                f"{receipt.status} {receipt.reason}")
            served_by.append(cook_pid(receipt.json()))
            numbers.append(receipt.json()["order"])
    per_cook = collections.Counter(served_by)
    assert max(per_cook.values()) <= 5, (
        f"expected no cook to let in more than 5 customers; the cooks "
        f"served {dict(per_cook)}")
    assert len(per_cook) >= 4, (
        f"expected 17 customers to need 4 cooks of 5 each; they met "
        f"{len(per_cook)}: {dict(per_cook)}")
    assert numbers == list(range(1, 18)), (
        f"expected order numbers 1 to 17 across the cooks; got {numbers}")
    assert pizzeria.wait_until(lambda: len(cooks_of(server)) == 1, 3), (
        f"expected the retired cooks gone and one cook working; the "
        f"master has {cooks_of(server)}")


def test_a_retiring_cook_finishes_with_its_customers(serve):
    server = serve("08", "--workers", "1", "--retire-after", "2",
                   "--bake-ms", "300")
    with server.connect() as first, server.connect() as second:
        # Both seated with the same cook; it has let in its two.
        first.request("POST", "/order", body=pizzeria.order_body("margherita"),
                      headers={"Content-Type": pizzeria.FORM})
        second.request("POST", "/order",
                       body=pizzeria.order_body("margherita"),
                       headers={"Content-Type": pizzeria.FORM})
        for customer in (first, second):
            receipt = customer.read_response()
            assert receipt.status == 200, (
                f"expected a retiring cook to bake the orders it had taken;"
                f" got {receipt.status} {receipt.reason}")
            assert receipt.closes, (
                "expected a retiring cook's last answers to say "
                "'Connection: close'")
    with server.connect() as third:
        receipt = third.order("margherita")
        assert receipt.status == 200, (
            f"expected the new cook to serve the next customer; got "
            f"{receipt.status} {receipt.reason}")
