#!/usr/bin/env python3
"""idle_pss.py - what an idle keep-alive customer costs a step in memory.

Starts a step with the idle timeout off, has one customer ask for the menu
(so that everything built on first use exists), reads the server's PSS
from /proc/PID/smaps_rollup, then seats N customers who each ask for the
menu once, read the answer and stay (keep-alive, idle), and reads PSS
again:

    bench/idle_pss.py STEP N          e.g. 07 10000

Needs `make` first, and N + 100 descriptors (the soft limit is raised to
the hard one).
"""
import os
import resource
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import pizzeria as pz  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    step, n = pz.step_named(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = pz.request_bytes("GET", "/menu")
    server = pz.start(step, "--idle-timeout-ms", "0")
    try:
        with server.connect() as first:
            first.get("/menu")
        time.sleep(0.2)
        before = pz.pss_kib(server.pid)
        customers = []
        for _ in range(n):
            s = socket.create_connection((server.host, server.port))
            s.sendall(request)
            customers.append(s)
        for s in customers:
            s.recv(65536)  # the whole answer comes in one piece
        time.sleep(0.5)
        after = pz.pss_kib(server.pid)
        print(f"{step.name}: PSS {before} kB before, {after} kB with {n} "
              f"idle keep-alive customers: "
              f"{(after - before) * 1024 / n:.0f} bytes each")
        for s in customers:
            s.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
