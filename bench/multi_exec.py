#!/usr/bin/env python3
"""bench/multi_exec.py — MULTI + 5 SETs + EXEC throughput, for bench/compare.sh --scripts.

Usage: multi_exec.py HOST PORT CLIENTS TRANSACTIONS PIPELINE
Each client thread sends PIPELINE transactions per write (MULTI, SET x5, EXEC, all pipelined) and
reads their replies, whose length is fixed, until TRANSACTIONS/CLIENTS transactions are done.
Prints "rps p50_ms p99_ms" on one line (rps = transactions per second; latency per pipelined batch).
"""
import socket
import sys
import threading
import time


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def main():
    host, port, clients, total, pipe = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    per_client = max(1, total // clients)
    value = b"x" * 16
    reply_len = len(b"+OK\r\n" + b"+QUEUED\r\n" * 5 + b"*5\r\n" + b"+OK\r\n" * 5)
    latencies = []
    lock = threading.Lock()
    done = [0]

    def worker(ci):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lat = []
        sent = 0
        n = 0
        while sent < per_client:
            batch = min(pipe, per_client - sent)
            buf = b"".join(
                cmd("MULTI")
                + b"".join(cmd("SET", "tx:%d:%d" % (ci, (n + j) % 1000) + ":%d" % k, value) for k in range(5))
                + cmd("EXEC")
                for j in range(batch)
            )
            t0 = time.perf_counter()
            s.sendall(buf)
            want = reply_len * batch
            got = 0
            while got < want:
                chunk = s.recv(max(65536, want - got))
                if not chunk:
                    raise SystemExit("server closed the connection")
                got += len(chunk)
            lat.append(time.perf_counter() - t0)
            sent += batch
            n += batch
        s.close()
        with lock:
            latencies.extend(lat)
            done[0] += sent

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print("%.0f %.3f %.3f" % (done[0] / elapsed, p(0.5), p(0.99)))


if __name__ == "__main__":
    main()
