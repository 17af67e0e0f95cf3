#!/usr/bin/env node
/**
 * `npm start`: the whole stack on one machine with embedded defaults — the proxy and the
 * middleware as two processes, as systemd runs them in production. Signals are passed on;
 * when one process ends, the other is stopped too, and the exit code is the first failure's.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const services = [
  { name: 'inlay-middleware', main: '../middleware/dist/main.js' },
  { name: 'inlay-proxy', main: '../proxy/dist/main.js' },
];

const children = services.map(({ name, main }) => {
  const child = spawn(process.execPath, [fileURLToPath(new URL(main, import.meta.url)), ...process.argv.slice(2)], { stdio: 'inherit' });
  return { name, child };
});

let exitCode = 0;
let stopping = false;
const stopAll = (signal) => {
  stopping = true;
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};

for (const { name, child } of children) {
  child.on('exit', (code, signal) => {
    if (code !== 0 && exitCode === 0) exitCode = code ?? 1;
    if (!stopping) {
      process.stderr.write(`inlay: ${name} ended (${signal ?? `exit code ${code}`}); stopping the stack\n`);
      stopAll('SIGTERM');
    }
    if (children.every(({ child: c }) => c.exitCode !== null || c.signalCode !== null)) process.exit(exitCode);
  });
}

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => stopAll(signal));
