"""redis-py against Concord: RESP2 and RESP3 handshakes, everyday commands, pipelines, and the Lock
recipe under contention. The server binary comes from CONCORD_BIN, else target/debug/concord."""

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Ready to accept connections.*port=(\d+)")


def _binary():
    return os.environ.get("CONCORD_BIN") or str(ROOT / "target/debug/concord")


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen(
        [_binary(), "--port", "0"],
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
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(params=[2, 3])
def client(server, request):
    c = redis.Redis(port=server, protocol=request.param, decode_responses=True)
    c.flushall()
    yield c
    c.close()


def test_handshake_reports_the_negotiated_protocol(server):
    for proto in (2, 3):
        c = redis.Redis(port=server, protocol=proto, client_name=f"p{proto}")
        assert c.ping() is True
        info = c.client_info()
        assert int(info["resp"]) == proto
        assert info["name"] == f"p{proto}"
        # redis-py announces itself with CLIENT SETINFO on connect.
        assert info["lib-name"].startswith("redis-py")
        c.close()


def test_get_set_incr_expire(client):
    assert client.set("k", "v") is True
    assert client.get("k") == "v"
    assert client.get("missing") is None
    assert client.incr("n") == 1
    assert client.incrby("n", 41) == 42
    assert client.set("k", "w", nx=True) is None
    assert client.expire("k", 100) is True
    assert 0 < client.ttl("k") <= 100
    assert client.persist("k") is True
    assert client.ttl("k") == -1
    assert client.delete("k", "n", "missing") == 2
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        client.execute_command("GET")


def test_pipeline_without_transaction_replies_in_order(client):
    pipe = client.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"key:{i}", i)
        pipe.incr("counter")
    results = pipe.execute()
    assert results[0::2] == [True] * 1000
    assert results[1::2] == list(range(1, 1001))
    pipe = client.pipeline(transaction=False)
    pipe.get("key:7").incr("key:7").get("nosuch")
    assert pipe.execute() == ["7", 8, None]


def test_lock_acquire_has_exactly_one_winner_per_round(server):
    """Lock.acquire is SET NX PX: of many threads racing for a fresh lock, exactly one wins."""
    clients = [redis.Redis(port=server, protocol=2 + n % 2) for n in range(12)]
    for rnd in range(20):
        name = f"race:{rnd}"
        barrier = threading.Barrier(len(clients))
        wins = []

        def race(c):
            lock = c.lock(name, timeout=10)
            barrier.wait()
            if lock.acquire(blocking=False):
                wins.append(lock)

        threads = [threading.Thread(target=race, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1, f"round {rnd}: {len(wins)} winners"
        assert 0 < clients[0].pttl(name) <= 10_000
    for c in clients:
        c.close()


def _has_scripting(port):
    c = redis.Redis(port=port)
    try:
        c.execute_command("EVALSHA", "0" * 40, 0)
        return True
    except redis.ResponseError as e:
        return "unknown command" not in str(e)
    finally:
        c.close()


def test_lock_has_at_most_one_holder_under_contention(server):
    # Lock.extend and Lock.release run Lua scripts (EVALSHA); scripting arrives in a later issue.
    if not _has_scripting(server):
        pytest.skip("EVALSHA not implemented yet (scripting is a later issue)")
    holders = []
    current = [0]
    guard = threading.Lock()
    acquired = [0]
    errors = []

    def worker(n):
        c = redis.Redis(port=server, protocol=3 if n % 2 else 2)
        try:
            for _ in range(40):
                lock = c.lock("resource", timeout=5)
                if not lock.acquire(blocking=False):
                    continue
                with guard:
                    current[0] += 1
                    holders.append(current[0])
                    acquired[0] += 1
                assert lock.extend(2) is True
                time.sleep(0.001)
                with guard:
                    current[0] -= 1
                lock.release()
        except Exception as e:  # noqa: BLE001 - surface any client error in the main thread
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert acquired[0] > 0
    assert max(holders) == 1, "two clients held the lock at once"
    c = redis.Redis(port=server)
    assert c.exists("resource") == 0
    c.close()
