"""Exercise 08-pin-workers (chapter 08): with --pin-workers, each cook
works on a core of its own, and only there, as nginx's
`worker_cpu_affinity auto` does: the i-th cook on the i-th core the master
may use. A cook hired to replace one keeps its predecessor's core."""
import os
import signal

import pizzeria

STEP = "08"


def cores_of(pid):
    """The CPUs pid may run on, from /proc/PID/status (e.g. "0-1,3")."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Cpus_allowed_list:"):
            cores = set()
            for part in line.split(":", 1)[1].strip().split(","):
                low, _, high = part.partition("-")
                cores.update(range(int(low), int(high or low) + 1))
            return cores
    raise AssertionError(f"no Cpus_allowed_list for pid {pid}")


def cooks_of(server, n):
    """The master's n worker processes, once all n are there."""
    def cooks():
        return sorted(p for p, state in server.children() if state != "Z")
    assert pizzeria.wait_until(lambda: len(cooks()) == n, 3), (
        f"expected {n} workers; the master has {cooks()}")
    return cooks()


def test_each_cook_works_on_a_core_of_its_own(serve):
    allowed = os.sched_getaffinity(0)  # the pizzeria inherits these
    n = len(allowed)
    server = serve("08", "--workers", str(n), "--pin-workers")
    workers = cooks_of(server, n)
    # Each worker pins itself once forked: give them a moment to.
    pizzeria.wait_until(
        lambda: all(len(cores_of(pid)) == 1 for pid in workers), 2)
    pinned = {pid: cores_of(pid) for pid in workers}
    for pid, cores in pinned.items():
        assert len(cores) == 1, (
            f"expected each worker to run on one core; pid {pid} may run on "
            f"{sorted(cores)}")
        assert cores <= allowed, (
            f"expected the cores the master may use, {sorted(allowed)}; "
            f"pid {pid} is on {sorted(cores)}")
    used = sorted(c for cores in pinned.values() for c in cores)
    assert used == sorted(allowed), (
        f"expected {n} workers on the {n} cores {sorted(allowed)}, one each; "
        f"they are on {used}")


def test_a_replacement_takes_over_its_predecessors_core(serve):
    allowed = os.sched_getaffinity(0)
    n = len(allowed)
    server = serve("08", "--workers", str(n), "--pin-workers")
    first = cooks_of(server, n)
    victim = first[-1]
    core = cores_of(victim)
    os.kill(victim, signal.SIGKILL)
    assert pizzeria.wait_until(
        lambda: victim not in cooks_of_now(server)
        and len(cooks_of_now(server)) == n, 3), (
        f"expected the master to replace worker {victim}; it has "
        f"{cooks_of_now(server)}")
    newcomer = (set(cooks_of_now(server)) - set(first)).pop()
    # The newcomer pins itself once forked: give it a moment to.
    pizzeria.wait_until(lambda: cores_of(newcomer) == core, 2)
    assert cores_of(newcomer) == core, (
        f"expected the new worker (pid {newcomer}) on its predecessor's "
        f"core {sorted(core)}; it is on {sorted(cores_of(newcomer))}")
    assert server.fetch("GET", "/menu").status == 200


def test_without_the_flag_cooks_go_where_the_scheduler_sends_them(serve):
    allowed = os.sched_getaffinity(0)
    server = serve("08", "--workers", "2")
    for pid in cooks_of(server, 2):
        assert cores_of(pid) == allowed, (
            f"expected an unpinned worker to keep every core the master "
            f"has, {sorted(allowed)}; pid {pid} has {sorted(cores_of(pid))}")


def cooks_of_now(server):
    return sorted(p for p, state in server.children() if state != "Z")
