#!/usr/bin/env node
// bench/bullmq.mjs — BullMQ jobs per second on Concord vs redis-server in one interleaved run.
//
// Usage: node bench/bullmq.mjs [--jobs N] [--rounds R] [--concurrency C]
//   (defaults: 5000 jobs, 2 rounds, concurrency 50; needs `npm ci` in tests/node for bullmq)
// Environment: CONCORD_BIN (default target/release/concord), REDIS_BIN (default redis-server).
//
// Each round runs A (Concord) then B (Redis), the next B then A (ABBA...), so slow drift of a shared
// machine hits both alike. A run on a fresh FLUSHALL'd server: add N jobs with addBulk (chunks of
// 500) -> "add jobs/s"; then one Worker with the given concurrency and a no-op processor, timed from
// its start until the N-th `completed` event -> "process jobs/s". Server CPU is utime+stime from
// /proc/<pid>/stat over both phases, per 1000 jobs. Prints every run, the medians and B/A ratios.
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests/node/package.json'));
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const JOBS = arg('jobs', 5000);
const ROUNDS = arg('rounds', 2);
const CONCURRENCY = arg('concurrency', 50);
const CHUNK = 500;

const concordBin = process.env.CONCORD_BIN ?? join(root, 'target/release/concord');
const redisBin = process.env.REDIS_BIN ?? 'redis-server';
if (!existsSync(concordBin)) throw new Error(`no ${concordBin}: cargo build --release first`);

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(name) {
  const port = await freePort();
  const args = name === 'concord'
    ? [concordBin, ['--port', String(port)]]
    : [redisBin, ['--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no']];
  const child = spawn(args[0], args[1], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return { name, port, pid: child.pid, stop: () => child.kill() };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not start`);
}

// utime + stime of a process in ms (clock ticks are 10 ms on Linux).
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function once(server, round) {
  const connection = { host: '127.0.0.1', port: server.port };
  const admin = new IORedis(connection);
  await admin.flushall();
  const name = `bench${round}`;
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const cpu0 = cpuMs(server.pid);
  const t0 = performance.now();
  for (let i = 0; i < JOBS; i += CHUNK) {
    const n = Math.min(CHUNK, JOBS - i);
    await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'j', data: { i: i + k } })));
  }
  const t1 = performance.now();
  let done = 0;
  let worker;
  const finished = new Promise((resolve) => {
    worker = new Worker(name, async (job) => job.data.i, { connection, concurrency: CONCURRENCY, autorun: false });
    worker.on('completed', () => { if (++done === JOBS) resolve(); });
  });
  const t2 = performance.now();
  worker.run();
  await finished;
  const t3 = performance.now();
  const cpu = cpuMs(server.pid) - cpu0;
  const counts = await queue.getJobCounts('completed', 'failed');
  if (counts.completed !== JOBS || counts.failed !== 0) throw new Error(`${server.name}: ${JSON.stringify(counts)}`);
  await worker.close();
  await queue.close();
  await admin.quit();
  return { add: JOBS / ((t1 - t0) / 1000), proc: JOBS / ((t3 - t2) / 1000), cpuPer1k: (cpu / JOBS) * 1000 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const servers = [await startServer('concord'), await startServer('redis')];
const results = { concord: [], redis: [] };
try {
  console.log(`BullMQ: ${JOBS} jobs, 1 worker, concurrency ${CONCURRENCY}, ${ROUNDS} rounds (ABBA)`);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const res = await once(s, r);
      results[s.name].push(res);
      console.log(`round ${r + 1} ${s.name.padEnd(7)}  add ${res.add.toFixed(0).padStart(7)} jobs/s  ` +
        `process ${res.proc.toFixed(0).padStart(7)} jobs/s  server CPU ${res.cpuPer1k.toFixed(0)} ms/1000 jobs`);
    }
  }
  const med = (name, key) => median(results[name].map((x) => x[key]));
  console.log('median          concord      redis   concord/redis');
  for (const [key, label] of [['add', 'add jobs/s'], ['proc', 'process jobs/s'], ['cpuPer1k', 'CPU ms/1000']]) {
    const a = med('concord', key);
    const b = med('redis', key);
    console.log(`${label.padEnd(15)} ${a.toFixed(0).padStart(7)} ${b.toFixed(0).padStart(10)}   ${(a / b).toFixed(2)}x`);
  }
} finally {
  for (const s of servers) s.stop();
}
process.exit(0);
