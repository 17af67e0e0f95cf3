import { describe, expect, it } from 'vitest';
import { UpstreamCommandTimer } from './command-counts.js';
import { createProxyMetrics } from './metrics.js';

function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('proxy metrics', () => {
  it('counts commands by name and path, and any unknown name as other', async () => {
    const metrics = createProxyMetrics();
    metrics.countCommand('FETCH', 'inbox_view');
    metrics.countCommand('FETCH', 'inbox_view');
    metrics.countCommand('FETCH', 'byte_copy');
    for (let i = 0; i < 50; i++) metrics.countCommand(`MADEUP${i}`, 'byte_copy');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'inlay_proxy_commands_total{command="FETCH",path="inbox_view"}')).toBe(2);
    expect(sample(text, 'inlay_proxy_commands_total{command="FETCH",path="byte_copy"}')).toBe(1);
    expect(sample(text, 'inlay_proxy_commands_total{command="other",path="byte_copy"}')).toBe(50);
    expect(text).not.toContain('MADEUP');
    // A second scrape reports the same totals (the counter is rebuilt from the slots, not added to).
    expect(sample(await metrics.registry.metrics(), 'inlay_proxy_commands_total{command="FETCH",path="inbox_view"}')).toBe(2);
  });

  it('counts only limit codes as refusals', async () => {
    const metrics = createProxyMetrics();
    metrics.countRefusal('INLAY_PROXY_TOO_MANY_FROM_ADDRESS');
    metrics.countRefusal('INLAY_PROXY_BAD_SYNTAX');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'inlay_proxy_limit_refusals_total{kind="max_connections_per_address"}')).toBe(1);
    expect(text).not.toContain('BAD_SYNTAX');
  });

  it('mirrors cache lookups and bytes as counters that never go down', async () => {
    const metrics = createProxyMetrics();
    let bytes = { fromClient: 100, toClient: 1000 };
    const engine = { stats: { cacheHits: 3, cacheMisses: 1 }, suspendedNow: true };
    metrics.observe({ connections: () => [{ listener: 'tls', state: 'authenticated', count: 2 }], bytes: () => bytes, engine });
    let text = await metrics.registry.metrics();
    expect(sample(text, 'inlay_proxy_relayed_bytes_total{direction="to_client"}')).toBe(1000);
    expect(sample(text, 'inlay_proxy_engine_view_cache_lookups_total{result="hit"}')).toBe(3);
    expect(sample(text, 'inlay_proxy_engine_suspended')).toBe(1);
    expect(sample(text, 'inlay_proxy_connections{listener="tls",state="authenticated"}')).toBe(2);
    expect(sample(text, 'inlay_proxy_connections{listener="plain",state="pre_login"}')).toBe(0);
    bytes = { fromClient: 50, toClient: 1500 };
    text = await metrics.registry.metrics();
    expect(sample(text, 'inlay_proxy_relayed_bytes_total{direction="from_client"}')).toBe(100);
    expect(sample(text, 'inlay_proxy_relayed_bytes_total{direction="to_client"}')).toBe(1500);
  });
});

describe('the upstream command timer', () => {
  it('times one command to its own tagged completion, and never IDLE', () => {
    const seen: number[] = [];
    const timer = new UpstreamCommandTimer((seconds) => seen.push(seconds));
    timer.started('a1', 'NOOP');
    timer.started('a2', 'NOOP'); // one at a time: not timed
    timer.serverLine(Buffer.from('* 3 EXISTS\r\n'));
    timer.serverLine(Buffer.from('a12 OK done\r\n'));
    expect(seen).toHaveLength(0);
    timer.serverLine(Buffer.from('a1 OK NOOP done\r\n'));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThanOrEqual(0);
    timer.started('b1', 'IDLE');
    timer.serverLine(Buffer.from('b1 OK idle done\r\n'));
    expect(seen).toHaveLength(1);
  });
});
