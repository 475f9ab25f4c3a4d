"""Client-side caching invalidation with redis-py 6.4, the way RESP2 caching clients do it: one connection
subscribes to `__redis__:invalidate`, the caching connection turns CLIENT TRACKING on with REDIRECT to it,
and every change to a key it read arrives as a message, whoever changed the key and however (another
client's write, expiry, a script, FLUSHALL). redis-py's own `cache_config` cache refuses servers that
report a version below 7.4 (Redis 7.0 included), so it is not used here. Runs the same on redis-server with
CONCORD_TARGET=redis."""

import time

import pytest


@pytest.fixture
def tracked(srv, r):
    """(caching client, invalidation pubsub): tracking on, redirected to the subscriber."""
    sub_client = srv.client()
    p = sub_client.pubsub()
    # The subscriber's own id, asked on its connection before it enters subscribe mode.
    p.execute_command("CLIENT", "ID")
    redir_id = p.parse_response()
    p.subscribe("__redis__:invalidate")
    assert p.get_message(timeout=5)["type"] == "subscribe"
    cache = srv.client(single_connection_client=True)
    assert cache.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", redir_id)
    yield cache, p
    cache.close()
    p.close()
    sub_client.close()


def invalidated(p, timeout=5.0):
    """The keys of the next invalidation message (None for a flush)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(timeout=0.1)
        if m and m["type"] == "message":
            assert m["channel"] == "__redis__:invalidate"
            return m["data"]
    pytest.fail("no invalidation message")


def test_a_write_by_another_client_invalidates_a_read_key(tracked, r):
    cache, p = tracked
    r.set("k", "v1")
    assert cache.get("k") == "v1"
    r.set("k", "v2")
    assert invalidated(p) == ["k"]
    # Forgotten until read again.
    r.set("k", "v3")
    assert cache.get("k") == "v3"
    r.delete("k")
    assert invalidated(p) == ["k"]


def test_expiry_invalidates(srv, tracked, r):
    cache, p = tracked
    r.set("t", "x", px=100)
    assert cache.get("t") == "x"
    srv.advance(200)
    if srv.kind == "concord":
        r.execute_command("DEBUG", "EXPIRE-NOW")
    else:
        r.get("t")  # Redis deletes on access if the active expirer has not yet
    assert invalidated(p) == ["t"]


def test_script_writes_invalidate(tracked, r):
    cache, p = tracked
    r.hset("h", "f", "1")
    assert cache.hget("h", "f") == "1"
    r.eval("redis.call('hset', KEYS[1], 'f', '2')", 1, "h")
    assert invalidated(p) == ["h"]


def test_flushall_invalidates_everything(tracked, r):
    cache, p = tracked
    r.mset({"a": "1", "b": "2"})
    assert cache.mget("a", "b") == ["1", "2"]
    r.flushall()
    assert invalidated(p) is None
