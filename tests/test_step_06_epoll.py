"""Step 06, epoll: one cook, a tablet that shows only the tables that need you.

What the architecture promises, as a client can see it: one process with
one thread serves everyone at once; orders bake side by side; no customer
(slow, silent, never reading) holds up another; ten thousand silent
customers cost the others little; the kitchen survives running out of
descriptors. The checks are shared with 04 and 05 (readiness.py).
"""
import readiness

STEP = "06-epoll"


def test_one_process_one_thread(start_server):
    readiness.single_thread(start_server)


def test_concurrent_orders_overlap(start_server):
    readiness.orders_overlap(start_server, k=8, bake_ms=300)


def test_orders_complete_while_10000_customers_sit_idle(start_server):
    readiness.serves_while_idle(start_server, 10000)


def test_slow_customers_do_not_delay_others(start_server):
    readiness.slow_customers_do_not_delay_others(start_server)


def test_a_customer_who_never_reads_is_held_back(start_server, tmp_path):
    readiness.never_reader_is_held_back(start_server, tmp_path)


def test_no_descriptor_leak_after_bursts(start_server):
    readiness.no_descriptor_leak_after_bursts(start_server)


def test_idle_timeout_closes_while_others_are_served(start_server, tmp_path):
    readiness.idle_timeout_closes_while_others_are_served(start_server,
                                                          tmp_path)


def test_out_of_descriptors_sheds_and_carries_on(start_server):
    readiness.out_of_descriptors(start_server)


def test_each_order_in_the_oven_is_a_timer_descriptor(start_server):
    """epoll knows only descriptors: every order in the oven holds a
    timerfd of its own (the kitchen clock is one more, always open); when
    the orders are out, their timers are gone."""
    import os
    import time
    import pizzeria as pz

    def timers():
        fds = f"/proc/{server.pid}/fd"
        found = 0
        for fd in os.listdir(fds):
            try:
                if "timerfd" in os.readlink(f"{fds}/{fd}"):
                    found += 1
            except OSError:
                pass
        return found

    server = start_server("--bake-ms", "600")
    k = 5
    clients = [server.connect() for _ in range(k)]
    try:
        for c in clients:
            c.request("POST", "/order", body=pz.order_body("margherita"))
        assert pz.wait_until(lambda: timers() == k + 1, 1.0), timers()
        for c in clients:
            assert c.read_response().status == 200
        assert pz.wait_until(lambda: timers() == 1, 1.0), timers()
    finally:
        for c in clients:
            c.close()
    assert pz.wait_until(lambda: timers() == 1, 2.0), timers()
