"""The protocol suite: the contract, chapters/appendix-protocol.md, row by
row, for every step.

Every test here takes the `step` fixture, so it runs once for each
steps/NN-name/ that has a server.c, and consults the step's manifest
(step.json) where the architectures may differ. A non-concurrent step serves
one connection at a time, so no test holds two connections open at once
unless that is the point of the test.

Choices where the contract is silent (RFC 9110/9112 followed) are written
in the docstring of the test that makes them.
"""
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import pizzeria as pz
from pizzeria import FORM, assert_common_headers, assert_error, order_body

FLAGS = ["--host", "--port", "--bake-ms", "--max-conns", "--idle-timeout-ms",
         "--log", "--trace", "--help"]

RECEIPT_KEYS = {"order", "pizza", "qty", "total_cents", "baked_ms", "cook"}


# ---------------------------------------------------------------- helpers

def head(method, target, *header_lines, version=b"HTTP/1.1", host=True,
         body=b""):
    """Raw request bytes: header_lines are bytes without CRLF."""
    lines = [method + b" " + target + b" " + version]
    if host:
        lines.append(b"Host: localhost")
    lines += list(header_lines)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def menu_of(server):
    r = server.fetch("GET", "/menu")
    assert r.status == 200, r
    return {item["pizza"]: item["price_cents"] for item in r.json()}


def expect_closed(client, response, status, step):
    """An error the contract says closes the connection: the status, the
    JSON body, `Connection: close`, and then the server really closes."""
    assert_error(response, status)
    assert_common_headers(response, step)
    assert response.closes, f"no Connection: close on {response!r}"
    assert client.is_closed_by_server(3.0), (
        f"server kept the connection open after {response!r}")
    assert client.buffer == b"", f"bytes after the response: {client.buffer!r}"


def expect_kept_alive(client, response, status, step):
    """An error the contract keeps alive: the status, the JSON body, no
    `Connection: close`, and a second request on the same connection works."""
    assert_error(response, status)
    assert_common_headers(response, step)
    assert not response.closes, f"kept-alive error closes: {response!r}"
    again = client.get("/menu")
    assert again.status == 200, f"second request after {status}: {again!r}"
    assert_common_headers(again, step)


def check_receipt(receipt, step, server_pid):
    assert set(receipt) == RECEIPT_KEYS, receipt
    for key in ("order", "qty", "total_cents", "baked_ms"):
        assert type(receipt[key]) is int, (key, receipt)
    for key in ("pizza", "cook"):
        assert type(receipt[key]) is str, (key, receipt)
    assert receipt["order"] >= 1, receipt
    if step["cook"] == "pid tid":
        m = re.fullmatch(r"pid (\d+) tid (\d+)", receipt["cook"])
    else:
        m = re.fullmatch(r"pid (\d+)", receipt["cook"])
    assert m, f"cook {receipt['cook']!r} does not match the manifest's " \
              f"{step['cook']!r}"
    pid = int(m.group(1))
    if step["process_per_connection"]:
        assert pid > 0
    elif step["worker_processes"]:
        assert pid in [p for p, _ in pz.descendants(server_pid)], \
            f"cook pid {pid} is not a worker of the server {server_pid}"
    else:
        assert pid == server_pid, (receipt["cook"], server_pid)
    return m


settled_fd_count = pz.settled_fd_count


read_trace = pz.trace_lines


TRACE_LINE = re.compile(r"(\d+)\.(\d{6}) (accept|request|oven-in|oven-out|"
                        r"response|close) ([1-9]\d*)(?: (.*))?")


# ---------------------------------------------------------------- manifest

def test_manifest_is_complete(step):
    """step.json exists and names every field the tests rely on."""
    assert step.manifest, f"{step.dir}/step.json is missing or empty"
    for field, kind in pz.MANIFEST_FIELDS.items():
        assert field in step.manifest, f"step.json lacks {field!r}"
        assert isinstance(step[field], kind), (field, step[field])
    assert step["name"] == step.name
    assert step["cook"] in ("pid", "pid tid")
    assert 0 <= step["default_bake_ms"] <= 60000
    assert step["default_max_conns"] >= 1
    if not step["concurrent"]:
        assert not step["answers_503"], \
            "the blocking step never answers 503 (appendix-protocol.md)"
    unread = step.manifest.keys() - pz.MANIFEST_FIELDS.keys()
    assert not unread, f"step.json fields that nothing reads: {unread}"


def test_manifest_says_what_the_server_says(step):
    """The facts the server holds itself (its struct step: name, cook,
    defaults), printed by --describe, are what step.json says: written
    once, in server.c, and only checked here."""
    r = pz.run(step, "--describe")
    assert r.returncode == 0, r
    told = json.loads(r.stdout)
    assert set(told) == {"name", "cook", "default_bake_ms",
                         "default_max_conns", "worker_processes"}, told
    for field, value in told.items():
        assert step[field] == value, \
            f"step.json says {field} is {step[field]!r}, the server {value!r}"


# ---------------------------------------------------------------- command line

def test_help_lists_every_flag_and_exits_0(step):
    r = pz.run(step, "--help")
    assert r.returncode == 0, r
    for flag in FLAGS:
        assert flag in r.stdout, f"--help does not mention {flag}:\n{r.stdout}"
    # the step's own defaults
    assert re.search(rf"\b{step['default_bake_ms']}\b", r.stdout), r.stdout
    assert "8080" in r.stdout and "10000" in r.stdout, r.stdout
    assert re.search(rf"\b{step['default_max_conns']}\b", r.stdout)
    assert "listening" not in r.stdout


BAD_COMMAND_LINES = [
    ["--bogus"],
    ["-x"],
    ["--port", "abc"],
    ["--port=abc"],
    ["--port", "65536"],
    ["--port", "-1"],
    ["--port", ""],
    ["--port", "80x"],
    ["--port", "1e3"],
    ["--port"],
    ["--bake-ms", "60001"],
    ["--bake-ms", "-5"],
    ["--bake-ms", "1.5"],
    ["--bake-ms", "ten"],
    ["--max-conns", "0"],
    ["--max-conns", "-3"],
    ["--max-conns", "many"],
    ["--idle-timeout-ms", "-1"],
    ["--idle-timeout-ms", "soon"],
    ["--host", "not-an-address"],
    ["--host", "300.1.2.3"],
    ["extra"],
    ["--log", "yes"],
]


@pytest.mark.parametrize("flags", BAD_COMMAND_LINES,
                         ids=[" ".join(f) or "empty" for f in BAD_COMMAND_LINES])
def test_bad_command_line_exits_2_with_usage(step, flags):
    # "--port 0" first: a server that wrongly starts must not take 8080.
    r = pz.run(step, "--port", "0", *flags)
    assert r.returncode == 2, (flags, r)
    assert "usage" in r.stderr.lower() and "--port" in r.stderr, r.stderr
    assert "listening" not in r.stdout
    # The first line says what was wrong: the flag, or the value, given.
    wrong = flags[-1].split("=")[-1] or flags[0]
    first = r.stderr.splitlines()[0]
    assert first.startswith("pizzeria: ") and wrong in first, first


def test_limits_of_values_are_accepted(start_server):
    """The edges of each range start a server: --port 0, --bake-ms 0 and
    60000, --max-conns 1, --idle-timeout-ms 0."""
    for flags in (["--bake-ms", "60000", "--max-conns", "1"],
                  ["--bake-ms", "0", "--idle-timeout-ms", "0"]):
        server = start_server(*flags)
        assert server.fetch("GET", "/menu").status == 200
        server.stop()


def test_port_in_use_exits_1_naming_the_port(step, built):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = pz.run(step, "--port", port)
    assert r.returncode == 1, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line on stderr: {r.stderr!r}"
    assert re.search(rf"\b{port}\b", lines[0]), lines
    assert os.strerror(errno.EADDRINUSE) in lines[0], "and why"
    assert "listening" not in r.stdout


def test_trace_file_that_cannot_be_opened_exits_1_saying_why(step, tmp_path):
    path = tmp_path / "no-such-dir" / "trace"
    r = pz.run(step, "--port", "0", "--trace", path)
    assert r.returncode == 1, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line on stderr: {r.stderr!r}"
    assert str(path) in lines[0], lines
    assert os.strerror(errno.ENOENT) in lines[0], lines
    assert "listening" not in r.stdout


def test_listening_line_and_default_host(server):
    """Exactly `listening on http://127.0.0.1:PORT` with the real port, and
    the default host is the loopback address, never all interfaces."""
    assert server.listening_line == f"listening on http://127.0.0.1:{server.port}"
    assert 0 < server.port < 65536
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, port = fields[1].split(":")
            if int(port, 16) == server.port and fields[3] == "0A":
                listening.append((table, address))
    # One socket, or one per worker (SO_REUSEPORT), all on loopback.
    assert listening and set(listening) == {("/proc/net/tcp", "0100007F")}, \
        listening
    assert server.fetch("GET", "/menu").status == 200


def test_ipv6_listening_line(step, start_server):
    if not pz.loopback_v6_available():
        pytest.skip("::1 cannot be bound on this machine")
    server = start_server("--host", "::1", "--bake-ms", "0")
    assert server.listening_line == f"listening on http://[::1]:{server.port}"
    with pz.Client("::1", server.port) as c:
        r = c.get("/menu")
        assert r.status == 200
        assert_common_headers(r, step)
        r = c.order("marinara")
        assert r.status == 200 and r.json()["pizza"] == "marinara"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("situation", ["idle", "customer-connected",
                                       "order-in-oven"])
def test_signal_exits_0_within_2s(start_server, tmp_path, sig, situation):
    """SIGINT and SIGTERM: exit 0 within 2 s (stop() asserts it, and that no
    child or zombie is left), also with a customer sitting on an open
    connection and with an order of 5 s still in the oven (it may be cut
    off: the connection is closed)."""
    trace = tmp_path / "trace"
    server = start_server("--bake-ms", "5000", "--trace", trace)
    client = None
    if situation == "customer-connected":
        client = server.connect()
        assert client.get("/menu").status == 200
    elif situation == "order-in-oven":
        client = server.connect()
        client.request("POST", "/order", body=order_body("margherita"))
        assert pz.wait_until(lambda: any(" oven-in " in line for line in
                                         read_trace(trace)), 3.0), \
            read_trace(trace)
    try:
        taken = server.stop(sig)
        assert taken < 2.0
        if client:
            assert client.is_closed_by_server(1.0), \
                "connection still open after the server exited"
    finally:
        if client:
            client.close()


def test_sigpipe_does_not_kill(server, step):
    """Customers who reset the connection while their answers are being
    written cost the server an EPIPE/ECONNRESET, not its life. (A server
    that gives up on a connection at its first failed send never reaches
    the EPIPE that raises SIGPIPE, so for step 01 this passes with or
    without SIGPIPE ignored; it matters for steps that write on.)"""
    burst = pz.request_bytes("GET", "/") * 40
    for _ in range(5):
        c = server.connect()
        c.send(burst)
        c.reset()
    time.sleep(0.2)
    assert server.alive()
    r = server.fetch("GET", "/")
    assert r.status == 200
    assert_common_headers(r, step)


# ---------------------------------------------------------------- endpoints

def test_front_page(shared_server, step):
    r = shared_server.fetch("GET", "/")
    assert r.status == 200
    assert_common_headers(r, step)
    assert r.headers["Content-Type"].lower().replace(" ", "") == \
        "text/html;charset=utf-8"
    page = r.body.decode("utf-8")
    assert '<form method="post" action="/order">' in page
    assert re.search(r'<(select|input)[^>]*\bname="pizza"', page), page
    assert "<table" in page
    for pizza in menu_of(shared_server):
        assert pizza in page, f"{pizza} missing from the front page"


def test_menu_json(shared_server, step):
    r = shared_server.fetch("GET", "/menu")
    assert r.status == 200
    assert_common_headers(r, step)
    assert r.headers["Content-Type"].lower().startswith("application/json")
    menu = r.json()
    assert isinstance(menu, list) and menu
    for item in menu:
        assert set(item) == {"pizza", "price_cents"}, item
        assert type(item["pizza"]) is str and item["pizza"]
        assert type(item["price_cents"]) is int and item["price_cents"] > 0
    prices = {i["pizza"]: i["price_cents"] for i in menu}
    assert len(prices) == len(menu), "a pizza is on the menu twice"
    assert prices.get("margherita") == 850
    assert "quattro formaggi" in prices


def test_order_receipt(start_server, step):
    """POST /order: the receipt's fields and types, total = price * qty,
    baked_ms at least --bake-ms, and cook as the manifest says."""
    server = start_server("--bake-ms", "60")
    prices = menu_of(server)
    with server.connect() as c:
        t0 = time.monotonic()
        r = c.order("diavola", 3)
        waited_ms = (time.monotonic() - t0) * 1000
        assert r.status == 200, r
        assert_common_headers(r, step)
        assert r.headers["Content-Type"].lower().startswith("application/json")
        assert not r.closes
        receipt = r.json()
        m = check_receipt(receipt, step, server.pid)
        assert receipt["pizza"] == "diavola"
        assert receipt["qty"] == 3
        assert receipt["total_cents"] == 3 * prices["diavola"]
        assert receipt["baked_ms"] >= 60
        # baked_ms is time really spent in the oven: the customer waited it
        assert waited_ms >= receipt["baked_ms"] - 2, (waited_ms, receipt)
        # The cook is really there while this customer is being served.
        pid = int(m.group(1))
        if step["process_per_connection"] or step["worker_processes"]:
            assert pid in [p for p, _ in pz.descendants(server.pid)], \
                f"cook pid {pid} is not a child of the server"
        if step["cook"] == "pid tid":
            assert int(m.group(2)) in pz.threads(pid), \
                f"tid {m.group(2)} is not a thread of pid {pid}"


def test_order_qty_defaults_to_1(shared_server):
    prices = menu_of(shared_server)
    with shared_server.connect() as c:
        r = c.order("marinara")
        assert r.status == 200, r
        assert r.json()["qty"] == 1
        assert r.json()["total_cents"] == prices["marinara"]


def test_default_bake_time(start_server, step):
    """Without --bake-ms the oven takes the step's default_bake_ms, and
    the customer really waits that long."""
    server = start_server()
    with server.connect(timeout=step["default_bake_ms"] / 1000 + 5) as c:
        t0 = time.monotonic()
        r = c.order("margherita", timeout=step["default_bake_ms"] / 1000 + 5)
        waited_ms = (time.monotonic() - t0) * 1000
        assert r.status == 200
        assert r.json()["baked_ms"] >= step["default_bake_ms"]
        assert waited_ms >= 0.9 * step["default_bake_ms"], waited_ms


def test_order_numbers(server, step):
    """Order numbers start at 1; where the manifest says they are shared
    they are unique and increase across connections."""
    numbers = []
    for i in range(5):
        with server.connect() as c:
            for _ in range(2):
                r = c.order("margherita", 1 + i)
                assert r.status == 200, r
                numbers.append(r.json()["order"])
    if step["order_numbers_shared"]:
        assert numbers == list(range(1, 11)), numbers
    else:
        assert all(n >= 1 for n in numbers), numbers
        assert numbers[0] == 1


@pytest.mark.parametrize("path", ["/", "/menu"])
def test_head_of_get_routes(shared_server, step, path):
    """HEAD: the same status and headers as GET (Date aside), no body; the
    next response on the connection starts right after the head."""
    with shared_server.connect() as c:
        got = c.get(path)
        c.send(pz.request_bytes("HEAD", path) + pz.request_bytes("GET", "/menu"))
        headed = c.read_response(head_request=True)
        after = c.read_response()
    assert headed.status == got.status == 200
    assert_common_headers(headed, step)
    strip = lambda r: [(k.lower(), v) for k, v in r.headers.items
                       if k.lower() != "date"]
    assert strip(headed) == strip(got)
    assert headed.headers["Content-Length"] == str(len(got.body))
    assert after.status == 200 and after.body.startswith(b"["), (
        f"HEAD sent a body? next response: {after!r}")


def test_head_of_unknown_path_has_no_body(shared_server, step):
    """RFC 9110 9.3.2: a response to HEAD never has content, errors too."""
    with shared_server.connect() as c:
        c.send(pz.request_bytes("HEAD", "/nope") +
               pz.request_bytes("GET", "/menu"))
        r = c.read_response(head_request=True)
        assert r.status == 404
        assert_common_headers(r, step)
        after = c.read_response()
        assert after.status == 200 and after.body.startswith(b"["), after


@pytest.mark.parametrize("target, status, starts", [
    ("/menu?x=1", 200, b"["),
    ("/menu?", 200, b"["),
    ("/?pizza=margherita&a=b", 200, b"<!"),
    ("/nope?x=/menu", 404, b"{"),
])
def test_query_string_ignored(shared_server, target, status, starts):
    r = shared_server.fetch("GET", target)
    assert r.status == status, r
    assert r.body.lstrip().upper().startswith(starts.upper()), r


def test_query_string_on_order(shared_server):
    with shared_server.connect() as c:
        r = c.exchange("POST", "/order?pizza=diavola", body=b"pizza=marinara")
        assert r.status == 200, r
        assert r.json()["pizza"] == "marinara"


@pytest.mark.parametrize("target, starts", [
    ("http://127.0.0.1/menu", b"["),
    ("http://localhost:8080/menu?x=1", b"["),
    ("HTTP://LOCALHOST/", b"<!"),
])
def test_absolute_form_target(shared_server, target, starts):
    r = shared_server.fetch("GET", target)
    assert r.status == 200, r
    assert r.body.upper().startswith(starts.upper())


def test_absolute_form_with_empty_path_is_front_page(shared_server):
    """`GET http://host HTTP/1.1`: RFC 9110 4.2.3 says an empty path in an
    http URI is equivalent to "/" (and RFC 9112 3.2.2 has the absolute form
    name the resource), so this is the front page, not a 404."""
    r = shared_server.fetch("GET", "http://127.0.0.1")
    assert r.status == 200, r
    assert b"<form" in r.body


def test_absolute_form_order(shared_server):
    with shared_server.connect() as c:
        r = c.exchange("POST", f"http://127.0.0.1:{shared_server.port}/order",
                       body=b"pizza=margherita")
        assert r.status == 200, r


# ---------------------------------------------------------------- form

GOOD_FORMS = [
    # (body, pizza, qty)
    (b"pizza=quattro+formaggi", "quattro formaggi", 1),
    (b"pizza=quattro%20formaggi", "quattro formaggi", 1),
    (b"pizza=%6D%61rinara", "marinara", 1),
    (b"pizza=%6d%61rinara", "marinara", 1),
    (b"pizza=margherita&qty=05", "margherita", 5),
    (b"qty=20&pizza=diavola", "diavola", 20),
    (b"pizza=diavola&qty=1", "diavola", 1),
    (b"pizza=diavola&qty=%32", "diavola", 2),
    (b"pizza=marinara&send=1", "marinara", 1),
    (b"send=&pizza=marinara&note=hello+world&qty=2", "marinara", 2),
    (b"pizza=capricciosa&x=%41&qty=3", "capricciosa", 3),
    (b"pi%7Aza=margherita", "margherita", 1),
    (b"&pizza=margherita&&qty=2&", "margherita", 2),
]


@pytest.mark.parametrize("body, pizza, qty", GOOD_FORMS,
                         ids=[b.decode() for b, _, _ in GOOD_FORMS])
def test_form_decoding(shared_server, body, pizza, qty):
    """`+` is a space, %XX a byte (field names too, as a browser encodes
    them), other fields ignored. Empty fields between `&`s are skipped as
    the WHATWG urlencoded parser does."""
    prices = menu_of(shared_server)
    with shared_server.connect() as c:
        r = c.exchange("POST", "/order", body=body,
                       headers={"Content-Type": FORM})
        assert r.status == 200, (body, r)
        receipt = r.json()
        assert receipt["pizza"] == pizza and receipt["qty"] == qty, receipt
        assert receipt["total_cents"] == qty * prices[pizza]


def test_qty_leading_zeros_are_digits(shared_server):
    """`qty` is decimal digits only and `05` is 5: however many leading
    zeros, 0000000000000000001 is 1, in range."""
    with shared_server.connect() as c:
        r = c.exchange("POST", "/order",
                       body=b"pizza=margherita&qty=0000000000000000001")
        assert r.status == 200, r
        assert r.json()["qty"] == 1


BAD_FORMS = [
    b"pizza=margherita%2",
    b"pizza=margherita%zz",
    b"pizza=%",
    b"pizza=margherita%g1",
    b"pizza=margherita&pizza=marinara",
    b"pizza=margherita&pizza=margherita",
    b"pizza=margherita&qty=1&qty=1",
    b"pizza=margherita&qty=",
    b"pizza=margherita&qty=+1",
    b"pizza=margherita&qty=%2B1",
    b"pizza=margherita&qty=-1",
    b"pizza=margherita&qty=0",
    b"pizza=margherita&qty=00",
    b"pizza=margherita&qty=21",
    b"pizza=margherita&qty=1.5",
    b"pizza=margherita&qty=1e1",
    b"pizza=margherita&qty=two",
    b"pizza=margherita&qty=4294967297",
    b"pizza=margherita&qty=99999999999999999999",
    b"pizza=hawaii",
    b"pizza=",
    b"pizza=margherita+",
    b"pizza=margherita%00",
    b"pizza=" + b"a" * 300,
    b"qty=2",
    b"",
    b"margherita",
]


@pytest.mark.parametrize("body", BAD_FORMS,
                         ids=[b.decode()[:40] or "empty" for b in BAD_FORMS])
def test_bad_form_is_400_kept_alive(shared_server, step, body):
    with shared_server.connect() as c:
        r = c.exchange("POST", "/order", body=body,
                       headers={"Content-Type": FORM})
        expect_kept_alive(c, r, 400, step)


@pytest.mark.parametrize("content_type", [
    None,
    "application/x-www-form-urlencoded",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "application/x-www-form-urlencoded; charset=utf-8",
    "Application/X-Www-Form-Urlencoded;charset=UTF-8",
])
def test_form_content_types_accepted(shared_server, content_type):
    with shared_server.connect() as c:
        headers = {"Content-Type": content_type} if content_type else {}
        r = c.exchange("POST", "/order", body=b"pizza=margherita",
                       headers=headers)
        assert r.status == 200, (content_type, r)


@pytest.mark.parametrize("content_type", [
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencodedx",
    "application/x-www-form",
])
def test_other_content_type_is_415_kept_alive(shared_server, step, content_type):
    with shared_server.connect() as c:
        r = c.exchange("POST", "/order", body=b"pizza=margherita",
                       headers={"Content-Type": content_type})
        expect_kept_alive(c, r, 415, step)


# ---------------------------------------------------------------- errors

H = b"Host: localhost"
CLOSED_ERRORS = [
    # malformed request line
    ("no-version", b"GET /menu\r\nHost: x\r\n\r\n", 400),
    ("bad-version-token", head(b"GET", b"/menu", version=b"HTTX/1.1"), 400),
    ("lowercase-version", head(b"GET", b"/menu", version=b"http/1.1"), 400),
    ("version-without-minor", head(b"GET", b"/menu", version=b"HTTP/1"), 400),
    ("version-junk", head(b"GET", b"/menu", version=b"HTTP/1.1x"), 400),
    ("four-fields", head(b"GET", b"/menu", version=b"HTTP/1.1 x"), 400),
    ("double-space", b"GET  /menu HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("only-method", b"GET\r\nHost: x\r\n\r\n", 400),
    ("target-without-slash", head(b"GET", b"menu"), 400),
    ("target-control-byte", head(b"GET", b"/me\x01nu"), 400),
    ("target-nul", head(b"GET", b"/\x00"), 400),
    ("target-del", head(b"GET", b"/menu\x7f"), 400),
    ("target-absolute-no-host", head(b"GET", b"http:///menu"), 400),
    ("tls-client-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
     + bytes(range(32)) + b"\r\n\r\n", 400),
    # malformed header
    ("header-without-colon", head(b"GET", b"/menu", b"X-Thing yes"), 400),
    ("space-before-colon", head(b"GET", b"/menu", b"X-Thing : yes"), 400),
    ("tab-before-colon", head(b"GET", b"/menu", b"X-Thing\t: yes"), 400),
    ("obs-fold", head(b"GET", b"/menu", b"X-Thing: a", b"  b"), 400),
    ("obs-fold-tab", head(b"GET", b"/menu", b"X-Thing: a", b"\tb"), 400),
    ("leading-space-first-header",
     b"GET /menu HTTP/1.1\r\n Host: x\r\n\r\n", 400),
    ("nul-in-value", head(b"GET", b"/menu", b"X-Thing: a\x00b"), 400),
    ("control-in-value", head(b"GET", b"/menu", b"X-Thing: a\x01b"), 400),
    ("escape-in-value", head(b"GET", b"/menu", b"X-Thing: \x1b[31m"), 400),
    ("del-in-value", head(b"GET", b"/menu", b"X-Thing: a\x7fb"), 400),
    ("control-in-name", head(b"GET", b"/menu", b"X-Th\x01ing: a"), 400),
    ("nul-in-name", head(b"GET", b"/menu", b"X-Th\x00ing: a"), 400),
    ("empty-name", head(b"GET", b"/menu", b": a"), 400),
    ("bad-name-char", head(b"GET", b"/menu", b"X(Thing): a"), 400),
    # Host
    ("1.1-without-host", head(b"GET", b"/menu", host=False), 400),
    ("two-hosts", head(b"GET", b"/menu", b"Host: other"), 400),
    ("two-hosts-case", head(b"GET", b"/menu", b"hOST: localhost"), 400),
    # Content-Length
    ("cl-abc", head(b"POST", b"/order", b"Content-Length: abc"), 400),
    ("cl-plus", head(b"POST", b"/order", b"Content-Length: +5",
                     body=b"pizza"), 400),
    ("cl-minus", head(b"POST", b"/order", b"Content-Length: -1"), 400),
    ("cl-hex", head(b"POST", b"/order", b"Content-Length: 0x10"), 400),
    ("cl-empty", head(b"POST", b"/order", b"Content-Length:"), 400),
    ("cl-list", head(b"POST", b"/order", b"Content-Length: 16, 16",
                     body=b"pizza=margherita"), 400),
    ("cl-twice-same", head(b"POST", b"/order", b"Content-Length: 16",
                           b"Content-Length: 16", body=b"pizza=margherita"),
     400),
    ("cl-twice-different", head(b"POST", b"/order", b"Content-Length: 16",
                                b"content-length: 5",
                                body=b"pizza=margherita"), 400),
    ("cl-on-get-abc", head(b"GET", b"/menu", b"Content-Length: abc"), 400),
    # Transfer-Encoding
    ("te-chunked", head(b"POST", b"/order", b"Transfer-Encoding: chunked",
                        body=b"10\r\npizza=margherita\r\n0\r\n\r\n"), 501),
    ("te-with-cl", head(b"POST", b"/order", b"Transfer-Encoding: chunked",
                        b"Content-Length: 16", body=b"pizza=margherita"),
     501),
    ("te-identity", head(b"GET", b"/menu", b"Transfer-Encoding: identity"),
     501),
    # methods
    ("lowercase-get", head(b"get", b"/menu"), 501),
    ("lowercase-head", head(b"head", b"/menu"), 501),
    ("brew", head(b"BREW", b"/menu"), 501),
    ("Get", head(b"Get", b"/"), 501),
    # versions
    ("http-2.0", head(b"GET", b"/menu", version=b"HTTP/2.0"), 505),
    ("http-1.2", head(b"GET", b"/menu", version=b"HTTP/1.2"), 505),
    ("http-0.9", head(b"GET", b"/menu", version=b"HTTP/0.9"), 505),
    ("http-3.0", head(b"GET", b"/menu", version=b"HTTP/3.0"), 505),
    # 411
    ("order-without-length", head(b"POST", b"/order"), 411),
    ("order-without-length-form",
     head(b"POST", b"/order", b"Content-Type: " + FORM.encode()), 411),
    # 413
    ("cl-16385", head(b"POST", b"/order", b"Content-Length: 16385"), 413),
    ("cl-huge", head(b"POST", b"/order",
                     b"Content-Length: 99999999999999999999999999"), 413),
    ("cl-big-on-get", head(b"GET", b"/menu", b"Content-Length: 1000000"),
     413),
    # 414
    ("target-2049", head(b"GET", b"/" + b"a" * 2048), 414),
    ("target-2049-query", head(b"GET", b"/menu?" + b"x" * 2043), 414),
    ("target-10000", head(b"GET", b"/" + b"a" * 9999), 414),
    # 417
    ("expect-other", head(b"POST", b"/order", b"Expect: 200-ok",
                          b"Content-Length: 16"), 417),
    ("expect-on-get", head(b"GET", b"/menu", b"Expect: tea"), 417),
    # bare LF
    ("bare-lf-everywhere", b"GET /menu HTTP/1.1\nHost: x\n\n", 400),
    ("bare-lf-request-line", b"GET /menu HTTP/1.1\nHost: x\r\n\r\n", 400),
    ("bare-lf-header", b"GET /menu HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400),
    ("bare-lf-end", b"GET /menu HTTP/1.1\r\nHost: x\r\n\n", 400),
]


@pytest.mark.parametrize("raw, status", [c[1:] for c in CLOSED_ERRORS],
                         ids=[c[0] for c in CLOSED_ERRORS])
def test_error_that_closes(shared_server, step, raw, status):
    """The error table's "closed" rows: status, {"error": ...} body,
    `Connection: close`, and the shared_server closes afterwards."""
    with shared_server.connect() as c:
        c.send(raw)
        r = c.read_response()
        expect_closed(c, r, status, step)
    # the shared_server is none the worse
    assert shared_server.fetch("GET", "/menu").status == 200


def as_head(raw):
    """The same request asking with HEAD: its first word swapped."""
    return b"HEAD " + raw.partition(b" ")[2]


# The closing rows asked with HEAD: every row whose method is GET or POST,
# but 411 (HEAD /order is a 405, kept alive), and the 431s, tested on their
# own further down. "lowercase-head" above is not one: methods are
# case-sensitive, so "head" is unknown and its 501 has a body.
HEAD_CLOSED_ERRORS = [
    (name, raw, status) for name, raw, status in CLOSED_ERRORS
    if raw.split(b" ", 1)[0] in (b"GET", b"POST") and status != 411
] + [
    ("head-over-8192", b"GET /menu HTTP/1.1\r\nHost: localhost\r\n"
     + b"".join(b"X-H%03d: %s\r\n" % (i, b"v" * 90) for i in range(90))
     + b"\r\n", 431),
    ("header-line-over-8192", head(b"GET", b"/menu", b"X-Big: " + b"b" * 9000),
     431),
]


@pytest.mark.parametrize("raw, status", [c[1:] for c in HEAD_CLOSED_ERRORS],
                         ids=[c[0] for c in HEAD_CLOSED_ERRORS])
def test_error_that_closes_answers_head_without_body(shared_server, step, raw,
                                                     status):
    """RFC 9110 9.3.2: an answer to HEAD has no body, whatever its status.
    Each closing row asked with HEAD gets the status and headers the row
    itself gets (Date aside), Content-Length too, then the server closes
    with not one byte after the head: a client that believed the
    Content-Length of a HEAD answer would take those bytes for the start of
    the next answer (curl says "Excess found")."""
    with shared_server.connect() as c:
        c.send(raw)
        asked = c.read_response()
    with shared_server.connect() as c:
        c.send(as_head(raw))
        headed = c.read_response(head_request=True, timeout=3.0)
        after_head = c.read_until_closed(timeout=3.0)
    assert headed.status == asked.status == status, (headed, asked)
    assert_common_headers(headed, step)
    assert headed.closes, f"no Connection: close on {headed!r}"
    strip = lambda r: [(k.lower(), v) for k, v in r.headers.items
                       if k.lower() != "date"]
    assert strip(headed) == strip(asked)
    assert headed.headers["Content-Length"] == str(len(asked.body))
    assert after_head == b"", f"HEAD got a body: {after_head!r}"


KEPT_ALIVE_ERRORS = [
    ("unknown-path", "GET", "/nope", {}, b"", 404, None),
    ("unknown-path-slash", "GET", "/menu/", {}, b"", 404, None),
    ("path-case", "GET", "/MENU", {}, b"", 404, None),
    ("unknown-path-post", "POST", "/nope", {}, b"pizza=margherita", 404, None),
    ("post-menu", "POST", "/menu", {}, b"pizza=margherita", 405, "GET, HEAD"),
    ("post-front", "POST", "/", {}, b"x", 405, "GET, HEAD"),
    ("put-menu", "PUT", "/menu", {}, b"[]", 405, "GET, HEAD"),
    ("delete-front", "DELETE", "/", {}, b"", 405, "GET, HEAD"),
    ("get-order", "GET", "/order", {}, b"", 405, "POST"),
    ("delete-order", "DELETE", "/order", {}, b"", 405, "POST"),
    ("options-order", "OPTIONS", "/order", {}, b"", 405, "POST"),
    ("json-order", "POST", "/order", {"Content-Type": "application/json"},
     b'{"pizza":"margherita"}', 415, None),
]


@pytest.mark.parametrize("method, path, headers, body, status, allow",
                         [c[1:] for c in KEPT_ALIVE_ERRORS],
                         ids=[c[0] for c in KEPT_ALIVE_ERRORS])
def test_error_kept_alive(shared_server, step, method, path, headers, body, status,
                          allow):
    """The "kept alive" rows: 404, 405 with Allow, 415. PUT, DELETE and
    OPTIONS are methods RFC 9110 defines, so they are known (405), unlike
    BREW (501)."""
    with shared_server.connect() as c:
        r = c.exchange(method, path, headers=headers, body=body)
        if allow:
            tokens = sorted(t.strip() for t in r.headers.get("Allow", "").split(","))
            assert tokens == sorted(allow.split(", ")), r
        expect_kept_alive(c, r, status, step)


def test_head_of_order_is_405_without_body(shared_server, step):
    with shared_server.connect() as c:
        c.send(pz.request_bytes("HEAD", "/order") +
               pz.request_bytes("GET", "/menu"))
        r = c.read_response(head_request=True)
        assert r.status == 405, r
        assert [t.strip() for t in r.headers["Allow"].split(",")] == ["POST"]
        assert_common_headers(r, step)
        assert c.read_response().status == 200


def test_413_answered_without_waiting_for_the_body(shared_server, step):
    with shared_server.connect() as c:
        c.request("POST", "/order", content_length=16385,
                  headers={"Content-Type": FORM})
        r = c.read_response(timeout=3.0)
        expect_closed(c, r, 413, step)


def test_closed_error_survives_unread_body(shared_server, step):
    """After a closing error the shared_server drains what the client still sends
    before it closes, so the answer is not destroyed by a reset even when
    20 KB of body follow the head in the same write."""
    with shared_server.connect() as c:
        c.send(pz.request_bytes("POST", "/order", content_length=20000)
               + b"x" * 20000)
        r = c.read_response(timeout=3.0)
        expect_closed(c, r, 413, step)
    with shared_server.connect() as c:
        c.send(b"BREW /menu HTTP/1.1\r\nHost: x\r\n\r\n" + b"y" * 30000)
        r = c.read_response(timeout=3.0)
        expect_closed(c, r, 501, step)


@pytest.mark.parametrize("first", [
    pz.request_bytes("POST", "/order", content_length=20000),
    b"GET /menu HTTP/1.1\r\nHost: x\r\nX-Bad : 1\r\n\r\n",
], ids=["413", "400"])
def test_closing_error_drains_what_the_client_still_sends(shared_server,
                                                          step, first):
    """"Closed" is a lingering close: the server half-closes (the client
    reads EOF) and goes on reading what the client still sends for a while
    instead of closing at once, which would answer those bytes with a
    reset. Here the client sends 12 KB more after it has read the answer;
    every send must succeed (a closed socket resets the first one, and the
    next send fails)."""
    with shared_server.connect() as c:
        c.send(first)
        r = c.read_response(timeout=3.0)
        expect_closed(c, r, r.status, step)
        for _ in range(3):
            c.send(b"x" * 4000)
            time.sleep(0.05)


def test_body_of_16384_bytes_is_accepted(shared_server):
    body = b"pizza=margherita&pad=" + b"p" * (16384 - 21)
    assert len(body) == 16384
    with shared_server.connect() as c:
        r = c.exchange("POST", "/order", body=body)
        assert r.status == 200, r
        assert c.get("/menu").status == 200


def test_target_of_2048_bytes_is_fine(shared_server):
    with shared_server.connect() as c:
        r = c.get("/" + "a" * 2047)
        assert r.status == 404, r
        assert not r.closes
        r = c.get("/menu?" + "x" * 2042)
        assert r.status == 200, r


def head_of_size(size, pad_name=b"X-Pad"):
    """A GET /menu head whose request line and header lines, CRLFs
    included, are exactly size bytes (the final empty line not counted)."""
    start = b"GET /menu HTTP/1.1\r\nHost: localhost\r\n"
    fixed = len(start) + len(pad_name) + 2 + 2   # ": " and CRLF
    pad = pad_name + b": " + b"a" * (size - fixed) + b"\r\n"
    raw = start + pad
    assert len(raw) == size
    return raw + b"\r\n"


def test_head_of_8192_bytes_is_accepted(shared_server):
    """The 8 KiB limit counts the request line and header lines with their
    CRLFs, not the final empty line: exactly 8192 is fine."""
    with shared_server.connect() as c:
        c.send(head_of_size(8192))
        r = c.read_response()
        assert r.status == 200, r
        assert c.get("/menu").status == 200


def test_head_of_8193_bytes_is_431(shared_server, step):
    with shared_server.connect() as c:
        c.send(head_of_size(8193))
        expect_closed(c, c.read_response(), 431, step)


def test_head_of_8192_bytes_in_many_lines(shared_server):
    """The limit is in bytes: 8192 bytes spread over 120 header lines is
    still a head the shared_server must take (the contract names no limit on
    the number of header lines; nginx has none below its buffer size)."""
    start = b"GET /menu HTTP/1.1\r\nHost: localhost\r\n"
    lines = [b"X-H%03d: v\r\n" % i for i in range(119)]
    raw = start + b"".join(lines)
    raw += b"X-Last: " + b"a" * (8192 - len(raw) - 10) + b"\r\n"
    assert len(raw) == 8192
    with shared_server.connect() as c:
        c.send(raw + b"\r\n")
        r = c.read_response()
        assert r.status == 200, r


def test_one_header_line_over_8192_is_431(shared_server, step):
    with shared_server.connect() as c:
        c.send(b"GET /menu HTTP/1.1\r\nHost: localhost\r\nX-Big: "
               + b"b" * 9000 + b"\r\n\r\n")
        expect_closed(c, c.read_response(), 431, step)


def test_huge_head_without_end_is_431(shared_server, step):
    """A head that never ends is refused once it is past 8 KiB; the shared_server
    does not wait for an end that will not come."""
    with shared_server.connect() as c:
        c.send(b"GET /menu HTTP/1.1\r\nHost: localhost\r\nX-Big: "
               + b"b" * 12000)
        expect_closed(c, c.read_response(timeout=3.0), 431, step)


# ---------------------------------------------------------------- 100-continue

@pytest.mark.parametrize("expect", ["100-continue", "100-Continue"])
def test_100_continue(shared_server, step, expect):
    """Expect: 100-continue on an acceptable head: `HTTP/1.1 100 Continue`
    arrives before the body is sent, then the final answer. The expectation
    token is case-insensitive (RFC 9110 10.1.1)."""
    body = order_body("margherita", 2)
    with shared_server.connect() as c:
        c.request("POST", "/order", body=b"", content_length=len(body),
                  headers={"Expect": expect, "Content-Type": FORM})
        interim = c.read_response(timeout=3.0)
        assert interim.status == 100, interim
        assert interim.raw.startswith(b"HTTP/1.1 100 "), interim
        assert interim.body == b""
        c.send(body)
        r = c.read_response()
        assert r.status == 200, r
        assert r.json()["qty"] == 2
        assert_common_headers(r, step)
        assert c.get("/menu").status == 200


@pytest.mark.parametrize("method, path, headers, status", [
    ("POST", "/nope", {}, 404),
    ("POST", "/menu", {}, 405),
    ("POST", "/order", {"Content-Type": "text/plain"}, 415),
    ("POST", "/order", {"Content-Length": "20000"}, 413),
])
def test_100_continue_final_status_from_head(shared_server, step, method, path,
                                             headers, status):
    """A status known from the head alone comes at once, without 100. Then
    the shared_server either reads and discards the body (kept alive: the next
    request on the connection is answered) or closes."""
    body = b"pizza=margherita"
    hdrs = {"Expect": "100-continue", **headers}
    with shared_server.connect() as c:
        c.request(method, path, body=b"", headers=hdrs,
                  content_length=None if "Content-Length" in headers
                  else len(body))
        r = c.read_response(timeout=3.0)
        assert r.status == status, r
        assert_error(r, status)
        assert_common_headers(r, step)
        if r.closes:
            assert c.is_closed_by_server(3.0)
        else:
            c.send(body)
            assert c.get("/menu").status == 200


# ---------------------------------------------------------------- connections

@pytest.mark.parametrize("method, target, body", [
    ("GET", "/", b""), ("GET", "/menu", b""), ("HEAD", "/menu", b""),
    ("POST", "/order", b"pizza=margherita"), ("GET", "/nope", b""),
    ("POST", "/menu", b""), ("POST", "/order", b"pizza=nope"),
    ("BREW", "/", b""),
])
def test_every_response_has_the_common_headers(shared_server, step, method, target,
                                               body):
    with shared_server.connect() as c:
        r = c.exchange(method, target, body=body)
        assert_common_headers(r, step)


def test_http10_response_still_says_http11(shared_server, step):
    with shared_server.connect() as c:
        c.send(b"GET /menu HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.raw.startswith(b"HTTP/1.1 200 ")
        assert_common_headers(r, step)


def test_keep_alive_is_the_default_in_http11(shared_server):
    with shared_server.connect() as c:
        for path in ("/", "/menu", "/nope", "/menu"):
            r = c.get(path)
            assert not r.closes, r
        assert c.order("marinara").status == 200
        assert not c.is_closed_by_server(0.3)


def test_http10_closes(shared_server):
    """HTTP/1.0 without keep-alive, no Host (fine in 1.0): the answer says
    Connection: close and the shared_server closes."""
    with shared_server.connect() as c:
        c.send(b"GET /menu HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.closes, r
        assert c.is_closed_by_server(3.0)
        assert c.buffer == b""


def test_http10_keep_alive_is_echoed_and_kept(shared_server):
    with shared_server.connect() as c:
        for _ in range(3):
            c.send(b"GET /menu HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.read_response()
            assert r.status == 200, r
            assert "keep-alive" in r.headers.tokens("Connection"), r
            assert not r.closes
        c.send(b"POST /order HTTP/1.0\r\nConnection: Keep-Alive\r\n"
               b"Content-Length: 16\r\n\r\npizza=margherita")
        r = c.read_response()
        assert r.status == 200 and "keep-alive" in r.headers.tokens(
            "Connection"), r
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.closes
        assert c.is_closed_by_server(3.0)


@pytest.mark.parametrize("value", ["close", "Close", "keep-alive, close",
                                   "CLOSE , foo"])
def test_connection_close_is_honoured(shared_server, value):
    with shared_server.connect() as c:
        c.request("GET", "/menu", headers={"Connection": value})
        r = c.read_response()
        assert r.status == 200 and r.closes, r
        assert c.is_closed_by_server(3.0)


def test_connection_close_on_order(shared_server):
    with shared_server.connect() as c:
        c.request("POST", "/order", body=b"pizza=diavola",
                  headers={"Connection": "close"})
        r = c.read_response()
        assert r.status == 200 and r.closes, r
        assert c.is_closed_by_server(3.0)


def test_pipelining_answers_in_order(start_server, step):
    """Six requests in one write, orders with a bake among them: six
    answers, in order."""
    server = start_server("--bake-ms", "50")
    burst = b"".join([
        pz.request_bytes("GET", "/menu"),
        pz.request_bytes("POST", "/order", body=order_body("margherita")),
        pz.request_bytes("HEAD", "/"),
        pz.request_bytes("POST", "/order", body=order_body("marinara", 2)),
        pz.request_bytes("GET", "/nope"),
        pz.request_bytes("GET", "/"),
    ])
    with server.connect() as c:
        c.send(burst)
        got = [c.read_response(), c.read_response(),
               c.read_response(head_request=True), c.read_response(),
               c.read_response(), c.read_response()]
    assert [r.status for r in got] == [200, 200, 200, 200, 404, 200], got
    assert got[0].body.startswith(b"[")
    assert got[1].json()["pizza"] == "margherita"
    assert got[3].json()["pizza"] == "marinara" and got[3].json()["qty"] == 2
    assert got[3].json()["baked_ms"] >= 50
    if step["order_numbers_shared"]:
        assert got[3].json()["order"] > got[1].json()["order"]
    assert b"<form" in got[5].body
    for r in got:
        assert_common_headers(r, step)


def test_empty_lines_before_request_ignored(shared_server):
    with shared_server.connect() as c:
        c.send(b"\r\n\r\n" + pz.request_bytes("GET", "/menu") + b"\r\n"
               + pz.request_bytes("POST", "/order", body=b"pizza=diavola"))
        assert c.read_response().status == 200
        assert c.read_response().status == 200


def test_body_on_get_is_read_and_discarded(shared_server):
    """A body on GET is consumed by its Content-Length, even when it looks
    like a request: it must not be answered as one."""
    smuggled = pz.request_bytes("GET", "/nope")
    with shared_server.connect() as c:
        c.send(pz.request_bytes("GET", "/menu", body=smuggled)
               + pz.request_bytes("GET", "/", body=b"hello")
               + pz.request_bytes("GET", "/menu"))
        statuses = [c.read_response().status for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert not c.is_closed_by_server(0.3)
        assert c.buffer == b"", "answered the body as a request"


def test_half_close_gets_every_answer(start_server):
    server = start_server("--bake-ms", "50")
    with server.connect() as c:
        c.send(pz.request_bytes("GET", "/menu")
               + pz.request_bytes("POST", "/order", body=b"pizza=diavola"))
        c.shutdown_write()
        assert c.read_response().status == 200
        r = c.read_response()
        assert r.status == 200 and r.json()["pizza"] == "diavola", r
        assert c.read_until_closed(timeout=3.0) == b""


def test_idle_timeout_closes_silent_connection(start_server):
    """--idle-timeout-ms 300: a connection that says nothing is closed at
    about 300 ms (a 408 first is allowed)."""
    server = start_server("--idle-timeout-ms", "300")
    with server.connect() as c:
        t0 = time.monotonic()
        data = c.read_until_closed(timeout=5.0)
        waited = time.monotonic() - t0
    assert 0.2 <= waited <= 2.0, waited
    assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data


def test_idle_timeout_counts_from_the_last_response(start_server):
    """The deadline restarts at the end of each response: two pauses of
    600 ms, 1.2 s in all, fit in a 1 s idle timeout; a silent connection
    is then closed about 1 s after the last answer. (Each pause leaves
    400 ms of slack for a busy machine.)"""
    server = start_server("--idle-timeout-ms", "1000", "--bake-ms", "0")
    with server.connect() as c:
        time.sleep(0.6)
        assert c.get("/menu").status == 200
        time.sleep(0.6)   # 1.2 s after accept, 0.6 s after the answer
        assert c.get("/menu").status == 200
        t0 = time.monotonic()
        c.read_until_closed(timeout=6.0)
        waited = time.monotonic() - t0
    assert 0.8 <= waited <= 3.0, waited


def test_idle_timeout_is_a_deadline_not_extended_by_trickling(start_server):
    """One byte every 50 ms of a 100-byte request would take 5 s; with a
    300 ms deadline the server closes long before."""
    server = start_server("--idle-timeout-ms", "300")
    raw = b"GET /menu HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 52 \
        + b"\r\n\r\n"
    assert len(raw) >= 100
    with server.connect() as c:
        t0 = time.monotonic()
        closed_at = None
        for byte in raw:
            try:
                c.send(bytes([byte]))
            except OSError:
                closed_at = time.monotonic()
                break
            if c.is_closed_by_server(0.05):
                closed_at = time.monotonic()
                break
        assert closed_at is not None, "the whole trickled request was taken"
        assert closed_at - t0 < 1.5, closed_at - t0
        assert closed_at - t0 >= 0.2, closed_at - t0
        assert c.buffer == b"" or c.buffer.startswith(b"HTTP/1.1 408 ")


def test_idle_timeout_0_disables_it(start_server):
    server = start_server("--idle-timeout-ms", "0")
    with server.connect() as c:
        assert not c.is_closed_by_server(0.6)
        assert c.get("/menu").status == 200


def test_no_descriptor_leak(server):
    """500 connect/close cycles (some reset), bursts of bad requests and
    half-sent requests: the server's descriptor count comes back to where
    it started."""
    assert server.fetch("GET", "/menu").status == 200
    baseline = settled_fd_count(server)
    for round_ in range(10):
        clients = [server.connect() for _ in range(50)]
        for i, c in enumerate(clients):
            c.reset() if i % 5 == 0 else c.close()
    for i in range(60):
        with server.connect() as c:
            c.send([b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\n\r\n",
                    pz.request_bytes("POST", "/order", body=b"pizza=x"),
                    b"GET /menu HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n"][i % 4])
            c.read_response()
    for i in range(40):
        c = server.connect()
        c.send(b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
               b"\r\npizza=")
        c.reset() if i % 2 else c.close()
    assert server.fetch("GET", "/menu").status == 200
    assert pz.wait_until(lambda: server.fd_count() <= baseline, 5.0), (
        f"{server.fd_count()} descriptors open, {baseline} at the start")
    assert server.fd_count() == baseline


def test_1000_requests_on_one_connection(server, step):
    with server.connect() as c:
        orders = []
        for i in range(1000):
            if i % 10 == 9:
                r = c.order("margherita")
                orders.append(r.json()["order"])
            elif i % 10 == 5:
                r = c.exchange("HEAD", "/")
            else:
                r = c.get("/menu")
            assert r.status == 200, (i, r)
            assert not r.closes
        assert len(orders) == 100
        if step["order_numbers_shared"]:
            assert orders == list(range(1, 101))


def test_log_writes_one_line_per_request(start_server):
    server = start_server("--log", "--bake-ms", "0")
    expected = []
    with server.connect() as c:
        for method, path, body, status in [
                ("GET", "/menu", b"", 200), ("POST", "/order",
                                            b"pizza=margherita", 200),
                ("GET", "/nope", b"", 404), ("HEAD", "/", b"", 200),
                ("POST", "/menu", b"", 405)]:
            assert c.exchange(method, path, body=body).status == status
            expected.append(status)
    lines = lambda: server.stderr_text().splitlines()
    pz.wait_until(lambda: len(lines()) >= len(expected), 2.0)
    time.sleep(0.1)
    got = lines()
    assert len(got) == len(expected), got
    for line, status in zip(got, expected):
        assert str(status) in line.split(), (line, status)


def test_no_log_by_default(server):
    with server.connect() as c:
        assert c.get("/menu").status == 200
        assert c.order("diavola").status == 200
        assert c.get("/nope").status == 404
    time.sleep(0.1)
    assert server.stderr_text() == ""


def test_trace_file(start_server, tmp_path):
    """--trace: `SECONDS EVENT CONN [DETAIL]` lines; connection numbers
    1, 2, 3 in accept order; one order gives accept, request, oven-in,
    oven-out, response, close; a page gives no oven events."""
    trace = tmp_path / "kitchen.trace"
    server = start_server("--trace", trace, "--bake-ms", "20")

    def closes(n):
        return sum(1 for line in read_trace(trace)
                   if line.split(" ")[1:2] == ["close"]) >= n

    with server.connect() as c:
        assert c.order("margherita").status == 200
    assert pz.wait_until(lambda: closes(1), 3.0), read_trace(trace)
    with server.connect() as c:
        assert c.get("/menu").status == 200
        assert c.get("/nope").status == 404
    assert pz.wait_until(lambda: closes(2), 3.0), read_trace(trace)
    with server.connect() as c:
        c.send(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 501
    assert pz.wait_until(lambda: closes(3), 3.0), read_trace(trace)

    events = {}
    accepts = []
    last = {}
    for line in read_trace(trace):
        m = TRACE_LINE.fullmatch(line)
        assert m, f"bad trace line {line!r}"
        seconds = float(f"{m.group(1)}.{m.group(2)}")
        conn, event = int(m.group(4)), m.group(3)
        assert seconds < 60, f"not time since start: {line!r}"
        assert seconds >= last.get(conn, 0.0), f"time went back: {line!r}"
        last[conn] = seconds
        if event == "accept":
            accepts.append(conn)
        events.setdefault(conn, []).append((event, m.group(5) or ""))
    assert accepts == [1, 2, 3], accepts
    names = {conn: [e for e, _ in evs] for conn, evs in events.items()}
    assert names[1] == ["accept", "request", "oven-in", "oven-out",
                        "response", "close"], names[1]
    assert names[2] == ["accept", "request", "response", "request",
                        "response", "close"], names[2]
    assert names[3][0] == "accept" and names[3][-1] == "close", names[3]
    assert "oven-in" not in names[3]
    assert "/order" in events[1][1][1], events[1]
    assert "200" in events[1][4][1].split(), events[1]


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_curl_as_a_real_client(server, step):
    base = f"http://127.0.0.1:{server.port}"

    def curl(*args):
        r = subprocess.run(["curl", "-sS", "--max-time", "5", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=10)
        assert r.returncode == 0, r
        return r.stdout

    assert '<form method="post" action="/order">' in curl(base + "/")
    assert json.loads(curl(base + "/menu"))[0]["pizza"]
    receipt = json.loads(curl("--data", "pizza=quattro+formaggi&qty=2",
                              base + "/order"))
    assert receipt["pizza"] == "quattro formaggi" and receipt["qty"] == 2
    # a body over 1 KiB makes curl send Expect: 100-continue
    big = "pizza=margherita&note=" + "n" * 2000
    assert json.loads(curl("--data", big, base + "/order"))["qty"] == 1
    head_out = curl("-I", base + "/menu")
    assert head_out.startswith("HTTP/1.1 200") and \
        f"pizzeria/{step.name}" in head_out
    # keep-alive across two URLs in one curl, then HTTP/1.0
    both = curl(base + "/menu", base + "/menu")
    assert both.count("price_cents") == 2 * len(json.loads(curl(base + "/menu")))
    assert "margherita" in curl("-0", base + "/menu")
    # errors that close, asked with HEAD (-I): the head and nothing after
    # it, or curl reports the bytes past the head as "Excess found"
    for status, args in [(400, ["-H", "Host:", base + "/menu"]),
                         (413, ["-H", "Content-Length: 99999", base + "/menu"]),
                         (414, [base + "/" + "a" * 3000]),
                         (417, ["-H", "Expect: tea", base + "/menu"]),
                         (501, ["-H", "Transfer-Encoding: chunked",
                                base + "/menu"])]:
        r = subprocess.run(["curl", "-sS", "-v", "--max-time", "5", "-I",
                            *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        assert r.returncode == 0, r
        assert r.stdout.startswith(f"HTTP/1.1 {status} "), r.stdout
        assert "connection: close" in r.stdout.lower(), r.stdout
        assert "Excess found" not in r.stderr, (status, r.stderr)


# ---------------------------------------------------------------- max-conns

def test_503_past_max_conns(step, start_server):
    """Steps that answer 503: the connection past --max-conns gets 503 at
    accept, without sending anything, and is closed; when a customer
    leaves, the next one is served again."""
    if not step["answers_503"]:
        pytest.skip(f"{step.name} never answers 503 (manifest: answers_503 "
                    f"false)")
    server = start_server("--max-conns", "2", "--bake-ms", "0")
    a, b = server.connect(), server.connect()
    try:
        assert a.get("/menu").status == 200
        assert b.get("/menu").status == 200
        with server.connect() as c:
            r = c.read_response(timeout=3.0)
            expect_closed(c, r, 503, step)
        # a refused connection does not count: still exactly 2 in use
        with server.connect() as c:
            assert c.read_response(timeout=3.0).status == 503
        assert a.get("/menu").status == 200
        a.close()

        def served():
            with server.connect() as c:
                c.request("GET", "/menu")
                return c.read_response(timeout=3.0).status == 200
        assert pz.wait_until(served, 3.0), "no recovery after a customer left"
    finally:
        a.close()
        b.close()


def test_no_503_where_the_manifest_says_so(step, start_server):
    """Steps that never answer 503 (01): --max-conns 1 is accepted, and a
    second customer who arrives while the first is still connected is
    served once the first leaves, not refused."""
    if step["answers_503"]:
        pytest.skip(f"{step.name} answers 503 (manifest)")
    server = start_server("--max-conns", "1", "--bake-ms", "0")
    with server.connect() as a:
        assert a.get("/menu").status == 200
        b = server.connect()
        try:
            b.request("GET", "/menu")
            time.sleep(0.1)
            a.close()
            r = b.read_response(timeout=5.0)
            assert r.status == 200, r
        finally:
            b.close()


def test_concurrency_matches_manifest(step, start_server):
    """K orders of 200 ms from K customers at once: a concurrent step
    overlaps them, a non-concurrent one serves them one after the other."""
    k, bake = 4, 0.2
    server = start_server("--bake-ms", str(int(bake * 1000)))
    done = [None] * k
    barrier = threading.Barrier(k)

    def customer(i):
        with server.connect(timeout=10) as c:
            barrier.wait(timeout=5)
            r = c.order("margherita", timeout=10)
            done[i] = (time.monotonic(), r.status)

    workers = [threading.Thread(target=customer, args=(i,)) for i in range(k)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join(15)
    assert all(d and d[1] == 200 for d in done), done
    total = max(d[0] for d in done) - t0
    if step["concurrent"]:
        assert total < 0.6 * k * bake, f"{k} orders took {total:.3f} s"
    else:
        assert total >= 0.9 * k * bake, f"{k} orders took {total:.3f} s"
