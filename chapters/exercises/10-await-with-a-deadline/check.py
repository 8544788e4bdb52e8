"""Exercise 10-await-with-a-deadline (chapter 10): in step 10's visit, the
await for the rest of a request has a deadline, the idle timeout. When it
passes with part of a request in, the visit answers 408 Request Timeout
with Connection: close (and lingers, as for any closing answer) instead
of closing without a word; a customer who said nothing is still closed
without one; the other customers are served meanwhile."""
STEP = "10"


def first_line(said):
    return said.split(b"\r\n")[0]


def test_half_a_request_at_the_deadline_gets_408(serve):
    server = serve("10", "--idle-timeout-ms", "300")
    with server.connect() as slow:
        slow.send(b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Le")
        with server.connect() as other:  # the cook waits for nobody
            served = other.get("/menu")
            assert served.status == 200, (
                "expected another customer served while one is half-way "
                f"through a request; got {served.status} {served.reason}")
        answer = slow.read_response(timeout=3)
        assert answer.status == 408, (
            "expected 408 Request Timeout 0.3 s into half a request; got "
            f"{answer.status} {answer.reason}")
        assert answer.closes, (
            "expected the 408 to say Connection: close; it says Connection: "
            f"{answer.headers.get('Connection')}")
        assert "error" in answer.json(), (
            f"expected the 408's body to be an error; got {answer.body!r}")
        assert slow.is_closed_by_server(timeout=3), (
            "expected the visit over after the 408; the connection was "
            "still open 3 s later")


def test_a_silent_customer_still_gets_no_word(serve):
    server = serve("10", "--idle-timeout-ms", "300")
    with server.connect() as silent:
        said = silent.read_until_closed(timeout=3)
        assert said == b"", (
            "expected a customer who said nothing closed without a word; "
            f"the pizzeria said {first_line(said)!r}")


def test_between_requests_is_silence_too(serve):
    server = serve("10", "--idle-timeout-ms", "300")
    with server.connect() as customer:
        answer = customer.get("/menu")
        assert answer.status == 200, (
            f"expected 200 for GET /menu; got {answer.status}")
        said = customer.read_until_closed(timeout=3)
        assert said == b"", (
            "expected a customer silent after their answer closed without "
            f"another word; the pizzeria said {first_line(said)!r}")
