// The systemd watchdog's probe (inlay-watchdog@.service): asks a process's /healthz, which
// answers 200 while its event loop runs. Exits 0 when it does, 1 when ATTEMPTS probes in a row
// got no 200 within TIMEOUT_MS each — a hung or wedged process, which the unit then restarts.
// A single slow answer (a long GC pause) is not a reason to cut every client off.
// Usage: node healthz-check.mjs http://127.0.0.1:9143/healthz
const ATTEMPTS = 3;
const TIMEOUT_MS = 5000;
const PAUSE_MS = 2000;

const url = process.argv[2];
if (!url) {
  console.error('usage: healthz-check.mjs <url of /healthz>');
  process.exit(2);
}
let reason = '';
for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (response.status === 200) process.exit(0);
    reason = `HTTP ${response.status}`;
  } catch (err) {
    reason = err.cause?.code ?? err.name ?? String(err);
  }
  if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
}
console.error(`${url}: no 200 in ${ATTEMPTS} attempts (last: ${reason})`);
process.exit(1);
