#!/usr/bin/env python3
"""Helper for bench/pubsub.sh (raw sockets, no client library, so both servers pay the same client cost).

  pubsub_helper.py hold PORT N CHANNEL     N subscribers on CHANNEL that read (and discard) everything;
                                           prints "ready" once all are subscribed, runs until killed.
  pubsub_helper.py latency PORT N COUNT    N subscribers on one channel and a publisher; COUNT messages,
                                           each published only after every subscriber got the previous
                                           one (closed loop); prints "p50_us p99_us" of publish->receipt
                                           over all N*COUNT deliveries.
"""
import selectors
import socket
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def subscribe(port, n, channel):
    socks = []
    for _ in range(n):
        s = connect(port)
        s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel), channel))
        socks.append(s)
    confirm = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(channel), channel)
    for s in socks:
        got = b""
        while len(got) < len(confirm):
            got += s.recv(len(confirm) - len(got))
        assert got == confirm, got
    return socks


def hold(port, n, channel):
    socks = subscribe(port, n, channel.encode())
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            try:
                if not key.fileobj.recv(1 << 20):
                    sel.unregister(key.fileobj)
            except BlockingIOError:
                pass


def latency(port, n, count):
    channel = b"lat"
    socks = subscribe(port, n, channel)
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    pub = connect(port)
    samples = []
    # Every message has the same length, so a subscriber's stream splits into fixed-size frames.
    for i in range(count):
        payload = b"%012d" % i
        frame_len = len(b"*3\r\n$7\r\nmessage\r\n$3\r\nlat\r\n$12\r\n") + 12 + 2
        pending = {s.fileno(): frame_len for s in socks}
        t0 = time.perf_counter_ns()
        pub.sendall(b"*3\r\n$7\r\nPUBLISH\r\n$3\r\nlat\r\n$12\r\n%s\r\n" % payload)
        while pending:
            for key, _ in sel.select():
                fd = key.fileobj.fileno()
                if fd not in pending:
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                pending[fd] -= len(data)
                if pending[fd] <= 0:
                    samples.append(time.perf_counter_ns() - t0)
                    del pending[fd]
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += pub.recv(64)
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000
    print(f"{p(0.50):.1f} {p(0.99):.1f}", flush=True)


if __name__ == "__main__":
    mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if mode == "hold":
        hold(port, n, sys.argv[4])
    else:
        latency(port, n, int(sys.argv[4]))
