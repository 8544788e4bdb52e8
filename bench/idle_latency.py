#!/usr/bin/env python3
"""idle_latency.py - what N silent customers cost one busy one.

Starts a step, seats N connections that never say a word, waits until the
server holds them all, then runs the load generator with one customer
asking for the menu as fast as it is answered, for a few seconds:

    bench/idle_latency.py STEP N [N ...]       e.g. 05 10 100 1000 10000

It prints, for each N, the server's resident memory before and after the
silent customers sat down, then the load generator's own lines (requests
answered per second, latency percentiles). Needs `make` and
`make -C bench` first.
"""
import os
import resource
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import pizzeria as pz  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "bench"))
import race  # noqa: E402  tree(), pss_kib()


def resident_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_pss_kb(pid):
    return sum(race.pss_kib(p) for p in race.tree(pid))


def memory_line(name, before, after, n):
    return (f"{name:<14}{before} -> {after} "
            f"({(after - before) * 1024 / max(n, 1):.0f} bytes per "
            f"silent customer)\n")


def measure(step, n, seconds=3):
    server = pz.start(step, "--bake-ms", "0", "--idle-timeout-ms", "0",
                      "--max-conns", str(n + 10))
    try:
        server.fetch("GET", "/menu")
        time.sleep(0.3)   # until the server has closed that connection too
        base = server.fd_count()
        before = resident_kb(server.pid)
        pss_before = tree_pss_kb(server.pid)
        idle = [socket.create_connection((server.host, server.port))
                for _ in range(n)]
        if not pz.wait_until(lambda: server.fd_count() >= base + n, 20):
            sys.exit(f"the server seated only {server.fd_count() - base}")
        after = resident_kb(server.pid)
        pss_after = tree_pss_kb(server.pid)
        memory = (memory_line("resident_kb", before, after, n) +
                  memory_line("pss_kb", pss_before, pss_after, n))
        out = subprocess.run(
            [os.path.join(ROOT, "build/bench/loadgen"), "--port",
             str(server.port), "--concurrency", "1", "--duration",
             str(seconds), "--path", "/menu"],
            stdout=subprocess.PIPE, text=True, check=True).stdout
        for s in idle:
            s.close()
        return memory + out
    finally:
        server.stop()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    step = pz.step_named(sys.argv[1])
    counts = [int(a) for a in sys.argv[2:]]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for n in counts:
        print(f"== {step.name}, {n} idle customers")
        print(measure(step, n), flush=True)


if __name__ == "__main__":
    main()
