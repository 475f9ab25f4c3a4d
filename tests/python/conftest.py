"""Shared fixtures for the client-library tests: one server per pytest session, flushed before each test.

The server is the Concord binary from CONCORD_BIN (else target/debug/concord), started on an ephemeral
port with `--enable-debug-command yes`. Set CONCORD_TARGET=redis to run the very same tests against
Debian's redis-server instead: that is how a failure is told apart from a test or library bug.
CONCORD_PROTOCOL=3 runs them with RESP3 clients wherever a test does not choose the protocol itself.
"""

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
# CONCORD_PROTOCOL=3 makes every client the tests create without an explicit protocol speak RESP3.
PROTOCOL = int(os.environ.get("CONCORD_PROTOCOL", "2"))
READY = re.compile(r"Ready to accept connections.*port=(\d+)")


def pytest_collection_modifyitems(items):
    """A hung test (a lost wake-up, a missed reply) fails after 60 s instead of stalling CI."""
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(60))


def _binary():
    return os.environ.get("CONCORD_BIN") or str(ROOT / "target/debug/concord")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server: `port`, `url`, `kind` ("concord" or "redis"), and helpers to make clients."""

    def __init__(self, kind, proc, port):
        self.kind = kind
        self.proc = proc
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        if PROTOCOL != 2:
            self.url += f"?protocol={PROTOCOL}"

    def client(self, **kw):
        kw.setdefault("decode_responses", True)
        kw.setdefault("protocol", PROTOCOL)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def advance(self, ms):
        """Lets `ms` of server time pass for TTLs: Concord's clock is moved (no sleep), Redis is waited for."""
        if self.kind == "concord":
            c = redis.Redis(host="127.0.0.1", port=self.port)
            c.execute_command("DEBUG", "CLOCK", "ADVANCE", int(ms))
            c.close()
        else:
            time.sleep(ms / 1000 + 0.01)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _start_concord():
    proc = subprocess.Popen(
        [_binary(), "--port", "0", "--enable-debug-command", "yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
        text=True,
    )
    port = None
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = READY.search(line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        proc.kill()
        pytest.fail("concord did not report its port")
    # Keep draining the log so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return Server("concord", proc, port)


def _start_redis():
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("CONCORD_TARGET=redis but redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            redis.Redis(port=port).ping()
            return Server("redis", proc, port)
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    pytest.fail("redis-server did not start")


@pytest.fixture(scope="session")
def srv():
    """The session's server (a `Server`)."""
    s = _start_redis() if os.environ.get("CONCORD_TARGET") == "redis" else _start_concord()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def server(srv):
    """The session server's port (kept for the older tests that want only that)."""
    return srv.port


@pytest.fixture
def r(srv):
    """A decoded RESP2 client on an empty server."""
    c = srv.client()
    c.flushall()
    yield c
    c.close()


def run_threads(n, fn, timeout=60):
    """Runs fn(i) on n threads started behind a barrier; re-raises the first exception any raised."""
    barrier = threading.Barrier(n)
    errors = []

    def body(i):
        try:
            barrier.wait()
            fn(i)
        except BaseException as e:  # noqa: BLE001 - surfaced in the caller below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.time() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.time()))
    stuck = sum(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    assert stuck == 0, f"{stuck} threads still running after {timeout}s"


class Critical:
    """The invariant checked inside every critical section: at most one holder at a time, and a counter
    incremented non-atomically (read, yield, write) that only ends exact if sections never overlap."""

    def __init__(self, r, key="counter"):
        self.r = r
        self.key = key
        self.guard = threading.Lock()
        self.holders = set()
        self.max_holders = 0
        self.entries = 0

    def enter(self, who):
        with self.guard:
            self.holders.add(who)
            self.max_holders = max(self.max_holders, len(self.holders))
            self.entries += 1

    def leave(self, who):
        with self.guard:
            self.holders.discard(who)

    def body(self, who, r=None):
        """A whole critical section: enter, non-atomic read-modify-write of the server counter, leave."""
        c = r or self.r
        self.enter(who)
        try:
            v = int(c.get(self.key) or 0)
            time.sleep(0.0005)  # widen the race window: an overlapping holder would lose an update
            c.set(self.key, v + 1)
        finally:
            self.leave(who)

    def check(self, expected_entries=None):
        assert self.max_holders == 1, f"{self.max_holders} holders at once"
        if expected_entries is not None:
            assert self.entries == expected_entries
        assert int(self.r.get(self.key) or 0) == self.entries, "lost update: sections overlapped"
