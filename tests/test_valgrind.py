"""Every step under valgrind's memcheck, for one busy visit: good requests,
every kind of bad one, pipelining, 100-continue, a half-close, a reset in
the middle of a bake, then SIGTERM. Any invalid read or write, use of
uninitialised memory or definite leak makes valgrind exit 99, and stop()
asserts exit 0.

The whole protocol suite under valgrind is `make valgrind` (a minute a
step); this is the part cheap enough for every `make test`.
"""
import shutil
import socket
import struct
import time

import pytest

import pizzeria as pz

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None,
                                reason="valgrind is not installed")

BAD_REQUESTS = [
    b"GET / HTTP/1.1\r\n\r\n",                               # no Host
    b"get / HTTP/1.1\r\nHost: x\r\n\r\n",                    # 501
    b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",                    # 505
    b"GET /" + b"a" * 2100 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # 414
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n",  # 431
    b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n",
    b"POST /order HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
    b"POST /order HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n",
]

GOOD_PIPELINE = (
    pz.request_bytes("GET", "/") + pz.request_bytes("HEAD", "/menu")
    + pz.request_bytes("POST", "/order", body=b"pizza=quattro+formaggi&qty=2")
    + pz.request_bytes("POST", "/order", body=b"pizza=%ZZ")
    + pz.request_bytes("POST", "/order", body=b"pizza=hawaii%FF%22")
    + pz.request_bytes("DELETE", "/menu")
    + pz.request_bytes("GET", "/nowhere?x=1"))


def test_a_busy_visit_is_clean_under_valgrind(step, built):
    server = pz.start(step, "--bake-ms", "20", "--idle-timeout-ms", "3000",
                      "--log", valgrind=True, ready_timeout=20)
    try:
        with server.connect(timeout=10) as c:
            c.send(GOOD_PIPELINE)
            statuses = [c.read_response(head_request=(i == 1), timeout=10).status
                        for i in range(7)]
        assert statuses == [200, 200, 200, 400, 400, 405, 404]

        for bad in BAD_REQUESTS:
            with server.connect(timeout=10) as c:
                c.send(bad)
                assert c.read_response(timeout=10).status >= 400

        with server.connect(timeout=10) as c:  # 100-continue
            c.send(b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            assert c.read_response(timeout=10).status == 100
            c.send(b"pizza=diavola")
            assert c.read_response(timeout=10).status == 200

        with server.connect(timeout=10) as c:  # half-close
            c.send(pz.request_bytes("GET", "/menu") * 2)
            c.shutdown_write()
            assert c.read_response(timeout=10).status == 200
            assert c.read_response(timeout=10).status == 200

        c = server.connect(timeout=10)  # a reset while the pizza bakes
        c.send(pz.request_bytes("POST", "/order", body=b"pizza=marinara"))
        time.sleep(0.005)
        c.reset()

        assert server.fetch("GET", "/menu", timeout=10).status == 200
    finally:
        server.stop(timeout=10)
