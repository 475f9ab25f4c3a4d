// BullMQ over node-redis (its createNodeRedisClient adapter, RESP3 by default in node-redis 6) against
// the real binary: the same scripts reach the server through a second client library. Kept in its
// own file because RedisConnection.clientFactory is process-global.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { Queue, Worker, QueueEvents, FlowProducer, RedisConnection, createNodeRedisClient } from 'bullmq';
import { startServer } from './support.mjs';

let server;
let connection;
before(async () => {
  server = await startServer();
  connection = { host: '127.0.0.1', port: server.port };
  RedisConnection.clientFactory = () => createNodeRedisClient(createClient({ socket: { host: '127.0.0.1', port: server.port } }));
});
after(async () => {
  RedisConnection.clientFactory = undefined;
  await server.stop();
});

let open = [];
const track = (x) => { open.push(x); return x; };
afterEach(async () => {
  const closing = open.reverse();
  open = [];
  for (const x of closing) await x.close().catch(() => {});
});

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

test('bullmq (node-redis): jobs, retries, priorities and QueueEvents', async () => {
  const queue = track(new Queue('nr-basic', { connection }));
  const events = track(new QueueEvents('nr-basic', { connection }));
  assert.equal((await queue.client).constructor.name, 'NodeRedisAdapter');
  await events.waitUntilReady();
  const order = [];
  const tries = new Map();
  // Added before the worker exists, so priority alone decides the order.
  for (const p of [3, 1, 2]) await queue.add(`p${p}`, { p }, { priority: p });
  const flaky = await queue.add('flaky', { p: 9 }, { priority: 9, attempts: 2, backoff: { type: 'fixed', delay: 50 } });
  const worker = track(new Worker('nr-basic', async (job) => {
    const n = (tries.get(job.id) ?? 0) + 1;
    tries.set(job.id, n);
    if (job.name === 'flaky' && n === 1) throw new Error('first try fails');
    order.push(job.data.p);
    return job.data.p * 10;
  }, { connection, concurrency: 1 }));
  const completed = collect(events, 'completed', 4);
  const got = await completed;
  assert.deepEqual(order, [1, 2, 3, 9]);
  const byId = Object.fromEntries(got.map(([e]) => [e.jobId, JSON.parse(e.returnvalue)]));
  assert.equal(byId[flaky.id], 90);
  assert.equal((await queue.getJob(flaky.id)).attemptsMade, 2);
  assert.deepEqual(await queue.getJobCounts('completed', 'failed', 'wait', 'active'),
    { completed: 4, failed: 0, wait: 0, active: 0 });
  await worker.close();
});

test('bullmq (node-redis): delayed jobs, a flow and two workers never sharing a job', async () => {
  const queue = track(new Queue('nr-two', { connection }));
  const flow = track(new FlowProducer({ connection }));
  const seen = new Map();
  let dup = 0;
  const proc = (who) => async (job) => {
    if (job.name === 'parent') return Object.values(await job.getChildrenValues()).reduce((a, b) => a + b, 0);
    if (seen.has(job.id)) dup++;
    seen.set(job.id, who);
    return job.data.i ?? 0;
  };
  const w1 = track(new Worker('nr-two', proc('w1'), { connection, concurrency: 8 }));
  const w2 = track(new Worker('nr-two', proc('w2'), { connection, concurrency: 8 }));
  const N = 150;
  let completed = 0;
  const all = new Promise((resolve) => {
    const on = () => { if (++completed === N + 1 + 3 + 1) resolve(); };
    w1.on('completed', on);
    w2.on('completed', on);
  });
  const delayed = await queue.add('later', { i: 0 }, { delay: 300 });
  const tree = await flow.add({
    name: 'parent', queueName: 'nr-two', data: {},
    children: [1, 2, 3].map((i) => ({ name: 'child', queueName: 'nr-two', data: { i } })),
  });
  await queue.addBulk(Array.from({ length: N }, (_, i) => ({ name: 'j', data: { i } })));
  await all;
  assert.equal(dup, 0);
  assert.equal(seen.size, N + 1 + 3);
  assert.equal((await queue.getJob(tree.job.id)).returnvalue, 6);
  const d = await queue.getJob(delayed.id);
  assert.ok(d.processedOn - d.timestamp >= 300, `delayed job ran after ${d.processedOn - d.timestamp} ms`);
});
