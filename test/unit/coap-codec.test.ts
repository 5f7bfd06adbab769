import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, readUint, uintOption, type CoapMessage } from '../../src/protocols/coap/codec.ts';
import { Code, MessageType } from '../../src/protocols/coap/constants.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('CoAP codec (RFC 7252 §3)', () => {
  it('decodes a CON GET with token, Uri-Path and extended option delta', () => {
    // 0x42: ver 1, CON, TKL 2; GET; mid 0x1234; token ab cd; Uri-Path "ps" (delta 11, len 2);
    // Uri-Path "t"; Observe? no - Request-Tag 292: delta 281 -> 14 ext (281-269=12) len 1 value 07.
    const buf = hex('42 01 1234 abcd b2 7073 01 74 e1 000c 07');
    const r = decode(buf);
    expect(r.kind).toBe('message');
    if (r.kind !== 'message') return;
    const m = r.message;
    expect(m.type).toBe(MessageType.CON);
    expect(m.code).toBe(Code.GET);
    expect(m.messageId).toBe(0x1234);
    expect(m.token.toString('hex')).toBe('abcd');
    expect(m.options.map((o) => [o.number, o.value.toString('hex')])).toEqual([[11, '7073'], [11, '74'], [292, '07']]);
    expect(m.payload.length).toBe(0);
    expect(encode(m).equals(buf)).toBe(true);
  });

  it('decodes the 13 extended delta and length forms and a payload', () => {
    // delta 13+4=17 (Accept), length 13+0=13 bytes
    const value = Buffer.alloc(13, 0x61);
    const buf = Buffer.concat([hex('50 02 0001 dd 04 00'), value, hex('ff 6869')]);
    const r = decode(buf);
    expect(r.kind).toBe('message');
    if (r.kind !== 'message') return;
    expect(r.message.type).toBe(MessageType.NON);
    expect(r.message.options[0]!.number).toBe(17);
    expect(r.message.options[0]!.value.equals(value)).toBe(true);
    expect(r.message.payload.toString()).toBe('hi');
    expect(encode(r.message).equals(buf)).toBe(true);
  });

  it('token length over 8 is a format error that keeps type and message id', () => {
    const r = decode(hex('49 01 beef 0102030405060708 09'));
    expect(r).toMatchObject({ kind: 'format-error', type: MessageType.CON, messageId: 0xbeef });
  });

  it.each([
    ['delta nibble 15', '40 01 0001 f1 00'],
    ['length nibble 15', '40 01 0001 1f'],
    ['payload marker with empty payload', '40 01 0001 ff'],
    ['truncated token', '44 01 0001 ab'],
    ['truncated option value', '40 01 0001 b3 6162'],
    ['truncated extended delta', '40 01 0001 d0'],
    ['truncated extended length', '40 01 0001 0e 01'],
    ['empty message with a token', '41 00 0001 aa'],
    ['option number over 65535', '40 01 0001 e0 ffff e0 ffff'],
  ])('%s is a format error', (_name, h) => {
    expect(decode(hex(h)).kind).toBe('format-error');
  });

  it('ignores datagrams shorter than a header or with another version', () => {
    expect(decode(hex('40 01 00')).kind).toBe('ignore');
    expect(decode(hex('80 01 0001')).kind).toBe('ignore');
  });

  it('every truncation of a valid message decodes without throwing, byte by byte', () => {
    const full = encode({ type: 0, code: 2, messageId: 7, token: hex('0102030405'), options: [{ number: 11, value: Buffer.from('ps') }, { number: 27, value: uintOption(0x1a) }, { number: 292, value: Buffer.alloc(300, 1) }], payload: Buffer.from('payload') });
    for (let n = 0; n <= full.length; n++) {
      const r = decode(full.subarray(0, n));
      if (n < 4) expect(r.kind).toBe('ignore');
      else expect(['message', 'format-error']).toContain(r.kind);
    }
    expect(decode(full).kind).toBe('message');
  });

  it('random bytes never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = decode(Buffer.from(bytes));
      expect(['message', 'format-error', 'ignore']).toContain(r.kind);
    }), { numRuns: 2000 });
  });

  it('round-trips any message (fast-check)', () => {
    const option = fc.record({ number: fc.integer({ min: 0, max: 2000 }), value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) });
    const message = fc.record({
      type: fc.constantFrom<CoapMessage['type']>(0, 1, 2, 3),
      code: fc.integer({ min: 1, max: 255 }),
      messageId: fc.integer({ min: 0, max: 0xffff }),
      token: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
      options: fc.array(option, { maxLength: 8 }).map((os) => [...os].sort((a, b) => a.number - b.number)),
      payload: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    });
    fc.assert(fc.property(message, (m) => {
      const r = decode(encode(m));
      expect(r.kind).toBe('message');
      if (r.kind !== 'message') return;
      expect(r.message.type).toBe(m.type);
      expect(r.message.code).toBe(m.code);
      expect(r.message.messageId).toBe(m.messageId);
      expect(r.message.token.equals(m.token)).toBe(true);
      expect(r.message.options.map((o) => [o.number, o.value.toString('hex')])).toEqual(m.options.map((o) => [o.number, o.value.toString('hex')]));
      expect(r.message.payload.equals(m.payload)).toBe(true);
    }), { numRuns: 500 });
  });

  it('uint options use the shortest form (§3.2)', () => {
    expect(uintOption(0).length).toBe(0);
    expect(uintOption(255).toString('hex')).toBe('ff');
    expect(uintOption(256).toString('hex')).toBe('0100');
    expect(readUint(uintOption(0x123456))).toBe(0x123456);
  });
});
