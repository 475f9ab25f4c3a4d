"""sherlock's RedisLock against the server: acquire/release/renew/locked with owner checks, acquire
timeouts, namespaces, expiry, and mutual exclusion under contention."""

import time

import pytest
from sherlock import LockException, LockTimeoutException, RedisLock

from conftest import Critical, run_threads


def test_acquire_release_renew_locked(srv, r):
    a = RedisLock("res", client=r, expire=10, timeout=1, retry_interval=0.05)
    b = RedisLock("res", client=srv.client(), expire=10, timeout=0.2, retry_interval=0.05)
    assert not a.locked()
    assert a.acquire() is True
    assert a.locked() and b.locked()
    assert r.ttl("res") == 10
    owner = r.get("res")
    assert b.acquire(blocking=False) is False
    t0 = time.monotonic()
    with pytest.raises(LockTimeoutException):
        b.acquire()
    assert 0.15 < time.monotonic() - t0 < 4
    with pytest.raises(LockException):
        b.release()  # never acquired by b
    b._owner = "impostor"
    with pytest.raises(LockException):
        b.release()  # the script checks the owner
    assert b.renew() is False
    assert r.get("res") == owner
    r.expire("res", 3)
    assert a.renew() is True and r.ttl("res") == 10
    a.release()
    assert not a.locked() and r.exists("res") == 0
    with pytest.raises(LockException):
        a.release()
    with RedisLock("res", client=r, namespace="app", expire=5) as held:
        assert held.locked() and r.exists("app_res") == 1 and r.exists("res") == 0
    assert r.exists("app_res") == 0


def test_expiry_hands_over_and_the_stale_owner_is_refused(srv, r):
    a = RedisLock("res", client=r, expire=1)
    assert a.acquire(blocking=False)
    srv.advance(1100)
    assert not a.locked()
    b = RedisLock("res", client=r, expire=10)
    assert b.acquire(blocking=False)
    assert a.renew() is False
    with pytest.raises(LockException):
        a.release()
    assert r.get("res") == b._owner
    b.release()


def test_expire_none_sends_expire_minus_one_which_deletes_the_key(r):
    """sherlock's script compares ARGV[2] (a string) with the number -1, which is never equal in Lua,
    so expire=None runs EXPIRE key -1: Redis deletes the key at once. Concord must do the same."""
    lock = RedisLock("res", client=r, expire=None)
    assert lock.acquire(blocking=False) is True
    assert r.exists("res") == 0 and not lock.locked()


def test_mutual_exclusion_under_contention(srv, r):
    crit = Critical(r)
    clients, iters = 20, 25

    def worker(i):
        c = srv.client(protocol=2 + i % 2)  # half the clients speak RESP3
        lock = RedisLock("shared", client=c, expire=10, timeout=30, retry_interval=0.001)
        for _ in range(iters):
            with lock:
                crit.body(i, c)
        c.close()

    run_threads(clients, worker, timeout=90)
    crit.check(clients * iters)
    assert r.exists("shared") == 0
