/**
 * MQTT.js helpers for the interop tier: every connect, subscribe, publish and wait is bounded,
 * every client is tracked for afterAll, and received messages are collected from the moment
 * the client is created (so nothing sent right after CONNACK is missed).
 */
import { connect, type IClientOptions, type IClientPublishOptions, type IClientSubscribeOptions, type IConnackPacket, type IDisconnectPacket, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import { generate, parser, type IConnectPacket as WireConnect, type Parser } from 'mqtt-packet';
import { connect as connectSocket, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from './harness.ts';

export const WAIT_MS = 5_000;

const clients = new Set<MqttClient>();

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
  at: number;
}

/** Messages a client received, with bounded waits over them. */
export class Inbox {
  readonly messages: Received[] = [];
  #waiters = new Set<() => void>();

  readonly #packets: readonly Packet[];

  /** `packets` (all packets the client received) is summarised in timeout errors. */
  constructor(client: MqttClient, packets: readonly Packet[] = []) {
    this.#packets = packets;
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet, at: Date.now() });
      for (const w of this.#waiters) w();
    });
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Waits until `n` received messages match `pred`; rejects on timeout listing what did arrive. */
  waitForCount(pred: (m: Received) => boolean, n: number, timeoutMs = WAIT_MS, what = `${n} message(s)`): Promise<Received[]> {
    return new Promise((res, rej) => {
      const check = (): boolean => {
        const hits = this.messages.filter(pred);
        if (hits.length >= n) {
          cleanup();
          res(hits);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        const got = this.messages.map((m) => `${m.topic}=${m.payload.toString()}(qos${m.packet.qos}${m.packet.retain ? ',retain' : ''})`);
        const wire = this.#packets.map((p) => (p.cmd === 'publish' ? `publish(${p.topic},qos${p.qos}${p.dup ? ',dup' : ''})` : p.cmd));
        rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${this.messages.length}: ${got.join(', ') || '(none)'}; packets on the wire: ${wire.join(' ') || '(none)'}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  async waitFor(pred: (m: Received) => boolean, timeoutMs = WAIT_MS, what = 'a message'): Promise<Received> {
    const [first] = await this.waitForCount(pred, 1, timeoutMs, what);
    return first!;
  }

  waitForTopic(topic: string, timeoutMs = WAIT_MS): Promise<Received> {
    return this.waitFor((m) => m.topic === topic, timeoutMs, `a message on ${topic}`);
  }

  waitForPayload(topic: string, payload: string, timeoutMs = WAIT_MS): Promise<Received> {
    return this.waitFor((m) => m.topic === topic && m.payload.toString() === payload, timeoutMs, `${payload} on ${topic}`);
  }

  clear(): void {
    this.messages.length = 0;
  }
}

export interface Conn {
  client: MqttClient;
  inbox: Inbox;
  connack: IConnackPacket;
  /** Every packet the client received, in order. */
  packets: Packet[];
  /** DISCONNECT packets sent by the server (v5). */
  disconnects: IDisconnectPacket[];
  /** Resolves when the underlying connection closes. */
  closed: Promise<void>;
  isClosed: () => boolean;
}

function baseOptions(opts: IClientOptions): IClientOptions {
  return { reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 30, ...opts };
}

/** Connects and resolves with the CONNACK; rejects with the client's error if refused. */
export async function open(url: string, opts: IClientOptions, timeoutMs = 10_000): Promise<Conn> {
  const client = connect(url, baseOptions(opts));
  clients.add(client);
  const packets: Packet[] = [];
  const inbox = new Inbox(client, packets);
  const disconnects: IDisconnectPacket[] = [];
  let isClosed = false;
  client.on('packetreceive', (p) => packets.push(p));
  client.on('disconnect', (p) => disconnects.push(p));
  // Swallow later errors (e.g. a takeover); tests assert on close/disconnect instead.
  client.on('error', () => undefined);
  const closed = new Promise<void>((res) => {
    client.once('close', () => {
      isClosed = true;
      res();
    });
  });
  const connected = new Promise<IConnackPacket>((res, rej) => {
    const onConnect = (ack: IConnackPacket): void => {
      client.off('error', onError);
      res(ack);
    };
    const onError = (err: Error): void => {
      client.off('connect', onConnect);
      rej(err);
    };
    client.once('connect', onConnect);
    client.once('error', onError);
    void closed.then(() => rej(new Error(`connection to ${url} closed before CONNACK`)));
  });
  try {
    const connack = await withTimeout(connected, timeoutMs, `CONNACK from ${url}`);
    return { client, inbox, connack, packets, disconnects, closed, isClosed: () => isClosed };
  } catch (err) {
    client.end(true);
    clients.delete(client);
    throw err;
  }
}

export interface Refusal {
  /** MQTT.js error; `code` is the CONNACK reason/return code when the broker answered. */
  error: Error & { code?: number | string };
  /** The CONNACK packet, if one arrived. */
  connack: IConnackPacket | undefined;
}

/** Connects expecting a refusal (CONNACK error code, TLS failure or close); rejects if accepted. */
export async function refused(url: string, opts: IClientOptions, timeoutMs = 10_000): Promise<Refusal> {
  const client = connect(url, baseOptions(opts));
  clients.add(client);
  let connack: IConnackPacket | undefined;
  client.on('packetreceive', (p) => {
    if (p.cmd === 'connack') connack = p;
  });
  const outcome = new Promise<Refusal>((res, rej) => {
    client.once('connect', (ack) => rej(new Error(`expected the connection to be refused, but got CONNACK ${JSON.stringify(ack)}`)));
    client.once('error', (error: Error & { code?: number | string }) => res({ error, connack }));
    client.once('close', () => res({ error: new Error('closed without CONNACK'), connack }));
  });
  try {
    return await withTimeout(outcome, timeoutMs, `refusal from ${url}`);
  } finally {
    client.end(true);
    clients.delete(client);
  }
}

/** SUBSCRIBE and resolve with the SUBACK's return/reason codes, whether granted or not. */
export function subscribeCodes(client: MqttClient, subs: Record<string, IClientSubscribeOptions>, properties?: IClientSubscribeOptions['properties'], timeoutMs = WAIT_MS): Promise<number[]> {
  const p = new Promise<number[]>((res, rej) => {
    const opts = properties ? { properties } : {};
    client.subscribe(subs, opts as IClientSubscribeOptions, (err, _granted, packet) => {
      const withPacket = err as (Error & { packet?: { granted?: number[] } }) | null | undefined;
      const granted = (packet?.granted ?? withPacket?.packet?.granted) as unknown[] | undefined;
      // On the wire SUBACK carries one number per filter; anything else is a decoding surprise.
      if (granted) res(granted.map((g) => (typeof g === 'number' ? g : Number.NaN)));
      else rej(err ?? new Error('SUBACK without codes'));
    });
  });
  return withTimeout(p, timeoutMs, `SUBACK for ${Object.keys(subs).join(', ')}`);
}

/** Subscribe and require every filter granted (code < 0x80). */
export async function subscribeOk(client: MqttClient, subs: Record<string, IClientSubscribeOptions> | string, qos: 0 | 1 | 2 = 2): Promise<number[]> {
  const map = typeof subs === 'string' ? { [subs]: { qos } } : subs;
  const codes = await subscribeCodes(client, map);
  const bad = codes.filter((c) => c >= 0x80);
  if (bad.length > 0) throw new Error(`SUBSCRIBE ${JSON.stringify(map)} refused: SUBACK codes ${JSON.stringify(codes)}`);
  return codes;
}

/** Publish and wait for the QoS flow to finish (PUBACK / PUBCOMP), bounded. */
export function publish(client: MqttClient, topic: string, payload: string | Buffer, opts: IClientPublishOptions = {}, timeoutMs = WAIT_MS): Promise<Packet | undefined> {
  return withTimeout(client.publishAsync(topic, payload, opts), timeoutMs, `publish to ${topic} (qos ${opts.qos ?? 0}) to complete`);
}

/** The acknowledgement (PUBACK for QoS 1, PUBCOMP for QoS 2) the broker sent for a publication. */
export function ackOf(conn: Conn, sent: Packet | undefined): Packet | undefined {
  // MQTT.js hands back the stored packet: the PUBLISH for QoS 1, the PUBREL for QoS 2.
  const id = sent && (sent.cmd === 'publish' || sent.cmd === 'pubrel') ? sent.messageId : undefined;
  if (id === undefined) return undefined;
  for (let i = conn.packets.length - 1; i >= 0; i--) {
    const p = conn.packets[i]!;
    if ((p.cmd === 'puback' || p.cmd === 'pubcomp') && p.messageId === id) return p;
  }
  return undefined;
}

/** Clean DISCONNECT, bounded; forces the socket closed if the broker does not let go. */
export async function close(client: MqttClient | Conn | undefined): Promise<void> {
  if (!client) return;
  const c = 'client' in client ? client.client : client;
  clients.delete(c);
  if (c.disconnected && !c.connected) {
    c.end(true);
    return;
  }
  try {
    await withTimeout(c.endAsync(), 3_000, 'client end');
  } catch {
    c.end(true);
  }
}

/** Destroys the socket without DISCONNECT (what a crashed device looks like to the broker). */
export function crash(conn: Conn): void {
  conn.client.stream.destroy();
}

export async function closeAllClients(): Promise<void> {
  destroyRawClients();
  const all = [...clients];
  clients.clear();
  for (const c of all) c.end(true);
  await sleep(10);
}

/** Asserts nothing matching `pred` arrives in the window (used only after a positive sentinel). */
export async function quietFor(inbox: Inbox, pred: (m: Received) => boolean, ms: number): Promise<Received[]> {
  await sleep(ms);
  return inbox.messages.filter(pred);
}

/**
 * A bare MQTT connection over a real socket (mqtt-packet codec), for flows MQTT.js will not
 * produce on purpose: retransmitted QoS 2 PUBLISH, withheld acknowledgements, silence.
 */
export class RawClient {
  readonly socket: Socket;
  readonly received: Packet[] = [];
  #parser: Parser;
  #waiters = new Set<() => void>();
  /** Packets already handed out by next(). */
  #cursor = new Set<Packet>();
  #closed = false;
  readonly version: 4 | 5;

  private constructor(socket: Socket, version: 4 | 5) {
    this.socket = socket;
    this.version = version;
    this.#parser = parser({ protocolVersion: version });
    this.#parser.on('packet', (p: Packet) => {
      this.received.push(p);
      this.#wake();
    });
    this.#parser.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => this.#parser.parse(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  static async connect(host: string, port: number, connectPacket: Omit<WireConnect, 'cmd'>, timeoutMs = 5_000): Promise<{ raw: RawClient; connack: IConnackPacket }> {
    const socket = connectSocket(port, host);
    rawSockets.add(socket);
    socket.once('close', () => rawSockets.delete(socket));
    await withTimeout(new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej)), timeoutMs, `TCP connect to ${host}:${port}`);
    const version = connectPacket.protocolVersion === 5 ? 5 : 4;
    const raw = new RawClient(socket, version);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', ...connectPacket });
    const connack = (await raw.next('connack', timeoutMs)) as IConnackPacket;
    return { raw, connack };
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet, { protocolVersion: this.version }));
  }

  /** The first received packet of `cmd` not yet returned by next() (optionally matching). */
  next(cmd: Packet['cmd'], timeoutMs = 5_000, match: (p: Packet) => boolean = () => true): Promise<Packet> {
    return new Promise((res, rej) => {
      const check = (): void => {
        const hit = this.received.find((p) => p.cmd === cmd && !this.#cursor.has(p) && match(p));
        if (hit) {
          this.#cursor.add(hit);
          cleanup();
          res(hit);
        } else if (this.#closed) {
          cleanup();
          rej(new Error(`connection closed while waiting for ${cmd}; received: ${this.received.map((p) => p.cmd).join(' ')}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        rej(new Error(`timed out after ${timeoutMs} ms waiting for ${cmd}; received: ${this.received.map((p) => p.cmd).join(' ') || '(nothing)'}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  count(cmd: Packet['cmd']): number {
    return this.received.filter((p) => p.cmd === cmd).length;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const rawSockets = new Set<Socket>();

export function destroyRawClients(): void {
  for (const s of rawSockets) s.destroy();
  rawSockets.clear();
}
