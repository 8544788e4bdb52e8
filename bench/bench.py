"""make bench: the study behind the book's figures.

Seven parts, each run against every step present (steps/NN-name/server.c),
each bounded in time, each writing a CSV and SVG plots (gnuplot) into one
directory, with machine.json beside them: the CPU, the cores, the kernel and
the exact command, since a figure without its machine means nothing.

  1. scaling     time and memory (PSS of the whole process tree) versus
                 N concurrent customers, N in 1, 10, 100, 1000, 10000, each
                 ordering one pizza with the same oven time; all N are
                 seated first (loadgen --seat-first), then all order at
                 once, and the time runs from the first order sent to the
                 last answer; a step gets no N it cannot seat, and the CSV
                 says why
  2. throughput  keep-alive GET / and POST /order (bake 0) with wrk, for
                 every step and for nginx (1 and 2 workers, serving the same
                 front page), server and wrk pinned to different cores; the
                 server's CPU time per request from /proc; each server run
                 three times, all of them in turn, and the median run kept
  3. idle        latency of one active customer while M silent ones sit at
                 their tables (steps with a readiness API: 04 onwards, and
                 nginx with one worker), and what each silent one costs in
                 memory: PSS of the server's whole process tree, started
                 fresh, before and after they sat down
  4. timeline    10 orders, from each step's --trace: one lane per cook
  5. doors       step 08's three doors (--door reuseport, shared,
                 exclusive), four cooks: customers one after another (the
                 herd: context switches per customer; how evenly they
                 spread), and ten at once while one cook is stopped for a
                 moment (who waits for it: the latency tail)
  6. syscalls    system calls per request of the one-cook kitchens that
                 wait with epoll (06, 07) or hand the kernel jobs (09),
                 under the throughput part's keep-alive GET / (wrk): counted
                 by perf stat on the kernel's syscall tracepoints, which
                 leaves the server at its own speed; where perf cannot,
                 strace -c -f, whose stops at every call slow the server
                 (so only the count per request is read, never a speed)
  7. stackful    what a customer parked at an await costs, stackful
                 (ucontext, a stack each: 64 KiB and 8 MiB mapped) against
                 stackless (step 10's coro.h, a frame): bench/stackful.c
                 parks N of each and reads its own PSS before and after

    python3 bench/bench.py [--quick] [--out DIR] [--parts scaling idle ...]
                           [--steps 01 07] [--replot]

--quick is the harness's own check (make test runs it): small sizes, short
runs, under two minutes; its numbers are not figures for the book.
"""
import argparse
import csv
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The harness in tests/ picks the sanitizer build when asked; a benchmark
# measures the normal build, whatever the calling environment says.
os.environ.pop("PIZZERIA_BUILD", None)
import race  # noqa: E402  tree(), pss_kib(), Sampler, race(), start_server()
import idle_latency  # noqa: E402  measure()

ROOT = race.ROOT
LOADGEN = race.LOADGEN
STACKFUL = LOADGEN.parent / "stackful"

FULL = {
    "customers": [1, 10, 100, 1000, 10000], "bake_ms": 1000,
    "wrk_seconds": 5, "wrk_connections": 50, "throughput_runs": 3,
    "idle": [10, 100, 1000, 3000, 10000], "idle_seconds": 3, "idle_runs": 3,
    "timeline_bake_ms": 300,
    "door_workers": 4, "door_customers": 2000, "door_stall_ms": 500,
    "parked": 10000,
}
QUICK = {
    "customers": [1, 10], "bake_ms": 100,
    "wrk_seconds": 1, "wrk_connections": 4, "throughput_runs": 1,
    "idle": [10, 100], "idle_seconds": 1, "idle_runs": 1,
    "timeline_bake_ms": 50,
    "door_workers": 4, "door_customers": 100, "door_stall_ms": 100,
    "parked": 1000,
}
TIMELINE_ORDERS = 10
# Past this many customers a step that serves one at a time would only
# measure N times the oven.
BLOCKING_LIMIT = 10

COLUMNS = {
    # all_answered_s: from the first order sent to the last answer;
    # max_ms: the longest one customer waited, from its order to its
    # answer; seating_s: opening the N connections before anyone ordered;
    # ordering_s: sending the N orders, one after the other.
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
    # wakeups: the door's news reported to a cook; for_nobody: of those,
    # the ones that found nobody to let in; switches: the cooks' voluntary
    # context switches (each time one went to sleep); per_cook: customers
    # each cook let in, in the order the cooks were hired.
    "doors": ["door", "load", "workers", "customers", "failed",
              "per_second", "p50_ms", "p99_ms", "max_ms", "wakeups",
              "for_nobody", "switches", "switches_per_customer",
              "per_cook", "busiest_share", "quietest_share", "stall_ms",
              "note"],
    # syscalls: every system call the server made while wrk ran; top_calls:
    # the most frequent, with their count per request; ring_*: step 09's
    # own count of io_uring_enter calls and jobs, from its closing report.
    "syscalls": ["step", "request", "connections", "seconds", "requests",
                 "syscalls", "syscalls_per_request", "top_calls",
                 "ring_enters", "ring_jobs", "jobs_per_enter", "tool",
                 "note"],
    # struct_bytes: what each coroutine keeps besides its stack pages (the
    # frame; for ucontext, the saved context and the rest); stack_kib: the
    # stack mapped for each, 0 for none.
    "stackful": ["kind", "stack_kib", "customers", "struct_bytes",
                 "pss_before_kib", "pss_after_kib", "bytes_per_customer",
                 "note"],
}


def say(*words):
    print(*words, file=sys.stderr, flush=True)


def read_csv(out, part):
    """The rows of an earlier run, numbers as numbers, blanks as None."""
    def value(text):
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text if text != "" else None
    with open(out / f"{part}.csv", newline="") as f:
        return [{k: value(v) for k, v in row.items()}
                for row in csv.DictReader(f)]


def write_csv(out, part, rows):
    with open(out / f"{part}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS[part], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def manifest(step):
    return json.loads((step / "step.json").read_text())


def number(name):
    return name.split("-")[0]


# ------------------------------------------------------------ 1. scaling

def most_customers(step):
    """How many customers at once this step can seat, and why no more."""
    m = manifest(step)
    if not m["concurrent"]:
        return BLOCKING_LIMIT, "serves one customer at a time"
    if m["process_per_connection"] or m["cook"] == "pid tid":
        # A cook per customer: race.race() raises --max-conns to N, so the
        # figures say what N cooks cost, or where hiring them fails.
        return max(FULL["customers"]), "as many cooks as customers"
    limit = m["default_max_conns"] or BLOCKING_LIMIT
    if limit < 10000:
        why = f"select's checklist stops below FD_SETSIZE ({limit})"
    else:
        why = f"--max-conns {limit}"
    return limit, why


def scaling(steps, sizes):
    rows = []
    for step in steps:
        limit, why = most_customers(step)
        for n in sizes["customers"]:
            row = {"step": step.name, "customers": n,
                   "bake_ms": sizes["bake_ms"]}
            if n > limit:
                rows.append({**row, "note": f"skipped: {why}"})
                continue
            say(f"scaling: {step.name}, {n} customers")
            try:
                r = race.race(step, sizes["bake_ms"], n, seat_first=True)
            except Exception as e:   # one failed point is a row, not a crash
                rows.append({**row, "note": f"failed: {e}"})
                continue
            rows.append({**row, "seating_s": r["seating_s"],
                         "ordering_s": r["ordering_s"],
                         "all_answered_s": r["wall_s"],
                         "orders_per_s": r["orders_per_s"],
                         "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                         "max_ms": r["max_ms"],
                         "failed": r["failed"],
                         "peak_pss_kib": round(r["peak_pss_mib"] * 1024),
                         "peak_processes": r["peak_processes"],
                         "peak_threads": r["peak_threads"],
                         "note": "ok" if r["failed"] == 0 else
                         f"{r['failed']} of {n} customers got no pizza "
                         "(a connection refused or reset, or no answer "
                         "within 60 s)"})
    return rows


# --------------------------------------------------------- 2. throughput

def cpu_ticks(pid):
    """CPU time of pid's whole tree so far, in clock ticks: each process's
    own user+system time, plus that of the children it has already reaped
    (the fork step's finished cooks live on only there)."""
    total = 0
    for p in race.tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1]
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields.split()[11:15])
        total += utime + stime + cutime + cstime
    return total


def pinned(core, command):
    """Server on one core, wrk on the other: on two cores each would
    otherwise steal from the other and measure itself."""
    if os.cpu_count() >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)] + command
    return command


def milliseconds(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def parse_wrk(out):
    figures = {"errors": 0}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if m:
        figures["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        figures["requests_per_s"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if m:
            figures[key] = round(milliseconds(m.group(1)), 3)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        figures["errors"] += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        figures["errors"] += sum(int(x) for x in m.groups())
    return figures


POST_SCRIPT = """wrk.method = "POST"
wrk.body = "pizza=margherita"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def run_wrk(port, request, sizes, scripts):
    command = ["wrk", "-t1", f"-c{sizes['wrk_connections']}",
               f"-d{sizes['wrk_seconds']}s", "--latency", "--timeout", "5s"]
    if request == "POST /order":
        command += ["-s", scripts]
    command.append(f"http://127.0.0.1:{port}"
                   + request.split()[1])
    out = subprocess.run(pinned(1, command), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         timeout=sizes["wrk_seconds"] + 30).stdout
    return parse_wrk(out)


def measured(pid, port, request, sizes, scripts):
    """wrk against the server at port, and the CPU the server spent."""
    before = cpu_ticks(pid)
    figures = run_wrk(port, request, sizes, scripts)
    cpu_s = (cpu_ticks(pid) - before) / os.sysconf("SC_CLK_TCK")
    figures["server_cpu_s"] = round(cpu_s, 3)
    if figures.get("requests"):
        figures["cpu_us_per_request"] = round(
            cpu_s * 1e6 / figures["requests"], 2)
    return figures


def start_step(step, *flags, stderr=subprocess.DEVNULL):
    """A step on a free port, pinned to core 0; (process, port)."""
    proc = subprocess.Popen(
        pinned(0, [str(step / "pizzeria"), "--port", "0", *flags]),
        stdout=subprocess.PIPE, stderr=stderr)
    line = proc.stdout.readline().decode()
    match = re.search(r":(\d+)$", line.strip())
    if not match:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{step.name} did not start: {line!r}")
    return proc, int(match.group(1))


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def front_page(step):
    """The bytes of GET / from a running step: what nginx will serve."""
    proc, port = start_step(step, "--bake-ms", "0")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/",
                                    timeout=5) as answer:
            return answer.read()
    finally:
        stop(proc)


def nginx_binary():
    """Debian puts nginx in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which("nginx")
    return found or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                     else None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NGINX_CONF = """worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    # As many answers on one connection as our pizzerias give (no limit):
    # nginx's default closes it after 1000.
    keepalive_requests 1000000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        # The same bytes as our front page, held in memory as ours are:
        # no file opened, read and closed for each request.
        location = / {{
            default_type "text/html; charset=utf-8";
            return 200 '{page}';
        }}
        # No oven and no kitchen: one fixed answer, the same size as ours.
        location = /order {{
            default_type application/json;
            return 200 '{order}';
        }}
    }}
}}
"""
NGINX_ORDER = ('{"order":1,"pizza":"margherita","qty":1,"total_cents":850,'
               '"baked_ms":0,"cook":"pid 1"}')


def nginx_string(page):
    """page as the text of a single-quoted nginx string: a quote and a
    backslash escaped. nginx would read a '$' as a variable's name."""
    text = page.decode()
    if "$" in text:
        raise RuntimeError("the front page holds a '$': nginx's return "
                           "would read it as a variable")
    return text.replace("\\", "\\\\").replace("'", "\\'")


def start_nginx(workers, page, where, connections=20000):
    """nginx allocates its table of connections when it starts:
    connections is the size of that table."""
    for folder in (where.parent, where):
        folder.chmod(0o755)   # nginx's workers run as nobody: they write
    port = free_port()
    conf = where / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, dir=where, port=port,
                                      order=NGINX_ORDER,
                                      page=nginx_string(page),
                                      connections=connections))
    proc = subprocess.Popen(pinned(0, [nginx_binary(), "-c", str(conf)]),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError("nginx did not start: " +
                       (where / "error.log").read_text()[-300:])


def throughput_servers(steps):
    """(step, its name in the table, its flags): a step of worker
    processes twice, with one worker and with two, beside nginx with as
    many (all of them on the server's one core, as nginx's are)."""
    for step in steps:
        if manifest(step)["worker_processes"]:
            for workers in (1, 2):
                yield step, f"{step.name}-{workers}w", ["--workers",
                                                       str(workers)]
        else:
            yield step, step.name, []


def throughput_points(steps, sizes, scripts, tmp):
    """((server, request), measure) for every row of the part: measure()
    starts the server, runs wrk against it once, stops it, and returns
    the row."""
    base = {"connections": sizes["wrk_connections"],
            "seconds": sizes["wrk_seconds"]}

    def step_point(step, server, flags, request):
        def measure():
            say(f"throughput: {server}, {request}")
            proc, port = start_step(step, "--bake-ms", "0", *flags)
            try:
                figures = measured(proc.pid, port, request, sizes, scripts)
            finally:
                stop(proc)
            note = "ok"
            if not manifest(step)["concurrent"]:
                note = ("one customer at a time: the other connections "
                        "wait in the backlog")
            return {"server": server, "request": request, **base,
                    **figures, "note": note}
        return measure

    def nginx_point(workers, request, page):
        def measure():
            say(f"throughput: nginx, {workers} worker(s), {request}")
            where = Path(tempfile.mkdtemp(dir=tmp))
            proc, port = start_nginx(workers, page, where)
            try:
                figures = measured(proc.pid, port, request, sizes, scripts)
            finally:
                stop(proc)
            note = (f"front page of {steps[-1].name}" if request == "GET /"
                    else "a fixed answer, no oven")
            return {"server": f"nginx-{workers}w", "request": request,
                    **base, **figures, "note": note}
        return measure

    for step, server, flags in throughput_servers(steps):
        for request in ("GET /", "POST /order"):
            yield (server, request), step_point(step, server, flags, request)
    if nginx_binary():
        page = front_page(steps[-1])
        for workers in (1, 2):
            for request in ("GET /", "POST /order"):
                yield ((f"nginx-{workers}w", request),
                       nginx_point(workers, request, page))


def median_cpu_row(rows):
    """Of several runs of one server and request, the run whose CPU per
    request is the median, whole, so that its columns stay one run's."""
    rows = sorted(rows, key=lambda r: float(r.get("cpu_us_per_request")
                                            or "inf"))
    return {**rows[len(rows) // 2], "runs": len(rows)}


def throughput(steps, sizes):
    """Every server, each request, measured throughput_runs times, the
    servers taken in turn (all of them, then all of them again), and the
    median run of each kept: on a shared machine a slow or a fast spell
    outlasts one run, and taken in turn it falls on every server alike
    instead of deciding a comparison between two of them."""
    if not shutil.which("wrk"):
        return [{"server": "all", "note": "skipped: wrk is not installed "
                 "(Debian: apt-get install wrk)"}]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        scripts = Path(tmp) / "post.lua"
        scripts.write_text(POST_SCRIPT)
        points = list(throughput_points(steps, sizes, scripts, tmp))
        results = {key: [] for key, _ in points}
        for _ in range(sizes.get("throughput_runs", 1)):
            for key, measure in points:
                results[key].append(measure())
    rows = [median_cpu_row(results[key]) for key, _ in points]
    if not nginx_binary():
        rows.append({"server": "nginx", "note": "skipped: nginx is not "
                     "installed (Debian: apt-get install nginx)"})
    return rows


# ---------------------------------------------------------------- 3. idle

def loadgen_figures(text):
    figures = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            figures[parts[0]] = parts[1]
    return figures


def median_row(rows):
    """Of several fresh runs of one point, the run whose median latency is
    the median. Keeping one whole run keeps its columns consistent."""
    ok = [r for r in rows if r.get("note") == "ok"]
    if len(ok) < len(rows):
        return next(r for r in rows if r.get("note") != "ok")
    ok.sort(key=lambda r: float(r["p50_ms"]))
    return {**ok[len(ok) // 2], "runs": len(rows)}


def interleaved(measure, sizes, runs):
    """Each size measured runs times, the sizes taken in turn (10, 100, ...,
    then 10, 100, ... again), and the median run of each kept. On a shared
    machine a slow or a fast spell lasts longer than one run: in turn, it
    falls on every size alike, instead of making one size look slow."""
    results = {n: [] for n in sizes}
    for _ in range(runs):
        for n in sizes:
            results[n].append(measure(n))
    return [median_row(results[n]) for n in sizes]


def step_idle(step, n, sizes):
    """One fresh run of idle_latency.py's measurement."""
    row = {"step": step.name, "idle": n}
    try:
        text = idle_latency.measure(idle_latency.pz.step_named(step.name), n,
                                    sizes["idle_seconds"])
    except (Exception, SystemExit) as e:
        return {**row, "note": f"failed: {e}"}
    f = loadgen_figures(text)
    memory = re.search(r"(\d+) -> (\d+) \((-?\d+) bytes", f.get("pss_kb", ""))
    return {**row, "requests_per_s": f.get("per_second"),
            "p50_ms": f.get("p50_ms"), "p90_ms": f.get("p90_ms"),
            "p99_ms": f.get("p99_ms"), "max_ms": f.get("max_ms"),
            "pss_before_kib": memory and memory.group(1),
            "pss_after_kib": memory and memory.group(2),
            "bytes_per_idle": memory and memory.group(3), "note": "ok"}


def idle(steps, sizes):
    rows = []
    runs = sizes.get("idle_runs", 1)
    for step in steps:
        m = manifest(step)
        if (not m["concurrent"] or m["cook"] != "pid"
                or m["process_per_connection"]):
            continue   # 01-03 have no tablet: a cook per customer, or none
        if m["worker_processes"]:
            continue   # one kitchen's PSS is one process's; 08 has several
        limit, why = most_customers(step)
        seated = [n for n in sizes["idle"] if n <= limit]

        def run(n, step=step):
            say(f"idle: {step.name}, {n} silent customers")
            return step_idle(step, n, sizes)
        rows += interleaved(run, seated, runs)
        rows += [{"step": step.name, "idle": n, "note": f"skipped: {why}"}
                 for n in sizes["idle"] if n > limit]
    if nginx_binary():
        page = front_page(steps[-1])

        def nginx_run(n):
            say(f"idle: nginx, one worker, {n} silent customers")
            with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
                return nginx_idle(n, sizes, page, Path(tmp))
        rows += interleaved(nginx_run, sizes["idle"], runs)
    return rows


def nginx_places(n):
    """nginx's table of connections (worker_connections) for n silent
    customers. When fewer than a sixteenth of its places are free, nginx
    closes up to 32 connections that have not sent a request yet, to make
    room ("worker_connections are not enough, reusing connections" in its
    log, at level warn): with n + 64 places, 32 of 1000 silent customers
    were shown the door. An eighth more than n keeps it clear of that."""
    return n + n // 8 + 64


def open_fds(pid):
    return sum(len(os.listdir(f"/proc/{p}/fd")) for p in race.tree(pid))


def nginx_idle(n, sizes, page, tmp):
    """The same measurement against nginx with one worker, fresh: its
    memory (master and worker, PSS) before and after n silent customers,
    and one customer asking for the front page meanwhile."""
    where = tmp / "nginx"
    where.mkdir()
    # A table just large enough, as our steps' --max-conns n + 10, so that
    # "before" does not hold 20000 empty places already. nginx fills its
    # whole table when it starts, so the places are in "before".
    proc, port = start_nginx(1, page, where, connections=nginx_places(n))
    row = {"step": "nginx-1w", "idle": n}
    idle = []
    try:
        time.sleep(0.3)   # the worker is up and has settled
        base, before = open_fds(proc.pid), idle_latency.tree_pss_kb(proc.pid)
        idle = [socket.create_connection(("127.0.0.1", port))
                for _ in range(n)]
        deadline = time.monotonic() + 20
        while open_fds(proc.pid) < base + n and time.monotonic() < deadline:
            time.sleep(0.05)
        seated = open_fds(proc.pid) - base
        if seated < n:
            return {**row, "note": f"failed: nginx held {seated} of the {n} "
                    "silent customers"}
        after = idle_latency.tree_pss_kb(proc.pid)
        out = subprocess.run(
            [str(LOADGEN), "--port", str(port), "--concurrency", "1",
             "--duration", str(sizes["idle_seconds"]), "--path", "/"],
            stdout=subprocess.PIPE, text=True, timeout=60).stdout
        f = loadgen_figures(out)
        return {**row, "requests_per_s": f.get("per_second"),
                "p50_ms": f.get("p50_ms"), "p90_ms": f.get("p90_ms"),
                "p99_ms": f.get("p99_ms"), "max_ms": f.get("max_ms"),
                "pss_before_kib": before, "pss_after_kib": after,
                "bytes_per_idle": round((after - before) * 1024 / n),
                "note": "ok" if f.get("failed") == "0" else
                f"{f.get('failed')} failed answers (GET /)"}
    finally:
        for s in idle:
            s.close()
        stop(proc)


# ------------------------------------------------------------ 4. timeline

def read_trace(path):
    """One row per connection: when each kitchen event happened, and the
    cook who answered (the response line's detail after the status)."""
    conns = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3:
            continue
        seconds, event, conn = float(parts[0]), parts[1], int(parts[2])
        row = conns.setdefault(conn, {"conn": conn})
        key = event.replace("-", "_") + "_s"
        row.setdefault(key, seconds)
        if event == "response" and len(parts) == 4:
            row["cook"] = parts[3].split(" ", 1)[1] if " " in parts[3] else ""
    return [conns[c] for c in sorted(conns)]


def timeline(steps, sizes):
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for step in steps:
            say(f"timeline: {step.name}")
            trace = Path(tmp) / f"{step.name}.trace"
            proc, port = start_step(step, "--bake-ms",
                                    str(sizes["timeline_bake_ms"]),
                                    "--trace", str(trace))
            try:
                subprocess.run(
                    [str(LOADGEN), "--port", str(port), "--concurrency",
                     str(TIMELINE_ORDERS), "--requests", str(TIMELINE_ORDERS),
                     "--order", "margherita", "--timeout-ms", "30000"],
                    stdout=subprocess.DEVNULL, timeout=60)
            finally:
                stop(proc)
            conns = read_trace(trace)
            start = min((c.get("accept_s", 0) for c in conns), default=0)
            for c in conns:
                rows.append({"step": step.name, **{
                    k: (round(v - start, 6) if k.endswith("_s") else v)
                    for k, v in c.items()}})
    return rows


# ------------------------------------------------------------ 5. doors

DOORS = ("reuseport", "shared", "exclusive")


def herd_report(text):
    """The master's two closing lines (step 08's report_the_herd)."""
    counts = re.search(r"(\d+) wake-ups, (\d+) for nobody, (\d+) customers, "
                       r"(\d+) cook context switches", text)
    per_cook = re.search(r"customers per cook:([\d ]*)", text)
    if not counts or not per_cook:
        raise RuntimeError(f"no herd report in {text[-300:]!r}")
    wakeups, for_nobody, customers, switches = map(int, counts.groups())
    cooks = [int(n) for n in per_cook.group(1).split()]
    total = sum(cooks) or 1
    return {"wakeups": wakeups, "for_nobody": for_nobody,
            "switches": switches,
            "switches_per_customer": round(switches / max(customers, 1), 2),
            "per_cook": " ".join(map(str, cooks)),
            "busiest_share": round(max(cooks) / total, 3),
            "quietest_share": round(min(cooks) / total, 3)}


def door_run(step, door, sizes, load):
    """One fresh kitchen of sizes["door_workers"] cooks behind one kind of
    door, one load, and what the master said at closing time.
      trickle  customers one after another, each on a new connection:
               every customer finds every cook asleep, so the herd shows
      stall    ten at once, new connections, while one cook is stopped
               (SIGSTOP) for stall_ms, as if stuck in a slow disk read:
               who waits for it?"""
    workers = sizes["door_workers"]
    row = {"door": door, "load": load, "workers": workers}
    with tempfile.TemporaryFile() as said:
        proc = subprocess.Popen(
            pinned(0, [str(step / "pizzeria"), "--port", "0", "--bake-ms",
                       "0", "--workers", str(workers), "--door", door]),
            stdout=subprocess.PIPE, stderr=said)
        line = proc.stdout.readline().decode()
        port = int(re.search(r":(\d+)$", line.strip()).group(1))
        cooks = []
        deadline = time.monotonic() + 5
        while len(cooks) < workers and time.monotonic() < deadline:
            cooks = [p for p in race.tree(proc.pid) if p != proc.pid]
            time.sleep(0.05)
        concurrency = 1 if load == "trickle" else 10
        command = pinned(1, [str(LOADGEN), "--port", str(port), "--close",
                             "--path", "/menu", "--concurrency",
                             str(concurrency), "--requests",
                             str(sizes["door_customers"]),
                             "--timeout-ms", "10000"])
        try:
            stopped = None
            if load == "stall":
                stopped = sorted(cooks)[0]
                os.kill(stopped, signal.SIGSTOP)
                row["stall_ms"] = sizes["door_stall_ms"]
            gen = subprocess.Popen(command, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
            if stopped:
                time.sleep(sizes["door_stall_ms"] / 1000)
                os.kill(stopped, signal.SIGCONT)
            out = gen.communicate(timeout=120)[0]
        finally:
            stop(proc)
        said.seek(0)
        report = said.read().decode(errors="replace")
    f = loadgen_figures(out)
    row.update({"customers": f.get("completed"), "failed": f.get("failed"),
                "per_second": f.get("per_second"), "p50_ms": f.get("p50_ms"),
                "p99_ms": f.get("p99_ms"), "max_ms": f.get("max_ms")})
    try:
        row.update(herd_report(report), note="ok")
    except RuntimeError as e:
        row["note"] = f"failed: {e}"
    return row


def doors(steps, sizes):
    """Step 08's three doors (--door): one listening socket per cook
    (SO_REUSEPORT), one in every cook's tablet, and the same with
    EPOLLEXCLUSIVE. Server on core 0, the load generator on core 1."""
    rows = []
    for step in steps:
        if not manifest(step)["worker_processes"]:
            continue
        for load in ("trickle", "stall"):
            for door in DOORS:
                say(f"doors: {step.name}, {door}, {load}")
                rows.append(door_run(step, door, sizes, load))
    return rows


# ------------------------------------------------------------ 6. syscalls

# The kitchens of one cook that wait with epoll (06, 07) or hand the kernel
# jobs (09), under the throughput part's keep-alive load.
SYSCALL_STEPS = ("06", "07", "09")
TOP_CALLS = 5
# The calls perf counts one by one (the total counts them all): a counter
# per call of the kernel's 360 takes perf some 15 s to take down again.
COUNTED_CALLS = ("read", "write", "recvfrom", "sendto", "recvmsg",
                 "sendmsg", "readv", "writev", "epoll_wait", "epoll_pwait",
                 "epoll_ctl", "accept", "accept4", "close", "shutdown",
                 "io_uring_enter", "timerfd_settime", "mmap", "munmap",
                 "brk", "madvise", "setsockopt", "fcntl")
RING_REPORT = re.compile(r"the ring: (\d+) io_uring_enter calls for (\d+) "
                         r"jobs")


def perf_counts_syscalls():
    """perf stat can count the kernel's syscall tracepoints here (root, or
    a low perf_event_paranoid, and tracefs)."""
    if not shutil.which("perf"):
        return False
    run = subprocess.run(["perf", "stat", "-x,", "-e",
                          "raw_syscalls:sys_enter", "--", "true"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, timeout=30)
    return run.returncode == 0 and "raw_syscalls:sys_enter" in run.stderr


def while_attached(tracer, load):
    """load()'s result, with tracer (perf stat or strace, attached to the
    server) running from before it starts until after it ends; a tracer
    says nothing until SIGINT stops it, and then writes its counts."""
    proc = subprocess.Popen(tracer, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)   # attached before the first request
    try:
        return load()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def perf_syscalls(pid, load, where):
    """The system calls pid makes while load() runs, counted in the kernel
    by perf stat (a counter on each syscall's tracepoint: the server is not
    stopped at each call, so it runs at its own speed). (total, {name:
    count}, load's result)."""
    counts = where / "perf.csv"
    events = ",".join(["raw_syscalls:sys_enter"] + [
        f"syscalls:sys_enter_{call}" for call in COUNTED_CALLS])
    result = while_attached(["perf", "stat", "-x,", "-o", str(counts),
                             "-e", events, "-p", str(pid)], load)
    total, calls = 0, {}
    for line in counts.read_text().splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        if fields[2] == "raw_syscalls:sys_enter":
            total = int(fields[0])
        elif fields[2].startswith("syscalls:sys_enter_"):
            calls[fields[2][len("syscalls:sys_enter_"):]] = int(fields[0])
    calls["(others)"] = total - sum(calls.values())
    return total, calls, result


def strace_syscalls(pid, load, where):
    """The same with strace -c -f attached: it stops the server at every
    call, so the server runs slower and serves fewer requests in the
    window; only the count per request is read from it, never a speed."""
    table = where / "strace.txt"
    result = while_attached(["strace", "-c", "-f", "-o", str(table), "-p",
                             str(pid)], load)
    total, calls = 0, {}
    for line in table.read_text().splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[3].isdigit():
            continue
        if fields[-1] == "total":
            total = int(fields[3])
        else:
            calls[fields[-1]] = int(fields[3])
    return total, calls, result


def top_calls(calls, requests):
    """The most frequent calls, each with its count per request."""
    most = sorted(calls.items(), key=lambda c: -c[1])[:TOP_CALLS]
    return "; ".join(f"{name} {count} ({count / requests:.3g}/req)"
                     for name, count in most if count > 0)


def syscalls(steps, sizes):
    """System calls per request: GET / on keep-alive connections (wrk, as
    in the throughput part), the server's calls counted from the moment
    before the load starts to the moment after it ends."""
    rows = []
    if not shutil.which("wrk"):
        return [{"step": "all", "note": "skipped: wrk is not installed "
                 "(Debian: apt-get install wrk)"}]
    if perf_counts_syscalls():
        tool, count = "perf stat", perf_syscalls
    elif shutil.which("strace"):
        tool, count = "strace -c -f", strace_syscalls
    else:
        return [{"step": "all", "note": "skipped: neither perf nor strace "
                 "can count system calls here"}]
    base = {"request": "GET /", "connections": sizes["wrk_connections"],
            "seconds": sizes["wrk_seconds"], "tool": tool}
    for step in steps:
        if number(step.name) not in SYSCALL_STEPS:
            continue
        say(f"syscalls: {step.name}, {tool}")
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            where = Path(tmp)
            with open(where / "stderr", "w") as stderr:
                proc, port = start_step(step, "--bake-ms", "0",
                                        stderr=stderr)
                try:
                    total, calls, figures = count(
                        proc.pid, lambda: run_wrk(port, "GET /", sizes,
                                                  None), where)
                finally:
                    stop(proc)
            report = RING_REPORT.search((where / "stderr").read_text())
        requests = figures.get("requests")
        row = {"step": step.name, **base, "requests": requests,
               "syscalls": total}
        if not requests or not total:
            rows.append({**row, "note": "failed: no requests or no calls "
                         "counted"})
            continue
        row.update(syscalls_per_request=round(total / requests, 3),
                   top_calls=top_calls(calls, requests), note="ok")
        if report:
            enters, jobs = (int(x) for x in report.groups())
            row.update(ring_enters=enters, ring_jobs=jobs,
                       jobs_per_enter=round(jobs / enters, 1))
        rows.append(row)
    return rows


# ---------------------------------------------------------------- plots

def datablock(name, lines):
    return f"${name} << EOD\n" + "\n".join(lines) + "\nEOD\n"


# A plot is drawn 800 units wide and shown about 660 pixels wide beside
# 18-pixel text (about 450 points beside 10.5-point text in the PDF): its
# text at 18 units is some 15 pixels (10 points), over 80% of the body's.
PLOT_WIDTH, PLOT_FONT = 800, 18

# Each series keeps its colour, dash and marker in every figure, by its
# place in the list: told apart in colour, and in greyscale by the dash
# and the marker. No pale colours: every line must show on white.
COLOURS = ("#000000", "#e69f00", "#0072b2", "#009e73", "#d55e00",
           "#cc79a7", "#56b4e9", "#7f7f7f", "#8c564b", "#17becf")
MARKERS = (7, 5, 9, 11, 13, 4, 6, 8, 10, 12)


def series_style(i):
    return (f"lw 2 lc rgb '{COLOURS[i % len(COLOURS)]}' dt {i % 5 + 1} "
            f"pt {MARKERS[i % len(MARKERS)]} ps 1.3")


def wrapped(title, width=52):
    """A title over two lines where one would run past the plot's edge."""
    return "\\n".join(textwrap.wrap(title, width))


def short(label):
    """A step's number in a key ("07"), nginx's name ("nginx"): the keys
    stay small enough to sit inside the plot."""
    return label[:2] if label[:2].isdigit() else label.split("-")[0]


def svg_header(out, name, title, width=PLOT_WIDTH, height=520):
    # Plain numbers on the axes ("1000000", not "1x10^6"): a superscript
    # is a shifted baseline that not every renderer of SVG draws.
    return (f"set terminal svg size {width},{height} dynamic "
            f"font 'sans,{PLOT_FONT}' background '#ffffff'\n"
            f"set output '{out / name}'\nset title \"{wrapped(title)}\"\n"
            "set key inside left top box\nset grid\n"
            "set format x '%.10g'\nset format y '%.10g'\n")


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True,
                   timeout=60)


KEY_SHARE = 0.3  # of the plot's height, kept free at the top for the key


def headroom(values, logy):
    """The y range that leaves the top KEY_SHARE of the plot to the key,
    so that the key sits inside the plot and hides no line."""
    low, high = min(values), max(values)
    if logy:
        low = low if low > 0 else min(v for v in values if v > 0)
        span = math.log10(high / low) if high > low else 1.0
        top = high * 10 ** (span * KEY_SHARE / (1 - KEY_SHARE))
        return f"[{low / 1.5:g}:{top:g}]"
    return f"[0:{high / (1 - KEY_SHARE):g}]"


def plot_lines(out, name, title, rows, series, x, y, xlabel, ylabel,
               logy=True):
    blocks, plots, values = "", [], []
    for i, label in enumerate(series):
        points = [(r[x], r[y]) for r in rows
                  if r["step"] == label and r.get(y) not in (None, "")]
        if not points:
            continue
        values += [float(v) for _, v in points]
        blocks += datablock(f"s{i}", [f"{a} {b}" for a, b in points])
        plots.append(f"$s{i} using 1:2 with linespoints {series_style(i)} "
                     f"title '{short(label)}'")
    if not plots:
        return
    gnuplot(svg_header(out, name, title) + blocks +
            f"set logscale x\n{'set logscale y' if logy else ''}\n"
            f"set yrange {headroom(values, logy)}\n"
            "set key inside top center maxrows 2 samplen 2 spacing 0.9 "
            "width 1\n"
            f"set xlabel '{xlabel}'\nset ylabel '{ylabel}'\n"
            "plot " + ", ".join(plots) + "\n")


def plot_throughput(out, rows):
    done = [r for r in rows if r.get("requests_per_s") not in (None, "")]
    if not done:
        return
    servers = list(dict.fromkeys(r["server"] for r in done))
    for column, name, ylabel in (
            ("requests_per_s", "throughput-rps.svg", "requests per second"),
            ("cpu_us_per_request", "throughput-cpu.svg",
             "server CPU time per request (µs)")):
        lines = []
        for s in servers:
            get = {r["request"]: r.get(column) or 0 for r in done
                   if r["server"] == s}
            lines.append(f"\"{s}\" {get.get('GET /', 0)} "
                         f"{get.get('POST /order', 0)}")
        gnuplot(svg_header(out, name, "Keep-alive, bake 0, wrk -t1 on "
                           "another core", PLOT_WIDTH, 600) +
                datablock("d", lines) +
                "set style data histograms\nset style histogram cluster "
                "gap 1\nset xtics rotate by -35\nset key left top\n"
                f"set ylabel '{ylabel}'\nset yrange [0:*]\n"
                # A solid bar and a hatched one: apart in greyscale too.
                f"plot $d using 2:xtic(1) title 'GET /' "
                f"fill solid 0.9 border -1 lc rgb '{COLOURS[2]}', "
                f"'' using 3 title 'POST /order' "
                f"fill pattern 4 border -1 lc rgb '{COLOURS[4]}'\n")


def plot_syscalls(out, rows):
    done = [r for r in rows if r.get("note") == "ok"]
    if not done:
        return
    lines = [f"\"{r['step']}\" {r['syscalls_per_request']}" for r in done]
    connections = done[0]["connections"]
    gnuplot(svg_header(out, "syscalls.svg", f"System calls per request: "
                       f"keep-alive GET /, {connections} connections (wrk)",
                       PLOT_WIDTH, 520) +
            datablock("d", lines) +
            "set style data histograms\nset style fill solid 0.9 border -1\n"
            "set key off\nset ylabel 'system calls per request'\n"
            "set yrange [0:*]\n"
            f"plot $d using 2:xtic(1) lc rgb '{COLOURS[2]}'\n")


def plot_doors(out, rows):
    """How the customers of a trickle spread over the cooks, per door:
    each cook's share, busiest first."""
    done = [r for r in rows if r.get("load") == "trickle"
            and r.get("note") == "ok"]
    if not done:
        return
    shares = {}
    for r in done:
        cooks = sorted((int(n) for n in str(r["per_cook"]).split()),
                       reverse=True)
        shares[r["door"]] = [100 * n / (sum(cooks) or 1) for n in cooks]
    count = max(len(s) for s in shares.values())
    lines = [f"{door} " + " ".join(f"{s:.1f}" for s in
                                   share + [0] * (count - len(share)))
             for door, share in shares.items()]
    bars = ", ".join(
        f"{'$d' if i == 0 else chr(39) * 2} using {i + 2}"
        f"{':xtic(1)' if i == 0 else ''} title '{'busiest' if i == 0 else 'quietest' if i == count - 1 else f'cook {i + 1}'}' "
        f"fill pattern {i % 7 + 1} border -1 lc rgb '{COLOURS[i + 1]}'"
        for i in range(count))
    workers = done[0]["workers"]
    gnuplot(svg_header(out, "doors-spread.svg", f"{workers} cooks, customers "
                       "one after another: each cook's share, busiest "
                       "first", PLOT_WIDTH, 560) +
            datablock("d", lines) +
            "set style data histograms\nset style histogram cluster "
            "gap 1\nset key inside top center horizontal samplen 2\n"
            # Room above the bars for the key: a cook may take them all.
            "set ylabel 'customers let in (%)'\nset yrange [0:125]\n"
            "set ytics 0,20,100\nset xrange [-0.6:2.6]\n"
            f"plot {bars}\n")


# Rows of "from to bottom top": boxxyerror wants a centre and the corners.
BOX = "using (($1+$2)/2):(($3+$4)/2):1:2:3:4 with boxxyerror"


def timeline_boxes(lanes):
    """lanes: (label, customers) from the bottom up. Each customer is a
    thin stripe in its lane, so that one cook's many orders do not hide
    one another: a box at the table and a box in the oven."""
    table, oven = [], []
    for lane, (_, conns) in enumerate(lanes):
        for stripe, r in enumerate(conns):
            y = lane + 0.1 + 0.8 * (stripe + 0.5) / len(conns)
            h = 0.3 * 0.8 / len(conns)
            if r.get("accept_s") not in (None, "") and \
                    r.get("close_s") not in (None, ""):
                table.append(f"{r['accept_s']} {r['close_s']} "
                             f"{y - h} {y + h}")
            if r.get("oven_in_s") not in (None, "") and \
                    r.get("oven_out_s") not in (None, ""):
                oven.append(f"{r['oven_in_s']} {r['oven_out_s']} "
                            f"{y - h} {y + h}")
    return table, oven


def draw_timeline(out, name, title, lanes, ylabel, seconds):
    table, oven = timeline_boxes(lanes)
    height = 240 + 44 * min(len(lanes), 12)
    ytics = ", ".join(f"\"{label[:24]}\" {i + 0.5}"
                      for i, (label, _) in enumerate(lanes))
    gnuplot(svg_header(out, name, title, PLOT_WIDTH, height) +
            datablock("table", table or ["0 0 0 0"]) +
            datablock("oven", oven or ["0 0 0 0"]) +
            f"set ytics ({ytics})\nset yrange [0:{len(lanes)}]\n"
            f"set xrange [0:{seconds}]\nset key outside top center horizontal\n"
            "set xlabel 'seconds since the first customer sat down'\n"
            f"set ylabel '{ylabel}'\nset style fill solid 0.9 noborder\n"
            f"plot $table {BOX} lc rgb '#9ecae1' title 'at the table', "
            f"$oven {BOX} lc rgb '#d94801' title 'in the oven'\n")


def bake_together(conns):
    """Every order in the oven at one moment: the last one in before the
    first one out."""
    ins = [float(r["oven_in_s"]) for r in conns
           if r.get("oven_in_s") not in (None, "")]
    outs = [float(r["oven_out_s"]) for r in conns
            if r.get("oven_out_s") not in (None, "")]
    return len(ins) > 1 and len(outs) == len(ins) and max(ins) < min(outs)


def plot_timelines(out, rows):
    steps = list(dict.fromkeys(r["step"] for r in rows))
    # One time axis for every timeline, the slowest kitchen's: a kitchen
    # ten times faster then looks ten times shorter.
    seconds = max([float(r["close_s"]) for r in rows
                   if r.get("close_s") not in (None, "")] or [1.0])
    seconds = math.ceil(seconds * 10) / 10
    one_cook = []
    for step in steps:
        conns = [r for r in rows if r["step"] == step]
        cooks = list(dict.fromkeys(r.get("cook", "?") for r in conns))
        lanes = [(c, [r for r in conns if r.get("cook", "?") == c])
                 for c in cooks]
        draw_timeline(out, f"timeline-{number(step)}.svg",
                      f"{step}: {len(conns)} orders, one lane per cook",
                      lanes, "cook", seconds)
        if len(cooks) == 1 and bake_together(conns):
            one_cook.append((step, conns))
    # The kitchens where one cook bakes every order at once, side by side:
    # a lane per step, and one picture where they would be four alike.
    if len(one_cook) > 1:
        first, last = number(one_cook[0][0]), number(one_cook[-1][0])
        draw_timeline(out, f"timeline-{first}-{last}.svg",
                      f"Steps {first} to {last}: one cook each, "
                      f"{len(one_cook[0][1])} orders", one_cook[::-1],
                      "step", seconds)


def plot(out, part, rows, steps):
    names = [s.name for s in steps]
    if part == "scaling":
        # Drawn too when some customers were never answered: the time then
        # includes their wait until the load generator gave up on them.
        done = [r for r in rows if r.get("all_answered_s") not in (None, "")]
        bake = rows[0]["bake_ms"] if rows else 0
        plot_lines(out, "scaling-wall.svg", f"Every customer seated, then "
                   f"all order one pizza at once; the oven takes {bake} ms",
                   done, names, "customers", "all_answered_s",
                   "customers at once (N)",
                   "first order sent to last answer (s)")
        plot_lines(out, "scaling-memory.svg", "Peak memory of the server's "
                   "whole process tree (PSS)", done, names, "customers",
                   "peak_pss_kib", "customers at once (N)", "PSS (KiB)")
    elif part == "throughput":
        plot_throughput(out, rows)
    elif part == "idle":
        done = [r for r in rows if r.get("note") == "ok"]
        plot_lines(out, "idle-latency.svg", "One customer asking for the "
                   "menu (nginx: the front page) while M others sit in "
                   "silence", done, names + ["nginx-1w"], "idle",
                   "p50_ms", "silent customers (M)",
                   "median round trip of the active customer (ms)")
        plot_lines(out, "idle-memory.svg", "What each silent customer "
                   "costs: PSS of the server's whole process tree, after "
                   "minus before, over M", done, names + ["nginx-1w"], "idle",
                   "bytes_per_idle", "silent customers (M)",
                   "bytes per silent customer", logy=False)
    elif part == "timeline":
        plot_timelines(out, rows)
    elif part == "doors":
        plot_doors(out, rows)
    elif part == "syscalls":
        plot_syscalls(out, rows)


# ---------------------------------------------------------------- machine

def machine(command, quick):
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def version(tool, flag):
        if not shutil.which(tool):
            return None
        run = subprocess.run([tool, flag], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        return run.stdout.strip().splitlines()[0] if run.stdout else None

    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "command": command, "quick": quick,
            "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "wrk": version("wrk", "-v"),
            "nginx": nginx_binary() and version(nginx_binary(), "-v"),
            "gnuplot": version("gnuplot", "--version")}


def shared_kernel(parts, earlier):
    """The kernel the chapters name for every part: the version all the
    parts ran on ("6.18.44"), without a build suffix that may differ
    between runs of the same kernel (a virtual machine's image). Parts
    recorded before kernels were kept per part ran on the one named
    before."""
    releases = {part.get("kernel", earlier) for part in parts.values()}
    versions = sorted({r.split("-")[0] for r in releases if r})
    return " and ".join(versions) or platform.release()


def stackful(steps, sizes):
    """bench/stackful.c's rows: one process, no server, steps unused."""
    del steps
    run = subprocess.run([str(STACKFUL), str(sizes["parked"])],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=120)
    if run.returncode != 0:
        return [{"kind": "all", "note": f"failed: {run.stderr.strip()}"}]
    return list(csv.DictReader(run.stdout.splitlines()))


PARTS = {"scaling": scaling, "throughput": throughput, "idle": idle,
         "timeline": timeline, "doors": doors, "syscalls": syscalls,
         "stackful": stackful}


def merged(earlier, rows):
    """With --steps, a part measured again for some steps keeps the other
    steps' rows from the earlier run (machine.json records both runs)."""
    key = next(iter(rows[0])) if rows else "step"
    again = {row[key] for row in rows}
    kept = [row for row in earlier if row.get(key) not in again]
    return sorted(kept + rows, key=lambda row: str(row.get(key)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="default: book/figures/bench, or "
                        "build/bench-quick with --quick")
    parser.add_argument("--parts", nargs="*", choices=list(PARTS),
                        default=list(PARTS))
    parser.add_argument("--steps", nargs="*")
    parser.add_argument("--replot", action="store_true", help="only draw "
                        "the plots again, from the CSV files in --out")
    args = parser.parse_args()

    sizes = QUICK if args.quick else FULL
    out = Path(args.out or ROOT / ("build/bench-quick" if args.quick
                                   else "book/figures/bench"))
    out.mkdir(parents=True, exist_ok=True)
    steps = race.steps(args.steps)
    if not steps:
        sys.exit("no steps to measure")
    if args.replot:
        for part in args.parts:
            plot(out, part, read_csv(out, part), steps)
        return
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    command = " ".join(shlex.quote(a) for a in
                       ["python3", "bench/bench.py"] + sys.argv[1:])
    # A part measured again keeps the others' record: each part says
    # which command made it, when, and how long it took.
    record = out / "machine.json"
    earlier = json.loads(record.read_text()) if record.exists() else {}
    facts = {**machine(command, args.quick), "sizes": sizes,
             "parts": earlier.get("parts", {})}
    for part in args.parts:
        began = time.monotonic()
        rows = PARTS[part](steps, sizes)
        record_part = {"command": command, "date_utc": facts["date_utc"],
                       "kernel": platform.release()}
        if args.steps and (out / f"{part}.csv").exists():
            rows = merged(read_csv(out, part), rows)
            record_part["steps"] = sorted(step.name for step in steps)
            record_part["earlier"] = facts["parts"].get(part)
        write_csv(out, part, rows)
        plot(out, part, rows, race.steps(None))
        record_part["seconds"] = round(time.monotonic() - began, 1)
        facts["parts"][part] = record_part
        seconds = record_part["seconds"]
        say(f"{part}: {len(rows)} rows in {seconds} s")
    facts["kernel"] = shared_kernel(facts["parts"], earlier.get("kernel"))
    record.write_text(json.dumps(facts, indent=1) + "\n")
    say(f"wrote {out}")


if __name__ == "__main__":
    main()
