"""rq against the server: a worker runs jobs and stores results, failures land in the failed registry,
Retry re-runs a job exactly max times, depends_on orders jobs, enqueue_in/enqueue_at run through the
scheduler, and concurrent worker processes never run one job twice."""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry

import rq_jobs

HERE = Path(__file__).resolve().parent


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def conn(srv, request):
    c = srv.client(decode_responses=False, protocol=request.param)  # rq stores pickled bytes
    c.flushall()
    yield c
    c.close()


class QuietWorker(SimpleWorker):
    """SimpleWorker without the pub/sub command thread. Its teardown (UNSUBSCRIBE, then join(1 s))
    races with the thread's next blocking read in redis-py, on Redis as on Concord, and then costs a
    whole second per burst. Pub/sub commands are tested with a real `rq worker` below."""

    def subscribe(self):
        pass


def burst(queue, **kw):
    w = QuietWorker([queue], connection=queue.connection)
    w.work(burst=True, logging_level="WARNING", **kw)
    return w


def test_worker_runs_jobs_and_keeps_results(conn):
    q = Queue("default", connection=conn)
    jobs = [q.enqueue(rq_jobs.add, i, 10 * i) for i in range(20)]
    assert q.count == 20
    assert jobs[3].get_status() == JobStatus.QUEUED
    burst(q)
    assert q.count == 0
    for i, job in enumerate(jobs):
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == 11 * i
    assert len(FinishedJobRegistry(queue=q)) == 20
    fetched = Job.fetch(jobs[5].id, connection=conn)
    assert fetched.func_name == "rq_jobs.add" and fetched.args == (5, 50)


def test_failure_goes_to_the_failed_registry_with_its_traceback(conn):
    q = Queue("default", connection=conn)
    job = q.enqueue(rq_jobs.boom, "calls")
    ok = q.enqueue(rq_jobs.add, 1, 2)
    burst(q)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert "ValueError: boom" in job.latest_result().exc_string
    failed = FailedJobRegistry(queue=q)
    assert failed.get_job_ids() == [job.id]
    assert ok.get_status() == JobStatus.FINISHED
    assert int(conn.get("calls")) == 1
    # Requeue from the failed registry: it runs (and fails) once more.
    failed.requeue(job.id)
    assert job.get_status() == JobStatus.QUEUED and len(failed) == 0
    burst(q)
    assert int(conn.get("calls")) == 2 and failed.get_job_ids() == [job.id]


def test_retry_runs_a_failing_job_exactly_max_more_times(conn):
    q = Queue("default", connection=conn)
    doomed = q.enqueue(rq_jobs.boom, "doomed", retry=Retry(max=2))
    flaky = q.enqueue(rq_jobs.flaky, "flaky", 3, retry=Retry(max=5))
    burst(q)
    doomed.refresh()
    flaky.refresh()
    assert int(conn.get("doomed")) == 3  # first run + 2 retries
    assert doomed.get_status() == JobStatus.FAILED and doomed.retries_left == 0
    assert FailedJobRegistry(queue=q).get_job_ids() == [doomed.id]
    assert int(conn.get("flaky")) == 3
    assert flaky.get_status() == JobStatus.FINISHED and flaky.return_value() == 3
    assert flaky.retries_left == 3


def test_dependencies_wait_for_their_parents(conn):
    q = Queue("default", connection=conn)
    a = q.enqueue(rq_jobs.record, "a")
    b = q.enqueue(rq_jobs.record, "b", depends_on=a)
    c = q.enqueue(rq_jobs.record, "c", depends_on=[a, b])
    bad = q.enqueue(rq_jobs.boom, "bad")
    orphan = q.enqueue(rq_jobs.record, "orphan", depends_on=bad)
    assert b.get_status() == JobStatus.DEFERRED and c.get_status() == JobStatus.DEFERRED
    assert q.count == 2  # a and bad; the others wait in the deferred registry
    assert set(DeferredJobRegistry(queue=q).get_job_ids()) == {b.id, c.id, orphan.id}
    burst(q)
    assert conn.lrange("order", 0, -1) == [b"a", b"b", b"c"]
    assert c.get_status() == JobStatus.FINISHED
    # A job whose parent failed is never run.
    assert orphan.get_status() == JobStatus.DEFERRED
    assert DeferredJobRegistry(queue=q).get_job_ids() == [orphan.id]


def test_scheduled_jobs_run_only_once_due(srv, r):
    """rq scores scheduled jobs in whole seconds of its own clock, so a job enqueued_in 2 s is due at
    the earliest 1 s later: the first burst must end before that to tell due from not due."""
    import math

    conn = srv.client(decode_responses=False)
    q = Queue("default", connection=conn)
    before = time.time()
    soon = q.enqueue_in(timedelta(seconds=2), rq_jobs.record, "in")
    after = time.time()
    past = q.enqueue_at(datetime.now(timezone.utc) - timedelta(seconds=5), rq_jobs.record, "at")
    later = q.enqueue_at(datetime.now(timezone.utc) + timedelta(hours=1), rq_jobs.record, "later")
    sched = ScheduledJobRegistry(queue=q)
    assert set(sched.get_job_ids()) == {soon.id, past.id, later.id}
    assert soon.get_status() == JobStatus.SCHEDULED and q.count == 0
    burst(q, with_scheduler=True)
    assert time.time() < before + 1.0, "the first burst was too slow to tell due from not due"
    assert conn.lrange("order", 0, -1) == [b"at"]  # only the one already due
    assert set(sched.get_job_ids()) == {soon.id, later.id}
    time.sleep(max(0.0, math.floor(after + 2) + 0.05 - time.time()))  # the second it falls due
    burst(q, with_scheduler=True)
    assert conn.lrange("order", 0, -1) == [b"at", b"in"]
    assert soon.get_status() == JobStatus.FINISHED
    assert sched.get_job_ids() == [later.id]
    # The scheduler released its lock when the burst ended.
    assert conn.keys("rq:scheduler-lock:*") == []
    conn.close()


def test_concurrent_worker_processes_run_each_job_exactly_once(srv, conn):
    q = Queue("default", connection=conn)
    n = 200
    for i in range(n):
        q.enqueue(rq_jobs.claim, i)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proto = conn.connection_pool.connection_kwargs.get("protocol") or 2
    cmd = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", f"redis://127.0.0.1:{srv.port}/0?protocol={proto}",
           "--worker-class", "rq.worker.SimpleWorker", "--quiet", "default"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
    deadline = time.time() + 30
    while conn.scard("pids") < 4 and time.time() < deadline:  # each worker is inside its first job
        time.sleep(0.01)
    assert conn.scard("pids") == 4, "not every worker process took a job"
    conn.set("go", 1)
    outs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    runs = [int(x) for x in conn.lrange("runs", 0, -1)]
    assert sorted(runs) == list(range(n)), "a job was lost or run twice"
    assert len(FinishedJobRegistry(queue=q)) == n and q.count == 0


def test_ttls_expire_jobs_and_results_on_the_server_clock(srv, conn):
    q = Queue("default", connection=conn)
    kept = q.enqueue(rq_jobs.add, 1, 1, result_ttl=1)
    burst(q)
    assert kept.get_status() == JobStatus.FINISHED
    assert 0 < conn.pttl(kept.key) <= 1000
    stale = q.enqueue(rq_jobs.record, "stale", ttl=1)
    assert 0 < conn.pttl(stale.key) <= 1000
    srv.advance(1500)
    assert not Job.exists(kept.id, connection=conn)
    assert not Job.exists(stale.id, connection=conn)
    burst(q)  # the queue still lists the expired job's id: the worker must skip it
    assert conn.lrange("order", 0, -1) == [] and q.count == 0


def _wait(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_forking_worker_timeouts_and_pubsub_commands(srv, r):
    """A real `rq worker` (forking, not burst): a job past its job_timeout fails; a running job is
    stopped through send_stop_job_command and the worker shut down through send_shutdown_command, both
    delivered by PUBLISH to the worker's SUBSCRIBE connection."""
    from rq.command import send_shutdown_command, send_stop_job_command
    from rq import Worker

    conn = srv.client(decode_responses=False)  # once, not per protocol: the worker process picks its own
    q = Queue("default", connection=conn)
    slow = q.enqueue(rq_jobs.sleepy, 5, job_timeout=1)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    cmd = [sys.executable, "-m", "rq.cli", "worker", "--url", srv.url, "--quiet", "default"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert _wait(lambda: slow.get_status(refresh=True) == JobStatus.FAILED, 15), "job_timeout not enforced"
        assert "JobTimeoutException" in slow.latest_result().exc_string
        long = q.enqueue(rq_jobs.sleepy, 30)
        assert _wait(lambda: conn.lrange("sleepy-started", 0, -1)[-1:] == [long.id.encode()], 10)
        t0 = time.time()
        send_stop_job_command(conn, long.id)
        assert _wait(lambda: long.get_status(refresh=True) == JobStatus.STOPPED, 10), "stop command not delivered"
        assert time.time() - t0 < 5
        workers = Worker.all(queue=q)
        assert len(workers) == 1
        send_shutdown_command(conn, workers[0].name)
        proc.wait(timeout=10)
        assert proc.returncode == 0
        assert Worker.all(queue=q) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        conn.close()


def test_unique_ids_at_front_cancel_empty_and_enqueue_many(conn):
    from rq.exceptions import DuplicateJobError
    from rq.registry import CanceledJobRegistry

    from conftest import run_threads

    q = Queue("default", connection=conn)
    # unique=True is a script (EXISTS, HSET, EXPIRE, RPUSH): of 10 racing enqueuers exactly one wins.
    wins = []

    def enqueue_unique(i):
        c = conn.__class__(connection_pool=conn.connection_pool)
        try:
            Queue("default", connection=c).enqueue(rq_jobs.record, "uniq", job_id="the-one", unique=True)
            wins.append(i)
        except DuplicateJobError:
            pass

    run_threads(10, enqueue_unique)
    assert len(wins) == 1 and q.job_ids == ["the-one"]
    first = q.enqueue(rq_jobs.record, "front", at_front=True)
    doomed = q.enqueue(rq_jobs.record, "canceled")
    many = q.enqueue_many([Queue.prepare_data(rq_jobs.record, ("m%d" % i,)) for i in range(3)])
    assert q.job_ids[:2] == [first.id, "the-one"] and len(q) == 6
    doomed.cancel()
    assert doomed.get_status() == JobStatus.CANCELED
    assert CanceledJobRegistry(queue=q).get_job_ids() == [doomed.id]
    burst(q)
    assert conn.lrange("order", 0, -1) == [b"front", b"uniq", b"m0", b"m1", b"m2"]
    assert all(j.get_status() == JobStatus.FINISHED for j in many)
    # Queue.empty() is a script that pops every id and deletes job keys it was not given.
    leftovers = [q.enqueue(rq_jobs.add, i, i) for i in range(5)]
    assert q.empty() == 5
    assert len(q) == 0 and not any(Job.exists(j.id, connection=conn) for j in leftovers)
