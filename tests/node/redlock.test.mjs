// node redlock v5 (its acquire/extend/release Lua scripts over EVALSHA with EVAL fallback) against the
// real binary: lock lifecycle, expiry on the server clock, multi-resource locks, mutual exclusion
// among many clients on separate connections (never two holders, counter exact), and a quorum over
// three servers that survives losing one.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import Redlock, { ExecutionError } from 'redlock';
import { startServer } from './support.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

let open = [];
const client = (port = server.port, opts = {}) => {
  const c = new Redis({ port, ...opts });
  open.push(c);
  return c;
};
afterEach(() => {
  for (const c of open) c.disconnect();
  open = [];
});

test('redlock: acquire, extend and release a lock, with the value stored in the key', async () => {
  const r = client();
  const redlock = new Redlock([r], { retryCount: 0 });
  const lock = await redlock.acquire(['rl:life'], 5000);
  assert.equal(await r.get('rl:life'), lock.value);
  const pttl = await r.pttl('rl:life');
  assert.ok(pttl > 4000 && pttl <= 5000, `pttl ${pttl}`);

  // A second acquirer is refused while the lock is held.
  const other = new Redlock([client()], { retryCount: 0 });
  await assert.rejects(other.acquire(['rl:life'], 5000), ExecutionError);

  const extended = await lock.extend(20000);
  assert.ok(extended.expiration > lock.expiration);
  assert.ok((await r.pttl('rl:life')) > 15000);
  assert.equal(await r.get('rl:life'), lock.value);

  await extended.release();
  assert.equal(await r.exists('rl:life'), 0);
  // Released means free: the other client gets it now, and the stale lock cannot release or extend it.
  const second = await other.acquire(['rl:life'], 5000);
  assert.notEqual(second.value, lock.value);
  await assert.rejects(lock.extend(5000), ExecutionError);
  await lock.release().catch(() => {});
  assert.equal(await r.get('rl:life'), second.value);
  await second.release();
});

test('redlock: an expired lock (server clock moved past its TTL) can be taken by another client', async () => {
  const r = client();
  const a = new Redlock([r], { retryCount: 0 });
  const b = new Redlock([client()], { retryCount: 0 });
  await r.call('DEBUG', 'CLOCK', 'FREEZE');
  try {
    const lock = await a.acquire(['rl:exp'], 1000);
    await assert.rejects(b.acquire(['rl:exp'], 1000), ExecutionError);
    await r.call('DEBUG', 'CLOCK', 'ADVANCE', '1001');
    const taken = await b.acquire(['rl:exp'], 1000);
    assert.equal(await r.get('rl:exp'), taken.value);
    // The first holder's extend is now refused by the owner check in the script.
    await assert.rejects(lock.extend(1000), ExecutionError);
    await taken.release();
  } finally {
    await r.call('DEBUG', 'CLOCK', 'UNFREEZE');
  }
});

test('redlock: a multi-resource lock is all or nothing', async () => {
  const r = client();
  const redlock = new Redlock([r], { retryCount: 0 });
  const held = await redlock.acquire(['rl:m2'], 5000);
  await assert.rejects(redlock.acquire(['rl:m1', 'rl:m2', 'rl:m3'], 5000), ExecutionError);
  assert.equal(await r.exists('rl:m1', 'rl:m3'), 0);
  await held.release();
  const all = await redlock.acquire(['rl:m1', 'rl:m2', 'rl:m3'], 5000);
  assert.deepEqual(await r.mget('rl:m1', 'rl:m2', 'rl:m3'), [all.value, all.value, all.value]);
  await all.release();
  assert.equal(await r.exists('rl:m1', 'rl:m2', 'rl:m3'), 0);
});

test('redlock: many clients contending never hold the lock together and the counter is exact', async () => {
  const CLIENTS = 16;
  const ROUNDS = 8;
  let holders = 0;
  let maxHolders = 0;
  const check = client();
  await check.set('rl:counter', '0');
  const worker = async (i) => {
    const r = client();
    const redlock = new Redlock([r], { retryCount: 1000, retryDelay: 5, retryJitter: 5 });
    for (let n = 0; n < ROUNDS; n++) {
      const lock = await redlock.acquire(['rl:contended'], 5000);
      holders++;
      maxHolders = Math.max(maxHolders, holders);
      // A read-modify-write that loses updates unless the lock really excludes.
      const v = Number(await r.get('rl:counter'));
      await new Promise((res) => setTimeout(res, 1));
      await r.set('rl:counter', String(v + 1));
      assert.equal(await r.get('rl:contended'), lock.value, `client ${i} lost its lock`);
      holders--;
      await lock.release();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => worker(i)));
  assert.equal(maxHolders, 1);
  assert.equal(await check.get('rl:counter'), String(CLIENTS * ROUNDS));
  assert.equal(await check.exists('rl:contended'), 0);
});

test('redlock: using() auto-extends and the quorum over three servers survives losing one', async () => {
  const extra = [await startServer(), await startServer()];
  try {
    const ports = [server.port, ...extra.map((s) => s.port)];
    // No offline queue and no reconnects, so commands to the stopped server fail fast (a vote against).
    const clients = ports.map((p) => client(p, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null }));
    for (const c of clients) { c.on('error', () => {}); await c.connect(); }
    const redlock = new Redlock(clients, { retryCount: 0, automaticExtensionThreshold: 200 });
    // redlock settles as soon as a quorum voted; its attempt stats settle once every server replied.
    const settled = async ({ attempts }) => attempts[attempts.length - 1];
    const lock = await redlock.acquire(['rl:q'], 3000);
    assert.equal((await settled(lock)).votesFor.size, 3);
    for (const c of clients) assert.equal(await c.get('rl:q'), lock.value);
    await settled(await lock.release());
    for (const c of clients) assert.equal(await c.exists('rl:q'), 0);

    // using() extends a 400 ms lock while the routine runs for longer than that.
    await redlock.using(['rl:q'], 400, async (signal) => {
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(signal.aborted, false);
      const values = await Promise.all(clients.map((c) => c.get('rl:q')));
      assert.ok(values[0] !== null && values.every((v) => v === values[0]), `values ${values}`);
      for (const c of clients) assert.ok((await c.pttl('rl:q')) > 0);
    });
    // using() released it (a quorum at once, the last server a moment later).
    for (let i = 0; i < 50 && (await Promise.all(clients.map((c) => c.exists('rl:q')))).some(Boolean); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of clients) assert.equal(await c.exists('rl:q'), 0);
    await extra[1].stop();
    const survivor = await redlock.acquire(['rl:q'], 3000);
    assert.equal(survivor.attempts.length, 1);
    const stats = await survivor.attempts[0];
    assert.equal(stats.votesFor.size, 2);
    assert.equal(stats.votesAgainst.size, 1);
    await survivor.release().catch(() => {});
  } finally {
    await Promise.all(extra.map((s) => s.stop().catch(() => {})));
  }
});
