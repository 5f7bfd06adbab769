/** A bounds-checked cursor over a handshake body: every read past the end throws DecodeError, which the handshake maps to a decode_error alert. */
export class DecodeError extends Error {}

export class Reader {
  readonly #buf: Buffer;
  #offset = 0;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  get remaining(): number {
    return this.#buf.length - this.#offset;
  }

  get offset(): number {
    return this.#offset;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.#offset + n > this.#buf.length) throw new DecodeError('truncated');
    const out = this.#buf.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  u8(): number {
    return this.bytes(1)[0]!;
  }

  u16(): number {
    return this.bytes(2).readUInt16BE(0);
  }

  u24(): number {
    return this.bytes(3).readUIntBE(0, 3);
  }

  vec8(): Buffer {
    return this.bytes(this.u8());
  }

  vec16(): Buffer {
    return this.bytes(this.u16());
  }

  vec24(): Buffer {
    return this.bytes(this.u24());
  }

  end(): void {
    if (this.remaining !== 0) throw new DecodeError('trailing bytes');
  }
}

export function u8(n: number): Buffer {
  return Buffer.from([n]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}

export function vec8(body: Buffer): Buffer {
  return Buffer.concat([u8(body.length), body]);
}

export function vec16(body: Buffer): Buffer {
  return Buffer.concat([u16(body.length), body]);
}

export function vec24(body: Buffer): Buffer {
  return Buffer.concat([u24(body.length), body]);
}
