"""pizzeria.py - the test harness: start a step's server, talk HTTP to it.

Everything here is stdlib only and every socket operation has a timeout, so
no test can hang. The pieces, in the order a test meets them:

    steps()                  every step present (steps/NN-name/server.c), as
                             Step objects: .name, .dir, .manifest, .binary()
    build(target=None)       `make all` (or `make asan`, `make faults` when
                             the environment says PIZZERIA_BUILD=asan or
                             faults), once per session;
                             PIZZERIA_NO_BUILD=1 skips it
    start(step, *flags)      -> Server, started with --port 0 (unless a port
                             is given) once it printed its listening line
    run(step, *flags)        -> CompletedProcess, for flags that must not
                             start a server (--help, bad values)

    Server                   .port .host .pid .proc .step
                             .connect() -> Client
                             .fetch(method, path, ...) -> Response on a fresh
                                 connection that is closed again
                             .stop(sig=SIGTERM) stops it and asserts exit 0
                                 within 2 s, no child left behind, no
                                 sanitizer report (see .check_exit)
                             .stderr_text(), .fd_count(), .children(),
                             .threads()

    Client                   a raw socket: .send(bytes), .request(...),
                             .read_response(...) -> Response, .get(path),
                             .order(pizza, qty), .read_until_closed(),
                             .is_closed_by_server(), .shutdown_write(),
                             .close(); a context manager
    Response                 .status .reason .version .headers (a
                             case-insensitive Headers) .body .json()
                             .closes (says "Connection: close")

    request_bytes(...)       the bytes of one request, for pipelining
    assert_common_headers(response, step)
                             Content-Length, Date (IMF-fixdate), Server,
                             HTTP/1.1: what every response must carry
    fd_count(pid), children(pid), descendants(pid), threads(pid)

Failures raise AssertionError (ProtocolError and its subclasses are
AssertionErrors), so pytest shows them as plain test failures.
"""

import email.utils
import errno
import json
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS_DIR = ROOT / "steps"

BUILD = os.environ.get("PIZZERIA_BUILD", "").strip().lower()
ASAN = BUILD == "asan"
# PIZZERIA_BUILD=faults: the fault-injection build (build/faults/), whose
# servers fail the calls PIZZERIA_FAULTS names (tests/faults/faults.c).
BUILT_APART = ("asan", "faults")
# PIZZERIA_BUILD=valgrind: the normal build, every server run under
# valgrind's memcheck; any error or definite leak makes it exit 99.
VALGRIND = BUILD == "valgrind"
VALGRIND_COMMAND = ["valgrind", "-q", "--error-exitcode=99",
                    "--leak-check=full", "--show-leak-kinds=definite",
                    "--errors-for-leak-kinds=definite", "--track-fds=no"]

FORM = "application/x-www-form-urlencoded"
DEFAULT_TIMEOUT = 5.0   # any single read or connect
START_TIMEOUT = 5.0     # until the listening line
STOP_TIMEOUT = 2.0      # the contract's "exit 0 within 2 s"

SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)

# LeakSanitizer works in this environment (checked by hand: a leaking test
# program is reported and exits 23); leaks therefore fail the teardown.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}

# Every field a step.json has, and only those: each is read by a test or by
# bench/. name, cook and the two defaults are the server's own facts too
# (pizzeria --describe prints them), and a protocol test holds them equal.
MANIFEST_FIELDS = {
    "name": str,
    "cook": str,
    "concurrent": bool,
    "default_bake_ms": int,
    "default_max_conns": int,
    "answers_503": bool,
    "order_numbers_shared": bool,
    "process_per_connection": bool,
    "worker_processes": bool,  # a master and --workers cook processes
    # the cook hands the kernel whole jobs (io_uring) and is told when each
    # is done: a kernel that refuses io_uring cannot run the step, whose
    # tests are then skipped (io_uring_refused)
    "completion": bool,
}


class ProtocolError(AssertionError):
    """The server sent something that is not a well-formed response."""


class ServerClosed(ProtocolError):
    """The server closed the connection where a response was expected."""


class ResponseTimeout(AssertionError):
    """Nothing (or not enough) arrived before the timeout."""


# ---------------------------------------------------------------- steps

class Step:
    """One step directory: steps/NN-name with its server.c and step.json."""

    def __init__(self, path):
        self.dir = Path(path)
        self.name = self.dir.name
        manifest_path = self.dir / "step.json"
        self.manifest = (json.loads(manifest_path.read_text())
                         if manifest_path.exists() else {})

    def binary(self, asan=None, build=None):
        """The server binary: steps/NN/pizzeria, or build/BUILD/NN/pizzeria
        for the asan or faults build (PIZZERIA_BUILD, or asan= or build=)."""
        if build is None:
            build = BUILD if asan is None else "asan" if asan else ""
        if build in BUILT_APART:
            return ROOT / "build" / build / self.name / "pizzeria"
        return self.dir / "pizzeria"

    def __getitem__(self, key):
        return self.manifest[key]

    def get(self, key, default=None):
        return self.manifest.get(key, default)

    def __eq__(self, other):
        return isinstance(other, Step) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"Step({self.name})"


def steps():
    """Every step present: steps/[0-9][0-9]-*/ holding a server.c, sorted."""
    return [Step(d) for d in sorted(STEPS_DIR.glob("[0-9][0-9]-*"))
            if (d / "server.c").is_file()]


def step_named(name):
    """The step called name ("01-blocking"), or by number ("01"); or None."""
    for s in steps():
        if s.name == name or s.name.split("-", 1)[0] == name:
            return s
    return None


_built = {}
_build_lock = threading.Lock()


def build(target=None):
    """Build every step once per session: `make all`, or `make asan` or
    `make faults` as PIZZERIA_BUILD says (or target). PIZZERIA_NO_BUILD=1
    skips it (the caller has just built). A failed make is tried once more
    after a second: someone else's make running in the same tree at the
    same moment must not fail the suite."""
    target = target or (BUILD if BUILD in BUILT_APART else "all")
    if os.environ.get("PIZZERIA_NO_BUILD"):
        return None
    with _build_lock:
        if target not in _built:
            for attempt in range(2):
                result = subprocess.run(
                    ["make", "-C", str(ROOT), target], stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True, timeout=600)
                if result.returncode == 0:
                    break
                time.sleep(1.0)
            _built[target] = result
        result = _built[target]
    if result.returncode != 0:
        raise AssertionError(f"make {target} failed:\n{result.stdout}")
    return result


def server_env(extra=None):
    env = dict(os.environ)
    if ASAN:
        env.update(SANITIZER_ENV)
    if extra:
        env.update(extra)
    return env


def run(step, *flags, timeout=5.0, env=None):
    """Run the server with flags that must make it exit at once (--help,
    bad values). Returns a CompletedProcess with text stdout and stderr.
    A server that starts listening instead is killed and the test fails."""
    try:
        return subprocess.run(
            [*(VALGRIND_COMMAND if VALGRIND else []), str(step.binary()),
             *map(str, flags)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=timeout, env=server_env(env))
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"{step.name} {' '.join(map(str, flags))}: still running after "
            f"{timeout} s (stdout {e.stdout!r})") from None


# ---------------------------------------------------------------- io_uring

_io_uring_verdict = []


def io_uring_refused():
    """None if this kernel gives this process an io_uring; otherwise why
    not, as a reason to skip a completion step's tests. Asked once, of the
    kernel itself: io_uring_setup(2) for a ring of one entry, closed again.
    A process the tests start inherits the same kernel, sysctl and seccomp
    filter."""
    if not _io_uring_verdict:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        params = ctypes.create_string_buffer(120)  # struct io_uring_params
        fd = libc.syscall(425, 1, params)           # __NR_io_uring_setup
        if fd >= 0:
            os.close(fd)
            _io_uring_verdict.append(None)
        else:
            error = ctypes.get_errno()
            _io_uring_verdict.append(
                f"this kernel refuses io_uring (io_uring_setup: "
                f"{os.strerror(error)}); see `sysctl kernel.io_uring_disabled`"
                f" and the container's seccomp filter")
    return _io_uring_verdict[0]


# ---------------------------------------------------------------- /proc

def _stat(pid):
    """(state, ppid, starttime) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def children(pid):
    """Direct children of pid, as a list of (pid, state) ("Z" is a zombie)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st and st[1] == pid:
                found.append((int(entry), st[0]))
    return found


def descendants(pid):
    """Every process below pid, as a list of (pid, starttime)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                table[int(entry)] = st
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for p, (state, ppid, start) in table.items():
            if ppid == parent:
                found.append((p, start))
                todo.append(p)
    return found


def fd_count(pid):
    """How many descriptors pid has open (/proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid):
    """The kernel thread ids of pid (/proc/PID/task)."""
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))


def pss_kib(pid):
    """pid's proportional set size (/proc/PID/smaps_rollup), in KiB: its
    private pages, plus its share of the pages it shares."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return int(re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M).group(1))


def wait_until(condition, timeout=2.0, interval=0.02):
    """Poll condition() until it is truthy or timeout passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP

class Headers:
    """Response headers in order, looked up case-insensitively."""

    def __init__(self, items=()):
        self.items = list(items)

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.items if k.lower() == name]

    def get(self, name, default=None):
        values = self.get_all(name)
        return values[0] if values else default

    def __getitem__(self, name):
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return values[0]

    def __contains__(self, name):
        return bool(self.get_all(name))

    def tokens(self, name):
        """A comma-separated header's tokens, lower-cased (Connection)."""
        return [t.strip().lower() for v in self.get_all(name)
                for t in v.split(",") if t.strip()]

    def __repr__(self):
        return f"Headers({self.items!r})"


class Response:
    def __init__(self, version, status, reason, headers, body, raw):
        self.version = version    # "HTTP/1.1"
        self.status = status      # int
        self.reason = reason
        self.headers = headers    # Headers
        self.body = body          # bytes
        self.raw = raw            # the bytes of the whole response

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def closes(self):
        """The response says Connection: close."""
        return "close" in self.headers.tokens("Connection")

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"


def request_bytes(method, target, headers=None, body=b"", version="1.1",
                  host="localhost", content_length=None):
    """The bytes of one request.

    headers: a dict or a list of (name, value) pairs (a list can repeat a
    name). host: the Host value, or None for no Host header. content_length:
    None adds it when there is a body or the method is POST; False never
    adds it; anything else is sent as the value. Header values may be str or
    bytes; str is encoded as latin-1.
    """
    if isinstance(body, str):
        body = body.encode()
    pairs = list(headers.items()) if isinstance(headers, dict) else list(
        headers or [])
    names = {str(k).lower() for k, _ in pairs}
    lines = []
    if host is not None and "host" not in names:
        lines.append(("Host", host))
    lines += pairs
    if "content-length" not in names:
        if content_length is None:
            if body or method == "POST":
                lines.append(("Content-Length", str(len(body))))
        elif content_length is not False:
            lines.append(("Content-Length", str(content_length)))

    def b(x):
        return x if isinstance(x, bytes) else str(x).encode("latin-1")

    out = b(method) + b" " + b(target) + b" HTTP/" + b(version) + b"\r\n"
    for name, value in lines:
        out += b(name) + b": " + b(value) + b"\r\n"
    return out + b"\r\n" + body


def order_body(pizza, qty=None, **more):
    """A form body: pizza=...&qty=... ("quattro formaggi" -> quattro+formaggi)."""
    fields = [("pizza", pizza)]
    if qty is not None:
        fields.append(("qty", str(qty)))
    fields += list(more.items())
    return urllib.parse.urlencode(fields).encode()


_STATUS_LINE = re.compile(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$")


class Client:
    """One TCP connection to the server; raw bytes in, parsed responses out.

    Bytes read past the end of one response (pipelining) are kept for the
    next read_response. Every operation has a timeout.
    """

    def __init__(self, host, port, timeout=DEFAULT_TIMEOUT, host_header=None):
        self.host, self.port = host, port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.host_header = host_header or (
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        self.buffer = b""
        self.eof = False

    # -- sending

    def send(self, data):
        """Send all of data (bytes or str)."""
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def request(self, method, path, headers=None, body=b"", version="1.1",
                host=True, content_length=None):
        """Send one request (see request_bytes). host=True sends this
        connection's Host header, None sends none, a str sends that."""
        if host is True:
            host = self.host_header
        self.send(request_bytes(method, path, headers, body, version, host,
                                content_length))

    # -- receiving

    def _fill(self, deadline, expected="the server to send more"):
        """Read more bytes into the buffer. False on EOF or reset.
        ResponseTimeout at the deadline, saying what was expected."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise ResponseTimeout(self._still_open(expected))
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise ResponseTimeout(self._still_open(expected)) from None
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def _still_open(self, expected):
        sent = (f"it sent only {self.buffer[:300]!r}" if self.buffer
                else "it sent nothing")
        return f"expected {expected}; {sent}, and the connection is still open"

    def read_response(self, head_request=False, timeout=DEFAULT_TIMEOUT):
        """Read exactly one response: status line, headers, and a body of
        Content-Length bytes (none for HEAD, 1xx, 204 or 304). Raises
        ServerClosed if the connection ends first, ResponseTimeout if it
        does not come, ProtocolError if it is malformed."""
        deadline = time.monotonic() + timeout
        expected = f"a response within {timeout:g} s"
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill(deadline, expected):
                raise ServerClosed(
                    "expected a response; the connection closed with " + (
                        f"only {self.buffer[:300]!r} sent" if self.buffer
                        else "no answer"))
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        for line in lines:
            if b"\n" in line or b"\r" in line:
                raise ProtocolError(f"bare CR or LF in response head {head!r}")
        m = _STATUS_LINE.match(lines[0])
        if not m:
            raise ProtocolError(f"bad status line {lines[0]!r}")
        version, status = m.group(1).decode(), int(m.group(2))
        reason = m.group(3).decode("latin-1")
        items = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"bad header line {line!r}")
            items.append((name.decode("latin-1"),
                          value.strip().decode("latin-1")))
        headers = Headers(items)
        length = 0
        if not (head_request or 100 <= status < 200 or status in (204, 304)):
            lengths = headers.get_all("Content-Length")
            if len(lengths) != 1 or not lengths[0].isdigit():
                raise ProtocolError(
                    f"need exactly one numeric Content-Length: {head!r}")
            length = int(lengths[0])
        while len(rest) < length:
            self.buffer = head + b"\r\n\r\n" + rest
            if not self._fill(deadline, expected):
                raise ServerClosed(
                    f"expected a body of {length} bytes; the connection "
                    f"closed after {len(rest)} of them, the head {head!r}")
            rest = self.buffer[len(head) + 4:]
        body, self.buffer = rest[:length], rest[length:]
        return Response(version, status, reason, headers, body,
                        head + b"\r\n\r\n" + body)

    def read_until_closed(self, timeout=DEFAULT_TIMEOUT):
        """Everything until the server closes (EOF or reset), buffered bytes
        included. ResponseTimeout if it is still open after timeout."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline, f"the server to close the connection "
                                   f"within {timeout:g} s"):
            pass
        data, self.buffer = self.buffer, b""
        return data

    def is_closed_by_server(self, timeout=2.0):
        """True if the server closes (EOF or reset) within timeout; bytes
        that arrive meanwhile are kept in the buffer. False if still open."""
        try:
            self._wait_closed(timeout)
            return True
        except ResponseTimeout:
            return False

    def _wait_closed(self, timeout):
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass

    def shutdown_write(self):
        """Half-close: tell the server we will send nothing more."""
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self):
        """Close with a reset (RST) instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- conveniences

    def exchange(self, method, path, timeout=DEFAULT_TIMEOUT, **kw):
        """request() then read_response()."""
        self.request(method, path, **kw)
        return self.read_response(head_request=(method == "HEAD"),
                                  timeout=timeout)

    def get(self, path, **kw):
        return self.exchange("GET", path, **kw)

    def order(self, pizza, qty=None, content_type=FORM, timeout=DEFAULT_TIMEOUT,
              **kw):
        """POST /order with a form body; returns the Response."""
        headers = {"Content-Type": content_type} if content_type else {}
        return self.exchange("POST", "/order", headers=headers,
                             body=order_body(pizza, qty), timeout=timeout,
                             **kw)


# ---------------------------------------------------------------- servers

class Server:
    """A running step. Start it with start(); stop() checks how it ends."""

    def __init__(self, step, flags, env=None, ready_timeout=START_TIMEOUT,
                 valgrind=VALGRIND, nofile=None):
        self.step = step
        self.flags = [str(f) for f in flags]
        if "--port" not in self.flags:
            self.flags = ["--port", "0"] + self.flags
        # The server writes its stderr through an O_APPEND descriptor of
        # its own; the harness reads through another. Sharing one file
        # offset, a read (seek to 0) would make the server's next line
        # overwrite the start of the file.
        fd, path = tempfile.mkstemp(prefix="pizzeria-stderr-")
        os.close(fd)
        self.stderr_file = open(path, "rb")
        server_stderr = open(path, "ab")
        os.unlink(path)
        self.argv = ((VALGRIND_COMMAND if valgrind else [])
                     + [str(step.binary())] + self.flags)
        if nofile is not None:  # the shell sets the limit, then is the server
            self.argv = ["sh", "-c", f'ulimit -n {int(nofile)} && exec "$@"',
                         "sh"] + self.argv
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=server_stderr, env=server_env(env),
            start_new_session=True)
        server_stderr.close()
        self.pid = self.proc.pid
        self.stopped = False
        self.exit_checked = False
        self.listening_line = self._read_listening_line(ready_timeout)
        m = re.fullmatch(r"listening on http://(\[[0-9a-fA-F:.]+\]|[0-9.]+)"
                         r":(\d+)", self.listening_line)
        if not m:
            self.kill()
            raise AssertionError(
                f"bad listening line {self.listening_line!r}")
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))

    def _read_listening_line(self, timeout):
        fd = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in data:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 \
                else []
            if not ready:
                self.kill()
                raise AssertionError(
                    f"expected {self.step.name} to say 'listening on ...' "
                    f"within {timeout} s; it said {data!r}, and on stderr\n"
                    f"{self.stderr_text().rstrip()}")
            chunk = os.read(fd, 4096)
            if not chunk:
                self.kill()
                raise AssertionError(
                    f"{self.step.name} {' '.join(self.flags)} exited (status "
                    f"{self.proc.wait()}) before it listened, saying:\n"
                    f"{data.decode(errors='replace')}"
                    f"{self.stderr_text()}".rstrip())
            data += chunk
        line, _, self.stdout_rest = data.partition(b"\n")
        return line.decode()

    # -- talking to it

    def connect(self, timeout=DEFAULT_TIMEOUT):
        return Client(self.host, self.port, timeout=timeout)

    def fetch(self, method, path, timeout=DEFAULT_TIMEOUT, **kw):
        """One request on a fresh connection, closed afterwards."""
        with self.connect(timeout) as c:
            return c.exchange(method, path, timeout=timeout, **kw)

    # -- looking at it

    def stderr_text(self):
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def fd_count(self):
        """The server's open descriptors; for a step of worker processes,
        the master's and every worker's together (a worker that leaks is
        as much the server's leak as the master's would be)."""
        if not self.step.get("worker_processes"):
            return fd_count(self.pid)
        total = fd_count(self.pid)
        for worker, _ in descendants(self.pid):
            try:
                total += fd_count(worker)
            except OSError:
                pass  # it left between the two looks
        return total

    def children(self):
        return children(self.pid)

    def threads(self):
        return threads(self.pid)

    def alive(self):
        return self.proc.poll() is None

    # -- stopping it

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stopped = True

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Send sig; assert exit status 0 within timeout, no child process
        left and no zombie, and no sanitizer report. Returns seconds taken."""
        if self.stopped:
            self.check_exit()
            return 0.0
        if not self.alive():
            code, said = self.proc.returncode, self.stderr_text().strip()
            raise AssertionError(
                f"expected {self.step.name} still running, to be stopped; it "
                + (f"had been killed by {signal.Signals(-code).name}"
                   if code < 0 else f"had exited with status {code}")
                + (f", saying:\n{said}" if said else ""))
        # Zombies: an exited child must be reaped (give it a moment).
        zombies = wait_until(
            lambda: not [c for c in self.children() if c[1] == "Z"],
            timeout=1.0)
        assert zombies, f"zombie children of the server: {self.children()}"
        family = descendants(self.pid)
        started = time.monotonic()
        os.kill(self.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.step.name} did not exit within {timeout} s of "
                f"{signal.Signals(sig).name}") from None
        taken = time.monotonic() - started
        self.stopped = True
        def leftovers():
            found = []
            for child, start in family:
                st = _stat(child)
                if st is not None and st[2] == start and st[0] != "Z":
                    found.append(child)
            return found
        wait_until(lambda: not leftovers(), timeout=0.5)
        left = leftovers()
        assert not left, (
            f"processes left behind by {self.step.name}: {left}")
        code = self.proc.returncode
        assert code == 0, (
            f"expected {self.step.name} to exit 0 after "
            f"{signal.Signals(sig).name}; it "
            + (f"was killed by {signal.Signals(-code).name}" if code < 0
               else f"exited with status {code}")
            + f"; stderr:\n{self.stderr_text()}")
        self.check_exit()
        return taken

    def check_exit(self):
        """No sanitizer report on stderr."""
        self.exit_checked = True
        text = self.stderr_text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, (
                f"sanitizer report from {self.step.name}:\n{text[-6000:]}")

    def close_files(self):
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self.stderr_file.close()


def start(step, *flags, env=None, ready_timeout=START_TIMEOUT,
          valgrind=VALGRIND, nofile=None):
    """Start step with flags (--port 0 added unless given); a Server.
    valgrind=True runs it under memcheck (see VALGRIND_COMMAND); nofile=N
    starts it with a descriptor limit of N (soft and hard)."""
    return Server(step, flags, env=env, ready_timeout=ready_timeout,
                  valgrind=valgrind, nofile=nofile)


def settled_fd_count(server, timeout=2.0):
    """The server's descriptor count once it has stayed put for 0.2 s (a
    connection the client just closed may not be closed by the server yet)."""
    deadline = time.monotonic() + timeout
    last = server.fd_count()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = server.fd_count()
        if now == last:
            return now
        last = now
    return last


def trace_lines(path):
    """The lines of a --trace file so far (none if it is not there yet)."""
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- checks

_IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
    r"Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT")


def assert_common_headers(response, step):
    """What every response carries (chapters/appendix-protocol.md,
    Connections): status line
    HTTP/1.1, one Content-Length, a Date in IMF-fixdate close to now, and
    Server: pizzeria/STEP."""
    r = response
    assert r.version == "HTTP/1.1", f"status line says {r.version}: {r!r}"
    assert len(r.headers.get_all("Content-Length")) == 1, (
        f"need exactly one Content-Length: {r!r}")
    assert r.headers["Content-Length"].isdigit(), r
    dates = r.headers.get_all("Date")
    assert len(dates) == 1, f"need exactly one Date: {r!r}"
    assert _IMF_FIXDATE.fullmatch(dates[0]), f"Date not IMF-fixdate: {dates}"
    when = email.utils.parsedate_to_datetime(dates[0]).timestamp()
    assert abs(when - time.time()) < 120, f"Date is not now: {dates[0]}"
    name = step.name if isinstance(step, Step) else step
    assert r.headers.get_all("Server") == [f"pizzeria/{name}"], (
        f"Server header: {r.headers.get_all('Server')}")


def assert_error(response, status):
    """An error response: that status and a body {"error": "reason"}."""
    assert response.status == status, (
        f"expected {status}, got {response!r}")
    assert response.headers.get("Content-Type", "").lower().startswith(
        "application/json"), response
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"].strip(), body


def loopback_v6_available():
    """Can a socket be bound to ::1 here?"""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def is_reset_or_closed(exc):
    return isinstance(exc, (ConnectionResetError, BrokenPipeError)) or (
        isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET,
                                                    errno.EPIPE))
