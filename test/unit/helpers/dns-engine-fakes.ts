/**
 * Small in-test parts around the DNS engine (test/unit/dns-*.test.ts): a config with overrides,
 * queries built with dns-packet, a fake upstream whose answers dns-packet encodes, a filter
 * blocking a fixed set of names, a client directory and a recording observer.
 */
import * as dnsPacket from 'dns-packet';
import { dnsSchema, type DnsConfig } from '../../../src/config/dns.ts';
import type { BlockedAnswer, DnsClientDirectory, DnsFilter, DnsQueryObserver, DnsQueryRecord } from '../../../src/core/dns/types.ts';
import { ErrorCodes, PalisadeError } from '../../../src/core/errors.ts';
import type { DnsUpstream } from '../../../src/protocols/dns/upstream-types.ts';

export function dnsConfig(over: { cache?: Partial<DnsConfig['cache']>; abuse?: Partial<DnsConfig['abuse']> } = {}): DnsConfig {
  return dnsSchema.parse({ cache: over.cache ?? {}, abuse: { responsesPerSecond: 1e6, responsesBurst: 1e6, ...over.abuse } });
}

export interface QueryOptions {
  id?: number;
  type?: string;
  edns?: { size?: number; do?: boolean; version?: number } | false;
  rd?: boolean;
  cd?: boolean;
}

export function makeQuery(name: string, o: QueryOptions = {}): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (o.edns) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: o.edns.size ?? 1232,
      extendedRcode: 0,
      ednsVersion: o.edns.version ?? 0,
      flags: o.edns.do ? dnsPacket.DNSSEC_OK : 0,
      flag_do: o.edns.do ?? false,
      options: [],
    });
  }
  return dnsPacket.encode({
    type: 'query',
    id: o.id ?? 0x1234,
    flags: (o.rd === false ? 0 : dnsPacket.RECURSION_DESIRED) | (o.cd ? dnsPacket.CHECKING_DISABLED : 0),
    questions: [{ type: (o.type ?? 'A') as 'A', name, class: 'IN' }],
    additionals,
  });
}

export function rcodeOf(msg: Buffer): number {
  return msg[3]! & 0x0f;
}

export function decode(msg: Buffer): dnsPacket.DecodedPacket {
  return dnsPacket.decode(msg);
}

export interface UpstreamAnswer {
  /** A records for A questions, AAAA for AAAA, TXT filler for TXT. */
  ttl?: number;
  rcode?: number;
  /** Negative answers: an SOA in the authority section with this TTL and MINIMUM. */
  soa?: { ttl: number; minimum: number };
  /** Number of records (TXT answers of `txtSize` bytes each make big answers). */
  count?: number;
  txtSize?: number;
  address?: string;
}

export interface FakeUpstream extends DnsUpstream {
  readonly calls: Buffer[];
  /** When set, forward() rejects (every upstream failed). */
  failing: boolean;
  /** Resolves forwards only when release() is called (to test coalescing). */
  hold: boolean;
  release(): void;
  answer: (name: string, type: string) => UpstreamAnswer;
}

/** An upstream that answers with dns-packet, echoing the question it was asked. */
export function fakeUpstream(answer: (name: string, type: string) => UpstreamAnswer = () => ({})): FakeUpstream {
  const held: (() => void)[] = [];
  const up: FakeUpstream = {
    calls: [],
    failing: false,
    hold: false,
    answer,
    release() {
      for (const r of held.splice(0)) r();
    },
    forward(query: Buffer): Promise<Buffer> {
      up.calls.push(query);
      const run = (): Promise<Buffer> => {
        if (up.failing) return Promise.reject(new PalisadeError(ErrorCodes.UPSTREAM_FAILED, 'all upstreams failed'));
        return Promise.resolve(buildAnswer(query, up.answer));
      };
      if (!up.hold) return run();
      return new Promise<void>((resolve) => held.push(resolve)).then(run);
    },
    close: () => Promise.resolve(),
  };
  return up;
}

export function buildAnswer(query: Buffer, answer: (name: string, type: string) => UpstreamAnswer): Buffer {
  const q = dnsPacket.decode(query);
  const question = q.questions![0]!;
  const a = answer(question.name, question.type);
  const rcode = a.rcode ?? 0;
  const answers: dnsPacket.Answer[] = [];
  if (rcode === 0 && a.soa === undefined) {
    for (let i = 0; i < (a.count ?? 1); i++) {
      if (question.type === 'A') answers.push({ type: 'A', name: question.name, ttl: a.ttl ?? 300, class: 'IN', data: a.address ?? `192.0.2.${i + 1}` });
      else if (question.type === 'AAAA') answers.push({ type: 'AAAA', name: question.name, ttl: a.ttl ?? 300, class: 'IN', data: `2001:db8::${i + 1}` });
      else answers.push({ type: 'TXT', name: question.name, ttl: a.ttl ?? 300, class: 'IN', data: 'x'.repeat(a.txtSize ?? 100) });
    }
  }
  const authorities: dnsPacket.Answer[] = a.soa
    ? [{ type: 'SOA', name: 'example', ttl: a.soa.ttl, class: 'IN', data: { mname: 'ns.example', rname: 'host.example', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: a.soa.minimum } }]
    : [];
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER | rcode,
    questions: q.questions,
    answers,
    authorities,
    additionals: q.additionals?.map((o) => ({ ...o, udpPayloadSize: 4096 })) ?? [],
  });
}

export function fakeFilter(blocked: Record<string, BlockedAnswer> = {}, list = 'test-list'): DnsFilter {
  return {
    check(_segment, name) {
      const answer = blocked[name];
      return answer === undefined ? { blocked: false } : { blocked: true, answer, list, rule: name };
    },
  };
}

export function fakeClients(map: Record<string, { deviceId: string; segment: string }> = {}): DnsClientDirectory {
  return { lookup: (address) => map[address] ?? { deviceId: null, segment: null } };
}

export function recordingObserver(): DnsQueryObserver & { records: DnsQueryRecord[] } {
  const records: DnsQueryRecord[] = [];
  return { records, onQuery: (r) => records.push(r) };
}
