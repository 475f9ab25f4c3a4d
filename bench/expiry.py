#!/usr/bin/env python3
"""Active expiry at scale, Concord vs Debian's redis-server, one after the other on this machine.

For each server: load N keys (default 1,000,000) whose absolute deadlines (PXAT) are spread evenly over a
2-second window that opens after loading; then, while they fall due, run redis-benchmark PING against
the server (the latency other clients see during the expiry storm) and poll DBSIZE every 20 ms. Report:
keys left when the last deadline passes, how long after it DBSIZE reached 0 (the expiry lag), and PING
p50/p99/max during the window.

Usage: bench/expiry.py [--keys N] [--concord PATH] [--redis PATH]
"""
import argparse, os, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cmd(sock, *args):
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x if isinstance(x, bytes) else str(x).encode() for x in args))
    sock.sendall(out)
    data = b""
    while not data.endswith(b"\r\n"):
        data += sock.recv(65536)
    return data


def start(kind, path, port, workdir):
    if kind == "concord":
        argv = [path, "--port", str(port)]
    else:
        argv = [path, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    p = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            if cmd(s, "PING") == b"+PONG\r\n":
                return p, s
        except OSError:
            time.sleep(0.1)
    p.kill()
    sys.exit(f"{kind} did not start")


def run(kind, path, keys):
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        proc, sock = start(kind, path, port, d)
        try:
            base = int(time.time() * 1000) + 4000 + keys // 1000  # after loading finishes
            window = 2000
            payload = bytearray()
            for i in range(keys):
                k = b"key:%d" % i
                at = b"%d" % (base + (i * window) // keys)
                payload += b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\nxxxxxxxxxxxxxxxx\r\n$4\r\nPXAT\r\n$%d\r\n%s\r\n" % (
                    len(k), k, len(at), at)
            subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=bytes(payload),
                           stdout=subprocess.DEVNULL, check=True)
            loaded = int(cmd(sock, "DBSIZE")[1:-2])
            now = time.time() * 1000
            if now > base:
                print(f"{kind}: loading took too long ({now - base:.0f} ms past the window start)", file=sys.stderr)
            time.sleep(max(0, (base - 200) / 1000 - time.time()))
            bench = subprocess.Popen(
                ["redis-benchmark", "-p", str(port), "-t", "ping_mbulk", "-c", "10", "-n", "100000", "--csv"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            last = base + window
            left_at_last, zero_at = None, None
            while True:
                t = time.time() * 1000
                n = int(cmd(sock, "DBSIZE")[1:-2])
                if left_at_last is None and t >= last:
                    left_at_last = n
                if n == 0 and t >= base:
                    zero_at = t
                    break
                if t > last + 30000:
                    break
                time.sleep(0.02)
            out, _ = bench.communicate()
            lat = "n/a"
            for line in out.splitlines():
                if line.startswith('"PING_MBULK"'):
                    f = [x.strip('"') for x in line.split(",")]
                    lat = f"p50 {f[4]} ms, p99 {f[6]} ms, max {f[7]} ms"
            lag = f"{zero_at - last:+.0f} ms" if zero_at else "> 30 s"
            print(f"{kind:8} loaded {loaded} keys; left at last deadline: {left_at_last}; "
                  f"all gone at last deadline {lag}; PING during expiry: {lat}")
        finally:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--concord", default=os.path.join(ROOT, "target/release/concord"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    a = ap.parse_args()
    print(f"expiry: {a.keys} keys, deadlines spread over 2 s (PXAT), DBSIZE polled every 20 ms")
    run("concord", a.concord, a.keys)
    run("redis", a.redis, a.keys)


if __name__ == "__main__":
    main()
