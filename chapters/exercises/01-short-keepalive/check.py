"""Exercise 01-short-keepalive (chapter 01): a keep-alive customer sitting
silent between two requests holds the only cook for at most a second."""
import time


def test_the_next_customer_is_not_kept_waiting(serve):
    server = serve("01", "--idle-timeout-ms", "10000", "--bake-ms", "0")
    with server.connect() as first:
        assert first.get("/menu").status == 200
        # first keeps its connection open and says nothing more.
        started = time.monotonic()
        with server.connect() as second:
            answer = second.get("/menu", timeout=3)
        waited = time.monotonic() - started
    assert answer.status == 200
    assert waited < 2.5, f"the second customer waited {waited:.1f} s"


def test_the_silent_keep_alive_connection_is_closed(serve):
    server = serve("01", "--idle-timeout-ms", "10000")
    with server.connect() as customer:
        assert customer.get("/menu").status == 200
        assert customer.is_closed_by_server(timeout=3)


def test_a_quick_customer_keeps_the_connection(serve):
    server = serve("01", "--idle-timeout-ms", "10000", "--bake-ms", "0")
    with server.connect() as customer:
        for _ in range(3):
            assert customer.get("/menu").status == 200
            time.sleep(0.2)
        assert customer.get("/menu").status == 200
