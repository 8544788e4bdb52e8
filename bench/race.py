"""make race: the same rush hour at every pizzeria, one table.

Each step is started in turn with the same oven (--bake-ms), and the load
generator (bench/loadgen.c) sends the same rush: CUSTOMERS customers, each
ordering one pizza at the same moment, on connections of their own. While
it runs, the server's whole process tree is sampled from /proc: memory
(PSS, which shares out pages that processes share, so forked cooks are not
counted N times), processes and threads. The blocking step gets a smaller
rush, since it serves one customer at a time, and the table says so.

Needs only python3, make and a C compiler. Runs in well under two minutes.

    python3 bench/race.py [--customers 200] [--bake-ms 200] [--steps 01 02]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "build" / "bench" / "loadgen"
BLOCKING_CUSTOMERS = 10


def steps(wanted):
    found = sorted(d for d in (ROOT / "steps").glob("[0-9][0-9]-*")
                   if (d / "server.c").is_file())
    if wanted:
        found = [d for d in found
                 if d.name in wanted or d.name.split("-")[0] in wanted]
    return found


def tree(pid):
    """pid and every descendant, from /proc/*/stat."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(parents.get(p, []))
    return found


def pss_kib(pid):
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def threads(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


class Sampler(threading.Thread):
    """Peak memory, processes and threads of a process tree."""

    def __init__(self, pid, every=0.05):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_pss = self.peak_procs = self.peak_threads = 0
        self.done = threading.Event()

    def sample(self):
        alive = [(p, threads(p)) for p in tree(self.pid)]
        alive = [(p, n) for p, n in alive if n]  # gone since the listing
        self.peak_procs = max(self.peak_procs, len(alive))
        self.peak_threads = max(self.peak_threads, sum(n for _, n in alive))
        self.peak_pss = max(self.peak_pss, sum(pss_kib(p) for p, _ in alive))

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.every)

    def stop(self):
        self.sample()
        self.done.set()
        self.join()


def start_server(step, bake_ms, customers):
    proc = subprocess.Popen(
        [str(step / "pizzeria"), "--port", "0", "--bake-ms", str(bake_ms),
         "--max-conns", str(max(customers + 10, 100))],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode()
    match = re.search(r":(\d+)$", line.strip())
    if not match:
        proc.kill()
        raise SystemExit(f"{step.name} did not start: {line!r}")
    return proc, int(match.group(1))


def race(step, bake_ms, customers, seat_first=False):
    """One rush. With seat_first, every customer is seated before anyone
    orders (loadgen --seat-first), and wall_s runs from the first order
    sent to the last answer; without, from the first connection opened."""
    proc, port = start_server(step, bake_ms, customers)
    sampler = Sampler(proc.pid)
    sampler.start()
    try:
        run = subprocess.run(
            [str(LOADGEN), "--port", str(port), "--concurrency",
             str(customers), "--requests", str(customers), "--order",
             "margherita", "--timeout-ms", "60000"]
            + (["--seat-first"] if seat_first else []),
            stdout=subprocess.PIPE, text=True, timeout=120)
    finally:
        sampler.stop()
        proc.terminate()
        proc.wait(timeout=5)
    figures = dict(line.split(None, 1) for line in run.stdout.splitlines())
    return {
        "step": step.name, "customers": customers,
        "wall_s": float(figures["elapsed_s"]),
        "seating_s": float(figures.get("seating_s", 0)),
        "ordering_s": float(figures.get("ordering_s", 0)),
        "orders_per_s": float(figures["per_second"]),
        "p50_ms": float(figures["p50_ms"]), "p99_ms": float(figures["p99_ms"]),
        "max_ms": float(figures["max_ms"]),
        "failed": int(figures["failed"]),
        "peak_pss_mib": sampler.peak_pss / 1024,
        "peak_processes": sampler.peak_procs,
        "peak_threads": sampler.peak_threads,
    }


def print_table(rows, bake_ms):
    print(f"\nRush hour: every customer orders one pizza at once; the oven "
          f"takes {bake_ms} ms.\n")
    header = (f"{'step':<20} {'customers':>9} {'wall s':>7} {'orders/s':>9} "
              f"{'p50 ms':>8} {'p99 ms':>8} {'PSS MiB':>8} {'procs':>6} "
              f"{'threads':>7} {'failed':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['step']:<20} {r['customers']:>9} {r['wall_s']:>7.2f} "
              f"{r['orders_per_s']:>9.1f} {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['peak_pss_mib']:>8.1f} "
              f"{r['peak_processes']:>6} {r['peak_threads']:>7} "
              f"{r['failed']:>6}")
    print("\nPSS, processes and threads are the peaks of the server's whole "
          "process tree,\nsampled from /proc every 50 ms. The blocking step "
          f"gets {BLOCKING_CUSTOMERS} customers: it serves\none at a time.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--bake-ms", type=int, default=200)
    parser.add_argument("--steps", nargs="*")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()

    rows = []
    for step in steps(args.steps):
        customers = args.customers
        if step.name.startswith("01-"):
            customers = min(customers, BLOCKING_CUSTOMERS)
        print(f"racing {step.name} with {customers} customers...",
              file=sys.stderr, flush=True)
        rows.append(race(step, args.bake_ms, customers))
    print_table(rows, args.bake_ms)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
