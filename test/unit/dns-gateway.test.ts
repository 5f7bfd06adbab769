/**
 * The DNS firewall in a running gateway (issue 6, points 3, 4 and 5), over real sockets: the
 * segment of a query follows the device that last spoke from its address on MQTT (and follows a
 * quarantine at once), each segment's own lists and mode apply, the query log lands in the
 * store with the device, DoH answers over HTTP/1.1 and over HTTP/2 for h2-only clients, and an
 * unknown address without credentials is refused DoH.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as h2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { answer, startFakeUdp, type FakeServer } from './helpers/dns-upstream-fakes.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall } from './helpers/https-call.ts';
import { RawClient } from './helpers/raw-client.ts';

let upstream: FakeServer;
let t: TestGateway;
let cam: DeviceCreds;
let caPem: string;

beforeAll(async () => {
  upstream = await startFakeUdp((q, ctx) => ctx.send(answer(q, { address: '192.0.2.10', ttl: 300 })));
  const dir = mkdtempSync(join(tmpdir(), 'palisade-dnsgw-'));
  const ads = join(dir, 'ads.txt');
  writeFileSync(ads, '0.0.0.0 tracker.example\n||ads.example^\n');
  t = await startTestGateway({
    dns: {
      upstreams: [{ address: '127.0.0.1', port: upstream.port, protocol: 'udp' }],
      lists: { ads: { source: ads } },
      default: { answer: 'nxdomain' },
      segments: {
        // Cameras may resolve their vendor's cloud and nothing else.
        cameras: { mode: 'allowlist', allow: ['*.camvendor.example', 'camvendor.example'], answer: 'refused' },
        quarantine: { mode: 'allowlist', allow: [], answer: 'refused' },
      },
      clients: { '127.0.0.40/32': 'lab' },
    },
    policy: { segments: { cameras: { publish: ['cameras/#'] } } },
  });
  cam = await addDevice(t, 'cam-1', 'cameras', true);
  caPem = cam.ca;
}, 30_000);

afterAll(async () => {
  await t?.stop();
  await upstream?.close();
});

/** One UDP query from `from`; the decoded answer. */
async function ask(name: string, from: string, type: 'A' | 'AAAA' = 'A'): Promise<dnsPacket.DecodedPacket> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, from, () => r()));
  try {
    const reply = new Promise<Buffer>((resolve, reject) => {
      sock.once('message', resolve);
      setTimeout(() => reject(new Error(`no answer for ${name} from ${from}`)), 3000).unref();
    });
    sock.send(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), t.port('dns'), '127.0.0.1');
    return dnsPacket.decode(await reply);
  } finally {
    sock.close();
  }
}

const rcode = (p: dnsPacket.DecodedPacket): string => (p as unknown as { rcode: string }).rcode;
const firstA = (p: dnsPacket.DecodedPacket): unknown => (p.answers?.find((a) => a.type === 'A') as { data?: unknown } | undefined)?.data;

describe('per-segment DNS policy in the gateway', () => {
  it('gives an unknown address the default policy: lists block with NXDOMAIN, the rest resolves', async () => {
    expect(firstA(await ask('www.example.org', '127.0.0.30'))).toBe('192.0.2.10');
    expect(rcode(await ask('tracker.example', '127.0.0.30'))).toBe('NXDOMAIN');
    expect(rcode(await ask('x.ads.example', '127.0.0.30'))).toBe('NXDOMAIN');
  });

  it('knows a device by the address it connected from over MQTT, and applies its segment (allow-only)', async () => {
    const c = await RawClient.tcp(t.port('mqtt'), 5, '127.0.0.31');
    try {
      expect((await c.connect({ clientId: 'cam-1', username: 'cam-1', password: Buffer.from(cam.password!) })).reasonCode).toBe(0);
      expect(firstA(await ask('api.camvendor.example', '127.0.0.31'))).toBe('192.0.2.10');
      expect(rcode(await ask('www.example.org', '127.0.0.31'))).toBe('REFUSED');
      // The same name from an address no device uses is the default policy's.
      expect(firstA(await ask('www.example.org', '127.0.0.32'))).toBe('192.0.2.10');

      // Quarantined: its DNS follows at once (allow nothing).
      await t.gateway.store.devices.update('cam-1', { segment: 'quarantine' });
      await expect.poll(async () => rcode(await ask('api.camvendor.example', '127.0.0.31')), { timeout: 5000, interval: 100 }).toBe('REFUSED');
    } finally {
      c.destroy();
      await t.gateway.store.devices.update('cam-1', { segment: 'cameras' });
    }
  });

  it('logs each query in the store with its device, segment and outcome', async () => {
    await expect
      .poll(async () => (await t.gateway.store.dnsQueries.list({ deviceId: 'cam-1', limit: 50 })).map((r) => `${r.name}:${r.outcome}:${r.segment}`), { timeout: 5000, interval: 200 })
      .toEqual(expect.arrayContaining(['api.camvendor.example:forwarded:cameras', 'www.example.org:blocked:cameras']));
    const blocked = (await t.gateway.store.dnsQueries.list({ nameContains: 'tracker', limit: 5 }))[0]!;
    expect(blocked).toMatchObject({ client: '127.0.0.30', deviceId: null, outcome: 'blocked', transport: 'udp', blockedBy: { list: 'ads' } });
  });
});

describe('DNS over HTTPS (RFC 8484) in the gateway', () => {
  const query = (name: string): Buffer => dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] });

  it('answers GET and POST over HTTP/1.1 from a dns.clients address, and 401 to an unknown one', async () => {
    const base = { host: '127.0.0.1', port: t.port('https'), servername: 'localhost', ca: caPem, agent: false as const };
    const get = await httpsCall({ ...base, method: 'GET', path: `/dns-query?dns=${query('www.example.org').toString('base64url')}`, localAddress: '127.0.0.40' });
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('application/dns-message');
    expect(get.headers['cache-control']).toMatch(/^max-age=\d+$/);
    expect(firstA(dnsPacket.decode(get.body))).toBe('192.0.2.10');
    const post = await httpsCall({ ...base, method: 'POST', path: '/dns-query', localAddress: '127.0.0.40', headers: { 'content-type': 'application/dns-message' } }, query('tracker.example'));
    expect(post.status).toBe(200);
    expect(rcode(dnsPacket.decode(post.body))).toBe('NXDOMAIN');
    const stranger = await httpsCall({ ...base, method: 'GET', path: `/dns-query?dns=${query('www.example.org').toString('base64url')}`, localAddress: '127.0.0.41' });
    expect(stranger.status).toBe(401);
    const bad = await httpsCall({ ...base, method: 'GET', path: '/dns-query?dns=***', localAddress: '127.0.0.40' });
    expect(bad.status).toBe(400);
  });

  it('answers over HTTP/2 for an h2-only client presenting a device certificate, with the device\'s policy', async () => {
    const session = h2Connect(`https://127.0.0.1:${t.port('https')}`, { ca: caPem, cert: cam.cert, key: cam.key, servername: 'localhost', localAddress: '127.0.0.42' } as never);
    try {
      const post = (name: string) =>
        new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
          const req = session.request({ ':method': 'POST', ':path': '/dns-query', 'content-type': 'application/dns-message', accept: 'application/dns-message' });
          let status = 0;
          const chunks: Buffer[] = [];
          req.on('response', (h) => (status = Number(h[':status'])));
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
          req.on('error', reject);
          req.end(query(name));
        });
      const ok = await post('cdn.camvendor.example');
      expect(ok.status).toBe(200);
      expect(firstA(dnsPacket.decode(ok.body))).toBe('192.0.2.10');
      const refused = await post('www.example.org');
      expect(rcode(dnsPacket.decode(refused.body))).toBe('REFUSED');
      expect(session.alpnProtocol).toBe('h2');
    } finally {
      session.close();
    }
    await expect.poll(async () => (await t.gateway.store.dnsQueries.list({ deviceId: 'cam-1', outcome: 'blocked', limit: 20 })).some((r) => r.transport === 'doh'), { timeout: 5000 }).toBe(true);
  });
});
