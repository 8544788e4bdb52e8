"""Exercise 09-zero-copy-receipt (chapter 09): step 09 sends every answer
with IORING_OP_SEND_ZC. The kernel then says twice that a send is done:
once with how many bytes went, and once more (IORING_CQE_F_NOTIF) when it
no longer reads the answer's buffer; until then the buffer is the
kernel's, and the visit may not write its next answer into it. At closing
time the kitchen says, on a line of its own,

    pizzeria: zero-copy sends: N; their buffers handed back: M

and every buffer has come back: M equals N."""
import re
import socket
import time

import pizzeria

STEP = "09"
ZERO_COPY = re.compile(
    r"zero-copy sends: (\d+); their buffers handed back: (\d+)")


def closing_report(server):
    server.stop()
    said = server.stderr_text()
    found = ZERO_COPY.search(said)
    assert found, (
        "expected a line 'zero-copy sends: N; their buffers handed back: M' "
        f"on stderr at closing time; the pizzeria said:\n{said[-800:]}")
    return int(found.group(1)), int(found.group(2))


def test_every_answer_goes_zero_copy_and_comes_back(serve):
    server = serve("09", "--bake-ms", "0")
    with server.connect() as customer:
        for i in range(30):
            answer = customer.get("/menu")
            assert answer.status == 200, (
                f"expected menu {i + 1} of 30; got {answer.status}")
        receipt = customer.order("margherita")
        assert receipt.status == 200, f"expected a receipt; got {receipt}"
    sends, back = closing_report(server)
    assert sends >= 31, (
        f"expected at least 31 zero-copy sends for 31 answers; the kitchen "
        f"counted {sends}")
    assert back == sends, (
        f"expected every buffer handed back at closing time; {sends} sends "
        f"and {back} buffers back")


def test_a_slow_reader_gets_every_answer_whole(serve):
    """Answers that wait for a reader who takes their time: each must
    arrive whole, and none written over by the next before the kernel
    gave its buffer back."""
    server = serve("09", "--bake-ms", "0")
    menu = server.fetch("GET", "/menu").body
    customer = server.connect()
    customer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    customer.send(pizzeria.request_bytes("GET", "/menu") * 300)
    time.sleep(0.3)
    for i in range(300):
        answer = customer.read_response()
        assert answer.status == 200 and answer.body == menu, (
            f"expected answer {i + 1} of 300 to be the menu, whole; got "
            f"{answer.status} with {len(answer.body)} bytes")
    customer.close()
    sends, back = closing_report(server)
    assert back == sends, (
        f"expected every buffer handed back; {sends} sends and {back} back")


def test_customers_who_leave_mid_answer_leave_nothing_behind(serve):
    """Customers who hang up with answers still on their way: their
    tables are freed only once every buffer has come back, and the
    kitchen closes cleanly."""
    server = serve("09", "--bake-ms", "0")
    for _ in range(20):
        customer = server.connect()
        customer.send(pizzeria.request_bytes("GET", "/menu") * 50)
        customer.reset()
    assert server.fetch("GET", "/menu").status == 200, (
        "expected the kitchen to go on serving after customers hung up")
    sends, back = closing_report(server)
    assert back == sends, (
        f"expected every buffer handed back; {sends} sends and {back} back")
