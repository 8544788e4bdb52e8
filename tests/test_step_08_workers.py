"""Step 08, a cook per core: a master and --workers worker processes, each
running step 07's kitchen on a door of its own (SO_REUSEPORT).

What the architecture promises, as a client can see it: N workers of one
thread each under a master that cooks nothing; the kernel spreads the
customers over them; order numbers and customer numbers are one series
however many cooks hand them out; --max-conns is the whole kitchen's; a
worker killed outright is replaced within a second and only its own
customers notice; a reload (SIGHUP) under steady load loses no order and
refuses no one; closing time is clean.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

import pizzeria as pz

STEP = "08-workers"
ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "build" / "bench" / "loadgen"


def workers(server):
    """The master's children, by pid (a zombie is not a worker)."""
    return sorted(p for p, state in server.children() if state != "Z")


def wait_for_workers(server, n, timeout=3.0):
    assert pz.wait_until(lambda: len(workers(server)) == n, timeout), (
        f"expected {n} workers, the master has {server.children()}")
    return workers(server)


def cook_pid(receipt):
    return int(re.fullmatch(r"pid (\d+)", receipt["cook"]).group(1))


def order_once(server, bake_timeout=5.0):
    """One order on a fresh connection: the receipt."""
    with server.connect(timeout=bake_timeout + 5) as c:
        r = c.order("margherita", timeout=bake_timeout + 5)
        assert r.status == 200, r
        return r.json()


def orders_at_once(server, n):
    """n customers order at the same moment, each on its own connection."""
    receipts, problems = [None] * n, []
    barrier = threading.Barrier(n)

    def customer(i):
        try:
            with server.connect(timeout=20) as c:
                barrier.wait(timeout=10)
                r = c.order("margherita", timeout=20)
                assert r.status == 200, r
                receipts[i] = r.json()
        except Exception as e:  # noqa: BLE001 - reported below
            problems.append(repr(e))

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not problems, problems[:5]
    return receipts


# ---------------------------------------------------------------- the cooks

def test_n_workers_of_one_thread_each(start_server):
    """--workers 3: the master has three children, each one process with
    one thread, and they are the cooks on the receipts; the master (one
    thread too) cooks nothing."""
    server = start_server("--workers", "3", "--bake-ms", "0")
    cooks = wait_for_workers(server, 3)
    for pid in [server.pid] + cooks:
        assert len(pz.threads(pid)) == 1, (pid, pz.threads(pid))
    seen = {cook_pid(order_once(server)) for _ in range(30)}
    assert seen <= set(cooks), (seen, cooks)
    assert server.pid not in seen


def test_one_worker_per_cpu_by_default(start_server):
    """Without --workers, one worker per CPU the server may run on (its
    affinity, which it inherits from us)."""
    server = start_server("--bake-ms", "0")
    expected = min(len(os.sched_getaffinity(0)), 64)
    wait_for_workers(server, expected)


def test_the_load_is_spread(start_server):
    """A hundred customers, each on a new connection: the kernel hands
    every worker's door some of them (SO_REUSEPORT hashes each connection
    to one of the doors), so every worker served some."""
    server = start_server("--workers", "3", "--bake-ms", "0")
    cooks = wait_for_workers(server, 3)
    served = {}
    for _ in range(100):
        pid = cook_pid(order_once(server))
        served[pid] = served.get(pid, 0) + 1
    assert set(served) == set(cooks), (
        f"receipts by cook: {served}; the workers: {cooks}")


# ---------------------------------------------------------------- shared

def test_order_numbers_are_one_series_across_workers(start_server):
    """Sixty orders at once, baked by several workers: the order numbers
    are 1 to 60, each once (one counter, in memory the workers share)."""
    server = start_server("--workers", "3", "--bake-ms", "200")
    wait_for_workers(server, 3)
    receipts = orders_at_once(server, 60)
    numbers = sorted(r["order"] for r in receipts)
    assert numbers == list(range(1, 61)), numbers
    assert len({cook_pid(r) for r in receipts}) > 1, \
        "every order went to one worker: nothing was shared"


def test_customer_numbers_are_one_series_across_workers(start_server,
                                                        tmp_path):
    """The trace's customer numbers (CONN): forty customers on forty
    connections, over several workers, are numbered 1 to 40, each once,
    in one trace file."""
    trace = tmp_path / "trace"
    server = start_server("--workers", "3", "--bake-ms", "0",
                          "--trace", trace)
    wait_for_workers(server, 3)
    cooks = {cook_pid(order_once(server)) for _ in range(40)}
    assert len(cooks) > 1, cooks

    def accepted():
        return [int(line.split()[2]) for line in pz.trace_lines(trace)
                if line.split()[1] == "accept"]
    assert pz.wait_until(lambda: len(accepted()) == 40, 3.0), accepted()
    assert sorted(accepted()) == list(range(1, 41)), accepted()


def test_max_conns_is_the_whole_kitchens(start_server):
    """--max-conns 4 with three workers: four customers seated in all,
    whichever workers seated them; the next ones are told 503 wherever
    the kernel sends them. One leaves, and one more is seated. A worker
    killed with customers seated gives their seats back (its replacement
    starts from an empty slot)."""
    server = start_server("--workers", "3", "--max-conns", "4",
                          "--bake-ms", "0")
    wait_for_workers(server, 3)
    seated = []
    try:
        for _ in range(4):
            c = server.connect()
            r = c.order("margherita")
            assert r.status == 200, r
            seated.append((c, cook_pid(r.json())))
        for _ in range(12):  # twelve: enough for every door to be tried
            with server.connect() as c:
                r = c.read_response(timeout=3.0)
                assert r.status == 503, r

        seated.pop()[0].close()

        def one_more_seated():
            c = server.connect()
            c.request("GET", "/menu")
            if c.read_response(timeout=3.0).status == 200:
                seated.append((c, None))
                return True
            c.close()
            return False
        assert pz.wait_until(one_more_seated, 3.0), "no seat after one left"

        # Kill a worker holding seats: its seats come back.
        victim = seated[0][1]
        holding = [c for c, pid in seated if pid == victim]
        os.kill(victim, signal.SIGKILL)
        wait_for_workers(server, 3)
        assert pz.wait_until(lambda: victim not in workers(server), 2.0)
        for c in holding:
            c.close()
        seated = [(c, pid) for c, pid in seated if pid != victim]
        room = 4 - len(seated)
        for _ in range(room):
            assert pz.wait_until(one_more_seated, 3.0), (
                f"{room} seats should be free once the killed worker's "
                f"customers are gone")
    finally:
        for c, _ in seated:
            c.close()


# ---------------------------------------------------------------- the master

def customers_of_each_cook(server, cooks, tries=8):
    """A keep-alive customer of each cook: `tries` customers order at
    once (a short bake), and one connection per cook is kept."""
    connections = [server.connect(timeout=10) for _ in range(tries)]
    for c in connections:
        c.request("POST", "/order", headers={"Content-Type": pz.FORM},
                  body=pz.order_body("marinara"))
    by_cook = {}
    for c in connections:
        r = c.read_response(timeout=10)
        assert r.status == 200, r
        pid = cook_pid(r.json())
        if pid in by_cook:
            c.close()
        else:
            by_cook[pid] = c
    return by_cook


def test_a_killed_worker_is_replaced_and_only_its_customers_notice(
        start_server):
    """Two workers, an order baking at each; one worker is killed
    (SIGKILL). Its customer loses the connection; the other's pizza
    arrives, on a connection that stays open; within a second the master
    has hired a replacement, and every new customer is served."""
    server = start_server("--workers", "2", "--bake-ms", "1000")
    cooks = wait_for_workers(server, 2)
    by_cook = {}
    for _ in range(5):  # the kernel's spread is a hash: ask again if need be
        for c in by_cook.values():
            c.close()
        by_cook = customers_of_each_cook(server, cooks)
        if len(by_cook) == 2:
            break
    assert set(by_cook) == set(cooks), (by_cook, cooks)
    victim, survivor = cooks
    for c in by_cook.values():
        c.request("POST", "/order", headers={"Content-Type": pz.FORM},
                  body=pz.order_body("diavola"))
    time.sleep(0.3)  # both orders in their ovens
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = workers(server)
        return len(now) == 2 and victim not in now
    assert pz.wait_until(replaced, 1.0, interval=0.01), (
        f"no replacement within a second: {server.children()}")
    replaced_in = time.monotonic() - killed_at

    r = by_cook[survivor].read_response(timeout=5)
    assert r.status == 200 and cook_pid(r.json()) == survivor, r
    assert by_cook[survivor].get("/menu").status == 200
    assert by_cook[victim].is_closed_by_server(2.0), \
        "the killed worker's customer is still connected"
    assert by_cook[victim].buffer == b"", by_cook[victim].buffer
    for c in by_cook.values():
        c.close()
    new_cooks = set(workers(server))
    served = {cook_pid(r) for r in orders_at_once(server, 20)}
    assert served <= new_cooks, (served, new_cooks)
    assert replaced_in < 1.0, replaced_in


def test_closing_time_with_orders_in_the_ovens(start_server):
    """SIGTERM while every worker has orders in the oven: the master and
    every worker are gone within two seconds, exit status 0, no zombie,
    nobody left behind (the harness's stop() checks all of it)."""
    server = start_server("--workers", "3", "--bake-ms", "10000")
    cooks = wait_for_workers(server, 3)
    customers = []
    for _ in range(12):
        c = server.connect()
        c.request("POST", "/order", headers={"Content-Type": pz.FORM},
                  body=pz.order_body("margherita"))
        customers.append(c)
    time.sleep(0.3)
    taken = server.stop()
    assert taken < 2.0, taken
    for pid in cooks:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split()[2] == "Z", pid
    for c in customers:
        c.close()


# ---------------------------------------------------------------- reload

def test_reload_finishes_the_orders_in_the_oven(start_server):
    """SIGHUP with an order in the oven and two idle keep-alive customers:
    new workers are hired at once; the old one answers the order (saying
    "Connection: close"); an idle customer who orders a moment after the
    reload is still served (a request may already be on its way when the
    reload comes), and one who stays silent is closed on without a reset;
    then the old worker leaves."""
    server = start_server("--workers", "1", "--bake-ms", "1200")
    old = wait_for_workers(server, 1)
    baking = server.connect(timeout=10)
    idle = server.connect(timeout=10)
    assert idle.get("/menu").status == 200
    late = server.connect(timeout=10)
    assert late.get("/menu").status == 200
    baking.request("POST", "/order", headers={"Content-Type": pz.FORM},
                   body=pz.order_body("margherita"))
    time.sleep(0.3)
    server.send_signal(signal.SIGHUP)
    assert pz.wait_until(
        lambda: set(workers(server)) - set(old), 1.0), server.children()
    assert server.fetch("GET", "/menu").status == 200  # the new cook
    time.sleep(0.2)
    r = late.order("marinara", timeout=5)  # to the old cook, after the HUP
    assert r.status == 200 and cook_pid(r.json()) == old[0], r
    assert r.closes, f"an answer after last orders keeps the line open: {r!r}"
    late.close()
    r = baking.read_response(timeout=5)
    assert r.status == 200 and cook_pid(r.json()) == old[0], r
    assert r.closes, f"the old cook's last answer keeps the line open: {r!r}"
    idle.sock.settimeout(3.0)
    try:
        said = idle.sock.recv(100)
    except ConnectionResetError:
        pytest.fail("the idle customer was reset, not closed on politely")
    except TimeoutError:
        pytest.fail("the idle customer was kept")
    assert said == b"", said
    baking.close()
    idle.close()
    assert pz.wait_until(lambda: old[0] not in workers(server), 3.0), (
        f"the old worker {old[0]} did not leave: {server.children()}")
    wait_for_workers(server, 1)


def loadgen_built():
    made = subprocess.run(["make", "-s", "-C", str(ROOT / "bench")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stdout
    return LOADGEN


def keep_alive_customers(server, stop, tally, n=4):
    """Customers on keep-alive connections who order again at once, and
    open a new connection when an answer said "Connection: close" (as any
    HTTP client must): each one's every order must be answered."""
    def customer():
        c = None
        while not stop.is_set():
            try:
                if c is None:
                    c = server.connect(timeout=10)
                r = c.order("marinara", timeout=10)
                if r.status != 200:
                    tally["failed"].append(repr(r))
                else:
                    tally["served"] += 1
                if r.closes:
                    c.close()
                    c = None
            except Exception as e:  # noqa: BLE001 - counted
                tally["failed"].append(repr(e))
                if c is not None:
                    c.close()
                c = None
        if c is not None:
            c.close()
    threads = [threading.Thread(target=customer) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def test_three_reloads_under_load_lose_nothing(start_server):
    """Steady load (the load generator, a new connection per order, and
    a few keep-alive customers besides) across three reloads: not one
    order fails, not one connection is refused, and the workers at the
    end are none of those at the start."""
    loadgen = loadgen_built()
    server = start_server("--workers", "2", "--bake-ms", "20")
    first = wait_for_workers(server, 2)
    load = subprocess.Popen(
        [str(loadgen), "--host", server.host, "--port", str(server.port),
         "--concurrency", "16", "--duration", "4", "--order", "margherita",
         "--close", "--timeout-ms", "5000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop, tally = threading.Event(), {"served": 0, "failed": []}
    customers = keep_alive_customers(server, stop, tally)
    try:
        for _ in range(3):
            time.sleep(0.9)
            server.send_signal(signal.SIGHUP)
    finally:
        out, _ = load.communicate(timeout=30)
        stop.set()
        for t in customers:
            t.join(15)
    figures = dict(line.split(None, 1) for line in out.splitlines()
                   if len(line.split(None, 1)) == 2)
    assert load.returncode == 0 and figures.get("failed") == "0", out
    assert int(figures["completed"]) > 100, out
    assert not tally["failed"], tally["failed"][:5]
    assert tally["served"] > 20, tally
    final = wait_for_workers(server, 2, timeout=5.0)
    assert not set(final) & set(first), (first, final)


# ---------------------------------------------------------------- the herd

HERD_LINE = re.compile(
    r"pizzeria: door (\w+): (\d+) wake-ups, (\d+) for nobody, (\d+) "
    r"customers, (\d+) cook context switches")
SPREAD_LINE = re.compile(r"pizzeria: door \w+: customers per cook:((?: \d+)+)")


def herd_of(start_server, door, customers=60, cooks=6):
    """`cooks` workers sharing the street as --door says; `customers` come
    one after another, a few milliseconds apart, so that every cook is
    asleep when each one arrives. Returns the master's closing report."""
    server = start_server("--workers", str(cooks), "--bake-ms", "0",
                          "--door", door)
    wait_for_workers(server, cooks)
    for _ in range(customers):
        assert server.fetch("GET", "/menu").status == 200
        time.sleep(0.005)
    server.stop()
    found = HERD_LINE.search(server.stderr_text())
    assert found, f"no report of the door: {server.stderr_text()!r}"
    name, wakeups, for_nobody, seen, switches = found.groups()
    assert name == door and int(seen) == customers, found.group(0)
    spread = SPREAD_LINE.search(server.stderr_text())
    assert spread, f"no customers per cook: {server.stderr_text()!r}"
    per_cook = [int(n) for n in spread.group(1).split()]
    # Every cook hired is listed, and every customer let in by one of them.
    assert len(per_cook) == cooks and sum(per_cook) == customers, \
        spread.group(0)
    return {"wakeups": int(wakeups), "for_nobody": int(for_nobody),
            "switches": int(switches), "per_cook": per_cook}


def test_the_herd_one_door_wakes_every_cook(start_server):
    """One door in the tablets of six sleeping workers wakes all six for
    each customer (the kernel counts each as a context switch, even when
    epoll then finds nothing to report): far more switches than with a
    door each (SO_REUSEPORT) or with EPOLLEXCLUSIVE, which wake one cook
    a customer. A door of its own never wakes a cook for nobody."""
    n = 60
    reuseport = herd_of(start_server, "reuseport", n)
    shared = herd_of(start_server, "shared", n)
    exclusive = herd_of(start_server, "exclusive", n)
    assert reuseport["for_nobody"] == 0, reuseport
    assert reuseport["wakeups"] >= n, reuseport
    # Five more cooks woken for each customer: about 5n more switches;
    # the rest of a visit costs one to three, so ask for n.
    assert shared["switches"] - reuseport["switches"] > n, \
        (reuseport, shared)
    assert shared["switches"] - exclusive["switches"] > n, \
        (exclusive, shared)


# ------------------------------------------------- nginx at the front door

UPSTREAM_CONF = ROOT / "steps" / "08-workers" / "nginx-upstream.conf"


def nginx_binary():
    """Debian puts nginx in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


@pytest.fixture
def nginx_in_front(tmp_path):
    """nginx, run with the chapter's nginx-upstream.conf as shipped, only
    its three addresses moved to free ports: start(kitchen_ports) returns
    the front door's port."""
    nginx = nginx_binary()
    if not nginx:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    running = []

    def start(kitchen_ports):
        text = UPSTREAM_CONF.read_text()
        front = free_port()
        for shipped, port in (("listen 127.0.0.1:8080;", front),
                              ("server 127.0.0.1:8081 ", kitchen_ports[0]),
                              ("server 127.0.0.1:8082 ", kitchen_ports[1])):
            assert text.count(shipped) == 1, f"{shipped} in {UPSTREAM_CONF}"
            text = text.replace(shipped, re.sub(r":\d+", f":{port}",
                                                shipped))
        conf = tmp_path / "nginx.conf"
        conf.write_text(text)
        proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", "stderr",
                                 "-c", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        running.append(proc)
        if not pz.wait_until(lambda: client_connects(front), 5):
            proc.kill()
            pytest.fail("nginx did not open its door: "
                        + proc.communicate()[1].decode(errors="replace"))
        return front

    yield start
    for proc in running:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_nginx_in_front_shares_orders_between_two_pizzerias(
        start_server, nginx_in_front):
    """The chapter's nginx-upstream.conf: orders through nginx's door go
    to both kitchens in turn; with one kitchen closed, the other serves
    every customer."""
    kitchens = [start_server("--workers", "1", "--bake-ms", "0")
                for _ in range(2)]
    cooks = [set(wait_for_workers(k, 1)) for k in kitchens]
    front = nginx_in_front([k.port for k in kitchens])
    via = pz.Client("127.0.0.1", front)
    served_by = []
    for _ in range(10):
        answer = via.order("margherita")
        assert answer.status == 200, answer
        cook = cook_pid(answer.json())
        served_by.append(next(i for i, c in enumerate(cooks) if cook in c))
    assert served_by.count(0) >= 3 and served_by.count(1) >= 3, served_by

    kitchens[0].stop()
    for _ in range(6):
        answer = via.get("/menu")
        assert answer.status == 200, answer
