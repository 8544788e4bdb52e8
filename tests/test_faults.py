"""test_faults.py - every step against the fault-injection build.

`make faults` builds every step into build/faults/NN-name/pizzeria with
tests/faults/faults.c wrapped around the system calls the kitchen depends
on; PIZZERIA_FAULTS says which of them fail, how, and how often (the
syntax is in faults.c's header). Here each step meets each fault with a
small crowd of customers: regular ones (a GET, then an order and a GET
pipelined, the last saying "Connection: close"), one who waits for "100
Continue", one who trickles a request, one who sends a bad method, one who
vanishes mid-request with a reset. Under every fault the kitchen must:

  - answer every customer it still can: under a transparent fault (EINTR,
    one byte at a time, EAGAIN, an accept retried) every answer arrives
    whole and correct; under a lossy one (no memory, no descriptor, no
    room on the tablet) a customer may be told 503 or closed on with no
    answer, but never sent half an answer, a wrong one, or left hanging;
  - keep serving: some customers are served, and a fresh one after them;
  - leak no descriptor: /proc/PID/fd counts as many once everyone left as
    before the first came;
  - not spin: under 20% of a core over a second of idleness once the
    fault has struck (and, for an accept that keeps failing, while a
    customer waits at the door it cannot open);
  - stop at closing time with status 0, having met the fault (its report
    line on stderr counts the failed calls).

A case that fails because of a known bug is marked xfail(strict=True) with
what goes wrong: the suite stays green, and turns red (XPASS) the day the
bug is fixed, so that the mark goes too.
"""
import concurrent.futures
import re
import socket
import time

import pytest

import pizzeria as pz
from pizzeria import FORM, assert_common_headers, assert_error
from readiness import assert_not_spinning

CUSTOMERS = 4           # regular customers per crowd, besides the odd ones
CLIENT_TIMEOUT = 5.0    # any one read: a hang fails the test, not the suite
MENU_PRICE = 850        # margherita's, from the contract


class FaultyStep(pz.Step):
    """A step whose binary is the fault-injection build's."""

    def binary(self, asan=None, build=None):
        return super().binary(build="faults")


# ---------------------------------------------------------------- the faults

TRANSPARENT, LOSSY = "transparent", "lossy"
EVENT_STEPS = ("04-select", "05-poll", "06-epoll", "07-state-machine",
               "08-workers", "10-coroutines")
EPOLL_STEPS = ("06-epoll", "07-state-machine", "08-workers", "10-coroutines")
# Step 09 hands its accepts, receives and sends to the kernel as io_uring
# jobs: they never pass through libc, where the wrappers are. Its door
# calls accept4 itself only after the kernel's accept failed (EMFILE), so
# an injected accept fault would never strike. malloc is the same there.
SOCKET_CALL_STEPS = tuple(s.name for s in pz.steps()
                          if not s.get("completion"))
RING_STEPS = tuple(s.name for s in pz.steps() if s.get("completion"))
NOT_THROUGH_LIBC = ("the kernel does this step's accepts, receives and "
                    "sends (io_uring jobs): no libc call to fail")


class Fault:
    def __init__(self, name, setting, kind, steps=None, why_not=None,
                 known_bugs=None, settings=None):
        self.name = name          # the test id
        self.setting = setting    # PIZZERIA_FAULTS
        self.settings = settings or {}  # step name -> a setting of its own
        self.kind = kind          # TRANSPARENT or LOSSY
        self.steps = steps        # None: every step
        self.why_not = why_not    # for the steps it does not apply to
        self.known_bugs = known_bugs or {}  # step name -> what is wrong

    def setting_for(self, step):
        return self.settings.get(step.name, self.setting)


FAULTS = [
    # accept: the customer is not taken off the queue by the failed call
    # (faults.c), so the next accept lets them in.
    Fault("accept-EMFILE", "accept=EMFILE~3,seed=3", LOSSY,
          steps=SOCKET_CALL_STEPS, why_not=NOT_THROUGH_LIBC),
    Fault("accept-ENOMEM", "accept=ENOMEM~3,seed=3", TRANSPARENT,
          steps=SOCKET_CALL_STEPS, why_not=NOT_THROUGH_LIBC),
    Fault("accept-ECONNABORTED", "accept=ECONNABORTED/2", TRANSPARENT,
          steps=SOCKET_CALL_STEPS, why_not=NOT_THROUGH_LIBC),
    Fault("malloc-ENOMEM", "malloc=ENOMEM~3,seed=5", LOSSY),
    Fault("read-write-EINTR", "read=EINTR/2,write=EINTR/2", TRANSPARENT,
          steps=SOCKET_CALL_STEPS, why_not=NOT_THROUGH_LIBC),
    Fault("read-write-short", "read=short,write=short", TRANSPARENT,
          steps=SOCKET_CALL_STEPS, why_not=NOT_THROUGH_LIBC),
    Fault("read-write-EAGAIN", "read=EAGAIN/2,write=EAGAIN/2", TRANSPARENT,
          steps=("02-fork", "04-select", "05-poll", "06-epoll"),
          # the host's peek (MSG_DONTWAIT) is step 02's only such call
          settings={"02-fork": "read=EAGAIN/2"},
          why_not="EAGAIN is injected only where a call does not wait: the "
          "blocking cook's sockets are blocking (there EAGAIN would mean "
          "the idle timeout ran out); on step 07's edge-triggered tablet a "
          "spurious EAGAIN with bytes still queued is something the kernel "
          "never does, and no new edge would come"),
    Fault("epoll_ctl-ENOMEM", "epoll_ctl=ENOMEM~3,seed=2", LOSSY,
          steps=EPOLL_STEPS, why_not="no epoll_ctl in this step"),
    Fault("epoll_ctl-ENOSPC", "epoll_ctl=ENOSPC~2,seed=2", LOSSY,
          steps=EPOLL_STEPS, why_not="no epoll_ctl in this step"),
    Fault("io_uring_enter-EINTR", "io_uring_enter=EINTR/2", TRANSPARENT,
          steps=RING_STEPS, why_not="no io_uring in this step"),
    Fault("io_uring_enter-EBUSY", "io_uring_enter=EBUSY~3,seed=4",
          TRANSPARENT, steps=RING_STEPS, why_not="no io_uring in this step"),
]

# An accept that fails every time, with a customer waiting at the door.
DOOR_STUCK = Fault("accept-ENOMEM-always", "accept=ENOMEM", LOSSY,
                   steps=SOCKET_CALL_STEPS, why_not=NOT_THROUGH_LIBC)


def cases(faults):
    params = []
    for fault in faults:
        for step in pz.steps():
            marks = []
            if fault.steps is not None and step.name not in fault.steps:
                marks.append(pytest.mark.skip(reason=fault.why_not))
            refused = step.get("completion") and pz.io_uring_refused()
            if refused:
                marks.append(pytest.mark.skip(reason=refused))
            if step.name in fault.known_bugs:
                marks.append(pytest.mark.xfail(
                    strict=True, reason=fault.known_bugs[step.name]))
            params.append(pytest.param(FaultyStep(step.dir), fault,
                                       id=f"{step.name}-{fault.name}",
                                       marks=marks))
    return params


# ---------------------------------------------------------------- servers

@pytest.fixture(scope="session")
def faults_built():
    pz.build("faults")


@pytest.fixture
def start_faulty(faults_built):
    """start_faulty(step, fault) -> Server running with PIZZERIA_FAULTS;
    killed at teardown if the test did not stop it."""
    servers = []

    def start(step, fault, *flags):
        server = pz.start(step, "--bake-ms", "20", *flags,
                          env={"PIZZERIA_FAULTS": fault.setting_for(step)})
        servers.append(server)
        return server

    yield start
    for server in servers:
        if not server.stopped:
            server.kill()
        server.close_files()


def fault_report(server, fault):
    """Stop the server (exit 0 within 2 s, no child left) and read its
    report: {entry: (calls, failed)}."""
    server.stop()
    report = {}
    for entry, calls, failed in re.findall(
            r"^pizzeria-faults: (\S+): (\d+) calls, (\d+) failed$",
            server.stderr_text(), re.M):
        report[entry] = (int(calls), int(failed))
    setting = fault.setting_for(server.step)
    entries = [e for e in setting.split(",") if not e.startswith("seed=")]
    assert sorted(report) == sorted(entries), (
        f"report {report} for {setting!r}; stderr:\n"
        f"{server.stderr_text()[-2000:]}")
    for entry, (calls, failed) in report.items():
        assert failed > 0, f"{entry} never struck ({calls} calls)"
    return report


# ---------------------------------------------------------------- customers

SERVED, REFUSED, CLOSED = "served", "refused", "closed"


class Broken(AssertionError):
    """Half an answer, a wrong one, or none in time."""


def receive(client, head_request=False):
    """The next response, or None if the server closed (or reset) before
    sending a byte of it. Anything in between is Broken."""
    try:
        return client.read_response(head_request=head_request,
                                    timeout=CLIENT_TIMEOUT)
    except pz.ServerClosed:
        if client.buffer:
            raise Broken(f"half an answer, then closed: {client.buffer!r}")
        return None
    except pz.ResponseTimeout:
        raise Broken(f"no answer in {CLIENT_TIMEOUT} s "
                     f"(got {client.buffer!r})") from None


def send(client, data):
    """False if the server has closed on us already."""
    try:
        client.send(data)
        return True
    except OSError as e:
        if pz.is_reset_or_closed(e):
            return False
        raise


def is_refusal(response):
    """503, the answer of a kitchen that cannot seat or serve someone."""
    if response.status != 503:
        return False
    assert_error(response, 503)
    assert response.closes, response
    return True


def check_menu(response, step):
    assert response.status == 200, response
    assert_common_headers(response, step)
    prices = {i["pizza"]: i["price_cents"] for i in response.json()}
    assert prices.get("margherita") == MENU_PRICE, prices


def check_receipt(response, step, qty):
    assert response.status == 200, response
    assert_common_headers(response, step)
    receipt = response.json()
    assert receipt["pizza"] == "margherita", receipt
    assert receipt["qty"] == qty, receipt
    assert receipt["total_cents"] == qty * MENU_PRICE, receipt


def closed_after(client, response):
    """After an answer saying "Connection: close" the server closes, with
    nothing more."""
    assert response.closes, response
    if not client.is_closed_by_server(CLIENT_TIMEOUT):
        raise Broken(f"still open after {response!r}")
    assert client.buffer == b"", client.buffer


def outcome(step, responses, client):
    """Check each response as it comes: (SERVED | REFUSED | CLOSED, what).
    A check of None: that response is not the one expected."""
    for i, (response, check) in enumerate(responses):
        if response is None:
            return CLOSED, f"closed before answer {i + 1}"
        if is_refusal(response):
            closed_after(client, response)
            return REFUSED, f"503 for request {i + 1}"
        if check is None:
            raise Broken(f"unexpected answer {i + 1}: {response!r}")
        check(response)
    return SERVED, "every answer"


def regular(server, step, number):
    """A GET; then an order and a GET pipelined, the last one closing."""
    qty = number % 3 + 1
    with pz.Client(server.host, server.port, CLIENT_TIMEOUT) as c:
        if not send(c, pz.request_bytes("GET", "/menu")):
            return CLOSED, "closed before the first request"
        first = receive(c)
        if first is None or first.status != 200:
            return outcome(step, [(first, None)], c)
        check_menu(first, step)
        batch = (pz.request_bytes("POST", "/order",
                                  {"Content-Type": FORM},
                                  pz.order_body("margherita", qty))
                 + pz.request_bytes("GET", "/menu",
                                    {"Connection": "close"}))
        if not send(c, batch):
            return CLOSED, "closed after the first answer"
        order = receive(c)
        menu = receive(c) if order is not None and not order.closes else None
        result = outcome(step, [
            (order, lambda r: check_receipt(r, step, qty)),
            (menu, lambda r: check_menu(r, step))], c)
        if result[0] == SERVED:
            closed_after(c, menu)
        return result


def waits_for_continue(server, step, number):
    """POST with "Expect: 100-continue": the body only after the 100."""
    body = pz.order_body("margherita", 1)
    head = pz.request_bytes("POST", "/order",
                            {"Content-Type": FORM,
                             "Expect": "100-continue",
                             "Content-Length": str(len(body))})
    with pz.Client(server.host, server.port, CLIENT_TIMEOUT) as c:
        if not send(c, head):
            return CLOSED, "closed before the request"
        interim = receive(c)
        if interim is None or interim.status != 100:
            return outcome(step, [(interim, None)], c)
        if not send(c, body):
            return CLOSED, "closed after the 100"
        return outcome(step, [(receive(c),
                               lambda r: check_receipt(r, step, 1))], c)


def trickles(server, step, number):
    """A request a few bytes at a time."""
    data = pz.request_bytes("GET", "/menu")
    with pz.Client(server.host, server.port, CLIENT_TIMEOUT) as c:
        for i in range(0, len(data), 9):
            if not send(c, data[i:i + 9]):
                return CLOSED, "closed mid-request"
            time.sleep(0.005)
        return outcome(step, [(receive(c), lambda r: check_menu(r, step))],
                       c)


def speaks_nonsense(server, step, number):
    """A method no one knows: 501, and the door shut behind them."""
    with pz.Client(server.host, server.port, CLIENT_TIMEOUT) as c:
        if not send(c, b"BREW /menu HTTP/1.1\r\nHost: x\r\n\r\n"):
            return CLOSED, "closed before the request"
        response = receive(c)
        if response is None or response.status != 501:
            return outcome(step, [(response, None)], c)
        assert_error(response, 501)
        closed_after(c, response)
        return SERVED, "501"


def vanishes(server, step, number):
    """Half a request, then a reset: no answer is owed."""
    c = pz.Client(server.host, server.port, CLIENT_TIMEOUT)
    send(c, b"POST /order HTTP/1.1\r\nHost: x\r\nContent-Le")
    time.sleep(0.02)
    c.reset()
    return None


ODD_ONES = [waits_for_continue, trickles, speaks_nonsense, vanishes]


def crowd(server, step):
    """Every customer at once; their outcomes (the vanishing one has none)."""
    visits = [regular] * CUSTOMERS + ODD_ONES
    with concurrent.futures.ThreadPoolExecutor(len(visits)) as pool:
        futures = [pool.submit(visit, server, step, n)
                   for n, visit in enumerate(visits)]
        results = [(visit.__name__, f.result())
                   for visit, f in zip(visits, futures)]
    return [(name, r) for name, r in results if r is not None]


def still_serves(server, step, tries=20):
    """A fresh customer is served (a lossy fault may refuse a few)."""
    for _ in range(tries):
        with pz.Client(server.host, server.port, CLIENT_TIMEOUT) as c:
            if send(c, pz.request_bytes("GET", "/menu",
                                        {"Connection": "close"})):
                r = receive(c)
                if r is not None and r.status == 200:
                    check_menu(r, step)
                    return
    pytest.fail(f"{tries} fresh customers in a row were not served")


# ---------------------------------------------------------------- the kitchen

def assert_no_leak(server, before):
    after = pz.wait_until(lambda: server.fd_count() <= before, timeout=3.0)
    assert after, (f"{server.fd_count()} descriptors open once every "
                   f"customer left, {before} before the first came")


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("kitchen, fault", cases(FAULTS))
def test_kitchen_copes(start_faulty, kitchen, fault):
    step = kitchen
    server = start_faulty(step, fault)
    before = pz.settled_fd_count(server)

    results = crowd(server, step)
    outcomes = {kind for _, (kind, _) in results}
    if fault.kind == TRANSPARENT:
        assert outcomes == {SERVED}, f"not every customer served: {results}"
    else:
        assert SERVED in outcomes, f"no customer served: {results}"
    still_serves(server, step)

    assert_no_leak(server, before)
    assert_not_spinning(server, "while idle, after the fault")
    assert server.fd_count() == before, "a descriptor opened while idle"
    fault_report(server, fault)


@pytest.mark.parametrize("kitchen, fault", cases([DOOR_STUCK]))
def test_accept_that_keeps_failing_does_not_spin(start_faulty, kitchen,
                                                  fault):
    """Every accept fails with ENOMEM while a customer waits: the door
    stays readable, and the loop must wait for a while before it tries
    again (not retry at once, which is a spin), and still close on time."""
    server = start_faulty(kitchen, fault)
    with pz.Client(server.host, server.port, CLIENT_TIMEOUT) as c:
        c.send(pz.request_bytes("GET", "/menu"))
        time.sleep(0.2)
        assert_not_spinning(server, "with a customer at a failing door")
        assert server.alive()
    fault_report(server, fault)


def test_wrapper_without_faults_is_the_plain_kitchen(faults_built):
    """No PIZZERIA_FAULTS: nothing fails, nothing is reported."""
    newest = [s for s in pz.steps()
              if not (s.get("completion") and pz.io_uring_refused())][-1]
    step = FaultyStep(newest.dir)
    server = pz.start(step, "--bake-ms", "0")
    try:
        r = server.fetch("GET", "/menu")
        check_menu(r, step)
        server.stop()
        assert "pizzeria-faults" not in server.stderr_text()
    finally:
        if not server.stopped:
            server.kill()
        server.close_files()


@pytest.mark.parametrize("setting, complaint", [
    ("accept", "expected CALL=FAILURE"),
    ("open=EMFILE", "CALL is accept, malloc"),
    ("read=ENOSPC", "cannot fail that way"),
    ("malloc=short", "cannot fail that way"),
    ("accept=EMFILE/0", "N is a number"),
    ("accept=EMFILE~x", "N is a number"),
    ("seed=x", "the seed is a number"),
])
def test_bad_setting_is_refused_before_opening(faults_built, setting,
                                               complaint):
    """A mistyped PIZZERIA_FAULTS must not silently test nothing."""
    step = FaultyStep(pz.steps()[0].dir)
    result = pz.run(step, "--port", "0",
                    env={"PIZZERIA_FAULTS": setting})
    assert result.returncode == 2, result
    assert complaint in result.stderr, result.stderr
    assert "listening" not in result.stdout
