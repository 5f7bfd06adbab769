/**
 * A minimal MQTT client on a raw socket with mqtt-packet: it sends exactly the bytes a test
 * asks for (including malformed ones) and lets the test await each packet the server sends.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import mqttPacket, { type IConnackPacket, type IConnectPacket, type Packet } from 'mqtt-packet';

export class RawClient {
  readonly socket: Socket;
  readonly received: Packet[] = [];
  #waiters: Array<{ match: (p: Packet) => boolean; resolve: (p: Packet) => void }> = [];
  #closed = false;
  #closeWaiters: Array<() => void> = [];
  version: 3 | 4 | 5;

  private constructor(socket: Socket, version: 3 | 4 | 5) {
    this.socket = socket;
    this.version = version;
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on('packet', (p: Packet) => {
      const i = this.#waiters.findIndex((w) => w.match(p));
      if (i >= 0) {
        const [w] = this.#waiters.splice(i, 1);
        w!.resolve(p);
      } else this.received.push(p);
    });
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      for (const w of this.#closeWaiters) w();
    });
  }

  /** Rejects with 'connect timed out' when no SYN-ACK comes (a kernel-dropped SYN) within `connectTimeoutMs`. */
  static async tcp(port: number, version: 3 | 4 | 5 = 5, localAddress?: string, connectTimeoutMs = 5000): Promise<RawClient> {
    const socket = netConnect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('connect timed out'));
      }, connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    return new RawClient(socket, version);
  }

  static async tls(port: number, options: ConnectionOptions, version: 3 | 4 | 5 = 5): Promise<RawClient> {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, version);
  }

  /** Opens a connection and completes CONNECT/CONNACK; throws unless accepted. */
  static async connected(port: number, connect: Partial<IConnectPacket> & { clientId: string }, version: 3 | 4 | 5 = 5): Promise<RawClient> {
    const c = await RawClient.tcp(port, version);
    const ack = await c.connect(connect);
    const code = ack.cmd === 'connack' ? (ack.reasonCode ?? ack.returnCode ?? 0) : -1;
    if (code !== 0) throw new Error(`CONNACK ${code}`);
    return c;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async connect(p: Partial<IConnectPacket> & { clientId: string }): Promise<IConnackPacket> {
    this.send({ cmd: 'connect', protocolId: this.version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: this.version, clean: true, keepalive: 0, ...p });
    return this.next('connack');
  }

  send(p: Packet): void {
    this.socket.write(mqttPacket.generate(p, { protocolVersion: this.version }));
  }

  writeRaw(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Resolves with the next packet of that type (already received ones first). */
  next<C extends Packet['cmd']>(cmd: C, timeoutMs = 3000): Promise<Extract<Packet, { cmd: C }>> {
    return this.nextMatching((p) => p.cmd === cmd, timeoutMs, cmd) as Promise<Extract<Packet, { cmd: C }>>;
  }

  nextMatching(match: (p: Packet) => boolean, timeoutMs = 3000, what = 'packet'): Promise<Packet> {
    const i = this.received.findIndex(match);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (p: Packet) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}; received: ${this.received.map((p) => p.cmd).join(',')}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Asserts nothing of that type arrives within the window. */
  async nothing(cmd: Packet['cmd'], windowMs = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, windowMs));
    const p = this.received.find((x) => x.cmd === cmd);
    if (p) throw new Error(`unexpected ${cmd}: ${JSON.stringify(p)}`);
  }

  waitClosed(timeoutMs = 3000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs);
      this.#closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  end(): void {
    this.socket.end();
  }
}
