"""Job functions for test_rq.py. They live in their own module so that both in-process workers and
`rq worker` subprocesses (PYTHONPATH=tests/python) import them by the same dotted name."""

import os
import time

from rq import get_current_job


def _conn():
    return get_current_job().connection


def add(a, b):
    return a + b


def boom(counter):
    _conn().incr(counter)
    raise ValueError("boom")


def flaky(counter, succeed_on):
    """Fails until it has been called `succeed_on` times, then returns the attempt number."""
    n = _conn().incr(counter)
    if n < succeed_on:
        raise RuntimeError(f"attempt {n} fails")
    return n


def record(tag):
    _conn().rpush("order", tag)
    return tag


def claim(i):
    """Records which worker process ran job i; a job run twice shows up twice in `runs`. Waits (at most
    20 s) for the test to open the `go` gate, so every worker process is known to hold a job at once."""
    c = _conn()
    c.sadd("pids", os.getpid())
    deadline = time.time() + 20
    while not c.exists("go") and time.time() < deadline:
        time.sleep(0.005)
    c.rpush("runs", i)
    return i


def sleepy(seconds):
    _conn().rpush("sleepy-started", get_current_job().id)
    time.sleep(seconds)
    return seconds
