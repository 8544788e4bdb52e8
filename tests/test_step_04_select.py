"""Step 04, select: one cook, a checklist of 1024 tables.

What select alone promises: a customer whose descriptor is past
FD_SETSIZE is told 503, and the customers seated below it are still
served. What every one-cook step promises alike (one thread, no customer
holding up another, running out of descriptors) is in test_readiness.py.
"""
import readiness

STEP = "04-select"


def test_past_fd_setsize_is_503_and_the_rest_are_served(start_server):
    readiness.past_fd_setsize(start_server)
