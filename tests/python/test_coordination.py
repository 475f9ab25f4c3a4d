"""Concord's locks beside the Redis lock libraries users already run: redis-py's Lock and
python-redis-lock taking the same keys as LOCK.ACQUIRE never give two holders, and a library's lock has
a fencing token (LOCK.INFO, KV.META). THROTTLE matches GCRA stepped by hand on the server clock."""

import os
import threading
import time

import pytest
import redis_lock

from conftest import Critical, run_threads

pytestmark = pytest.mark.skipif(
    os.environ.get("CONCORD_TARGET") == "redis", reason="Concord's own commands"
)


def test_a_library_lock_has_a_fencing_token(srv, r):
    lock = r.lock("lock:res", timeout=10)
    assert lock.acquire(blocking=False)
    info = r.execute_command("LOCK.INFO", "lock:res")
    fields = dict(zip(info[::2], info[1::2]))
    assert fields["owner"] == r.get("lock:res")
    meta = r.execute_command("KV.META", "lock:res")
    assert int(fields["token"]) == dict(zip(meta[::2], meta[1::2]))["create_revision"]
    # LOCK.RELEASE by the library's owner token works too.
    assert r.execute_command("LOCK.RELEASE", "lock:res", r.get("lock:res")) == 1
    assert not lock.locked()


def test_redis_py_lock_python_redis_lock_and_lock_acquire_exclude_each_other(srv, r):
    crit = Critical(r)
    rounds = 15

    def worker(i):
        c = srv.client()
        for n in range(rounds):
            who = f"w{i}-{n}"
            kind = i % 3
            if kind == 0:  # redis-py's Lock (SET NX PX, Lua release), polling every 2 ms
                lock = c.lock("lock:res", timeout=10, sleep=0.002, blocking_timeout=30)
                assert lock.acquire()
                try:
                    crit.body(who, c)
                finally:
                    lock.release()
            elif kind == 1:  # python-redis-lock: its key is "lock:<name>"
                lock = redis_lock.Lock(c, "res", expire=10)
                while not lock.acquire(blocking=False):
                    time.sleep(0.002)
                try:
                    crit.body(who, c)
                finally:
                    lock.release()
            else:  # LOCK.ACQUIRE waiting in line
                token = c.execute_command("LOCK.ACQUIRE", "lock:res", who, "PX", 10000, "WAIT", 30000)
                assert token is not None
                try:
                    crit.body(who, c)
                finally:
                    assert c.execute_command("LOCK.RELEASE", "lock:res", who) == 1
        c.close()

    run_threads(9, worker)
    crit.check(9 * rounds)


@pytest.mark.filterwarnings("ignore:distutils Version classes:DeprecationWarning")
def test_aioredlock_and_lock_acquire_exclude_each_other(srv, r):
    """aioredlock (the Redlock algorithm, one server) in its own event loop beside LOCK.ACQUIRE
    waiters on the same key: never two holders."""
    import asyncio

    from aioredlock import Aioredlock, LockError

    crit = Critical(r)
    rounds = 15

    def redlock_worker(i):
        async def main():
            lm = Aioredlock([srv.url], retry_count=1)
            c = srv.client()
            try:
                done = 0
                while done < rounds:
                    try:
                        lock = await lm.lock("lock:shared", lock_timeout=10)
                    except LockError:
                        await asyncio.sleep(0.002)
                        continue
                    try:
                        # The section is synchronous: no other task of this loop runs meanwhile.
                        crit.body(f"redlock{i}-{done}", c)
                    finally:
                        await lm.unlock(lock)
                    done += 1
            finally:
                await lm.destroy()
                c.close()

        asyncio.run(asyncio.wait_for(main(), 60))

    def worker(i):
        if i % 2 == 0:
            redlock_worker(i)
            return
        c = srv.client()
        for n in range(rounds):
            who = f"w{i}-{n}"
            assert c.execute_command("LOCK.ACQUIRE", "lock:shared", who, "PX", 10000, "WAIT", 30000)
            try:
                crit.body(who, c)
            finally:
                assert c.execute_command("LOCK.RELEASE", "lock:shared", who) == 1
        c.close()

    run_threads(6, worker)
    crit.check(6 * rounds)


def test_throttle_follows_gcra_on_the_server_clock(srv, r):
    srv_clock = int(r.execute_command("DEBUG", "CLOCK", "FREEZE"))
    try:
        # 1 per second, bursts of 5 (max_burst 4): redis-cell's own worked example.
        steps = [
            (0, 1, [0, 5, 4, -1, 1]),
            (0, 1, [0, 5, 3, -1, 2]),
            (0, 1, [0, 5, 2, -1, 3]),
            (0, 1, [0, 5, 1, -1, 4]),
            (0, 1, [0, 5, 0, -1, 5]),
            (0, 1, [1, 5, 0, 1, 5]),
            (3000, 1, [0, 5, 2, -1, 3]),
            (100, 1, [0, 5, 1, -1, 4]),
            (900, 1, [0, 5, 1, -1, 4]),
            (4000, 1, [0, 5, 4, -1, 1]),
            (1500, 1, [0, 5, 4, -1, 1]),
            (0, 0, [0, 5, 4, -1, 1]),
            (0, 2, [0, 5, 2, -1, 3]),
            (0, 5, [1, 5, 2, 3, 3]),
        ]
        for advance, quantity, want in steps:
            if advance:
                srv.advance(advance)
            got = r.execute_command("CL.THROTTLE", "api:user", 4, 1, 1, quantity)
            assert got == want, (advance, quantity)
        assert r.execute_command("THROTTLE", "api:user", 4, 1, 1, 0) == [0, 5, 2, -1, 3]
        assert 0 < r.pttl("api:user") <= 3000
    finally:
        r.execute_command("DEBUG", "CLOCK", "UNFREEZE")
    assert srv_clock > 0
