"""Step 04, select: one cook, a checklist of 1024 tables.

What the architecture promises, as a client can see it: one process with
one thread serves everyone at once; orders bake side by side; no customer
(slow, silent, never reading) holds up another; a full house of silent
customers costs the others little; a customer whose descriptor is past
FD_SETSIZE is told 503; the kitchen survives running out of
descriptors. The checks are shared with 05 and 06 (readiness.py).
"""
import readiness

STEP = "04-select"


def test_one_process_one_thread(start_server):
    readiness.single_thread(start_server)


def test_concurrent_orders_overlap(start_server):
    readiness.orders_overlap(start_server, k=8, bake_ms=300)


def test_orders_complete_while_990_customers_sit_idle(start_server):
    readiness.serves_while_idle(start_server, 990)   # --max-conns 1000


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


def test_past_fd_setsize_is_503_and_the_rest_are_served(start_server):
    readiness.past_fd_setsize(start_server)
