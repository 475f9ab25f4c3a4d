// ioredis pub/sub against the real concord binary: subscribe/psubscribe with their events, message
// order per publisher, unsubscribe, and a RESP3 node-redis subscriber.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startServer } from './support.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.stop();
});

const client = () => new Redis({ port: server.port, lazyConnect: false });

test('ioredis subscribe and psubscribe deliver message and pmessage events', async () => {
  const sub = client();
  const pub = client();
  assert.equal(await sub.subscribe('news', 'alerts'), 2);
  assert.equal(await sub.psubscribe('sport.*'), 3);
  const got = [];
  const done = new Promise((resolve) => {
    sub.on('message', (ch, msg) => {
      got.push(['message', ch, msg]);
      if (got.length === 3) resolve();
    });
    sub.on('pmessage', (pat, ch, msg) => {
      got.push(['pmessage', pat, ch, msg]);
      if (got.length === 3) resolve();
    });
  });
  assert.equal(await pub.publish('news', 'n1'), 1);
  assert.equal(await pub.publish('sport.golf', 'g1'), 1);
  assert.equal(await pub.publish('alerts', 'a1'), 1);
  await done;
  assert.deepEqual(got, [
    ['message', 'news', 'n1'],
    ['pmessage', 'sport.*', 'sport.golf', 'g1'],
    ['message', 'alerts', 'a1'],
  ]);
  assert.deepEqual(await pub.pubsub('NUMSUB', 'news'), ['news', 1]);
  await sub.unsubscribe('news');
  assert.equal(await pub.publish('news', 'gone'), 0);
  await sub.punsubscribe('sport.*');
  assert.equal(await pub.pubsub('NUMPAT'), 0);
  sub.disconnect();
  pub.disconnect();
});

test('ioredis subscribers see each publisher in order', async () => {
  const subs = [client(), client(), client()];
  const pubs = [client(), client()];
  const per = 500;
  const received = subs.map(() => []);
  const done = subs.map(
    (s, i) =>
      new Promise((resolve) => {
        s.on('message', (_ch, msg) => {
          received[i].push(msg);
          if (received[i].length === pubs.length * per) resolve();
        });
      }),
  );
  await Promise.all(subs.map((s) => s.subscribe('ordered')));
  await Promise.all(
    pubs.map(async (p, pi) => {
      for (let n = 0; n < per; n++) await p.publish('ordered', `${pi}:${n}`);
    }),
  );
  await Promise.all(done);
  for (const msgs of received) {
    const next = pubs.map(() => 0);
    for (const m of msgs) {
      const [pi, n] = m.split(':').map(Number);
      assert.equal(n, next[pi]);
      next[pi]++;
    }
    assert.deepEqual(next, pubs.map(() => per));
  }
  for (const c of [...subs, ...pubs]) c.disconnect();
});

test('node-redis RESP3 subscriber keeps running commands on its connection', async () => {
  const sub = createClient({ socket: { port: server.port }, RESP: 3 });
  await sub.connect();
  const pub = client();
  const got = [];
  const done = new Promise((resolve) => {
    sub.subscribe('r3', (msg) => {
      got.push(msg);
      if (got.length === 2) resolve();
    });
  });
  while ((await pub.pubsub('NUMSUB', 'r3'))[1] !== 1) await new Promise((r) => setTimeout(r, 10));
  await pub.publish('r3', 'one');
  assert.equal(await sub.set('k', 'v'), 'OK');
  await pub.publish('r3', 'two');
  assert.equal(await sub.get('k'), 'v');
  await done;
  assert.deepEqual(got, ['one', 'two']);
  await sub.unsubscribe('r3');
  await sub.quit();
  pub.disconnect();
});
