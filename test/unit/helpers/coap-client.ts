/** A minimal CoAP client on node:dgram for tests and the benchmark: raw messages, no magic. */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decode, encode, type CoapMessage, type CoapOption } from '../../../src/protocols/coap/codec.ts';
import { Code, MessageType, Option } from '../../../src/protocols/coap/constants.ts';

export class TestCoapClient {
  readonly socket: Socket;
  readonly received: CoapMessage[] = [];
  readonly raw: Buffer[] = [];
  #mid = 1;
  #waiters: Array<{ match: (m: CoapMessage) => boolean; resolve: (m: CoapMessage) => void }> = [];
  readonly #port: number;

  private constructor(socket: Socket, port: number) {
    this.socket = socket;
    this.#port = port;
    socket.on('message', (d) => {
      this.raw.push(d);
      const r = decode(d);
      if (r.kind !== 'message') return;
      const m = r.message;
      this.received.push(m);
      // Acknowledge separate responses and CON notifications (§5.2.2).
      if (m.type === MessageType.CON && this.autoAck) this.sendRaw(encode({ type: MessageType.ACK, code: 0, messageId: m.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }));
      for (const w of [...this.#waiters]) {
        if (w.match(m)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }

  autoAck = true;

  static async open(port: number): Promise<TestCoapClient> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    return new TestCoapClient(s, port);
  }

  sendRaw(d: Buffer): void {
    this.socket.send(d, this.#port, '127.0.0.1');
  }

  nextMid(): number {
    this.#mid = (this.#mid + 1) & 0xffff;
    return this.#mid;
  }

  /** Waits for the next message matching `match` (already received ones are not considered). */
  wait(match: (m: CoapMessage) => boolean, timeoutMs = 3000): Promise<CoapMessage> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no CoAP message in time')), timeoutMs);
      this.#waiters.push({ match, resolve: (m) => { clearTimeout(t); resolve(m); } });
    });
  }

  /** Sends a request and resolves with its response (piggybacked, or separate after an empty ACK). */
  async request(code: number, path: string, opts: { payload?: Buffer | string; options?: CoapOption[]; type?: MessageType; token?: Buffer; timeoutMs?: number } = {}): Promise<CoapMessage> {
    const token = opts.token ?? randomBytes(4);
    const options: CoapOption[] = path.split('/').filter((s) => s.length > 0).map((s) => ({ number: Option.URI_PATH, value: Buffer.from(s) }));
    options.push(...(opts.options ?? []));
    const payload = typeof opts.payload === 'string' ? Buffer.from(opts.payload) : opts.payload ?? Buffer.alloc(0);
    const p = this.wait((m) => m.code !== Code.EMPTY && m.token.equals(token), opts.timeoutMs);
    this.sendRaw(encode({ type: opts.type ?? MessageType.CON, code, messageId: this.nextMid(), token, options, payload }));
    return p;
  }

  close(): void {
    this.socket.close();
  }
}
