"""redis-py PubSub against the server, RESP2 and RESP3 (protocol=3): channel and pattern subscriptions,
message order per publisher, the run_in_thread worker, PUBSUB introspection, and a RESP3 client running
ordinary commands while subscribed."""

import threading
import time

import pytest

PROTOCOLS = [2, 3]


def wait_message(p, timeout=5.0):
    """The next message (not a subscribe confirmation) from PubSub `p`, or fails."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m is not None:
            return m
    pytest.fail("no message arrived")


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_channel_and_pattern_messages_arrive_with_their_fields(srv, r, proto):
    c = srv.client(protocol=proto)
    p = c.pubsub()
    p.subscribe("news")
    p.psubscribe("sport.*")
    confirmations = [p.get_message(timeout=2) for _ in range(2)]
    assert [m["type"] for m in confirmations] == ["subscribe", "psubscribe"]
    assert confirmations[1]["data"] == 2
    assert r.publish("news", "hello") == 1
    assert r.publish("sport.tennis", "ace") == 1
    assert r.publish("weather", "rain") == 0
    m = wait_message(p)
    assert (m["type"], m["channel"], m["data"], m["pattern"]) == ("message", "news", "hello", None)
    m = wait_message(p)
    assert (m["type"], m["channel"], m["data"], m["pattern"]) == (
        "pmessage",
        "sport.tennis",
        "ace",
        "sport.*",
    )
    assert r.pubsub_numsub("news", "weather") == [("news", 1), ("weather", 0)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == ["news"]
    p.unsubscribe()
    p.punsubscribe()
    p.close()
    c.close()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_each_publishers_messages_arrive_in_order(srv, r, proto):
    publishers, per = 3, 300
    c = srv.client(protocol=proto)
    p = c.pubsub(ignore_subscribe_messages=True)
    p.subscribe("ordered")
    assert p.get_message(timeout=2) is None or True

    def publish(i):
        pc = srv.client()
        for n in range(per):
            pc.publish("ordered", f"{i}:{n}")
        pc.close()

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(publishers)]
    for t in threads:
        t.start()
    seen = [0] * publishers
    for _ in range(publishers * per):
        m = wait_message(p)
        i, n = map(int, m["data"].split(":"))
        assert n == seen[i]
        seen[i] += 1
    for t in threads:
        t.join()
    assert seen == [per] * publishers
    p.close()
    c.close()


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_run_in_thread_calls_handlers(srv, r, proto):
    got = []
    done = threading.Event()

    def handler(m):
        got.append(m["data"])
        if len(got) == 3:
            done.set()

    c = srv.client(protocol=proto)
    p = c.pubsub()
    p.subscribe(**{"jobs": handler})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    deadline = time.time() + 5
    while r.pubsub_numsub("jobs") != [("jobs", 1)] and time.time() < deadline:
        time.sleep(0.01)
    for x in ("a", "b", "c"):
        r.publish("jobs", x)
    assert done.wait(5)
    assert got == ["a", "b", "c"]
    worker.stop()
    worker.join(5)
    p.close()
    c.close()


def test_resp3_client_runs_commands_while_subscribed(srv, r):
    c = srv.client(protocol=3)
    p = c.pubsub()
    p.subscribe("side")
    p.get_message(timeout=2)
    # The same connection answers an ordinary command; a message published meanwhile is not lost.
    r.publish("side", "before")
    p.execute_command("PING")
    seen = []
    deadline = time.time() + 5
    while time.time() < deadline and "before" not in seen:
        m = p.get_message(timeout=0.2)
        if m is not None and m["type"] == "message":
            seen.append(m["data"])
    assert seen == ["before"]
    p.close()
    c.close()


def test_resp2_subscribed_connection_refuses_other_commands(srv, r):
    c = srv.client(protocol=2)
    p = c.pubsub()
    p.subscribe("only")
    p.get_message(timeout=2)
    p.execute_command("GET", "k")
    deadline = time.time() + 5
    reply = None
    while reply is None and time.time() < deadline:
        try:
            reply = p.parse_response(block=False, timeout=0.2)
        except Exception as e:  # redis-py raises the error reply
            reply = e
    assert "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET" in str(reply)
    p.close()
    c.close()
