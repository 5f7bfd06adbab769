// List sources (issue 6 point 2): files and URLs on a loopback HTTP server, refresh on a
// schedule, conditional requests, the last good copy kept on failure with a security event,
// the size cap and the timeout, and the https-unless-loopback rule.
import { once } from 'node:events';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledList } from '../../src/core/dns/lists/builder.ts';
import { createDnsFilter } from '../../src/core/dns/filter.ts';
import { ErrorCodes } from '../../src/core/errors.ts';
import { ListSources, withBundledThreatList, type ListSourceConfig } from '../../src/protocols/dns/list-sources.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.end();
let server: Server;
let base = '';
let dir = '';
const open: ListSources[] = [];

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'palisade-lists-'));
});
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
  rmSync(dir, { recursive: true, force: true });
});

function sources(lists: Record<string, ListSourceConfig>, extra: Partial<ConstructorParameters<typeof ListSources>[0]> = {}) {
  const got = new Map<string, CompiledList>();
  const events: { type: string; detail: Record<string, unknown> }[] = [];
  const s = new ListSources({
    lists,
    onList: (name, list) => got.set(name, list),
    events: { record: (type, _sev, ctx) => events.push({ type, detail: ctx?.detail ?? {} }) },
    ...extra,
  });
  open.push(s);
  return { s, got, events };
}
const cfg = (source: string, over: Partial<ListSourceConfig> = {}): ListSourceConfig => ({ source, format: 'auto', kind: 'block', refreshSeconds: 0, ...over });

describe('ListSources', () => {
  it('loads a file (relative to baseDir), reports counts, skips an unchanged file, reloads a changed one', async () => {
    const file = join(dir, 'a.txt');
    writeFileSync(file, '0.0.0.0 a.example\n||b.example^\nnot a rule at all\n');
    const { s, got } = sources({ a: cfg('a.txt') }, { baseDir: dir });
    await s.start();
    expect(got.get('a')?.block.match('x.b.example')).toBe('||b.example^');
    expect(s.status()[0]).toMatchObject({ name: 'a', source: file, lastError: null, stats: { blockRules: 2, badLines: 1 } });
    expect(await s.refresh('a')).toBe('unchanged');
    writeFileSync(file, '0.0.0.0 c.example\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await s.refresh('a')).toBe('loaded');
    expect(got.get('a')?.block.match('a.example')).toBeNull();
    expect(got.get('a')?.block.match('c.example')).toBe('c.example');
  });

  it('fetches over http from loopback, honours ETag with 304, and feeds the filter', async () => {
    let hits = 0;
    handler = (req, res) => {
      hits++;
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, { etag: '"v1"', 'content-type': 'text/plain' }).end('||ads.example^\n@@||ok.ads.example^\n');
    };
    const filter = createDnsFilter({ default: { mode: 'filter', block: null, allow: [], answer: 'nxdomain' }, segments: {}, lists: { remote: { kind: 'block' } } });
    const s = new ListSources({ lists: { remote: cfg(`${base}/list.txt`) }, onList: (n, l) => filter.setList(n, l) });
    open.push(s);
    await s.start();
    expect(filter.check(null, 'x.ads.example')).toMatchObject({ blocked: true, list: 'remote' });
    expect(filter.check(null, 'ok.ads.example')).toEqual({ blocked: false });
    expect(await s.refresh('remote')).toBe('unchanged');
    expect(hits).toBe(2);
  });

  it('a failed refresh keeps the last good copy, logs no credentials, records dns.list_refresh_failed', async () => {
    let fail = false;
    handler = (_req, res) => {
      if (fail) res.writeHead(500).end('boom');
      else res.writeHead(200).end('||kept.example^\n');
    };
    const { s, got, events } = sources({ r: cfg(`${base}/l.txt?token=SECRET`) });
    await s.start();
    fail = true;
    expect(await s.refresh('r')).toBe('failed');
    expect(got.get('r')?.block.match('kept.example')).toBe('||kept.example^');
    expect(events).toHaveLength(1);
    expect(events[0]?.type).toBe('dns.list_refresh_failed');
    expect(events[0]?.detail).toMatchObject({ list: 'r', keptLastGood: true, keptRules: 1, error: expect.stringContaining('HTTP 500') as string });
    expect(JSON.stringify(events)).not.toContain('SECRET');
    expect(s.status()[0]?.lastError).toMatch(/HTTP 500/);
    expect(s.status()[0]?.nextRefreshAt).not.toBeNull(); // a retry is scheduled
  });

  it('refuses a body past maxBytes and a server past the timeout', async () => {
    handler = (req, res) => {
      if (req.url === '/slow') return; // never answers
      res.writeHead(200);
      res.end('0.0.0.0 a.example\n'.repeat(1000));
    };
    const { s, got, events } = sources({ big: cfg(`${base}/big`), slow: cfg(`${base}/slow`) }, { maxBytes: 4096, fetchTimeoutMs: 300 });
    await s.start();
    expect(got.size).toBe(0);
    const errors = events.map((e) => String(e.detail.error));
    expect(errors[0]).toMatch(/more than the 4096 bytes/);
    expect(errors[1]).toMatch(/timed out|abort/i);
  });

  it('refreshes on refreshSeconds by itself', async () => {
    let version = 1;
    handler = (_req, res) => res.writeHead(200).end(`v${version}.example\n`);
    const { s, got } = sources({ t: cfg(`${base}/t`, { refreshSeconds: 1 }) });
    await s.start();
    expect(got.get('t')?.block.match('v1.example')).toBe('v1.example');
    version = 2;
    const deadline = Date.now() + 4000;
    while (got.get('t')?.block.match('v2.example') == null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(got.get('t')?.block.match('v2.example')).toBe('v2.example');
  });

  it('https only, except plain http to loopback; the bundled list name is reserved', () => {
    const make = (source: string) => () => new ListSources({ lists: { x: cfg(source) }, onList: () => undefined });
    expect(make('http://lists.example.com/a.txt')).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }) as Error);
    expect(make('ftp://lists.example.com/a.txt')).toThrow(/unsupported scheme/);
    expect(make('https://lists.example.com/a.txt')).not.toThrow();
    expect(make('http://localhost:8080/a.txt')).not.toThrow();
    expect(make('http://[::1]/a.txt')).not.toThrow();
    expect(() => withBundledThreatList({ 'palisade-iot-threats': cfg('x') }, true)).toThrow(/reserved/);
  });

  it('loads the bundled threat list through the real loader', async () => {
    const { s, got } = sources(withBundledThreatList({}, true));
    await s.start();
    const l = got.get('palisade-iot-threats');
    expect(l?.stats.badLines).toBe(0);
    expect(l?.block.match('report.changeme.com')).toBe('report.changeme.com');
    expect(Object.keys(withBundledThreatList({}, false))).toEqual([]);
  });
});
