#!/usr/bin/env node
/**
 * `npm start`: the whole stack on one machine with embedded defaults — the proxy and the
 * middleware as two processes, as systemd runs them in production, supervised as systemd would
 * (`Restart=on-failure`): a process that ends while the stack runs is started again after a
 * backoff, with one log line saying so, and the other keeps serving meanwhile — mail never
 * depends on the campaign side, so a crashed middleware must not take the proxy with it.
 *
 * SIGTERM and SIGINT are passed on to both and end the stack once both have ended (exit code:
 * the first failure's). A process that exits with 78 (EX_CONFIG: a configuration it can never
 * use) is not restarted: restarting could never help, so the stack stops and says why.
 *
 * Must never restart a process after a stop was asked for, nor restart in a tight loop.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** First restart delay; doubled after each crash up to MAX_BACKOFF_MS, so a process that cannot
 *  start (its port taken, its store locked) costs a few starts a minute, not a busy loop. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** A process that ran this long before it ended counts as having started fine: the backoff
 *  starts over, so a crash a day restarts at once rather than after the longest delay. */
const STABLE_AFTER_MS = 60_000;
/** EX_CONFIG (sysexits.h): what both entry points exit with on a configuration error. */
const EX_CONFIG = 78;

const services = [
  { name: 'inlay-middleware', main: '../middleware/dist/main.js' },
  { name: 'inlay-proxy', main: '../proxy/dist/main.js' },
].map((service) => ({ ...service, child: null, startedAt: 0, backoffMs: FIRST_BACKOFF_MS, restartTimer: null, restarts: 0 }));

let exitCode = 0;
let stopping = false;

function say(line) {
  process.stderr.write(`inlay: ${line}\n`);
}

function start(service) {
  service.restartTimer = null;
  const child = spawn(process.execPath, [fileURLToPath(new URL(service.main, import.meta.url)), ...process.argv.slice(2)], { stdio: 'inherit' });
  service.child = child;
  service.startedAt = Date.now();
  say(`${service.name} started (pid ${child.pid})`);
  child.on('exit', (code, signal) => ended(service, child, code, signal));
}

function ended(service, child, code, signal) {
  if (service.child === child) service.child = null;
  const how = signal ?? `exit code ${code}`;
  if (stopping) {
    if (code !== 0 && code !== null && exitCode === 0) exitCode = code;
    finishIfDone();
    return;
  }
  if (code === EX_CONFIG) {
    exitCode = EX_CONFIG;
    say(`${service.name} refused its configuration (${how}); stopping the stack`);
    stopAll('SIGTERM');
    return;
  }
  if (Date.now() - service.startedAt >= STABLE_AFTER_MS) service.backoffMs = FIRST_BACKOFF_MS;
  const delayMs = service.backoffMs;
  service.backoffMs = Math.min(MAX_BACKOFF_MS, service.backoffMs * 2);
  service.restarts++;
  const other = services.find((s) => s !== service && s.child !== null);
  say(`${service.name} ended (${how}); restarting it in ${delayMs} ms (restart ${service.restarts})${other ? `; ${other.name} keeps serving` : ''}`);
  service.restartTimer = setTimeout(() => start(service), delayMs);
}

function stopAll(signal) {
  stopping = true;
  for (const service of services) {
    if (service.restartTimer !== null) clearTimeout(service.restartTimer);
    service.restartTimer = null;
    if (service.child !== null && service.child.exitCode === null && service.child.signalCode === null) service.child.kill(signal);
  }
  finishIfDone();
}

function finishIfDone() {
  if (services.every((service) => service.child === null)) process.exit(exitCode);
}

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => stopAll(signal));
for (const service of services) start(service);
