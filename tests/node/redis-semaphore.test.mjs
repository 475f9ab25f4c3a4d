// redis-semaphore (Mutex, Semaphore and MultiSemaphore: SET NX PX plus Lua scripts over sorted sets)
// with ioredis against the real binary: lifecycle, refresh and expiry, and under contention from
// many clients on separate connections the invariant (at most 1 / N holders) and exact counts.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { Mutex, Semaphore, MultiSemaphore } from 'redis-semaphore';
import { startServer } from './support.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

let open = [];
const client = () => {
  const c = new Redis({ port: server.port });
  open.push(c);
  return c;
};
afterEach(() => {
  for (const c of open) c.disconnect();
  open = [];
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('redis-semaphore: Mutex acquire, refuse, refresh and release', async () => {
  const r = client();
  const m = new Mutex(r, 'life', { lockTimeout: 300, refreshInterval: 100 });
  await m.acquire();
  assert.equal(m.isAcquired, true);
  assert.equal(await r.get('mutex:life'), m.identifier);
  const other = new Mutex(client(), 'life', { acquireAttemptsLimit: 1 });
  assert.equal(await other.tryAcquire(), false);
  // Held for twice the lock timeout: only the refresh script keeps it alive.
  await sleep(600);
  assert.equal(m.isAcquired, true);
  assert.equal(await r.get('mutex:life'), m.identifier);
  const pttl = await r.pttl('mutex:life');
  assert.ok(pttl > 0 && pttl <= 300, `pttl ${pttl}`);
  await m.release();
  assert.equal(await r.exists('mutex:life'), 0);
  assert.equal(await other.tryAcquire(), true);
  assert.equal(await r.get('mutex:life'), other.identifier);
  // Releasing a mutex one no longer holds must not delete someone else's lock.
  await m.release();
  assert.equal(await r.get('mutex:life'), other.identifier);
  await other.release();
});

test('redis-semaphore: an expired Mutex (server clock past its timeout) can be taken over', async () => {
  const r = client();
  await r.call('DEBUG', 'CLOCK', 'FREEZE');
  try {
    const m = new Mutex(r, 'exp', { lockTimeout: 1000, refreshInterval: 0 });
    await m.acquire();
    const other = new Mutex(client(), 'exp', { acquireAttemptsLimit: 1, refreshInterval: 0 });
    assert.equal(await other.tryAcquire(), false);
    await r.call('DEBUG', 'CLOCK', 'ADVANCE', '1001');
    assert.equal(await other.tryAcquire(), true);
    assert.equal(await r.get('mutex:exp'), other.identifier);
    await other.release();
  } finally {
    await r.call('DEBUG', 'CLOCK', 'UNFREEZE');
  }
});

test('redis-semaphore: Mutex under contention has one holder at a time and an exact counter', async () => {
  const CLIENTS = 12;
  const ROUNDS = 8;
  let holders = 0;
  let maxHolders = 0;
  const check = client();
  await check.set('sem:counter', '0');
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const r = client();
    for (let n = 0; n < ROUNDS; n++) {
      const m = new Mutex(r, 'contended', { retryInterval: 2, acquireTimeout: 20000 });
      await m.acquire();
      holders++;
      maxHolders = Math.max(maxHolders, holders);
      const v = Number(await r.get('sem:counter'));
      await sleep(1);
      await r.set('sem:counter', String(v + 1));
      holders--;
      await m.release();
    }
  }));
  assert.equal(maxHolders, 1);
  assert.equal(await check.get('sem:counter'), String(CLIENTS * ROUNDS));
  assert.equal(await check.exists('mutex:contended'), 0);
});

test('redis-semaphore: Semaphore with limit 3 never has more than 3 holders and reaches 3', async () => {
  const LIMIT = 3;
  const CLIENTS = 15;
  const ROUNDS = 4;
  let holders = 0;
  let maxHolders = 0;
  let done = 0;
  const check = client();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const r = client();
    for (let n = 0; n < ROUNDS; n++) {
      const s = new Semaphore(r, 'pool', LIMIT, { retryInterval: 2, acquireTimeout: 20000 });
      await s.acquire();
      holders++;
      maxHolders = Math.max(maxHolders, holders);
      // The server's view agrees: the semaphore's sorted set never holds more than LIMIT entries.
      const card = await r.zcard('semaphore:pool');
      assert.ok(card >= 1 && card <= LIMIT, `zcard ${card}`);
      await sleep(2 + Math.random() * 3);
      holders--;
      done++;
      await s.release();
    }
  }));
  assert.equal(maxHolders, LIMIT);
  assert.equal(done, CLIENTS * ROUNDS);
  assert.equal(await check.zcard('semaphore:pool'), 0);
});

test('redis-semaphore: MultiSemaphore takes several permits at once without exceeding the limit', async () => {
  const LIMIT = 5;
  const PERMITS = 2;
  let inUse = 0;
  let maxInUse = 0;
  const check = client();
  await Promise.all(Array.from({ length: 8 }, async () => {
    const r = client();
    for (let n = 0; n < 3; n++) {
      const s = new MultiSemaphore(r, 'multi', LIMIT, PERMITS, { retryInterval: 2, acquireTimeout: 20000 });
      await s.acquire();
      inUse += PERMITS;
      maxInUse = Math.max(maxInUse, inUse);
      assert.ok((await r.zcard('semaphore:multi')) <= LIMIT);
      await sleep(2);
      inUse -= PERMITS;
      await s.release();
    }
  }));
  // Two holders of 2 permits fit in 5; a third would need 6.
  assert.equal(maxInUse, 4);
  assert.equal(await check.zcard('semaphore:multi'), 0);
  // A single MultiSemaphore asking for more than is free is refused.
  const a = new MultiSemaphore(check, 'multi', LIMIT, 4, { acquireAttemptsLimit: 1 });
  const b = new MultiSemaphore(client(), 'multi', LIMIT, 2, { acquireAttemptsLimit: 1 });
  assert.equal(await a.tryAcquire(), true);
  assert.equal(await b.tryAcquire(), false);
  await a.release();
  assert.equal(await b.tryAcquire(), true);
  await b.release();
});
