/**
 * The DNS wire reader and the answers we build (src/protocols/dns/wire.ts, responses.ts,
 * edns.ts): round trips against dns-packet, property tests over random names and types,
 * malformed questions, compression pointer loops, EDNS(0) and BADVERS.
 */
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EDE_BLOCKED } from '../../src/protocols/dns/edns.ts';
import { buildBlockedAnswer, buildEmptyAnswer, buildUpstreamQuery } from '../../src/protocols/dns/responses.ts';
import {
  MAX_QUERY_LENGTH,
  PARSE_BADVERS,
  PARSE_DROP,
  PARSE_FORMERR,
  PARSE_NOTIMP,
  PARSE_OK,
  RCODE_FORMERR,
  encodeName,
  parseQuery,
  readName,
  skipName,
} from '../../src/protocols/dns/wire.ts';
import { makeQuery, rcodeOf } from './helpers/dns-engine-fakes.ts';

const label = fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/);
const hostname = fc.array(label, { minLength: 1, maxLength: 6 }).map((l) => l.join('.'));
const qtypes = ['A', 'AAAA', 'TXT', 'MX', 'NS', 'CNAME', 'SOA', 'PTR', 'SRV', 'CAA', 'DNSKEY'] as const;
const typeNumber: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNSKEY: 48, CAA: 257 };

function header(id: number, qd: number, flags = 0x0100): number[] {
  return [id >> 8, id & 255, flags >> 8, flags & 255, 0, qd, 0, 0, 0, 0, 0, 0];
}

describe('parseQuery', () => {
  it('reads what dns-packet writes: id, flags, canonical name, qtype, qclass (property)', () => {
    fc.assert(
      fc.property(hostname, fc.constantFrom(...qtypes), fc.integer({ min: 0, max: 0xffff }), (name, type, id) => {
        const q = parseQuery(makeQuery(name, { id, type }));
        expect(q.status).toBe(PARSE_OK);
        expect(q.id).toBe(id);
        expect(q.name).toBe(name.toLowerCase());
        expect(q.qtype).toBe(typeNumber[type]);
        expect(q.qclass).toBe(1);
        expect(q.edns).toBe(false);
        expect(q.udpSize).toBe(512);
      }),
      { numRuns: 300 },
    );
  });

  it('names reused from the intern table are always the name asked (slots collide past 8192 names)', () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `h${i}.x${i % 7}.example`);
    for (let round = 0; round < 2; round++) for (const n of names) expect(parseQuery(makeQuery(n)).name).toBe(n);
    // Same length, same slot candidates, differing in one byte.
    expect(parseQuery(makeQuery('ab.example')).name).toBe('ab.example');
    expect(parseQuery(makeQuery('ba.example')).name).toBe('ba.example');
    expect(parseQuery(makeQuery('AB.example')).name).toBe('ab.example');
  });

  it('reads EDNS(0): payload size, DO bit; a size under 512 counts as 512 (RFC 6891 §6.2.5)', () => {
    const q = parseQuery(makeQuery('a.example', { edns: { size: 4096, do: true } }));
    expect(q).toMatchObject({ status: PARSE_OK, edns: true, udpSize: 4096, dnssecOk: true, ednsVersion: 0 });
    expect(parseQuery(makeQuery('a.example', { edns: { size: 100 } })).udpSize).toBe(512);
  });

  it('an EDNS version above 0 is BADVERS (RFC 6891 §6.1.3)', () => {
    const q = parseQuery(makeQuery('a.example', { edns: { version: 1 } }));
    expect(q.status).toBe(PARSE_BADVERS);
    expect(q.name).toBe('a.example');
  });

  it('two OPT records are FORMERR (RFC 6891 §6.1.1)', () => {
    const one = makeQuery('a.example', { edns: {} });
    const opt = one.subarray(one.length - 11);
    const two = Buffer.concat([one, opt]);
    two[11] = 2;
    expect(parseQuery(two).status).toBe(PARSE_FORMERR);
  });

  it('the root name reads as ""', () => {
    const q = parseQuery(makeQuery('.', { type: 'NS' }));
    expect(q.status).toBe(PARSE_OK);
    expect(q.name).toBe('');
  });

  it('no header → drop; a response (QR=1) → drop', () => {
    expect(parseQuery(Buffer.alloc(11)).status).toBe(PARSE_DROP);
    const r = makeQuery('a.example');
    r[2]! |= 0x80;
    expect(parseQuery(r).status).toBe(PARSE_DROP);
  });

  it('QDCOUNT other than 1, truncated question, label > 63, name > 255 → FORMERR with the id', () => {
    expect(parseQuery(Buffer.from(header(7, 0))).status).toBe(PARSE_FORMERR);
    expect(parseQuery(Buffer.from([...header(7, 2), 1, 0x61, 0, 0, 1, 0, 1])).status).toBe(PARSE_FORMERR);
    const q = makeQuery('abc.example');
    const cut = parseQuery(q.subarray(0, q.length - 2));
    expect(cut.status).toBe(PARSE_FORMERR);
    expect(cut.id).toBe(0x1234);
    expect(parseQuery(Buffer.from([...header(7, 1), 64, ...Buffer.alloc(64, 0x61), 0, 0, 1, 0, 1])).status).toBe(PARSE_FORMERR);
    const long = Array.from({ length: 5 }, () => [63, ...Buffer.alloc(63, 0x61)]).flat();
    expect(parseQuery(Buffer.from([...header(7, 1), ...long, 0, 0, 1, 0, 1])).status).toBe(PARSE_FORMERR);
    // 253 characters (255 wire octets) is the longest legal name.
    const max = Array.from({ length: 3 }, () => [63, ...Buffer.alloc(63, 0x61)]).flat();
    expect(parseQuery(Buffer.from([...header(7, 1), ...max, 61, ...Buffer.alloc(61, 0x62), 0, 0, 1, 0, 1])).status).toBe(PARSE_OK);
  });

  it('a query longer than MAX_QUERY_LENGTH is FORMERR (oversized)', () => {
    const q = makeQuery('a.example');
    const big = Buffer.concat([q, Buffer.alloc(MAX_QUERY_LENGTH)]);
    expect(parseQuery(big)).toMatchObject({ status: PARSE_FORMERR, id: 0x1234 });
  });

  it('a compression pointer in the question (incl. a self loop) is FORMERR', () => {
    expect(parseQuery(Buffer.from([...header(9, 1), 0xc0, 12, 0, 1, 0, 1])).status).toBe(PARSE_FORMERR);
    expect(parseQuery(Buffer.from([...header(9, 1), 1, 0x61, 0xc0, 12, 0, 1, 0, 1])).status).toBe(PARSE_FORMERR);
  });

  it('a "." byte inside a label is FORMERR (it would alias another name in the cache)', () => {
    expect(parseQuery(Buffer.from([...header(9, 1), 3, 0x61, 0x2e, 0x62, 0, 0, 1, 0, 1])).status).toBe(PARSE_FORMERR);
  });

  it('an opcode other than QUERY is NOTIMP', () => {
    const q = makeQuery('a.example');
    q[2] = (q[2]! & 0x87) | (2 << 3);
    expect(parseQuery(q).status).toBe(PARSE_NOTIMP);
  });

  it('random bytes never throw and give a status (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const q = parseQuery(bytes);
        expect([PARSE_OK, PARSE_DROP, PARSE_FORMERR, PARSE_BADVERS, PARSE_NOTIMP]).toContain(q.status);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid queries never throw; OK ones echo a question dns-packet can read (property)', () => {
    fc.assert(
      fc.property(hostname, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (name, flips) => {
        const b = makeQuery(name, { edns: {} });
        for (const [i, v] of flips) b[i % b.length] = v;
        const q = parseQuery(b);
        // dns-packet reads names as UTF-8 and escapes some bytes; compare printable ASCII names.
        if (q.status === PARSE_OK && /^[a-z0-9_.-]*$/.test(q.name)) {
          const d = dnsPacket.decode(buildEmptyAnswer(b, q, 3, 1232));
          expect(d.questions?.[0]?.name.toLowerCase()).toBe(q.name);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('names in answers', () => {
  it('readName follows pointers and bounds a pointer loop (returns null, does not hang)', () => {
    const msg = Buffer.from([...header(1, 0), 1, 0x61, 0, 1, 0x62, 0xc0, 12]);
    expect(readName(msg, 15)).toBe('b.a');
    const loop = Buffer.from([...header(1, 0), 0xc0, 14, 0xc0, 12]);
    expect(readName(loop, 12)).toBeNull();
    const self = Buffer.from([...header(1, 0), 1, 0x61, 0xc0, 12]);
    expect(readName(self, 12)).toBeNull();
  });

  it('skipName stops at the first pointer and rejects truncation', () => {
    const msg = Buffer.from([...header(1, 0), 1, 0x61, 0xc0, 12]);
    expect(skipName(msg, 12, msg.length)).toBe(16);
    expect(skipName(msg, 12, 15)).toBe(-1);
  });

  it('encodeName matches dns-packet', () => {
    fc.assert(
      fc.property(hostname, (name) => {
        const ours = encodeName(name.toLowerCase());
        const theirs = makeQuery(name.toLowerCase()).subarray(12, 12 + ours.length);
        expect(ours.equals(theirs)).toBe(true);
      }),
    );
  });
});

describe('answers we build', () => {
  it('errors echo id, question (in the asker\'s case) and RD; OPT when the query had one', () => {
    const query = makeQuery('MiXeD.Example', { id: 0xbeef, edns: { size: 4096, do: true } });
    const q = parseQuery(query);
    const out = buildEmptyAnswer(query, q, 2, 1232);
    const d = dnsPacket.decode(out);
    expect(d.id).toBe(0xbeef);
    expect(d.flag_qr).toBe(true);
    expect(d.flag_rd).toBe(true);
    expect(rcodeOf(out)).toBe(2);
    expect(d.questions).toEqual([{ name: 'MiXeD.Example', type: 'A', class: 'IN' }]);
    const opt = d.additionals?.[0] as dnsPacket.OptAnswer;
    expect(opt.type).toBe('OPT');
    expect(opt.udpPayloadSize).toBe(1232);
    expect(opt.flag_do).toBe(true);
    expect(dnsPacket.decode(buildEmptyAnswer(makeQuery('a.b'), parseQuery(makeQuery('a.b')), 5, 1232)).additionals).toEqual([]);
  });

  it('FORMERR for an unreadable question has no question', () => {
    const bad = Buffer.from([...header(0x77, 1), 0xc0, 12, 0, 1, 0, 1]);
    const out = buildEmptyAnswer(bad, parseQuery(bad), RCODE_FORMERR, 1232);
    expect(out.length).toBe(12);
    expect(out.readUInt16BE(0)).toBe(0x77);
    expect(rcodeOf(out)).toBe(1);
  });

  it('BADVERS: rcode 16 split between the header (0) and the OPT (1)', () => {
    const query = makeQuery('a.example', { edns: { version: 1 } });
    const out = buildEmptyAnswer(query, parseQuery(query), 16, 1232);
    expect(rcodeOf(out)).toBe(0);
    const opt = dnsPacket.decode(out).additionals?.[0] as dnsPacket.OptAnswer;
    expect(opt.extendedRcode).toBe(1);
    expect(opt.ednsVersion).toBe(0);
  });

  it('blocked: nxdomain, refused, null A 0.0.0.0 / AAAA :: / NODATA; EDE 15 with EDNS (RFC 8914)', () => {
    const a = makeQuery('ads.example', { edns: {} });
    const nx = buildBlockedAnswer(a, parseQuery(a), 'nxdomain', 1232, EDE_BLOCKED);
    expect(rcodeOf(nx)).toBe(3);
    const opt = dnsPacket.decode(nx).additionals?.[0] as dnsPacket.OptAnswer;
    expect(opt.options[0]).toMatchObject({ code: 15, data: Buffer.from([0, 15]) });
    expect(rcodeOf(buildBlockedAnswer(a, parseQuery(a), 'refused', 1232, EDE_BLOCKED))).toBe(5);
    const nullA = dnsPacket.decode(buildBlockedAnswer(a, parseQuery(a), 'null', 1232, EDE_BLOCKED));
    expect(nullA.answers).toEqual([expect.objectContaining({ type: 'A', name: 'ads.example', data: '0.0.0.0', ttl: 10 })]);
    const aaaa = makeQuery('ads.example', { type: 'AAAA' });
    const nullAaaa = dnsPacket.decode(buildBlockedAnswer(aaaa, parseQuery(aaaa), 'null', 1232, EDE_BLOCKED));
    expect(nullAaaa.answers).toEqual([expect.objectContaining({ type: 'AAAA', data: '::' })]);
    expect(nullAaaa.additionals).toEqual([]);
    const mx = makeQuery('ads.example', { type: 'MX' });
    const nodata = buildBlockedAnswer(mx, parseQuery(mx), 'null', 1232, EDE_BLOCKED);
    expect(rcodeOf(nodata)).toBe(0);
    expect(dnsPacket.decode(nodata).answers).toEqual([]);
  });

  it('the upstream query is the question lower-cased, RD, an OPT with our size and the DO bit', () => {
    // qtype 65 (HTTPS) is 0x0041, 'A': it must not be lower-cased with the name.
    const query = makeQuery('WwW.Example', { type: 'A', edns: { do: true } });
    query[query.length - 11 - 3] = 0x41;
    const q = parseQuery(query);
    expect(q.qtype).toBe(0x41);
    const up = buildUpstreamQuery(query, q, 1232);
    const p = parseQuery(up);
    expect(p).toMatchObject({ status: PARSE_OK, id: 0, name: 'www.example', qtype: 0x41, edns: true, udpSize: 1232, dnssecOk: true });
    expect(up.subarray(12, 12 + 13).toString('latin1')).toBe('\x03www\x07example\x00'.slice(0, 13));
  });
});
