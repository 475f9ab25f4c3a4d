// ioredis and node-redis (RESP2 and RESP3) against the real binary: strings, counters, keys, TTLs,
// pipelines, and the server clock for expiry instead of sleeping.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startServer } from './support.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

test('ioredis: strings, counters, TTLs and a pipeline', async () => {
  const r = new Redis({ port: server.port, lazyConnect: true });
  await r.connect();
  assert.equal(await r.set('io:k', 'v', 'PX', 60000), 'OK');
  assert.equal(await r.get('io:k'), 'v');
  assert.ok((await r.pttl('io:k')) > 59000);
  assert.equal(await r.set('io:k', 'w', 'NX'), null);
  assert.equal(await r.incrby('io:n', 41), 41);
  assert.equal(await r.incr('io:n'), 42);
  assert.equal(await r.incrbyfloat('io:f', '0.1'), '0.1');
  const res = await r.pipeline().set('io:a', '1').get('io:a').del('io:a').exists('io:a').exec();
  assert.deepEqual(res.map(([e, v]) => [e, v]), [[null, 'OK'], [null, '1'], [null, 1], [null, 0]]);
  await assert.rejects(r.incr('io:k'), /ERR value is not an integer or out of range/);
  await r.quit();
});

test('ioredis: a key expires when the server clock passes its deadline', async () => {
  const r = new Redis({ port: server.port });
  const now = Number(await r.call('DEBUG', 'CLOCK', 'FREEZE'));
  await r.set('io:ttl', 'v', 'PXAT', now + 1000);
  await r.call('DEBUG', 'CLOCK', 'ADVANCE', '999');
  assert.equal(await r.get('io:ttl'), 'v');
  await r.call('DEBUG', 'CLOCK', 'ADVANCE', '1');
  assert.equal(await r.get('io:ttl'), null);
  assert.equal(await r.ttl('io:ttl'), -2);
  await r.call('DEBUG', 'CLOCK', 'UNFREEZE');
  await r.quit();
});

for (const RESP of [2, 3]) {
  test(`node-redis RESP${RESP}: connect, strings, keys, scan`, async () => {
    const c = createClient({ socket: { port: server.port }, RESP });
    c.on('error', () => {});
    await c.connect();
    assert.equal(await c.ping(), 'PONG');
    await c.set(`nr${RESP}:a`, '1', { EX: 100 });
    assert.equal(await c.get(`nr${RESP}:a`), '1');
    assert.equal(await c.ttl(`nr${RESP}:a`), 100);
    assert.equal(await c.incr(`nr${RESP}:c`), 1);
    assert.deepEqual(await c.mGet([`nr${RESP}:a`, `nr${RESP}:missing`]), ['1', null]);
    const seen = new Set();
    for await (const keys of c.scanIterator({ MATCH: `nr${RESP}:*`, COUNT: 2 })) {
      for (const k of [].concat(keys)) seen.add(k);
    }
    assert.deepEqual([...seen].sort(), [`nr${RESP}:a`, `nr${RESP}:c`]);
    assert.equal(await c.del([`nr${RESP}:a`, `nr${RESP}:c`]), 2);
    await c.quit();
  });
}
