/** DTLS building blocks: PRF vectors, AEAD records, replay window, fragment reassembly, cookies, record parsing. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { AeadState, suiteById } from '../../src/protocols/dtls/cipher-suites.ts';
import { CookieJar } from '../../src/protocols/dtls/cookie.ts';
import { fragmentMessage, parseClientHello, parseHandshakeFragments } from '../../src/protocols/dtls/handshake-codec.ts';
import { prf, pskPreMaster } from '../../src/protocols/dtls/prf.ts';
import { Reassembler } from '../../src/protocols/dtls/reassembly.ts';
import { ContentType, DTLS12, encodeRecord, parseDatagram, seqBytesOf } from '../../src/protocols/dtls/record.ts';
import { ReplayWindow } from '../../src/protocols/dtls/replay-window.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('TLS 1.2 PRF (RFC 5246 §5, P_SHA256)', () => {
  it('matches the published TLS 1.2 SHA-256 PRF test vector (IETF TLS list msg03416)', () => {
    const out = prf(hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('agrees with openssl kdf TLS1-PRF on random inputs (known answers computed by openssl)', () => {
    for (const [secretLen, seedLen, outLen] of [[48, 64, 48], [16, 1, 12], [32, 77, 40]] as const) {
      const secret = Buffer.alloc(secretLen, secretLen + 1);
      const seed = Buffer.alloc(seedLen, seedLen + 3);
      const label = 'key expansion';
      const expected = execFileSync('openssl', ['kdf', '-keylen', String(outLen), '-kdfopt', 'digest:SHA256', '-kdfopt', `hexsecret:${secret.toString('hex')}`, '-kdfopt', `hexseed:${Buffer.concat([Buffer.from(label), seed]).toString('hex')}`, 'TLS1-PRF'], { encoding: 'utf8' });
      expect(prf(secret, label, seed, outLen).toString('hex')).toBe(expected.trim().replace(/:/g, '').toLowerCase());
    }
  });

  it('builds the RFC 4279 §2 PSK premaster: len(N), N zeros, len(N), psk', () => {
    expect(pskPreMaster(hex('0a0b0c')).toString('hex')).toBe('00030000000003' + '0a0b0c');
  });
});

describe('AEAD records', () => {
  const key = Buffer.alloc(16, 7);
  const salt = hex('01020304');
  const seq = seqBytesOf(1, 5n);

  for (const id of [0xc0a8, 0xc0ae, 0x00a8, 0xc02b]) {
    const suite = suiteById(id)!;
    it(`${suite.name}: explicit nonce + ciphertext + ${suite.tagLength}-byte tag, round trip, tamper refused`, () => {
      const aead = new AeadState(suite, key, salt);
      const plain = Buffer.from('hello over dtls');
      const sealed = aead.seal(seq, ContentType.applicationData, DTLS12, plain);
      expect(sealed.length).toBe(8 + plain.length + suite.tagLength);
      expect(sealed.subarray(0, 8)).toEqual(seq);
      expect(aead.open(seq, ContentType.applicationData, DTLS12, sealed)).toEqual(plain);
      const flipped = Buffer.from(sealed);
      flipped[10]! ^= 1;
      expect(aead.open(seq, ContentType.applicationData, DTLS12, flipped)).toBeNull();
      // The record's epoch/seq and type are authenticated (additional data, RFC 5246 §6.2.3.3).
      expect(aead.open(seqBytesOf(1, 6n), ContentType.applicationData, DTLS12, sealed)).toBeNull();
      expect(aead.open(seq, ContentType.handshake, DTLS12, sealed)).toBeNull();
      expect(aead.open(seq, ContentType.applicationData, DTLS12, sealed.subarray(0, 10))).toBeNull();
    });
  }

  it('CCM_8 matches a known answer (AES-128-CCM, 12-byte nonce, 8-byte tag)', () => {
    // Expected bytes computed independently (Python cryptography's AESCCM(key, tag_length=8) with
    // nonce = salt + epoch/seq and AAD = seq + type + version + length): pins the RFC 6655 §3 layout.
    const aead = new AeadState(suiteById(0xc0a8)!, Buffer.alloc(16, 0), Buffer.alloc(4, 0));
    const sealed = aead.seal(seqBytesOf(1, 0n), ContentType.applicationData, DTLS12, Buffer.from('abc'));
    expect(sealed.toString('hex')).toBe('0001000000000000' + 'f2d1404a2698d3bf5c8fa9');
  });
});

describe('replay window (RFC 6347 §4.1.2.6)', () => {
  it('accepts each sequence number once and refuses anything older than 64 behind the top', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 300n }), { maxLength: 400 }), (seqs) => {
        const w = new ReplayWindow();
        const seen = new Set<bigint>();
        let top = -1n;
        for (const s of seqs) {
          const expected = !seen.has(s) && (s > top || top - s < 64n);
          expect(w.check(s)).toBe(expected);
          if (expected) {
            w.mark(s);
            seen.add(s);
            if (s > top) top = s;
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('handles large jumps and 48-bit sequence numbers', () => {
    const w = new ReplayWindow();
    w.mark(0n);
    w.mark(2n ** 47n);
    expect(w.check(0n)).toBe(false);
    expect(w.check(2n ** 47n)).toBe(false);
    expect(w.check(2n ** 47n - 63n)).toBe(true);
    expect(w.check(2n ** 47n - 64n)).toBe(false);
  });
});

describe('fragment reassembly (RFC 6347 §4.2.3)', () => {
  const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));

  it('reassembles out-of-order, overlapping and repeated fragments, in message order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 400 }), fc.integer({ min: 0, max: 1000 }), (size, seed) => {
        const frags = fragmentMessage(16, 2, body, size).flatMap((f) => parseHandshakeFragments(f));
        // Deterministic shuffle plus one duplicate.
        const order = frags.map((f, i) => ({ f, k: (i * 7919 + seed) % 1009 })).sort((a, b) => a.k - b.k).map((x) => x.f);
        order.push(frags[0]!);
        const r = new Reassembler({ nextSeq: 2 });
        for (const f of order.slice(0, -1)) {
          expect(r.add(f)).toBe('accepted');
        }
        const msg = r.take();
        expect(msg?.body).toEqual(body);
        expect(msg?.messageSeq).toBe(2);
        expect(r.add(order.at(-1)!)).toBe('old');
        expect(r.take()).toBeNull();
      }),
      { numRuns: 100 },
    );
  });

  it('holds a message until it is complete and earlier ones are delivered', () => {
    const r = new Reassembler({ nextSeq: 2 });
    const later = parseHandshakeFragments(fragmentMessage(20, 3, Buffer.alloc(12, 1), 100)[0]!)[0]!;
    const [first, second] = fragmentMessage(16, 2, Buffer.alloc(150, 2), 100).map((f) => parseHandshakeFragments(f)[0]!);
    expect(r.add(later)).toBe('accepted');
    expect(r.take()).toBeNull();
    expect(r.add(first!)).toBe('accepted');
    expect(r.take()).toBeNull();
    expect(r.add(second!)).toBe('accepted');
    expect(r.take()?.msgType).toBe(16);
    expect(r.take()?.msgType).toBe(20);
  });

  it('bounds what a peer can make it hold', () => {
    const r = new Reassembler({ nextSeq: 2, maxAhead: 4 });
    const frag = (seq: number, length: number, offset = 0, n = 10) => ({ msgType: 11, length, messageSeq: seq, fragmentOffset: offset, body: Buffer.alloc(n) });
    expect(r.add(frag(6, 100))).toBe('too-far');
    expect(r.add(frag(2, 1_000_000))).toBe('invalid');
    expect(r.add(frag(2, 100))).toBe('accepted');
    expect(r.add(frag(2, 200))).toBe('invalid'); // length changed
    expect(r.add(frag(2, 100, 95, 10))).toBe('invalid'); // past the end
    for (let s = 2; s < 6; s++) r.add(frag(s, 16384));
    expect(r.bufferedBytes).toBeLessThan(4 * (2 * 16384 + 12) + 1);
  });

  it('refuses malformed handshake headers', () => {
    expect(() => parseHandshakeFragments(Buffer.from([1, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 20]))).toThrow(); // fragment_length past the data
    expect(() => parseHandshakeFragments(Buffer.from([1, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 2, 9, 9]))).toThrow(); // offset+len > length
  });
});

describe('cookies (RFC 6347 §4.2.1)', () => {
  const fields = Buffer.from('client hello fields');

  it('verifies for the same address and fields only', () => {
    const jar = new CookieJar();
    const c = jar.issue('127.0.0.1', 5000, fields);
    expect(jar.verify('127.0.0.1', 5000, fields, c)).toBe(true);
    expect(jar.verify('127.0.0.1', 5001, fields, c)).toBe(false);
    expect(jar.verify('127.0.0.2', 5000, fields, c)).toBe(false);
    expect(jar.verify('127.0.0.1', 5000, Buffer.from('other'), c)).toBe(false);
    expect(jar.verify('127.0.0.1', 5000, fields, Buffer.alloc(c.length))).toBe(false);
    expect(jar.verify('127.0.0.1', 5000, fields, c.subarray(1))).toBe(false);
  });

  it('survives one rotation and expires after two', () => {
    let now = 0;
    const jar = new CookieJar({ rotateMs: 1000, now: () => now });
    const c = jar.issue('::1', 1, fields);
    now = 1500;
    expect(jar.verify('::1', 1, fields, c)).toBe(true);
    now = 3000;
    expect(jar.verify('::1', 1, fields, c)).toBe(false);
  });

  it('covers the ClientHello without its cookie, so the second hello verifies', () => {
    const hello = (cookie: Buffer): Buffer =>
      Buffer.concat([Buffer.from([0xfe, 0xfd]), Buffer.alloc(32, 9), Buffer.from([0]), Buffer.from([cookie.length]), cookie, Buffer.from([0, 2, 0xc0, 0xa8, 1, 0])]);
    const first = parseClientHello(hello(Buffer.alloc(0)));
    const jar = new CookieJar();
    const cookie = jar.issue('127.0.0.1', 9, first.cookieInput);
    const second = parseClientHello(hello(cookie));
    expect(second.cookie).toEqual(cookie);
    expect(jar.verify('127.0.0.1', 9, second.cookieInput, second.cookie)).toBe(true);
  });
});

describe('record parsing (RFC 6347 §4.1, §4.1.2.7)', () => {
  it('walks several records in one datagram and stops at a malformed one', () => {
    const a = encodeRecord(ContentType.handshake, DTLS12, 0, 1n, Buffer.from('aa'));
    const b = encodeRecord(ContentType.alert, DTLS12, 1, 2n ** 40n, Buffer.from([1, 0]));
    const parsed = parseDatagram(Buffer.concat([a, b]));
    expect(parsed.malformed).toBe(false);
    expect(parsed.records.map((r) => [r.type, r.epoch, r.seq])).toEqual([[22, 0, 1n], [21, 1, 2n ** 40n]]);
    const truncated = parseDatagram(Buffer.concat([a, b.subarray(0, b.length - 1)]));
    expect(truncated.malformed).toBe(true);
    expect(truncated.records).toHaveLength(1);
    expect(parseDatagram(Buffer.from([99, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).malformed).toBe(true);
    expect(parseDatagram(Buffer.from([22, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).malformed).toBe(true);
  });

  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const parsed = parseDatagram(Buffer.from(bytes));
      for (const r of parsed.records) {
        try {
          parseHandshakeFragments(r.fragment);
        } catch (err) {
          expect((err as Error).name).toBe('Error');
        }
      }
    }));
  });
});
