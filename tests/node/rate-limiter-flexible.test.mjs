// rate-limiter-flexible's RateLimiterRedis (its INCRBY+PTTL Lua script, and MULTI for the no-expiry
// and get/penalty/block paths) against the real binary, with ioredis and node-redis: exact counts
// under concurrency from several connections, the window resetting on the server clock, and the
// get/penalty/reward/block/delete API.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { startServer } from './support.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

let open = [];
const ioredis = () => {
  const c = new Redis({ port: server.port });
  open.push(() => c.disconnect());
  return c;
};
const nodeRedis = async () => {
  const c = createClient({ socket: { port: server.port } });
  c.on('error', () => {});
  await c.connect();
  open.push(() => c.destroy());
  return c;
};
afterEach(() => {
  for (const close of open) close();
  open = [];
});

// Fires `total` consume() calls at once, spread over the limiters, and splits the outcomes.
async function burst(limiters, key, total) {
  const outcomes = await Promise.allSettled(
    Array.from({ length: total }, (_, i) => limiters[i % limiters.length].consume(key)));
  const ok = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
  const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason);
  for (const r of refused) assert.ok(!(r instanceof Error), `consume failed: ${r}`);
  return { ok, refused };
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sorted = (xs) => [...xs].sort((a, b) => a - b);

test('rate-limiter-flexible (ioredis): 100 parallel consumes with 50 points -> exactly 50 pass', async () => {
  const clients = Array.from({ length: 5 }, ioredis);
  const limiters = clients.map((c) => new RateLimiterRedis({ storeClient: c, keyPrefix: 'io', points: 50, duration: 60 }));
  const { ok, refused } = await burst(limiters, 'user1', 100);
  assert.equal(ok.length, 50);
  assert.equal(refused.length, 50);
  // Every increment is seen exactly once: the passes saw 1..50, the refusals 51..100.
  assert.deepEqual(sorted(ok.map((r) => r.consumedPoints)), range(1, 50));
  assert.deepEqual(sorted(refused.map((r) => r.consumedPoints)), range(51, 100));
  assert.equal(ok.filter((r) => r.isFirstInDuration).length, 1);
  for (const r of refused) {
    assert.equal(r.remainingPoints, 0);
    assert.ok(r.msBeforeNext > 0 && r.msBeforeNext <= 60000);
  }
  assert.equal(await clients[0].get('io:user1'), '100');
  const ttl = await clients[0].ttl('io:user1');
  assert.ok(ttl > 55 && ttl <= 60, `ttl ${ttl}`);
});

test('rate-limiter-flexible (ioredis): the MULTI path without expiry counts exactly too', async () => {
  const clients = Array.from({ length: 4 }, ioredis);
  const limiters = clients.map((c) => new RateLimiterRedis({ storeClient: c, keyPrefix: 'forever', points: 30, duration: 0 }));
  const { ok, refused } = await burst(limiters, 'k', 80);
  assert.equal(ok.length, 30);
  assert.equal(refused.length, 50);
  assert.deepEqual(sorted(ok.map((r) => r.consumedPoints)), range(1, 30));
  assert.equal(await clients[0].get('forever:k'), '80');
  assert.equal(await clients[0].pttl('forever:k'), -1);
});

test('rate-limiter-flexible (node-redis): 100 parallel consumes with 50 points -> exactly 50 pass', async () => {
  const clients = await Promise.all(Array.from({ length: 3 }, nodeRedis));
  const limiters = clients.map((c) => new RateLimiterRedis({ storeClient: c, useRedisPackage: true, keyPrefix: 'nr', points: 50, duration: 60 }));
  const { ok, refused } = await burst(limiters, 'user1', 100);
  assert.equal(ok.length, 50);
  assert.equal(refused.length, 50);
  assert.deepEqual(sorted(ok.map((r) => r.consumedPoints)), range(1, 50));
  assert.equal(await clients[0].get('nr:user1'), '100');
});

test('rate-limiter-flexible: the window resets when the server clock passes the duration', async () => {
  const r = ioredis();
  const limiter = new RateLimiterRedis({ storeClient: r, keyPrefix: 'win', points: 3, duration: 2 });
  await r.call('DEBUG', 'CLOCK', 'FREEZE');
  try {
    for (let i = 1; i <= 3; i++) assert.equal((await limiter.consume('a')).remainingPoints, 3 - i);
    const refused = await limiter.consume('a').then(() => null, (e) => e);
    assert.ok(refused && !(refused instanceof Error), `expected a refusal, got ${refused}`);
    assert.equal(refused.consumedPoints, 4);
    assert.ok(refused.msBeforeNext > 0 && refused.msBeforeNext <= 2000, `msBeforeNext ${refused.msBeforeNext}`);
    await r.call('DEBUG', 'CLOCK', 'ADVANCE', '1999');
    await assert.rejects(limiter.consume('a'));
    await r.call('DEBUG', 'CLOCK', 'ADVANCE', '1');
    const fresh = await limiter.consume('a');
    assert.equal(fresh.consumedPoints, 1);
    assert.equal(fresh.isFirstInDuration, true);
    assert.equal(fresh.msBeforeNext, 2000);
  } finally {
    await r.call('DEBUG', 'CLOCK', 'UNFREEZE');
  }
});

test('rate-limiter-flexible: get, penalty, reward, block and delete', async () => {
  const r = ioredis();
  const limiter = new RateLimiterRedis({ storeClient: r, keyPrefix: 'api', points: 10, duration: 60 });
  assert.equal(await limiter.get('u'), null);
  await limiter.consume('u', 2);
  assert.equal((await limiter.get('u')).consumedPoints, 2);
  assert.equal((await limiter.penalty('u', 3)).consumedPoints, 5);
  assert.equal((await limiter.reward('u', 1)).consumedPoints, 4);
  assert.equal((await limiter.get('u')).remainingPoints, 6);
  await assert.rejects(limiter.consume('u', 7), (res) => res.consumedPoints === 11 && res.remainingPoints === 0);

  // block() overwrites the counter and its TTL: every consume is refused for the block's duration.
  const blocked = await limiter.block('v', 120);
  assert.ok(blocked.msBeforeNext > 119000 && blocked.msBeforeNext <= 120000);
  await assert.rejects(limiter.consume('v'), (res) => res.remainingPoints === 0 && res.msBeforeNext > 60000);
  assert.ok((await r.pttl('api:v')) > 119000);

  assert.equal(await limiter.delete('u'), true);
  assert.equal(await limiter.delete('u'), false);
  assert.equal(await limiter.get('u'), null);
  assert.equal(await r.exists('api:u'), 0);
});
