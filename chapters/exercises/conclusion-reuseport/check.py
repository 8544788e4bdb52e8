"""Exercise conclusion-reuseport (the conclusion): two pizzerias share one
door, as nginx's workers can with `listen ... reuseport`. Each asks the
kernel for SO_REUSEPORT on its listening socket, and the kernel deals the
new customers between them. A port held by a program that did not ask to
share stays "in use"."""
import socket

import pizzeria

STEP = "07"


def test_two_pizzerias_share_one_port(serve):
    first = serve("07", "--bake-ms", "0")
    try:
        second = serve("07", "--bake-ms", "0", "--port", first.port)
    except AssertionError as refused:
        raise AssertionError("expected a second pizzeria to open the same "
                             f"door, port {first.port}; {refused}") from None
    cooks = set()
    for _ in range(40):
        # Each connection has a port of its own, and the kernel picks a
        # listener by hashing the two ends: forty customers reach both.
        with first.connect() as customer:
            receipt = customer.order("margherita")
            assert receipt.status == 200, (
                f"expected 200 for an order; got {receipt.status} "
                f"{receipt.reason}")
            cooks.add(receipt.json()["cook"])
    assert cooks == {f"pid {first.pid}", f"pid {second.pid}"}, (
        f"expected forty customers served by both pizzerias (pid "
        f"{first.pid} and pid {second.pid}); the receipts name "
        f"{', '.join(sorted(cooks))}")


def test_a_door_nobody_offered_to_share_is_in_use(serve):
    serve("07")  # builds the step
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = pizzeria.run(pizzeria.step_named("07"), "--port", port)
    assert r.returncode == 1, (
        f"expected a pizzeria on a port already taken to exit 1; it exited "
        f"{r.returncode}, saying {r.stderr.strip()!r}")
    assert str(port) in r.stderr, (
        f"expected the pizzeria to name the port it could not have, {port};"
        f" it said {r.stderr.strip()!r}")
