"""make bench QUICK=1: the harness behind the book's figures still works.

One quick run of bench/bench.py against every step (a minute or so), then
checks of its output only: every CSV with its columns and rows that hold
numbers where a run happened, every SVG drawn, the machine written down.
It says nothing about speed: the figures of a quick run on a busy machine
mean nothing, and the test must not depend on them.
"""
import csv
import json
import shutil
import subprocess
import sys

import pytest

import pizzeria as pz

EXPECTED_COLUMNS = {
    "scaling": ["step", "customers", "bake_ms", "seating_s", "ordering_s",
                "all_answered_s", "orders_per_s", "p50_ms", "p99_ms",
                "max_ms", "failed", "peak_pss_kib", "peak_processes",
                "peak_threads", "note"],
    "throughput": ["server", "request", "connections", "seconds", "requests",
                   "requests_per_s", "p50_ms", "p99_ms", "errors",
                   "server_cpu_s", "cpu_us_per_request", "runs", "note"],
    "idle": ["step", "idle", "requests_per_s", "p50_ms", "p90_ms", "p99_ms",
             "max_ms", "pss_before_kib", "pss_after_kib",
             "bytes_per_idle", "runs", "note"],
    "timeline": ["step", "conn", "cook", "accept_s", "oven_in_s",
                 "oven_out_s", "response_s", "close_s"],
    "doors": ["door", "load", "workers", "customers", "failed",
              "per_second", "p50_ms", "p99_ms", "max_ms", "wakeups",
              "for_nobody", "switches", "switches_per_customer",
              "per_cook", "busiest_share", "quietest_share", "stall_ms",
              "note"],
    "syscalls": ["step", "request", "connections", "seconds", "requests",
                 "syscalls", "syscalls_per_request", "top_calls",
                 "ring_enters", "ring_jobs", "jobs_per_enter", "tool",
                 "note"],
    "stackful": ["kind", "stack_kib", "customers", "struct_bytes",
                 "pss_before_kib", "pss_after_kib", "bytes_per_customer",
                 "note"],
}
TIMELINE_ORDERS = 10
SYSCALL_STEPS = ("06", "07", "09")

# One process runs them all, so the quick run (the module's fixture)
# happens once, not once per worker.
pytestmark = pytest.mark.xdist_group("bench")


def read(out, part):
    with open(out / f"{part}.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    if shutil.which("gnuplot") is None:
        pytest.fail("gnuplot is missing: tests/tools/need gnuplot")
    subprocess.run(["make", "-s", "-C", str(pz.ROOT / "bench")], check=True,
                   timeout=60)
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, str(pz.ROOT / "bench" / "bench.py"), "--quick",
         "--out", str(out)], cwd=pz.ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    return out


def nginx_installed():
    return bool(shutil.which("nginx")) or pz.Path("/usr/sbin/nginx").exists()


def step_names():
    return [s.name for s in pz.steps()]


def throughput_names():
    """A step of worker processes is measured with one and with two, as
    nginx is."""
    for s in pz.steps():
        if s.manifest["worker_processes"]:
            yield from (f"{s.name}-1w", f"{s.name}-2w")
        else:
            yield s.name


def worker_steps():
    return [s.name for s in pz.steps() if s.manifest["worker_processes"]]


def test_every_csv_has_its_columns(quick):
    for part, columns in EXPECTED_COLUMNS.items():
        header, rows = read(quick, part)
        assert header == columns, part
        assert rows, f"{part}.csv has no rows"


def test_scaling_measured_every_step(quick):
    _, rows = read(quick, "scaling")
    for name in step_names():
        done = [r for r in rows if r["step"] == name and r["note"] == "ok"]
        assert done, f"no scaling figure for {name}"
        for r in done:
            assert int(r["peak_pss_kib"]) > 0, r
            # Seated first, then every order at once: no one waits less
            # than the oven, counted from the first order sent.
            bake_s = int(r["bake_ms"]) / 1000
            assert float(r["all_answered_s"]) >= bake_s, r
            assert float(r["max_ms"]) >= int(r["bake_ms"]), r
            assert r["seating_s"] and r["ordering_s"], r
            assert int(r["peak_processes"]) >= 1, r
            assert int(r["failed"]) == 0, r


def test_throughput_measured_every_step_and_nginx(quick):
    _, rows = read(quick, "throughput")
    if shutil.which("wrk") is None:
        assert rows[0]["note"].startswith("skipped"), rows
        pytest.skip("wrk is not installed: the CSV says so")
    servers = {r["server"] for r in rows if r.get("requests")}
    assert set(throughput_names()) <= servers, servers
    if nginx_installed():
        assert {"nginx-1w", "nginx-2w"} <= servers, servers
    for r in rows:
        if r.get("requests"):
            assert int(r["requests"]) > 0 and float(r["server_cpu_s"]) > 0, r
            assert int(r["errors"]) == 0, r


def test_idle_latency_for_the_steps_with_a_tablet(quick):
    _, rows = read(quick, "idle")
    measured = {r["step"] for r in rows if r["note"] == "ok"
                and not r["step"].startswith("nginx")}
    with_tablet = {s.name for s in pz.steps()
                   if s.manifest["concurrent"] and s.manifest["cook"] == "pid"
                   and not s.manifest["process_per_connection"]
                   and not s.manifest["worker_processes"]}
    assert measured == with_tablet
    for r in rows:
        if r["note"] == "ok":
            assert float(r["p50_ms"]) > 0 and float(r["requests_per_s"]) > 0
            # Not before <= after: PSS shares libc's pages among all the
            # processes mapping them, and that number moves on its own.
            assert int(r["pss_before_kib"]) > 0, r
            assert int(r["pss_after_kib"]) > 0, r
    if nginx_installed():
        nginx = [r for r in rows if r["step"] == "nginx-1w"]
        assert nginx and all(r["note"] == "ok" for r in nginx), nginx


# nginx_idle() on its own, with more silent customers than the quick run
# seats: past a few hundred, a connection table sized too tightly makes
# nginx close some of them (it did: 968 of 1000 held).
NGINX_IDLE = """
import resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, "bench")
import bench
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
page = bench.front_page(bench.race.steps(None)[-1])
with tempfile.TemporaryDirectory() as tmp:
    print(bench.nginx_idle(1000, {"idle_seconds": 0.3}, page, Path(tmp)))
"""


def test_nginx_holds_a_thousand_silent_customers(quick):
    if not nginx_installed():
        pytest.skip("nginx is not installed")
    run = subprocess.run([sys.executable, "-c", NGINX_IDLE], cwd=pz.ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "'note': 'ok'" in run.stdout, run.stdout[-3000:]


def test_timeline_has_ten_orders_per_step_with_a_cook(quick):
    _, rows = read(quick, "timeline")
    for name in step_names():
        mine = [r for r in rows if r["step"] == name]
        assert len(mine) == TIMELINE_ORDERS, name
        for r in mine:
            assert r["cook"].startswith("pid "), r
            assert float(r["oven_in_s"]) <= float(r["oven_out_s"]) \
                <= float(r["response_s"]), r


def test_the_doors_of_a_kitchen_of_workers(quick):
    """Every door, both loads, every customer let in by some worker; and
    behind a door per worker, the customers hashed to a stopped worker
    wait for it (a quarter of the stop is a wide margin: they wait for
    all of it, less the moment the load generator takes to start)."""
    _, rows = read(quick, "doors")
    if not worker_steps():
        assert rows == [], rows
        return
    seen = {(r["door"], r["load"]) for r in rows}
    assert seen == {(d, load) for d in ("reuseport", "shared", "exclusive")
                    for load in ("trickle", "stall")}, seen
    for r in rows:
        assert r["note"] == "ok" and int(r["failed"]) == 0, r
        per_cook = [int(n) for n in r["per_cook"].split()]
        assert len(per_cook) == int(r["workers"]), r
        assert sum(per_cook) == int(r["customers"]), r
    stalled = next(r for r in rows
                   if r["door"] == "reuseport" and r["load"] == "stall")
    assert float(stalled["max_ms"]) >= int(stalled["stall_ms"]) / 4, stalled


def test_system_calls_counted_for_the_epoll_and_io_uring_kitchens(quick):
    """Steps 06, 07 and 09 under the same load, every call counted: each
    kitchen's own way of waiting among its calls (epoll_wait; for 09,
    io_uring_enter and no recv or send of its own), and step 09's report
    of its jobs beside them. Counts, never a speed."""
    _, rows = read(quick, "syscalls")
    if shutil.which("wrk") is None:
        assert rows[0]["note"].startswith("skipped"), rows
        pytest.skip("wrk is not installed: the CSV says so")
    wanted = {n for n in step_names() if n[:2] in SYSCALL_STEPS}
    assert {r["step"] for r in rows} == wanted, rows
    for r in rows:
        assert r["note"] == "ok", r
        requests, calls = int(r["requests"]), int(r["syscalls"])
        assert requests > 0 and calls > 0, r
        assert abs(float(r["syscalls_per_request"]) - calls / requests) \
            < 0.01, r
        if r["step"].startswith("09"):
            assert r["top_calls"].startswith("io_uring_enter "), r
            assert "recvfrom" not in r["top_calls"], r
            assert int(r["ring_jobs"]) >= requests, r
        else:
            assert "epoll_wait" in r["top_calls"], r
            assert "recvfrom" in r["top_calls"], r


def test_stackful_and_stackless_parked_customers_measured(quick):
    """bench/stackful.c parks the same customers both ways: a frame each,
    and a stack each (64 KiB and 8 MiB mapped). A stack costs at least the
    page the parked recipe touched; a frame, less than that page."""
    _, rows = read(quick, "stackful")
    kinds = {(r["kind"], r["stack_kib"]): r for r in rows}
    assert set(kinds) == {("stackless", "0"), ("stackful", "64"),
                          ("stackful", "8192")}, rows
    for row in rows:
        assert int(row["customers"]) > 0 and not row["note"], row
    assert float(kinds[("stackless", "0")]["bytes_per_customer"]) < 4096
    for stack in ("64", "8192"):
        assert float(kinds[("stackful", stack)]["bytes_per_customer"]) >= 4096


def test_every_plot_drawn_and_the_machine_named(quick):
    plots = ["scaling-wall", "scaling-memory", "idle-latency", "idle-memory"]
    plots += [f"timeline-{name[:2]}" for name in step_names()]
    if shutil.which("wrk"):
        plots += ["throughput-rps", "throughput-cpu", "syscalls"]
    if worker_steps():
        plots.append("doors-spread")
    for name in plots:
        svg = (quick / f"{name}.svg").read_text()
        assert "<svg" in svg and "</svg>" in svg, name
    machine = json.loads((quick / "machine.json").read_text())
    for key in ("cpu", "cores", "kernel", "command"):
        assert machine[key], key
    assert machine["quick"] is True


def test_a_part_measured_again_for_some_steps_keeps_the_others():
    """bench.py --steps A: A's rows are replaced, every other step's (and
    nginx's) are kept from the earlier run, in the steps' order."""
    sys.path.insert(0, str(pz.ROOT / "bench"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    earlier = [{"step": "01-a", "n": 1, "v": "old"}, {"step": "02-b", "n": 1, "v": "old"},
               {"step": "02-b", "n": 10, "v": "old"}, {"step": "03-c", "n": 1, "v": "old"},
               {"step": "nginx-1w", "n": 1, "v": "old"}]
    again = [{"step": "02-b", "n": 1, "v": "new"}, {"step": "02-b", "n": 10, "v": "new"}]
    assert bench.merged(earlier, again) == [
        earlier[0], again[0], again[1], earlier[3], earlier[4]]
