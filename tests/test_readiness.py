"""Steps 04 to 07: one cook with a tablet (select, poll, epoll, the event
loop), and step 09, one cook with a ring (io_uring). What they promise alike, as a client can see it: one process with
one thread serves everyone at once; orders bake side by side; no customer
(slow, silent, never reading) holds up another; a full house of silent
customers costs the others little; the kitchen survives running out of
descriptors. The checks are in readiness.py; what one step promises of
its own (04's FD_SETSIZE, 06's timerfds, 07's heap, fair share and lent
buffers) is in that step's test_step_NN_*.py.

The steps are those whose manifest says so: concurrent, one cook ("pid"),
one thread, no process per connection.
"""
import time

import pizzeria as pz
import readiness

STEPS_WHERE = readiness.one_cook_with_a_tablet


def test_one_process_one_thread(start_server):
    readiness.single_thread(start_server)


def test_concurrent_orders_overlap(start_server):
    readiness.orders_overlap(start_server, k=8, bake_ms=300)


def test_orders_complete_while_customers_sit_idle(step, start_server):
    """As many silent customers as the kitchen seats by default (select:
    1000, its checklist's boxes less the kitchen's own), at most 10,000."""
    readiness.serves_while_idle(start_server,
                                min(step["default_max_conns"], 10000))


def test_slow_customers_do_not_delay_others(start_server):
    readiness.slow_customers_do_not_delay_others(start_server)


def test_a_customer_who_never_reads_is_held_back(start_server, tmp_path):
    readiness.never_reader_is_held_back(start_server, tmp_path)


def test_no_descriptor_leak_after_bursts(start_server):
    readiness.no_descriptor_leak_after_bursts(start_server)


def test_idle_timeout_closes_while_others_are_served(start_server, tmp_path):
    readiness.idle_timeout_closes_while_others_are_served(start_server,
                                                          tmp_path)


def test_out_of_descriptors_sheds_and_carries_on(step, start_server):
    readiness.out_of_descriptors(start_server, step)


def test_with_no_descriptor_to_spare_the_door_shuts_for_a_moment(
        step, start_server):
    readiness.no_descriptor_to_spare(start_server, step)


def test_pipelined_orders_bake_in_turn_and_the_cook_rests(start_server):
    """Three orders pipelined in one packet: each goes into the oven when
    the one before is out, and while they bake the cook waits for the oven
    instead of looking at it over and over (an oven that still rings for
    the order before would wake it at once, every time)."""
    bake_ms, k = 400, 3
    server = start_server("--bake-ms", str(bake_ms))
    batch = b"".join(pz.request_bytes("POST", "/order",
                                      body=pz.order_body("margherita"))
                     for _ in range(k))
    with server.connect() as c:
        busy_before = readiness.busy_seconds(server.pid)
        started = time.monotonic()
        c.send(batch)
        receipts = [c.read_response(timeout=10).json() for _ in range(k)]
        took = time.monotonic() - started
        busy = readiness.busy_seconds(server.pid) - busy_before
    assert took >= 0.95 * k * bake_ms / 1000, took
    assert all(r["baked_ms"] >= bake_ms for r in receipts), receipts
    assert busy < took / 3, (
        f"busy {busy:.2f} s of {took:.2f} s of baking: spinning")


def test_a_sooner_deadline_set_later_still_comes_first(start_server):
    """A customer who sits down first has a later deadline (their patience,
    2 s) than an order put in after (300 ms): the cook must wake for the
    oven, not sleep until the first-set deadline. A list scanned each round
    (04-06) finds the soonest by looking; a heap (07) must let the newer,
    sooner timer climb past the older one."""
    server = start_server("--bake-ms", "300", "--idle-timeout-ms", "2000")
    with server.connect() as patient:
        patient.send(b"GET /menu HTTP/1.1\r\nHo")  # its deadline first
        time.sleep(0.1)
        with server.connect() as hungry:
            started = time.monotonic()
            hungry.order("margherita")
            took = time.monotonic() - started
        assert took < 1.5, (
            f"a 300 ms order took {took:.2f} s behind a 2 s deadline set "
            "before it")
