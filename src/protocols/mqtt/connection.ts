/**
 * One MQTT network connection (TCP, TLS or WebSocket stream): framing, parsing, dispatch to
 * one handler per packet type, and the write path with coalescing and backpressure.
 *
 * Why our own broker core and not Aedes: Aedes does not speak MQTT 5 and its default
 * authenticate hook admits everyone; we need both, and the zero-trust pipeline in the middle.
 */
import type { Duplex } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { PeerCertificateIdentity } from '../../core/identity/authenticator.ts';
import type { DevicePrincipal } from '../../core/identity/principal.ts';
import type { Delivery } from '../../core/messaging/message.ts';
import type { DeliverySink, Session } from '../../core/messaging/session.ts';
import type { CompiledPolicy } from '../../core/policy/minimal-policy.ts';
import type { Severity } from '../../core/ports.ts';
import type { HandlerContext, ListenerSettings, MqttServices } from './context.ts';
import { Framer, bodyStart } from './framer.ts';
import { dispatch } from './handlers/dispatch.ts';
import { encodePublish } from './encode-publish.ts';
import { checkPacket } from './validate-packet.ts';
import { decodeFast, encodePuback } from './fast-decode.ts';
import { RC, V3 } from './reason-codes.ts';
import { formatSource } from '../../core/policy/cidr.ts';

type State = 'awaiting-connect' | 'connecting' | 'connected' | 'closed';

export interface ConnectionHooks {
  onClose(conn: MqttConnection): void;
}

export class MqttConnection implements HandlerContext, DeliverySink {
  readonly services: MqttServices;
  readonly listener: ListenerSettings;
  readonly remote: string;
  readonly remoteAddress: string;
  readonly peerCertificate: PeerCertificateIdentity | null;
  version: 3 | 4 | 5 = 4;
  session: Session | null = null;
  principal: DevicePrincipal | null = null;
  policy: CompiledPolicy | null = null;
  clientId = '';
  keepAliveSeconds = 0;
  clientReceiveMaximum = 65_535;
  clientMaxPacketSize = 268_435_455;
  clientTopicAliasMaximum = 0;
  readonly inboundAliases = new Map<number, string>();
  readonly outboundAliases = new Map<string, number>();
  unackedInbound = 0;
  /** Set by DISCONNECT handling: whether the will is published and a new session expiry. */
  closeIntent: { publishWill: boolean; expiryInterval?: number } | null = null;
  /** Run once when the transport closes (queue consumers hand back their leases). */
  readonly closeListeners: Array<() => void> = [];

  readonly #stream: Duplex;
  readonly #framer: Framer;
  readonly #parser = mqttPacket.parser();
  readonly #hooks: ConnectionHooks;
  readonly #openedAt = Date.now();
  #state: State = 'awaiting-connect';
  #parsed: Packet[] = [];
  #parseError: Error | null = null;
  #lastActivity = Date.now();
  /** Set while the sender is over its rate limit: nothing is read or processed until it fires. */
  #throttleTimer: NodeJS.Timeout | null = null;
  #slowSince: number | null = null;
  #corked = false;

  constructor(stream: Duplex, init: { services: MqttServices; listener: ListenerSettings; remoteAddress: string; remotePort: number; peerCertificate: PeerCertificateIdentity | null; hooks: ConnectionHooks }) {
    this.#stream = stream;
    this.services = init.services;
    this.listener = init.listener;
    this.remoteAddress = init.remoteAddress;
    this.remote = formatSource(init.remoteAddress, init.remotePort);
    this.peerCertificate = init.peerCertificate;
    this.#hooks = init.hooks;
    this.#framer = new Framer(init.services.limits.maxPacketSize);
    this.#parser.on('packet', (p: Packet) => this.#parsed.push(p));
    this.#parser.on('error', (err: Error) => {
      this.#parseError = err;
    });
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('drain', () => {
      this.#slowSince = null;
      this.session?.pump();
    });
    stream.on('error', () => this.#stream.destroy());
    stream.on('close', () => this.#onClose());
  }

  get state(): State {
    return this.#state;
  }

  /** Bytes written to the transport and not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.#stream.writableLength;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  get sendQuota(): number {
    return this.clientReceiveMaximum;
  }

  writable(): boolean {
    // 'connecting' counts: the session is attached right after the CONNACK is written.
    return (this.#state === 'connected' || this.#state === 'connecting') && this.#stream.writableLength < this.services.limits.maxWriteBufferBytes;
  }

  /** Called by the registry's sweeper; enforces pre-auth, keep-alive and drain timeouts. */
  tick(now: number): void {
    const limits = this.services.limits;
    if ((this.#state === 'awaiting-connect' || this.#state === 'connecting') && now - this.#openedAt > limits.preAuthTimeoutMs) {
      this.record('mqtt.preauth_timeout', 'warning', { afterMs: now - this.#openedAt });
      this.close();
      return;
    }
    // [MQTT-3.1.2-22] one and a half times the keep alive without a packet ends the connection.
    if (this.#state === 'connected' && this.keepAliveSeconds > 0 && now - this.#lastActivity > this.keepAliveSeconds * 1500) {
      this.fail(RC.KEEP_ALIVE_TIMEOUT, 'keep alive timeout', 'info');
      return;
    }
    if (this.#slowSince !== null && now - this.#slowSince > limits.drainTimeoutMs) {
      this.record('mqtt.slow_consumer', 'warning', { bufferedBytes: this.#stream.writableLength });
      this.#slowSince = null;
      this.#stream.destroy();
    }
  }

  send(packet: Packet): void {
    if (packet.cmd === 'puback' && this.version !== 5 && packet.messageId !== undefined) {
      this.#write(encodePuback(packet.messageId));
      return;
    }
    this.#write(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  sendPublish(delivery: Delivery, packetId: number | null, dup: boolean): void {
    let frame: Buffer | null;
    try {
      frame = encodePublish(this, delivery, packetId, dup);
    } catch (err) {
      // An unencodable message is dropped for this client rather than thrown into the router.
      this.record('mqtt.encode_error', 'critical', { topic: delivery.message.topic, error: err instanceof Error ? err.message : String(err) });
      frame = null;
    }
    if (frame === null) {
      // Too large for the client's Maximum Packet Size, or expired: dropped [MQTT-3.1.2-25].
      if (packetId !== null) queueMicrotask(() => this.session?.complete(packetId));
      return;
    }
    this.#write(frame);
  }

  sendPubrel(packetId: number): void {
    this.send({ cmd: 'pubrel', messageId: packetId });
  }

  evict(reason: 'takeover' | 'administrative'): void {
    this.session = null;
    this.fail(reason === 'takeover' ? RC.SESSION_TAKEN_OVER : RC.ADMINISTRATIVE_ACTION, reason, 'info');
  }

  fail(reasonCode: number, why: string, severity: Severity = 'warning'): void {
    if (this.#state === 'closed') return;
    if (severity !== 'info' || reasonCode !== RC.KEEP_ALIVE_TIMEOUT) this.record('mqtt.disconnect', severity, { reasonCode, why });
    // [MQTT-4.13.1-1] v5 may say why before closing; 3.1.1 has no server DISCONNECT.
    if (this.version === 5 && this.#state === 'connected') this.send({ cmd: 'disconnect', reasonCode });
    this.close();
  }

  /** Refuses a CONNECT: CONNACK with the code, then close [MQTT-3.2.2-6]. */
  refuse(code: number, why: string, detail: Record<string, unknown> = {}): void {
    this.record('mqtt.connect_refused', 'warning', { ...detail, reasonCode: code, why });
    if (this.version === 5) this.send({ cmd: 'connack', sessionPresent: false, reasonCode: code });
    else this.send({ cmd: 'connack', sessionPresent: false, returnCode: code });
    this.close();
  }

  record(type: string, severity: Severity, detail: Record<string, unknown> = {}): void {
    this.services.events.record(type, severity, { principal: this.principal?.id ?? null, source: this.remote, detail: { listener: this.listener.name, clientId: this.clientId || undefined, ...detail } });
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#uncork();
    this.#stream.end();
    // A peer that never reads would keep the socket open: give the FIN a moment, then destroy.
    setTimeout(() => this.#stream.destroy(), 1000).unref();
  }

  /**
   * Stops reading from this client for `ms` (issue 5: over its rate limit). TCP flow control then
   * slows the sender; frames already buffered wait as well. Keep-alive counts from the resume.
   */
  throttle(ms: number): void {
    if (this.#throttleTimer !== null || this.#state !== 'connected') return;
    this.#stream.pause();
    this.#throttleTimer = setTimeout(() => {
      this.#throttleTimer = null;
      if (this.#state !== 'connected') return;
      this.#lastActivity = Date.now();
      this.#stream.resume();
      this.#processFrames();
    }, ms);
  }

  get throttled(): boolean {
    return this.#throttleTimer !== null;
  }

  /** Marks the connection accepted; frames that arrived during CONNECT processing run now. */
  accepted(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'connected';
    this.#stream.resume();
    this.#processFrames();
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#lastActivity = Date.now();
    this.#framer.push(chunk);
    this.#processFrames();
  }

  #processFrames(): void {
    while ((this.#state === 'awaiting-connect' || this.#state === 'connected') && this.#throttleTimer === null) {
      const r = this.#framer.next();
      if (r.kind === 'need-more') return;
      if (r.kind === 'too-large') {
        this.record('mqtt.packet_too_large', 'warning', { length: r.length });
        if (this.#state === 'awaiting-connect') this.close();
        else this.fail(RC.PACKET_TOO_LARGE, 'packet too large');
        return;
      }
      if (r.kind === 'malformed') {
        this.#malformed('bad remaining length');
        return;
      }
      this.#handleFrame(r.frame);
    }
  }

  #handleFrame(frame: Buffer): void {
    let err: Error | null;
    let packets: Packet[];
    const fast = this.#state === 'connected' ? decodeFast(frame, this.version) : null;
    if (fast === null) {
      this.#parser.parse(frame);
      err = this.#parseError;
      packets = this.#parsed;
      this.#parsed = [];
    } else {
      err = fast instanceof Error ? fast : null;
      packets = fast instanceof Error ? [] : [fast];
    }
    if (err) {
      this.#parseError = null;
      if (this.#state === 'awaiting-connect' && /protocol version/i.test(err.message)) {
        // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01, then close.
        this.record('mqtt.connect_refused', 'warning', { why: 'unsupported protocol version' });
        this.#write(Buffer.from([0x20, 0x02, 0x00, V3.UNACCEPTABLE_PROTOCOL]));
        this.close();
        return;
      }
      this.#malformed(err.message);
      return;
    }
    const packet = packets[0];
    if (!packet) {
      this.#malformed('incomplete packet');
      return;
    }
    const problem = checkPacket(packet);
    if (problem) {
      if (problem.kind === 'malformed') this.#malformed(problem.why);
      else this.fail(RC.PROTOCOL_ERROR, problem.why);
      return;
    }
    if (packet.cmd === 'publish' && !topicBytesAreUtf8(frame)) {
      // [MQTT-1.5.4-1] ill-formed UTF-8 in a topic is a malformed packet.
      this.#malformed('topic is not valid UTF-8');
      return;
    }
    if (this.#state === 'awaiting-connect') {
      if (packet.cmd !== 'connect') {
        // [MQTT-3.1.0-1] the first packet must be CONNECT.
        this.record('mqtt.protocol_violation', 'warning', { why: `first packet was ${packet.cmd}` });
        this.close();
        return;
      }
      this.#state = 'connecting';
      this.#stream.pause();
    }
    try {
      dispatch(this, packet, frame);
    } catch (err) {
      // A bug in one handler ends one connection, never the process.
      this.record('mqtt.handler_error', 'critical', { cmd: packet.cmd, error: err instanceof Error ? err.message : String(err) });
      this.fail(RC.IMPLEMENTATION_SPECIFIC, 'internal error', 'critical');
    }
  }

  #malformed(why: string): void {
    this.record('mqtt.malformed_packet', 'warning', { why });
    if (this.#state === 'connected') this.fail(RC.MALFORMED_PACKET, why);
    else this.close();
  }

  #write(buf: Buffer): void {
    if (this.#stream.writableEnded || this.#stream.destroyed) return;
    if (!this.#corked) {
      // Coalesce everything written in this tick into one writev (DESIGN.md §4.6).
      this.#corked = true;
      this.#stream.cork();
      process.nextTick(() => this.#uncork());
    }
    this.#stream.write(buf);
    if (this.#slowSince === null && this.#stream.writableLength >= this.services.limits.maxWriteBufferBytes) this.#slowSince = Date.now();
  }

  #uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#stream.uncork();
  }

  #onClose(): void {
    this.#state = 'closed';
    if (this.#throttleTimer !== null) clearTimeout(this.#throttleTimer);
    this.#throttleTimer = null;
    this.#hooks.onClose(this);
    for (const l of this.closeListeners.splice(0)) l();
    // Any end but a normal DISCONNECT publishes the will (§3.1.2.5).
    if (this.session) this.services.broker.disconnected(this.session, this, this.closeIntent ?? { publishWill: true });
  }

  /** Exposed for the CONNECT handler, which runs while the state is 'connecting'. */
  get connecting(): boolean {
    return this.#state === 'connecting';
  }
}

/** Checks the raw topic bytes of a PUBLISH frame; the parser would have replaced bad bytes. */
function topicBytesAreUtf8(frame: Buffer): boolean {
  const pos = bodyStart(frame);
  const len = frame.readUInt16BE(pos);
  return isUtf8(frame.subarray(pos + 2, pos + 2 + len));
}
