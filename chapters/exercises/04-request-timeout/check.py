"""Exercise 04-request-timeout (chapter 04): in the event cook, a request
that has started to arrive when the idle deadline passes gets a 408 with
Connection: close; a customer who said nothing is closed without a word;
and other customers are served meanwhile."""
import pizzeria

STEP = "04"


def test_a_half_spoken_request_gets_408_then_the_door(serve):
    server = serve("04", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        customer.send(b"GET /menu HTTP/1.1\r\nHo")
        with server.connect() as other:      # the cook is not stuck on it
            served = other.get("/menu")
            assert served.status == 200, (
                "expected another customer served while one is half-way "
                f"through a request; got {served.status} {served.reason}")
        answer = customer.read_response(timeout=3)
        assert answer.status == 408, (
            f"expected 408 Request Timeout 0.3 s into a half-spoken request;"
            f" got {answer.status} {answer.reason}")
        assert answer.closes, (
            "expected the 408 to say Connection: close; it says Connection: "
            f"{answer.headers.get('Connection')}")
        assert "error" in answer.json(), (
            f"expected the 408's body to be an error; got {answer.body!r}")
        assert customer.is_closed_by_server(timeout=3), (
            "expected the door closed after the 408; the connection was "
            "still open 3 s later")
    pizzeria.assert_common_headers(answer, server.step)


def test_a_half_spoken_head_gets_408_without_a_body(serve):
    """An answer to HEAD never has a body, whatever its status (RFC 9110,
    9.3.2): what the parser read of the request says it was a HEAD."""
    server = serve("04", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        customer.send(b"HEAD /menu HTTP/1.1\r\nHo")
        answer = customer.read_response(head_request=True, timeout=3)
        assert answer.status == 408, (
            f"expected 408 Request Timeout 0.3 s into a half-spoken HEAD;"
            f" got {answer.status} {answer.reason}")
        after = customer.read_until_closed(timeout=3)
        assert after == b"", (
            "expected no body after the head of a 408 to a HEAD; "
            f"{len(after)} more bytes came: {after[:40]!r}")


def test_a_silent_customer_is_closed_without_a_word(serve):
    server = serve("04", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        said = customer.read_until_closed(timeout=3)
        opening = said.split(b"\r\n")[0]
        assert said == b"", (
            "expected a customer who said nothing to be closed without a "
            f"word; the pizzeria said {opening!r}")


def test_a_complete_request_is_still_answered(serve):
    server = serve("04", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        answer = customer.get("/menu")
        assert answer.status == 200, (
            f"expected 200 for GET /menu with the idle timeout on; got "
            f"{answer.status} {answer.reason}")
        said = customer.read_until_closed(timeout=3)
        opening = said.split(b"\r\n")[0]
        assert said == b"", (
            "expected a customer silent after their answer to be closed "
            f"without another word; the pizzeria said {opening!r}")
