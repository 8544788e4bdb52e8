"""Step 05, poll: one cook, a tablet that lists every table.

What the architecture promises, as a client can see it: one process with
one thread serves everyone at once; orders bake side by side; no customer
(slow, silent, never reading) holds up another; thousands of silent
customers cost the others little; the kitchen survives running out of
descriptors. The checks are shared with 04 and 06 (readiness.py).
"""
import readiness

STEP = "05-poll"


def test_one_process_one_thread(start_server):
    readiness.single_thread(start_server)


def test_concurrent_orders_overlap(start_server):
    readiness.orders_overlap(start_server, k=8, bake_ms=300)


def test_orders_complete_while_3000_customers_sit_idle(start_server):
    readiness.serves_while_idle(start_server, 3000)


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
