"""limits (redis:// storage) against the server: fixed, moving and sliding windows allow exactly N hits
and refuse hit N+1, reset when their window passes, and stay exact under concurrent hitters."""

import threading
import time

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)

from conftest import run_threads

STRATEGIES = {
    "fixed": FixedWindowRateLimiter,
    "moving": MovingWindowRateLimiter,
    "sliding": SlidingWindowCounterRateLimiter,
}


@pytest.fixture
def storage(srv, r):
    s = storage_from_string(srv.url)
    assert s.check()
    yield s
    s.reset()


@pytest.mark.parametrize("kind", STRATEGIES)
def test_exactly_n_hits_are_allowed(storage, kind):
    lim = STRATEGIES[kind](storage)
    item = parse("5/minute")
    assert lim.test(item, "user", "a")
    assert [lim.hit(item, "user", "a") for _ in range(7)] == [True] * 5 + [False] * 2
    assert not lim.test(item, "user", "a")
    assert lim.get_window_stats(item, "user", "a").remaining == 0
    # Another identifier has its own budget; cost counts several hits at once.
    assert lim.get_window_stats(item, "user", "b").remaining == 5
    assert lim.hit(item, "user", "b", cost=3)
    assert lim.get_window_stats(item, "user", "b").remaining == 2
    assert not lim.test(item, "user", "b", cost=3)
    assert lim.hit(item, "user", "b", cost=2)
    assert not lim.hit(item, "user", "b")
    lim.clear(item, "user", "a")
    assert lim.get_window_stats(item, "user", "a").remaining == 5
    assert lim.hit(item, "user", "a")


@pytest.mark.parametrize("kind", ["fixed", "sliding"])
def test_server_side_windows_reset_when_the_window_passes(srv, storage, kind):
    """Fixed and sliding windows live in key TTLs, so the server's clock decides when they reset."""
    lim = STRATEGIES[kind](storage)
    item = parse("3/second")
    assert [lim.hit(item, "w") for _ in range(4)] == [True, True, True, False]
    srv.advance(2100)  # past both the current and (for sliding) the previous window
    assert [lim.hit(item, "w") for _ in range(4)] == [True, True, True, False]


def test_moving_window_frees_each_slot_one_window_after_its_hit(storage):
    """The moving window compares the client's timestamps, so this one waits about a second, for real."""
    lim = MovingWindowRateLimiter(storage)
    item = parse("3/second")
    t0 = time.time()
    assert lim.hit(item, "m") and lim.hit(item, "m")
    t1 = time.time()  # both first hits happened in [t0, t1]
    time.sleep(0.4)
    assert lim.hit(item, "m")
    assert not lim.hit(item, "m")
    stats = lim.get_window_stats(item, "m")
    assert stats.remaining == 0 and t0 + 0.99 <= stats.reset_time <= t1 + 1.01
    time.sleep(max(0.0, t1 + 1.05 - time.time()))
    # The first two hits left the window, the third (0.4 s later) is still in it.
    assert lim.hit(item, "m") and lim.hit(item, "m")
    assert not lim.hit(item, "m")


@pytest.mark.parametrize("kind", STRATEGIES)
def test_concurrent_hitters_get_exactly_the_limit(srv, storage, kind):
    lim = STRATEGIES[kind](storage)
    item = parse("300/minute")
    clients, hits = 20, 50
    allowed = []
    guard = threading.Lock()

    def hitter(i):
        s = storage_from_string(srv.url)  # one connection pool per client
        mine = STRATEGIES[kind](s)
        ok = sum(mine.hit(item, "shared") for _ in range(hits))
        with guard:
            allowed.append(ok)

    run_threads(clients, hitter)
    assert sum(allowed) == 300, f"{sum(allowed)} of {clients * hits} hits allowed by a 300 limit"
    assert lim.get_window_stats(item, "shared").remaining == 0
    assert not lim.test(item, "shared")


@pytest.mark.parametrize("kind", STRATEGIES)
def test_asyncio_limiters_are_exact_under_concurrent_coroutines(srv, r, kind):
    """limits.aio over redis-py's asyncio client: 40 coroutines x 20 hits against a limit of 250."""
    import asyncio

    from limits.aio import strategies as aio_strategies

    cls = {
        "fixed": aio_strategies.FixedWindowRateLimiter,
        "moving": aio_strategies.MovingWindowRateLimiter,
        "sliding": aio_strategies.SlidingWindowCounterRateLimiter,
    }[kind]
    item = parse("250/minute")

    async def main():
        storage = storage_from_string("async+" + srv.url, implementation="redispy")
        assert await storage.check()
        lim = cls(storage)

        async def hitter():
            ok = 0
            for _ in range(20):
                ok += await lim.hit(item, "aio")
            return ok

        results = await asyncio.gather(*(hitter() for _ in range(40)))
        stats = await lim.get_window_stats(item, "aio")
        return sum(results), stats.remaining

    allowed, remaining = asyncio.run(main())
    assert allowed == 250 and remaining == 0


def test_reset_deletes_only_the_limiters_keys(storage, r):
    """storage.reset() runs KEYS prefix* and DEL in a script (keys it was not passed)."""
    fixed, moving = FixedWindowRateLimiter(storage), MovingWindowRateLimiter(storage)
    item = parse("10/minute")
    for who in ("a", "b", "c"):
        assert fixed.hit(item, who) and moving.hit(item, "m" + who)
    r.set("not-a-limit", "keep")
    assert storage.reset() == 6
    assert r.keys("*") == ["not-a-limit"]
    assert fixed.get_window_stats(item, "a").remaining == 10
