/**
 * A minimal MQTT 3.1.1 client over a raw socket: handshake frames are checked with mqtt-packet's
 * parser, PUBLISH/PUBACK go straight to callbacks with no per-packet objects.
 */
import net from 'node:net';
import tls from 'node:tls';
import { parser as mqttParser, type Packet, type QoS } from 'mqtt-packet';
import { FrameScanner, PUBACK, PUBLISH, connectPacket, subscribePacket, type Credentials } from './wire.ts';

export interface TlsClientOptions {
  /** Built once per identity (tls.createSecureContext) so a handshake does not re-parse PEM. */
  secureContext: tls.SecureContext;
}

export interface Endpoint {
  host: string;
  port: number;
  tls?: TlsClientOptions;
}

export interface ConnectOptions extends Credentials {
  clientId: string;
  keepalive?: number;
  timeoutMs?: number;
  noDelay?: boolean;
}

type Waiter = { type: number; resolve: (p: Packet) => void; reject: (e: Error) => void };

function decode(frame: Buffer): Packet {
  let out: Packet | undefined;
  const p = mqttParser({ protocolVersion: 4 });
  p.on('packet', (pk: Packet) => { out = pk; });
  p.on('error', () => undefined);
  p.parse(frame);
  if (out === undefined) throw new Error('undecodable control packet');
  return out;
}

/**
 * Plain TCP reads land in this one buffer (net `onread`), skipping the stream machinery and a
 * Buffer per read. Shared by every connection of the thread: each read is fully consumed (the
 * scanner copies any partial frame) before the next can arrive.
 */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export class RawMqttClient {
  readonly socket: net.Socket;
  /** Hot path: a PUBLISH frame (flags and body bounds inside `buf`). */
  onPublish: (buf: Buffer, flags: number, start: number, end: number) => void = () => undefined;
  onPuback: (id: number) => void = () => undefined;
  /** After each chunk has been scanned; a good place to flush batched acknowledgements. */
  onChunkEnd: () => void = () => undefined;
  private waiters: Waiter[] = [];
  private closedError: Error | null = null;

  private readonly scanner: FrameScanner;

  private constructor(socket: net.Socket, dataEvents: boolean) {
    this.socket = socket;
    this.scanner = new FrameScanner((type, flags, buf, start, end, frameStart) => {
      if (type === PUBLISH) this.onPublish(buf, flags, start, end);
      else if (type === PUBACK) this.onPuback(buf.readUInt16BE(start));
      else this.control(type, buf.subarray(frameStart, end));
    });
    if (dataEvents) socket.on('data', (chunk: Buffer) => this.feed(chunk));
    const fail = (e: Error): void => {
      this.closedError ??= e;
      for (const w of this.waiters.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  private feed(chunk: Buffer): void {
    this.scanner.push(chunk);
    this.onChunkEnd();
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  private control(type: number, frame: Buffer): void {
    const i = this.waiters.findIndex((w) => w.type === type);
    if (i < 0) return;
    const [w] = this.waiters.splice(i, 1);
    try {
      w!.resolve(decode(frame));
    } catch (e) {
      w!.reject(e as Error);
    }
  }

  private expect(type: number, timeoutMs: number): Promise<Packet> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    return new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timeout waiting for packet type ${type}`));
      }, timeoutMs);
      const waiter: Waiter = {
        type,
        resolve: (p) => { clearTimeout(timer); resolve(p); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      this.waiters.push(waiter);
    });
  }

  /** Opens the transport, sends CONNECT, and resolves after a successful CONNACK. */
  static async connect(ep: Endpoint, opts: ConnectOptions): Promise<RawMqttClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    // Reads only start after connect, by which time `client` is assigned.
    const onread = ep.tls === undefined
      ? { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array): boolean => { client.feed(Buffer.from(buf.buffer, buf.byteOffset, n)); return true; } }
      : undefined;
    const tcp = net.connect({ host: ep.host, port: ep.port, noDelay: opts.noDelay ?? true, onread });
    const socket = ep.tls !== undefined
      ? tls.connect({ socket: tcp, secureContext: ep.tls.secureContext, rejectUnauthorized: true, checkServerIdentity: () => undefined })
      : tcp;
    const client = new RawMqttClient(socket, ep.tls !== undefined);
    const connack = client.expect(2, timeoutMs);
    const ready = ep.tls !== undefined ? 'secureConnect' : 'connect';
    socket.once(ready, () => { socket.write(connectPacket(opts.clientId, opts.keepalive ?? 600, opts)); });
    try {
      const p = await connack;
      const code = p.cmd === 'connack' ? (p.returnCode ?? p.reasonCode ?? 0) : -1;
      if (code !== 0) throw new Error(`CONNACK refused: ${code}`);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    return client;
  }

  async subscribe(filter: string, qos: QoS, timeoutMs = 10_000): Promise<void> {
    const suback = this.expect(9, timeoutMs);
    this.socket.write(subscribePacket(filter, qos));
    const p = await suback;
    const granted = p.cmd === 'suback' ? p.granted[0] : undefined;
    if (granted === undefined || (typeof granted === 'number' && granted >= 0x80)) throw new Error(`SUBSCRIBE ${filter} refused: ${String(granted)}`);
  }

  /** Sends DISCONNECT and ends the socket; resolves when closed (or after `timeoutMs`). */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.socket.destroy(); resolve(); }, timeoutMs);
      this.socket.once('close', () => { clearTimeout(timer); resolve(); });
      this.socket.end(Buffer.from([0xe0, 0x00]));
    });
  }
}

