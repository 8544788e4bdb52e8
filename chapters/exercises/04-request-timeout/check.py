"""Exercise 04-request-timeout (chapter 04): in the event cook, a request
that has started to arrive when the idle deadline passes gets a 408 with
Connection: close; a customer who said nothing is closed without a word;
and other customers are served meanwhile."""
import pizzeria


def test_a_half_spoken_request_gets_408_then_the_door(serve):
    server = serve("04", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        customer.send(b"GET /menu HTTP/1.1\r\nHo")
        with server.connect() as other:      # the cook is not stuck on it
            assert other.get("/menu").status == 200
        answer = customer.read_response(timeout=3)
        assert answer.status == 408, answer
        assert answer.closes, "a 408 must say Connection: close"
        assert "error" in answer.json()
        assert customer.is_closed_by_server(timeout=3)
    pizzeria.assert_common_headers(answer, server.step)


def test_a_silent_customer_is_closed_without_a_word(serve):
    server = serve("04", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        assert customer.read_until_closed(timeout=3) == b""


def test_a_complete_request_is_still_answered(serve):
    server = serve("04", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        assert customer.get("/menu").status == 200
        assert customer.read_until_closed(timeout=3) == b""
