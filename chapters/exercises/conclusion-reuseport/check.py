"""Exercise conclusion-reuseport (the conclusion): two pizzerias share one
door, as nginx's workers can with `listen ... reuseport`. Each asks the
kernel for SO_REUSEPORT on its listening socket, and the kernel deals the
new customers between them. A port held by a program that did not ask to
share stays "in use"."""
import socket

import pizzeria


def test_two_pizzerias_share_one_port(serve):
    first = serve("07", "--bake-ms", "0")
    try:
        second = serve("07", "--bake-ms", "0", "--port", first.port)
    except AssertionError as refused:
        raise AssertionError("a second pizzeria could not open the same door "
                             f"(port {first.port}):\n{refused}") from None
    cooks = set()
    for _ in range(40):
        # Each connection has a port of its own, and the kernel picks a
        # listener by hashing the two ends: forty customers reach both.
        with first.connect() as customer:
            receipt = customer.order("margherita")
            assert receipt.status == 200, receipt
            cooks.add(receipt.json()["cook"])
    assert cooks == {f"pid {first.pid}", f"pid {second.pid}"}, (
        f"receipts from {sorted(cooks)}: want both pizzerias' cooks")


def test_a_door_nobody_offered_to_share_is_in_use(serve):
    serve("07")  # builds the step
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = pizzeria.run(pizzeria.step_named("07"), "--port", port)
    assert r.returncode == 1, r
    assert str(port) in r.stderr
