"""Exercise 01-short-keepalive (chapter 01): a keep-alive customer sitting
silent between two requests holds the only cook for at most a second."""
import time

STEP = "01"


def test_the_next_customer_is_not_kept_waiting(serve):
    server = serve("01", "--idle-timeout-ms", "10000", "--bake-ms", "0")
    with server.connect() as first:
        assert first.get("/menu").status == 200, (
            "expected 200 for the first customer's GET /menu")
        # first keeps its connection open and says nothing more.
        started = time.monotonic()
        with server.connect() as second:
            answer = second.get("/menu", timeout=3)
        waited = time.monotonic() - started
    assert answer.status == 200, (
        f"expected 200 for the second customer; got {answer.status} "
        f"{answer.reason}")
    assert waited < 2.5, (
        f"expected the second customer served within about a second of the "
        f"first falling silent; they waited {waited:.1f} s")


def test_the_silent_keep_alive_connection_is_closed(serve):
    server = serve("01", "--idle-timeout-ms", "10000")
    with server.connect() as customer:
        assert customer.get("/menu").status == 200, (
            "expected 200 for GET /menu")
        assert customer.is_closed_by_server(timeout=3), (
            "expected a keep-alive customer silent after a request to be "
            "shown out within a second or so; still open after 3 s")


def test_a_quick_customer_keeps_the_connection(serve):
    server = serve("01", "--idle-timeout-ms", "10000", "--bake-ms", "0")
    with server.connect() as customer:
        for n in range(1, 5):
            answer = customer.get("/menu")
            assert answer.status == 200, (
                f"expected 200 for request {n} of a customer asking every "
                f"0.2 s on one connection; got {answer.status} "
                f"{answer.reason}")
            time.sleep(0.2 if n < 4 else 0)
