"""aioredlock (asyncio, on aioredis 1.x) against the server: lock/extend/unlock with owner checks,
expiry, and mutual exclusion among many asyncio tasks using separate lock managers."""

import asyncio
import random

import aioredis
import pytest
from aioredlock import Aioredlock, Lock, LockError

# aioredlock compares aioredis versions with distutils' StrictVersion on every connection.
pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes:DeprecationWarning")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_lock_extend_unlock_with_owner_checks(srv, r):
    async def main():
        lm = Aioredlock([srv.url], retry_count=1)
        other = Aioredlock([srv.url], retry_count=2, retry_delay_min=0.01, retry_delay_max=0.02)
        try:
            lock = await lm.lock("res", lock_timeout=10)
            assert lock.valid and r.get("res") == lock.id
            assert 9_000 < r.pttl("res") <= 10_000
            assert await lm.is_locked("res") and await other.is_locked(lock)
            with pytest.raises(LockError):
                await other.lock("res", lock_timeout=10)
            assert r.get("res") == lock.id  # the failed attempt left the holder alone
            r.pexpire("res", 2_000)
            await lm.extend(lock)  # back to the lock's own timeout
            assert 9_000 < r.pttl("res") <= 10_000
            await lm.extend(lock, lock_timeout=20)
            assert 19_000 < r.pttl("res") <= 20_000
            # An impostor with another id is refused by the unlock script.
            with pytest.raises(LockError):
                await other.unlock(Lock(other, "res", "not-the-owner", 10, valid=True))
            assert r.get("res") == lock.id
            await lm.unlock(lock)
            assert not lock.valid and r.exists("res") == 0
            assert not await lm.is_locked("res")
            # Re-entrant by identifier: the same id may set the lock again.
            again = await lm.lock("res", lock_timeout=5, lock_identifier="me")
            same = await other.lock("res", lock_timeout=5, lock_identifier="me")
            assert again.id == same.id == r.get("res") == "me"
            async with same:
                assert await same.is_locked()
            assert r.exists("res") == 0
        finally:
            await lm.destroy()
            await other.destroy()

    run(main())


def test_expired_lock_is_taken_over_and_cannot_be_extended(srv, r):
    async def main():
        lm = Aioredlock([srv.url], retry_count=1)
        other = Aioredlock([srv.url], retry_count=1)
        try:
            lock = await lm.lock("res", lock_timeout=0.5)
            assert 0 < r.pttl("res") <= 500
            srv.advance(600)
            assert not await lm.is_locked("res")
            theirs = await other.lock("res", lock_timeout=10)
            with pytest.raises(LockError):
                await lm.extend(lock)
            assert r.get("res") == theirs.id and 9_000 < r.pttl("res") <= 10_000
            await other.unlock(theirs)
        finally:
            await lm.destroy()
            await other.destroy()

    run(main())


def test_mutual_exclusion_among_asyncio_tasks(srv, r):
    tasks, iters = 12, 20
    state = {"holders": set(), "max": 0, "entries": 0}

    async def main():
        managers = [Aioredlock([srv.url], retry_count=1) for _ in range(5)]
        pool = await aioredis.create_redis_pool(srv.url, encoding="utf-8")

        async def worker(i):
            lm = managers[i % len(managers)]
            for _ in range(iters):
                while True:
                    try:
                        lock = await lm.lock("shared", lock_timeout=5)
                        break
                    except LockError:
                        await asyncio.sleep(random.uniform(0.002, 0.008))
                state["holders"].add(i)
                state["max"] = max(state["max"], len(state["holders"]))
                state["entries"] += 1
                v = int(await pool.get("counter") or 0)
                await asyncio.sleep(0.0005)  # other tasks run here: overlap would lose an update
                await pool.set("counter", v + 1)
                state["holders"].discard(i)
                await lm.unlock(lock)

        try:
            await asyncio.gather(*(worker(i) for i in range(tasks)))
        finally:
            for lm in managers:
                await lm.destroy()
            pool.close()
            await pool.wait_closed()

    run(main())
    assert state["max"] == 1, f"{state['max']} holders at once"
    assert state["entries"] == tasks * iters
    assert int(r.get("counter")) == tasks * iters
    assert r.exists("shared") == 0
