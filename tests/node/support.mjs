// Starts the real concord binary on an ephemeral port (CONCORD_BIN, else target/release or target/debug)
// and resolves with { port, stop } once it logs that it is ready.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function binary() {
  if (process.env.CONCORD_BIN) return process.env.CONCORD_BIN;
  for (const p of ['target/release/concord', 'target/debug/concord']) {
    if (existsSync(join(root, p))) return join(root, p);
  }
  throw new Error('concord binary not built');
}

export function startServer(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary(), ['--port', '0', '--enable-debug-command', 'yes', ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = line.match(/Ready to accept connections.*port=(\d+)/);
      if (m) {
        resolve({
          port: Number(m[1]),
          // Idempotent: a server that already exited resolves at once.
          stop: () => new Promise((r) => {
            if (child.exitCode !== null || child.signalCode !== null) return r();
            child.once('exit', r);
            child.kill();
          }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`concord exited early (${code})`)));
  });
}
