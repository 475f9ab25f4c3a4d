// BullMQ (the real library, its ~60 Lua scripts, blocking BZPOPMIN and XREAD BLOCK) against the real
// binary: jobs complete with their return values, failures retry with backoff, delayed and
// prioritised jobs come out when and in the order they should, flows wait for their children, job
// schedulers repeat, two workers never take the same job, and QueueEvents sees completions.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, Worker, QueueEvents, FlowProducer } from 'bullmq';
import { startServer } from './support.mjs';

let server;
let connection;
before(async () => { server = await startServer(); connection = { host: '127.0.0.1', port: server.port }; });
after(async () => { await server.stop(); });

// Everything a test opens is closed after it, pass or fail, so a failed assertion cannot leave a
// reconnecting client behind that keeps the process alive.
let open = [];
const track = (x) => { open.push(x); return x; };
afterEach(async () => {
  const closing = open.reverse();
  open = [];
  for (const x of closing) await x.close().catch(() => {});
});

// Every test uses its own queue name so leftovers never leak between tests.
let seq = 0;
const qname = (what) => `t${++seq}-${what}`;

// Resolves once `n` events of `name` have fired on `emitter` (rejects after `ms`).
function collect(emitter, name, n, ms = 20000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`only ${got.length}/${n} '${name}' events`)), ms);
    emitter.on(name, (...args) => {
      got.push(args);
      if (got.length === n) { clearTimeout(timer); resolve(got); }
    });
  });
}

test('bullmq: a worker processes jobs and stores their return values', async () => {
  const name = qname('basic');
  const queue = track(new Queue(name, { connection }));
  const worker = track(new Worker(name, async (job) => ({ sum: job.data.a + job.data.b, id: job.id }),
    { connection, concurrency: 5 }));
  const done = collect(worker, 'completed', 20);
  const jobs = await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'add', data: { a: i, b: 100 } })));
  const events = await done;
  const byId = new Map(events.map(([job, result]) => [job.id, result]));
  for (const [i, job] of jobs.entries()) {
    assert.deepEqual(byId.get(job.id), { sum: i + 100, id: job.id });
    const stored = await queue.getJob(job.id);
    assert.deepEqual(stored.returnvalue, { sum: i + 100, id: job.id });
    assert.equal(await stored.getState(), 'completed');
    assert.equal(stored.attemptsMade, 1);
  }
  const counts = await queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed');
  assert.deepEqual(counts, { completed: 20, failed: 0, wait: 0, active: 0, delayed: 0 });
  await worker.close();
  await queue.close();
});

test('bullmq: failures retry with backoff until attempts run out', async () => {
  const name = qname('retry');
  const queue = track(new Queue(name, { connection }));
  const tries = new Map();
  const worker = track(new Worker(name, async (job) => {
    const n = (tries.get(job.id) ?? 0) + 1;
    tries.set(job.id, n);
    if (job.data.failTimes >= n) throw new Error(`boom ${n}`);
    return `ok after ${n}`;
  }, { connection }));
  const completed = collect(worker, 'completed', 1);
  const failed = collect(worker, 'failed', 4); // every failed attempt: 2 of `flaky`, 2 of `doomed`
  const flaky = await queue.add('flaky', { failTimes: 2 }, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  const doomed = await queue.add('doomed', { failTimes: 99 }, { attempts: 2, backoff: { type: 'exponential', delay: 50 } });
  const [[doneJob, result]] = await completed;
  assert.equal(doneJob.id, flaky.id);
  assert.equal(result, 'ok after 3');
  await failed;
  // The last failure event can arrive before the job is moved; wait for the state to settle.
  for (let i = 0; i < 100 && (await queue.getJobState(doomed.id)) !== 'failed'; i++) await new Promise((r) => setTimeout(r, 20));
  const f = await queue.getJob(flaky.id);
  assert.equal(f.attemptsMade, 3);
  assert.equal(await f.getState(), 'completed');
  // Each retry waited at least the backoff: three attempts span two 100 ms delays.
  assert.ok(f.finishedOn - f.timestamp >= 200, `retries too fast: ${f.finishedOn - f.timestamp} ms`);
  const d = await queue.getJob(doomed.id);
  assert.equal(await d.getState(), 'failed');
  assert.equal(d.attemptsMade, 2);
  assert.equal(d.failedReason, 'boom 2');
  assert.equal(d.stacktrace.length, 2);
  assert.equal(tries.get(doomed.id), 2);
  assert.deepEqual(await queue.getJobCounts('completed', 'failed'), { completed: 1, failed: 1 });
  await worker.close();
  await queue.close();
});

test('bullmq: delayed jobs wait in the delayed set and run after their delay', async () => {
  const name = qname('delayed');
  const queue = track(new Queue(name, { connection }));
  const job = await queue.add('later', { x: 1 }, { delay: 400 });
  const now = await queue.add('now', { x: 2 });
  assert.equal(await job.getState(), 'delayed');
  assert.equal(await queue.getDelayedCount(), 1);
  const worker = track(new Worker(name, async (j) => j.name, { connection }));
  const done = await collect(worker, 'completed', 2);
  assert.deepEqual(done.map(([j]) => j.name), ['now', 'later']);
  const later = await queue.getJob(job.id);
  assert.ok(later.processedOn - later.timestamp >= 400, `ran after ${later.processedOn - later.timestamp} ms`);
  assert.ok((await queue.getJob(now.id)).processedOn < later.processedOn);
  await worker.close();
  await queue.close();
});

test('bullmq: prioritised jobs are processed in priority order', async () => {
  const name = qname('prio');
  const queue = track(new Queue(name, { connection }));
  const prios = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10];
  // Add everything before a worker exists so the order is decided only by priority.
  for (const p of prios) await queue.add(`p${p}`, { p }, { priority: p });
  assert.equal(await queue.getPrioritizedCount(), prios.length);
  const order = [];
  const worker = track(new Worker(name, async (job) => { order.push(job.data.p); }, { connection, concurrency: 1 }));
  await collect(worker, 'completed', prios.length);
  assert.deepEqual(order, [...prios].sort((a, b) => a - b));
  await worker.close();
  await queue.close();
});

test('bullmq: a flow parent runs only after all its children and sees their results', async () => {
  const parentQ = qname('flow-parent');
  const childQ = qname('flow-child');
  const flow = track(new FlowProducer({ connection }));
  const childrenDone = [];
  const childWorker = track(new Worker(childQ, async (job) => {
    childrenDone.push(job.data.n);
    return job.data.n * 10;
  }, { connection, concurrency: 3 }));
  let parentSawChildrenDone = -1;
  const parentWorker = track(new Worker(parentQ, async (job) => {
    parentSawChildrenDone = childrenDone.length;
    const values = Object.values(await job.getChildrenValues());
    return values.reduce((a, b) => a + b, 0);
  }, { connection }));
  const parentDone = collect(parentWorker, 'completed', 1);
  const tree = await flow.add({
    name: 'total', queueName: parentQ, data: {},
    children: [1, 2, 3, 4].map((n) => ({ name: `c${n}`, queueName: childQ, data: { n } })),
  });
  const [[job, result]] = await parentDone;
  assert.equal(job.id, tree.job.id);
  assert.equal(result, 100);
  assert.equal(parentSawChildrenDone, 4);
  assert.equal(await tree.job.getState(), 'completed');
  for (const c of tree.children) assert.equal(await c.job.getState(), 'completed');
  await childWorker.close();
  await parentWorker.close();
  await flow.close();
});

test('bullmq: a job scheduler with `every` produces repeated jobs', async () => {
  const name = qname('sched');
  const queue = track(new Queue(name, { connection }));
  const worker = track(new Worker(name, async (job) => job.data.tick, { connection }));
  const done = collect(worker, 'completed', 3, 15000);
  await queue.upsertJobScheduler('tick', { every: 150 }, { name: 'tick', data: { tick: 'yes' } });
  const schedulers = await queue.getJobSchedulers();
  assert.equal(schedulers.length, 1);
  assert.equal(schedulers[0].key, 'tick');
  assert.equal(Number(schedulers[0].every), 150);
  const events = await done;
  assert.deepEqual(events.map(([, r]) => r), ['yes', 'yes', 'yes']);
  const ts = events.map(([j]) => j.timestamp);
  assert.equal(new Set(events.map(([j]) => j.id)).size, 3);
  assert.ok(ts[1] > ts[0] && ts[2] > ts[1]);
  // Upserting again replaces, not adds; removing stops it.
  await queue.upsertJobScheduler('tick', { every: 300 }, { name: 'tick', data: { tick: 'again' } });
  assert.equal((await queue.getJobSchedulers()).length, 1);
  assert.equal(Number((await queue.getJobScheduler('tick')).every), 300);
  assert.equal(await queue.removeJobScheduler('tick'), true);
  assert.equal((await queue.getJobSchedulers()).length, 0);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
});

test('bullmq: two workers on separate connections never process one job twice', async () => {
  const name = qname('two');
  const N = 300;
  const queue = track(new Queue(name, { connection }));
  const seen = new Map();
  let dup = 0;
  const proc = (who) => async (job) => {
    if (seen.has(job.id)) dup++;
    seen.set(job.id, who);
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    return who;
  };
  const w1 = track(new Worker(name, proc('w1'), { connection, concurrency: 8 }));
  const w2 = track(new Worker(name, proc('w2'), { connection, concurrency: 8 }));
  let completed = 0;
  const all = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${completed}/${N} completed`)), 40000);
    const on = () => { if (++completed === N) { clearTimeout(timer); resolve(); } };
    w1.on('completed', on);
    w2.on('completed', on);
  });
  await queue.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'j', data: { i } })));
  await all;
  assert.equal(dup, 0);
  assert.equal(seen.size, N);
  const by = [...seen.values()];
  // Both workers took part (with 300 jobs and 8 slots each, one idle worker would mean a bug).
  assert.ok(by.includes('w1') && by.includes('w2'), `w1=${by.filter((w) => w === 'w1').length}`);
  assert.deepEqual(await queue.getJobCounts('completed', 'failed', 'active', 'wait'),
    { completed: N, failed: 0, active: 0, wait: 0 });
  await Promise.all([w1.close(), w2.close()]);
  await queue.close();
});

test('bullmq: QueueEvents receives completed and failed events over XREAD BLOCK', async () => {
  const name = qname('events');
  const queue = track(new Queue(name, { connection }));
  const events = track(new QueueEvents(name, { connection }));
  await events.waitUntilReady();
  const completed = collect(events, 'completed', 3);
  const failed = collect(events, 'failed', 1);
  const worker = track(new Worker(name, async (job) => {
    if (job.data.bad) throw new Error('bad job');
    return job.data.v * 2;
  }, { connection }));
  const jobs = await Promise.all([1, 2, 3].map((v) => queue.add('e', { v })));
  const bad = await queue.add('e', { bad: true });
  const got = await completed;
  const byId = Object.fromEntries(got.map(([e]) => [e.jobId, e.returnvalue]));
  // The events stream carries the return value JSON-encoded.
  for (const [i, j] of jobs.entries()) assert.equal(JSON.parse(byId[j.id]), (i + 1) * 2);
  const [[f]] = await failed;
  assert.equal(f.jobId, bad.id);
  assert.equal(f.failedReason, 'bad job');
  // waitUntilFinished rides on the same events.
  const more = await queue.add('e', { v: 21 });
  assert.equal(await more.waitUntilFinished(events, 10000), 42);
  await worker.close();
  await events.close();
  await queue.close();
});

test('bullmq: a job whose worker died is detected as stalled and finished by another worker', async () => {
  const name = qname('stalled');
  const queue = track(new Queue(name, { connection }));
  const opts = { connection, lockDuration: 400, stalledInterval: 300 };
  // The first worker takes the job and never finishes it; closing it with force stops its lock
  // renewal, as a crashed process would.
  let taken;
  const gotIt = new Promise((r) => { taken = r; });
  const dead = new Worker(name, () => { taken(); return new Promise(() => {}); }, opts);
  const job = await queue.add('s', { v: 1 });
  await gotIt;
  await dead.close(true);
  assert.equal(await queue.getJobState(job.id), 'active');
  const rescuer = track(new Worker(name, async (j) => `rescued ${j.data.v}`, opts));
  const stalled = collect(rescuer, 'stalled', 1, 10000);
  const [[done, result]] = await collect(rescuer, 'completed', 1, 10000);
  assert.deepEqual((await stalled)[0][0], job.id);
  assert.equal(done.id, job.id);
  assert.equal(result, 'rescued 1');
  assert.equal((await queue.getJob(job.id)).stalledCounter, 1);
});

test('bullmq: a job running longer than its lock keeps the lock (no stall, one attempt)', async () => {
  const name = qname('longlock');
  const queue = track(new Queue(name, { connection }));
  const worker = track(new Worker(name, async () => {
    await new Promise((r) => setTimeout(r, 900));
    return 'long';
  }, { connection, lockDuration: 300, stalledInterval: 200 }));
  let stalls = 0;
  worker.on('stalled', () => stalls++);
  const done = collect(worker, 'completed', 1);
  const job = await queue.add('l', {});
  assert.equal((await done)[0][1], 'long');
  assert.equal(stalls, 0);
  const j = await queue.getJob(job.id);
  assert.equal(j.attemptsMade, 1);
  assert.equal(j.stalledCounter, 0);
});

test('bullmq: the worker rate limiter allows at most `max` jobs per `duration`', async () => {
  const name = qname('limited');
  const queue = track(new Queue(name, { connection }));
  await queue.addBulk(Array.from({ length: 9 }, (_, i) => ({ name: 'r', data: { i } })));
  const started = [];
  const worker = track(new Worker(name, async () => { started.push(Date.now()); },
    { connection, concurrency: 9, limiter: { max: 3, duration: 400 } }));
  await collect(worker, 'completed', 9);
  started.sort((a, b) => a - b);
  // Three windows: the last three jobs cannot start before two full windows have passed, and no
  // four jobs start within one window (small slack for timer granularity).
  assert.ok(started[8] - started[0] >= 750, `9 jobs in ${started[8] - started[0]} ms`);
  for (let i = 0; i + 3 < started.length; i++) {
    assert.ok(started[i + 3] - started[i] >= 350, `jobs ${i}..${i + 3} started within ${started[i + 3] - started[i]} ms`);
  }
});

test('bullmq: pause holds jobs back and resume releases them', async () => {
  const name = qname('pause');
  const queue = track(new Queue(name, { connection }));
  await queue.pause();
  assert.equal(await queue.isPaused(), true);
  await queue.addBulk([1, 2, 3].map((i) => ({ name: 'p', data: { i } })));
  let ran = 0;
  const worker = track(new Worker(name, async () => { ran++; }, { connection }));
  await worker.waitUntilReady();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(ran, 0);
  assert.equal((await queue.getJobCounts('paused')).paused, 3);
  const done = collect(worker, 'completed', 3);
  await queue.resume();
  await done;
  assert.equal(ran, 3);
  assert.equal(await queue.isPaused(), false);
});

test('bullmq: progress, logs, removeOnComplete/removeOnFail and deduplication', async () => {
  const name = qname('misc');
  const queue = track(new Queue(name, { connection }));
  const events = track(new QueueEvents(name, { connection }));
  await events.waitUntilReady();
  const progress = collect(events, 'progress', 2);
  const worker = track(new Worker(name, async (job) => {
    if (job.name === 'tracked') {
      await job.updateProgress(40);
      await job.log('half way');
      await job.updateProgress({ step: 'done' });
      return 'tracked';
    }
    if (job.name === 'bad') throw new Error('nope');
    return job.data.i;
  }, { connection }));
  const tracked = await queue.add('tracked', {});
  const [[p1], [p2]] = await progress;
  assert.deepEqual([p1.jobId, p1.data, p2.data], [tracked.id, 40, { step: 'done' }]);
  const logs = await queue.getJobLogs(tracked.id);
  assert.deepEqual(logs, { logs: ['half way'], count: 1 });
  assert.deepEqual((await queue.getJob(tracked.id)).progress, { step: 'done' });

  // Only the last two completed jobs of the queue are kept; failed ones are removed at once.
  const settled = collect(worker, 'completed', 5);
  const failed = collect(worker, 'failed', 1);
  const kept = [];
  for (let i = 0; i < 5; i++) kept.push(await queue.add('k', { i }, { removeOnComplete: { count: 2 } }));
  const bad = await queue.add('bad', {}, { removeOnFail: true });
  await settled;
  await failed;
  for (let i = 0; i < 100 && (await queue.getJob(bad.id)); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await queue.getJob(bad.id), undefined);
  const completedIds = (await queue.getCompleted()).map((j) => j.id).sort();
  assert.deepEqual(completedIds, [kept[3].id, kept[4].id].sort());

  // Two adds with one deduplication id make one job.
  await worker.pause();
  const a = await queue.add('d', { n: 1 }, { deduplication: { id: 'same' } });
  const b = await queue.add('d', { n: 2 }, { deduplication: { id: 'same' } });
  assert.equal(b.id, a.id);
  assert.equal(await queue.getDeduplicationJobId('same'), a.id);
  assert.equal(await queue.getWaitingCount(), 1);
});
