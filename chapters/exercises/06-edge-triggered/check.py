"""Exercise 06-edge-triggered (chapter 06): every customer socket is on
the epoll tablet with EPOLLET (the kernel's /proc/PID/fdinfo of the epoll
descriptor shows each entry's event mask), and nothing is left waiting for
a telling that never comes: a large pipelined batch read by a slow reader,
and a trickled request, are all answered."""
import os
import socket
import time

import pizzeria

STEP = "06"
EPOLLET = 1 << 31


def sockets_of(pid):
    found = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        found[int(fd)] = target
    return found


def epoll_entries(pid):
    """{descriptor: event mask} for every entry of the server's tablet."""
    fds = sockets_of(pid)
    epfd = [fd for fd, target in fds.items() if "eventpoll" in target]
    assert len(epfd) == 1, (
        f"expected the pizzeria to hold one epoll descriptor; it holds "
        f"{len(epfd)}")
    entries = {}
    with open(f"/proc/{pid}/fdinfo/{epfd[0]}") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "tfd:":
                entries[int(fields[1])] = int(fields[3], 16)
    return entries


def test_customer_sockets_are_edge_triggered(serve):
    server = serve("06", "--bake-ms", "0")
    before = {fd for fd, t in sockets_of(server.pid).items()
              if t.startswith("socket:")}
    with server.connect() as customer:
        menu = customer.get("/menu")
        assert menu.status == 200, (
            f"expected 200 for GET /menu; got {menu.status} {menu.reason}")
        customers = {fd for fd, t in sockets_of(server.pid).items()
                     if t.startswith("socket:")} - before
        assert customers, (
            "expected a new socket in the pizzeria for the customer; none "
            "was found")
        entries = epoll_entries(server.pid)
        for fd in customers:
            assert fd in entries, (
                f"expected the customer's socket {fd} on the epoll tablet; "
                f"the tablet holds {sorted(entries)}")
            assert entries[fd] & EPOLLET, (
                f"expected the customer's socket {fd} watched with EPOLLET; "
                f"its mask is {entries[fd]:#x}: level-triggered")


def test_a_large_batch_to_a_slow_reader_is_all_answered(serve):
    server = serve("06", "--bake-ms", "0")
    n = 1500
    batch = (pizzeria.request_bytes("GET", "/") * (n // 2)
             + pizzeria.request_bytes("POST", "/order",
                                      body=pizzeria.order_body("diavola"))
             + pizzeria.request_bytes("GET", "/") * (n // 2 - 1))
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((server.host, server.port))
    reader = pizzeria.Client.__new__(pizzeria.Client)
    reader.sock, reader.buffer, reader.eof = slow, b"", False
    reader.timeout = 5.0
    try:
        slow.settimeout(5.0)
        sent = 0
        answers = 0
        while answers < n:
            if sent < len(batch):
                slow.setblocking(False)
                try:
                    sent += slow.send(batch[sent:sent + 65536])
                except BlockingIOError:
                    pass
                slow.settimeout(5.0)
            time.sleep(0.0005)                   # a slow reader
            r = reader.read_response(timeout=5.0)
            assert r.status == 200, (
                f"expected 200 for each of {n} pipelined requests; answer "
                f"{answers + 1} was {r.status} {r.reason}")
            answers += 1
    finally:
        slow.close()


def test_a_trickled_request_is_answered(serve):
    server = serve("06", "--bake-ms", "0")
    with server.connect() as customer:
        for byte in pizzeria.request_bytes("GET", "/menu"):
            customer.send(bytes([byte]))
            time.sleep(0.002)
        answer = customer.read_response(timeout=3)
        assert answer.status == 200, (
            f"expected 200 for a request sent a byte at a time; got "
            f"{answer.status} {answer.reason}")
