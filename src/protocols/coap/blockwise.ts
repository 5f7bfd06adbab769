/**
 * Blockwise transfers (RFC 7959) as a layer between the message layer and the resources.
 *
 * Block1 (request bodies): blocks are reassembled per (peer, method, path, Request-Tag), NOT per
 * token: RFC 7959 §2.4 lets a client use a new token for each block (libcoap does), and
 * RFC 9175 §3 makes the Request-Tag the way to tell concurrent bodies apart. 2.31 Continue
 * acknowledges each non-final block (§2.3); a block out of sequence is 4.08 Request Entity
 * Incomplete (§2.9.2); a body over the limit is 4.13 with Size1 (§2.9.3, §4). Buffers are
 * bounded in number (total and per peer) and expire.
 *
 * Block2 (response bodies): a response larger than the block size the client asked for (or
 * our 1024-byte default) is sliced; later blocks re-run the request (stateless server,
 * §2.4) and carry an ETag so the client can notice a change between blocks.
 */
import { createHash } from 'node:crypto';
import { Code, Option } from './constants.ts';
import { firstOption, uintOption, type CoapMessage, type CoapOption } from './codec.ts';
import { blockOption, blockSize, parseBlock, szxFor } from './block.ts';
import type { CoapResponse, IncomingRequest, RequestHandler } from './endpoint.ts';

export interface BlockwiseOptions {
  /** Largest request body accepted, bytes (Block1 reassembled or not). */
  maxBodySize: number;
  /** Block size we prefer for Block2 (16..1024). */
  preferredBlockSize: number;
  maxReassemblies: number;
  maxReassembliesPerPeer: number;
  reassemblyTimeoutMs: number;
  onRejected?: (req: IncomingRequest, reason: string) => void;
}

interface Reassembly {
  key: string;
  peerKey: string;
  chunks: Buffer[];
  size: number;
  expiresAt: number;
}

const EMPTY = Buffer.alloc(0);

function withoutOptions(m: CoapMessage, numbers: readonly number[], payload: Buffer): CoapMessage {
  return { ...m, options: m.options.filter((o) => !numbers.includes(o.number)), payload };
}

function addOptions(res: CoapResponse, extra: CoapOption[]): CoapResponse {
  return { ...res, options: [...(res.options ?? []), ...extra] };
}

export class Blockwise {
  readonly #opts: BlockwiseOptions;
  readonly #buffers = new Map<string, Reassembly>();

  constructor(opts: BlockwiseOptions) {
    this.#opts = opts;
  }

  get reassemblies(): number {
    return this.#buffers.size;
  }

  wrap(inner: RequestHandler): RequestHandler {
    return async (req) => {
      const m = req.message;
      const b1raw = firstOption(m, Option.BLOCK1);
      const b2raw = firstOption(m, Option.BLOCK2);
      const block2 = b2raw === undefined ? null : parseBlock(b2raw);
      if ((b1raw !== undefined && parseBlock(b1raw) === null) || (b2raw !== undefined && block2 === null)) {
        return { code: Code.BAD_OPTION };
      }
      if (b1raw === undefined && b2raw === undefined) {
        // The common case: one datagram each way; only a large response needs slicing.
        if (m.payload.length > this.#opts.maxBodySize) return this.#tooLarge(req, m.payload.length);
        const plain = await inner(req);
        const size = this.#opts.preferredBlockSize;
        return plain.payload !== undefined && plain.payload.length > size ? Blockwise.sliceResponse(plain, 0, szxFor(size)) : plain;
      }
      let res: CoapResponse;
      if (b1raw !== undefined) {
        res = await this.#block1(req, inner);
      } else {
        if (m.payload.length > this.#opts.maxBodySize) return this.#tooLarge(req, m.payload.length);
        // A later Block2 of an observed resource is a plain GET (RFC 7959 §2.6).
        const strip = block2 !== null && block2.num > 0 ? [Option.OBSERVE, Option.BLOCK2] : [Option.BLOCK2];
        res = await inner({ peer: req.peer, message: withoutOptions(m, strip, m.payload) });
      }
      return Blockwise.sliceResponse(res, block2?.num ?? 0, block2 === null ? szxFor(this.#opts.preferredBlockSize) : Math.min(block2.szx, szxFor(this.#opts.preferredBlockSize)));
    };
  }

  /** Slices a response body into block `num` of size 2^(szx+4) when it does not fit one block. */
  static sliceResponse(res: CoapResponse, num: number, szx: number): CoapResponse {
    const payload = res.payload ?? EMPTY;
    const size = blockSize(szx);
    if (payload.length <= size && num === 0) return res;
    const offset = num * size;
    if (offset >= payload.length && !(offset === 0 && payload.length === 0)) return { code: Code.BAD_OPTION };
    const chunk = payload.subarray(offset, offset + size);
    const more = offset + chunk.length < payload.length;
    const etag = createHash('sha256').update(payload).digest().subarray(0, 4);
    const extra: CoapOption[] = [{ number: Option.BLOCK2, value: blockOption({ num, more, szx }) }, { number: Option.ETAG, value: etag }];
    if (num === 0) extra.push({ number: Option.SIZE2, value: uintOption(payload.length) });
    return { ...addOptions(res, extra), payload: chunk };
  }

  async #block1(req: IncomingRequest, inner: RequestHandler): Promise<CoapResponse> {
    const m = req.message;
    const b1 = parseBlock(firstOption(m, Option.BLOCK1)!)!;
    const size = blockSize(b1.szx);
    const size1 = firstOption(m, Option.SIZE1);
    const now = Date.now();
    this.#sweep(now);
    // §4: a Size1 announcing a body over the limit is refused before any block is kept.
    if (size1 !== undefined && size1.length > 0 && size1.readUIntBE(0, Math.min(size1.length, 6)) > this.#opts.maxBodySize) return this.#tooLarge(req, size1.readUIntBE(0, Math.min(size1.length, 6)));
    // Every block but the last is exactly the block size (§2.2).
    if (b1.more && m.payload.length !== size) return { code: Code.BAD_REQUEST };
    const path = m.options.filter((o) => o.number === Option.URI_PATH || o.number === Option.URI_QUERY).map((o) => `${o.number}=${o.value.toString('hex')}`).join('/');
    const tag = firstOption(m, Option.REQUEST_TAG)?.toString('hex') ?? '-';
    const key = `${req.peer.key}|${m.code}|${path}|${tag}`;
    let r = this.#buffers.get(key);
    if (b1.num === 0) {
      if (r) this.#buffers.delete(key);
      r = undefined;
      if (b1.more) {
        if (!this.#admit(req.peer.key)) {
          this.#opts.onRejected?.(req, 'too many blockwise transfers');
          return { code: Code.SERVICE_UNAVAILABLE, options: [{ number: Option.MAX_AGE, value: uintOption(5) }] };
        }
        r = { key, peerKey: req.peer.key, chunks: [], size: 0, expiresAt: now + this.#opts.reassemblyTimeoutMs };
        this.#buffers.set(key, r);
      }
    } else if (r?.size !== b1.num * size) {
      // §2.9.2: a block we cannot place after what we hold.
      this.#opts.onRejected?.(req, 'block out of sequence');
      if (r) this.#buffers.delete(key);
      return { code: Code.REQUEST_ENTITY_INCOMPLETE };
    }
    const total = (r?.size ?? 0) + m.payload.length;
    if (total > this.#opts.maxBodySize) {
      this.#buffers.delete(key);
      return this.#tooLarge(req, total);
    }
    if (b1.more && r) {
      r.chunks.push(Buffer.from(m.payload));
      r.size = total;
      r.expiresAt = now + this.#opts.reassemblyTimeoutMs;
      // §2.3: 2.31 Continue acknowledges the block; the client sends the next one.
      return { code: Code.CONTINUE, options: [{ number: Option.BLOCK1, value: blockOption({ num: b1.num, more: true, szx: b1.szx }) }] };
    }
    const body = r ? Buffer.concat([...r.chunks, m.payload]) : m.payload;
    this.#buffers.delete(key);
    const res = await inner({ peer: req.peer, message: withoutOptions(m, [Option.BLOCK1, Option.SIZE1, Option.REQUEST_TAG], body) });
    return addOptions(res, [{ number: Option.BLOCK1, value: blockOption({ num: b1.num, more: false, szx: b1.szx }) }]);
  }

  #tooLarge(req: IncomingRequest, size: number): CoapResponse {
    this.#opts.onRejected?.(req, `request body of ${size} bytes over the limit`);
    return { code: Code.REQUEST_ENTITY_TOO_LARGE, options: [{ number: Option.SIZE1, value: uintOption(this.#opts.maxBodySize) }] };
  }

  #admit(peerKey: string): boolean {
    if (this.#buffers.size >= this.#opts.maxReassemblies) return false;
    let n = 0;
    for (const r of this.#buffers.values()) if (r.peerKey === peerKey) n++;
    return n < this.#opts.maxReassembliesPerPeer;
  }

  #sweep(now: number): void {
    for (const [k, r] of this.#buffers) if (r.expiresAt <= now) this.#buffers.delete(k);
  }
}
