/**
 * A quick local load check of the DNS engine's hot paths (no sockets): N engine.handle() calls
 * on cached names and on blocked names, ns/query, with a Set-backed filter, a Map-backed
 * client directory and an observer that keeps a count (as the query log's queue would cost
 * about that). For reference, the same on dns-packet decode + encode of each query.
 * The dnsperf comparison with dnsmasq is another benchmark; this one only shows where the
 * engine's own time goes.
 *
 *   node bench/dns-engine-micro.ts [--queries 2000000] [--names 1000] [--no-reference]
 */
import * as dnsPacket from 'dns-packet';
import { parseArgs } from 'node:util';
import { dnsSchema } from '../src/config/dns.ts';
import type { DnsFilter, FilterVerdict } from '../src/core/dns/types.ts';
import { createDnsEngine } from '../src/protocols/dns/engine.ts';
import type { DnsUpstream } from '../src/protocols/dns/upstream-types.ts';

const { values } = parseArgs({ options: { queries: { type: 'string', default: '2000000' }, names: { type: 'string', default: '1000' }, 'no-reference': { type: 'boolean', default: false } } });
const N = Number(values.queries);
const NAMES = Number(values.names);

const blockedNames = new Set<string>();
for (let i = 0; i < NAMES; i++) blockedNames.add(`ads${i}.tracker.example`);
const pass: FilterVerdict = Object.freeze({ blocked: false });
const block: FilterVerdict = Object.freeze({ blocked: true, answer: 'nxdomain', list: 'bench', rule: 'bench' });
const filter: DnsFilter = { check: (_s, name) => (blockedNames.has(name) ? block : pass) };
const identity = Object.freeze({ deviceId: 'dev-1', segment: 'cameras' });
const clients = { lookup: () => identity };
let observed = 0;
const observer = { onQuery: () => void observed++ };

const upstream: DnsUpstream = {
  forward: (query) => {
    const q = dnsPacket.decode(query);
    return Promise.resolve(
      dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: q.questions,
        answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 86_400, class: 'IN', data: '192.0.2.1' }],
      }),
    );
  },
  close: () => Promise.resolve(),
};

const config = dnsSchema.parse({ abuse: { responsesPerSecond: 1e12, responsesBurst: 1e12 } });
const engine = createDnsEngine({ config, filter, clients, upstream, observer });
const client = { address: '127.0.0.1', port: 40000 };

const mk = (name: string, id: number): Buffer =>
  dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
const cached = Array.from({ length: NAMES }, (_, i) => mk(`host${i}.cdn.example`, i));
const blocked = Array.from({ length: NAMES }, (_, i) => mk(`ads${i}.tracker.example`, i));

for (const q of cached) await engine.handle(q, client, 'udp');

function run(label: string, queries: Buffer[], fn: (q: Buffer) => unknown): void {
  for (let i = 0; i < Math.min(N, 200_000); i++) fn(queries[i % queries.length]!);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const out = fn(queries[i % queries.length]!);
    if (out instanceof Uint8Array) bytes += out.length;
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/query  ${(1e9 / ns / 1000).toFixed(0).padStart(6)} k/s  (${(bytes / N).toFixed(0)} B/answer)`);
}

run('engine: cached answer', cached, (q) => engine.handle(q, client, 'udp'));
run('engine: blocked (NXDOMAIN)', blocked, (q) => engine.handle(q, client, 'udp'));
if (!values['no-reference']) run('reference: dns-packet decode+encode', cached, (q) => dnsPacket.encode(dnsPacket.decode(q)));
console.log(`cache hits ${engine.stats.cacheHits}, blocked ${engine.stats.blocked}, observed ${observed}`);
