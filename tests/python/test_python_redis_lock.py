"""python-redis-lock against the server: acquire/extend/release with owner checks, expiry, reset and
reset_all (a script that touches keys it was not given), the BLPOP wake-up (waiters blocked on the
signal list get the lock promptly when the holder releases), and mutual exclusion under contention."""

import threading
import time

import pytest
import redis_lock

from conftest import Critical, run_threads


def _wait_blocked(r, n, timeout=10.0):
    """Waits until n clients are blocked (INFO clients), so a test knows its waiters sit in BLPOP."""
    deadline = time.time() + timeout
    while int(r.info("clients")["blocked_clients"]) < n:
        assert time.time() < deadline, f"never saw {n} blocked clients"
        time.sleep(0.005)


def test_acquire_extend_release_with_owner_checks(srv, r):
    a = redis_lock.Lock(r, "res", expire=10)
    assert a.acquire(blocking=False) is True
    assert a.locked() and a.get_owner_id() == a.id
    assert r.get("lock:res") == a.id and 9 <= r.ttl("lock:res") <= 10
    with pytest.raises(redis_lock.AlreadyAcquired):
        a.acquire()
    b = redis_lock.Lock(srv.client(), "res", expire=10)
    assert b.acquire(blocking=False) is False
    assert b.locked()  # someone holds it
    with pytest.raises(redis_lock.NotAcquired):
        b.release()
    with pytest.raises(redis_lock.NotAcquired):
        b.extend(30)
    a.extend(30)
    assert 29 <= r.ttl("lock:res") <= 30
    a.extend()  # back to the lock's own expire
    assert 9 <= r.ttl("lock:res") <= 10
    a.release()
    assert r.exists("lock:res") == 0 and not a.locked()
    # Release signals one waiter through a short-lived list.
    assert r.lrange("lock-signal:res", 0, -1) == ["1"]
    assert 0 < r.pttl("lock-signal:res") <= 1000
    with pytest.raises(redis_lock.NotAcquired):
        a.release()
    # A lock without expire cannot be extended.
    forever = redis_lock.Lock(r, "forever")
    assert forever.acquire(blocking=False)
    assert r.ttl("lock:forever") == -1
    with pytest.raises(redis_lock.NotExpirable):
        forever.extend(5)
    forever.release()


def test_expiry_hands_over_and_the_stale_holder_is_refused(srv, r):
    a = redis_lock.Lock(r, "res", expire=1)
    assert a.acquire(blocking=False)
    srv.advance(1100)
    assert not a.locked()
    b = redis_lock.Lock(r, "res", expire=10)
    assert b.acquire(blocking=False)
    with pytest.raises(redis_lock.NotAcquired):
        a.extend()
    with pytest.raises(redis_lock.NotAcquired):
        a.release()
    assert b.get_owner_id() == b.id
    b.release()


def test_reset_and_reset_all_break_locks_held_by_others(r):
    locks = [redis_lock.Lock(r, f"l{i}", expire=30) for i in range(3)]
    for lock in locks:
        assert lock.acquire(blocking=False)
    r.set("unrelated", "x")
    redis_lock.Lock(r, "l0").reset()
    assert r.exists("lock:l0") == 0 and r.llen("lock-signal:l0") == 1
    # reset_all's script finds the locks with KEYS and touches the signal keys it was never passed.
    redis_lock.reset_all(r)
    assert r.keys("lock:*") == []
    assert sorted(r.keys("lock-signal:*")) == ["lock-signal:l0", "lock-signal:l1", "lock-signal:l2"]
    assert r.get("unrelated") == "x"


def test_blpop_wakes_a_waiter_promptly_on_release(srv, r):
    holder = redis_lock.Lock(r, "res", expire=30)
    assert holder.acquire()
    got = {}

    def wait():
        c = srv.client()
        lock = redis_lock.Lock(c, "res", expire=30)
        got["ok"] = lock.acquire(timeout=20)
        got["at"] = time.monotonic()
        lock.release()

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    _wait_blocked(r, 1)  # the waiter is now in BLPOP lock-signal:res 20
    assert "ok" not in got
    released = time.monotonic()
    holder.release()
    t.join(5)
    assert got.get("ok") is True, "waiter did not get the lock"
    assert got["at"] - released < 2.0, f"woken {got['at'] - released:.3f}s after release (timeout was 20s)"


def test_a_chain_of_blocked_waiters_each_wake_on_the_previous_release(srv, r):
    """Every release pushes one signal: five blocked waiters get the lock one after another, none of
    them waiting for its BLPOP timeout."""
    holder = redis_lock.Lock(r, "res", expire=30)
    assert holder.acquire()
    order = []
    guard = threading.Lock()

    def wait(i):
        c = srv.client()
        lock = redis_lock.Lock(c, "res", expire=30)
        assert lock.acquire(timeout=20)
        with guard:
            order.append(i)
        time.sleep(0.02)
        lock.release()
        c.close()

    threads = [threading.Thread(target=wait, args=(i,), daemon=True) for i in range(5)]
    for t in threads:
        t.start()
    _wait_blocked(r, 5)
    t0 = time.monotonic()
    holder.release()
    for t in threads:
        t.join(10)
    assert sorted(order) == list(range(5))
    assert time.monotonic() - t0 < 6, "a waiter sat out its BLPOP timeout instead of being woken"


def test_mutual_exclusion_under_contention(srv, r):
    crit = Critical(r)
    clients, iters = 20, 50

    def worker(i):
        c = srv.client(protocol=2 + i % 2)  # half the clients speak RESP3
        for _ in range(iters):
            with redis_lock.Lock(c, "shared", expire=10):
                crit.body(i, c)
        c.close()

    run_threads(clients, worker, timeout=90)
    crit.check(clients * iters)
    assert r.exists("lock:shared") == 0
