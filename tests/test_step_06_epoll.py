"""Step 06, epoll: one cook, a tablet that shows only the tables that need you.

What epoll alone promises here: every order in the oven is a timer
descriptor of its own, gone when the order is out. What every one-cook
step promises alike (one thread, ten thousand silent customers, no
customer holding up another, running out of descriptors) is in
test_readiness.py.
"""

STEP = "06-epoll"


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
