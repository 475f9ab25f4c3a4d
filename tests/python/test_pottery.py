"""pottery against the server: Redlock (one master) lifecycle, expiry and mutual exclusion under
contention, and the Redis-backed containers (RedisDict, RedisSet, RedisDeque, BloomFilter, HyperLogLog)
checked both through pottery and against the raw keys they write."""

import json
import time

import pytest
from pottery import (
    BloomFilter,
    ExtendUnlockedLock,
    HyperLogLog,
    RedisDeque,
    RedisDict,
    RedisSet,
    Redlock,
    ReleaseUnlockedLock,
    TooManyExtensions,
)

from conftest import Critical, run_threads

# pottery warns on every O(n) call (to_dict, iteration, list indexing): that is what these tests do.
pytestmark = pytest.mark.filterwarnings("ignore::pottery.InefficientAccessWarning")


@pytest.fixture
def raw(srv, r):
    c = srv.client(decode_responses=False)
    yield c
    c.close()


def test_redlock_lifecycle_extend_and_owner_checked_release(srv, raw):
    a = Redlock(key="printer", masters={raw}, auto_release_time=10, num_extensions=2)
    other = srv.client(decode_responses=False)
    b = Redlock(key="printer", masters={other}, auto_release_time=10)
    assert a.locked() == 0
    assert a.acquire(blocking=False) is True
    assert 9 < a.locked() <= 10  # seconds left
    assert b.acquire(blocking=False) is False
    assert b.locked() == 0  # b does not hold it
    t0 = time.monotonic()
    assert b.acquire(timeout=0.3) is False
    assert time.monotonic() - t0 >= 0.25
    with pytest.raises(ReleaseUnlockedLock):
        b.release()
    with pytest.raises(ExtendUnlockedLock):
        b.extend()
    assert raw.exists("redlock:printer") == 1
    raw.pexpire("redlock:printer", 3_000)
    a.extend()  # back to the full auto_release_time
    assert 9_000 < raw.pttl("redlock:printer") <= 10_000
    a.extend()
    with pytest.raises(TooManyExtensions):
        a.extend()
    a.release()
    assert raw.exists("redlock:printer") == 0 and a.locked() == 0
    with pytest.raises(ReleaseUnlockedLock):
        a.release()
    with b:
        assert b.locked() > 0
    assert raw.exists("redlock:printer") == 0
    other.close()


def test_redlock_expires_and_the_stale_holder_cannot_release(srv, raw):
    a = Redlock(key="res", masters={raw}, auto_release_time=0.5)
    assert a.acquire(blocking=False)
    srv.advance(600)
    assert a.locked() == 0
    b = Redlock(key="res", masters={raw}, auto_release_time=10)
    assert b.acquire(blocking=False)
    with pytest.raises(ReleaseUnlockedLock):
        a.release()
    with pytest.raises(ExtendUnlockedLock):
        a.extend()
    assert b.locked() > 9
    b.release()


def test_redlock_mutual_exclusion_under_contention(srv, r):
    crit = Critical(r)
    clients, iters = 10, 20  # pottery runs a thread pool per call: keep it moderate

    def worker(i):
        c = srv.client(decode_responses=False, protocol=2 + i % 2)  # half speak RESP3
        counter = srv.client()
        lock = Redlock(key="shared", masters={c}, auto_release_time=5)
        for _ in range(iters):
            while not lock.acquire(blocking=False):
                time.sleep(0.001)
            try:
                crit.body(i, counter)
            finally:
                lock.release()
        c.close()
        counter.close()

    run_threads(clients, worker, timeout=90)
    crit.check(clients * iters)
    assert r.exists("redlock:shared") == 0


def test_redis_dict_set_and_deque(r):
    d = RedisDict({"a": 1, "b": [1, 2]}, redis=r, key="dict")
    d["c"] = {"x": None}
    d.update(e="five")
    assert len(d) == 4 and "b" in d and "z" not in d
    assert d["b"] == [1, 2] and d["c"] == {"x": None}
    del d["a"]
    assert d.to_dict() == {"b": [1, 2], "c": {"x": None}, "e": "five"}
    raw = r.hgetall("dict")
    assert {json.loads(k): json.loads(v) for k, v in raw.items()} == d.to_dict()  # JSON both sides
    with pytest.raises(KeyError):
        d["a"]

    s = RedisSet({"x", "y"}, redis=r, key="set")
    s.add("z")
    s.add("x")
    s.discard("y")
    assert len(s) == 2 and "x" in s and "y" not in s
    assert s.to_set() == {"x", "z"}
    assert s.isdisjoint({"q"}) and not s.isdisjoint({"z"})
    assert r.scard("set") == 2

    q = RedisDeque([1, 2, 3], maxlen=4, redis=r, key="deque")
    q.append(4)
    q.append(5)  # maxlen drops from the left
    assert list(q) == [2, 3, 4, 5]
    q.appendleft(0)  # and from the right when pushing left
    assert list(q) == [0, 2, 3, 4]
    assert q.pop() == 4 and q.popleft() == 0
    assert list(q) == [2, 3] and r.llen("deque") == 2
    q.rotate(1)
    assert list(q) == [3, 2]


def test_bloom_filter_has_no_false_negatives_and_few_false_positives(r):
    bf = BloomFilter(num_elements=1000, false_positives=0.01, redis=r, key="bloom")
    members = [f"member-{i}" for i in range(500)]
    bf.update(members)
    assert all(bf.contains_many(*members))
    others = [f"other-{i}" for i in range(1000)]
    false_pos = sum(bf.contains_many(*others))
    assert false_pos < 30  # ~1% expected at full capacity; half full is lower still
    assert 480 <= len(bf) <= 520  # estimated from the number of set bits (BITCOUNT)
    assert r.bitcount("bloom") == bf._num_bits_set()
    assert r.strlen("bloom") * 8 >= bf.size()


def test_hyperloglog_counts_and_unions(r):
    a = HyperLogLog(redis=r, key="hll-a")
    a.update(f"a{i}" for i in range(2000))
    assert abs(len(a) - 2000) <= 60  # Redis's HLL: 0.81% standard error
    b = HyperLogLog([f"b{i}" for i in range(1000)] + ["a1", "a2"], redis=r, key="hll-b")
    assert abs(len(b) - 1002) <= 30
    assert "a5" in a and "zzz" not in a and "zzz" not in b
    assert abs(len(a.union(b, redis=r)) - 3000) <= 90
    a.update(b)  # PFMERGE into a
    assert abs(len(a) - 3000) <= 90
    assert r.pfcount("hll-a") == len(a)
    # Small sets are counted exactly (sparse representation).
    c = HyperLogLog(["x", "y", "z", "x"], redis=r, key="hll-c")
    assert len(c) == 3


def test_scans_walk_large_containers_exactly_once(r):
    """Iterating RedisDict/RedisSet goes through HSCAN/SSCAN cursors: every member exactly once."""
    d = RedisDict({f"k{i}": i for i in range(1500)}, redis=r, key="bigdict")
    seen = list(d)
    assert len(seen) == 1500 and set(seen) == {f"k{i}" for i in range(1500)}
    assert sum(d.values()) == sum(range(1500))
    s = RedisSet({f"m{i}" for i in range(1500)}, redis=r, key="bigset")
    seen = list(s)
    assert len(seen) == 1500 and set(seen) == {f"m{i}" for i in range(1500)}


def test_counter_list_and_nextid(srv, r):
    from pottery import NextID, RedisCounter, RedisList

    c = RedisCounter("abracadabra", redis=r, key="counter")
    c.update({"a": 2, "z": 1})
    assert c["a"] == 7 and c["z"] == 1 and c["q"] == 0
    assert c.most_common(2) == [("a", 7), ("b", 2)] or c.most_common(2) == [("a", 7), ("r", 2)]
    assert int(r.hget("counter", json.dumps("a"))) == 7
    lst = RedisList([1, 2, 3], redis=r, key="list")
    lst.append(4)
    lst.insert(0, 0)
    lst[2] = 20
    assert list(lst) == [0, 1, 20, 3, 4] and lst[-1] == 4 and len(lst) == 5
    del lst[1]
    assert list(lst) == [0, 20, 3, 4]

    ids, per_thread = [], {}

    def gen(i):
        c = srv.client(decode_responses=False)
        nid = NextID(key="ids", masters={c}, num_tries=10_000)  # losers of a race retry
        mine = [next(nid) for _ in range(20)]
        per_thread[i] = mine
        ids.extend(mine)
        c.close()

    run_threads(10, gen)
    # With one master the set-if-greater script makes ids unique and gap-free.
    assert sorted(ids) == list(range(1, 201)), "NextID handed out a duplicate or skipped an id"
    assert all(m == sorted(m) for m in per_thread.values())


def test_simple_queue_consumers_take_each_item_exactly_once(srv, r):
    """RedisSimpleQueue is a stream: get() is XREAD under WATCH, then XDEL in MULTI. Concurrent
    consumers must never both get one item."""
    from pottery import QueueEmptyError, RedisSimpleQueue

    # get() turns its timeout into XREAD BLOCK floor(seconds) milliseconds, so a timeout under 1 s
    # (or get_nowait) on an empty queue sends BLOCK 0 and waits forever, on Redis too: use timeout>=1.
    raw = srv.client(decode_responses=False, protocol=2)  # it indexes XREAD's RESP2 array reply
    q = RedisSimpleQueue(redis=raw, key="q")  # and reads fields as bytes
    t0 = time.monotonic()
    with pytest.raises(QueueEmptyError):
        q.get(timeout=1)
    assert 0.9 < time.monotonic() - t0 < 5
    for i in range(3):
        q.put(i)
    assert q.qsize() == 3 and [q.get(), q.get_nowait(), q.get()] == [0, 1, 2]
    assert q.empty()
    n, got = 200, []
    for i in range(n):
        q.put_nowait(i)

    def consume(i):
        c = srv.client(decode_responses=False, protocol=2)
        mine = RedisSimpleQueue(redis=c, key="q")
        while True:
            try:
                got.append(mine.get(timeout=1))
            except QueueEmptyError:
                break
        c.close()

    run_threads(6, consume)
    assert sorted(got) == list(range(n)), "an item was lost or delivered twice"
    assert r.xlen("q") == 0
