/**
 * The Block1/Block2 option value (RFC 7959 §2.2): NUM (4, 12 or 20 bits), M (1 bit) and SZX
 * (3 bits, block size 2^(SZX+4)); SZX 7 is reserved (BERT, only over reliable transports).
 */
import { readUint, uintOption } from './codec.ts';

export interface BlockValue {
  num: number;
  more: boolean;
  szx: number;
}

export function parseBlock(value: Buffer): BlockValue | null {
  if (value.length > 3) return null;
  const n = readUint(value);
  const szx = n & 7;
  if (szx === 7) return null;
  return { num: n >>> 4, more: (n & 8) !== 0, szx };
}

export function blockOption(b: BlockValue): Buffer {
  return uintOption(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}

export function blockSize(szx: number): number {
  return 16 << szx;
}

/** The largest SZX whose block size is at most `bytes` (16..1024). */
export function szxFor(bytes: number): number {
  let szx = 0;
  while (szx < 6 && blockSize(szx + 1) <= bytes) szx++;
  return szx;
}
