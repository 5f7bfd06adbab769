/**
 * One query over UDP (RFC 1035 §4.2.1) from a fresh ephemeral socket.
 *
 * RFC 5452 §9.2: the source port must be unpredictable. Every query binds a new socket to port
 * 0, and Linux picks the port at random from the ephemeral range (udp_lib_get_port starts its
 * search at a random offset), so an off-path attacker must guess ~28k ports times 64k ids. The
 * socket is connect()ed to the upstream, so the kernel itself drops datagrams from any other
 * address or port, and ICMP unreachable comes back as an error (a dead upstream fails fast
 * instead of waiting for the timeout). The cost — socket, bind, connect and close per query — is
 * measured in the issue note; it is paid only on a cache miss.
 *
 * A reply is accepted only if it comes from the upstream's address and port, carries our id,
 * has QR=1 and repeats our question (RFC 5452 §3); anything else is dropped and the wait goes on.
 */
import { createSocket, type Socket } from 'node:dgram';
import { AttemptFailure, addressKey, type UpstreamTarget } from './target.ts';
import { decodes, isResponse, isTruncated, questionKey, randomId, withId } from './wire.ts';

export type UdpResult = { readonly kind: 'answer'; readonly message: Buffer } | { readonly kind: 'truncated' };

export interface UdpExchangeOptions {
  target: UpstreamTarget;
  /** The caller's query; copied, our id is written into the copy. */
  query: Buffer;
  /** questionKey() of the query. */
  question: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Called for each dropped reply (for the spoofing telemetry). */
  onMismatch(reason: string): void;
}

export function udpExchange(o: UdpExchangeOptions): Promise<UdpResult> {
  const id = randomId();
  const wire = withId(o.query, id);
  return new Promise<UdpResult>((resolve, reject) => {
    let socket: Socket | null = null;
    let done = false;
    const finish = (err: AttemptFailure | null, result?: UdpResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      const s = socket;
      socket = null;
      s?.removeAllListeners('message');
      // close() on a socket whose connect failed throws ERR_SOCKET_DGRAM_NOT_RUNNING on some paths.
      try {
        s?.close();
      } catch {
        /* already closed */
      }
      if (err) reject(err);
      else resolve(result as UdpResult);
    };
    if (o.signal.aborted) return reject(new AttemptFailure('closed'));
    const onAbort = (): void => finish(new AttemptFailure('closed'));
    o.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new AttemptFailure('timeout')), o.timeoutMs);

    try {
      socket = createSocket(o.target.family === 6 ? 'udp6' : 'udp4');
    } catch (err) {
      // EMFILE and the like: this attempt fails, the next upstream (or stale) may still answer.
      return finish(new AttemptFailure(`socket: ${(err as Error).message}`));
    }
    const s = socket;
    s.on('error', (err: NodeJS.ErrnoException) => finish(new AttemptFailure(`udp: ${err.code ?? err.message}`)));
    s.on('message', (msg, rinfo) => {
      // The kernel already filters on the connected peer; checked again so a change of transport
      // (an unconnected socket) cannot silently drop the rule.
      if (rinfo.port !== o.target.port || (rinfo.address !== o.target.address && addressKey(rinfo.address) !== o.target.addressKey)) {
        return o.onMismatch('source');
      }
      if (msg.length < 12 || msg.readUInt16BE(0) !== id || !isResponse(msg)) return o.onMismatch('id');
      if (questionKey(msg) !== o.question) return o.onMismatch('question');
      // RFC 7766 §5 (and RFC 1035 §4.2.1): a truncated answer is retried over TCP; its sections
      // may be cut anywhere, so it is not decoded.
      if (isTruncated(msg)) return finish(null, { kind: 'truncated' });
      // From the right peer with the right id and question, but broken: the upstream is faulty
      // (or a spoofer guessed both); either way this attempt is over, not hanging.
      if (!decodes(msg)) return finish(new AttemptFailure('malformed answer'));
      finish(null, { kind: 'answer', message: msg });
    });
    const send = (): void => {
      if (done) return;
      s.send(wire, (err) => {
        if (err) finish(new AttemptFailure(`udp send: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
    };
    // connectSync (Node >= 24.19) binds and connects inline: no extra tick before the send.
    if (typeof s.connectSync === 'function') {
      try {
        s.connectSync(o.target.port, o.target.address);
      } catch (err) {
        return finish(new AttemptFailure(`udp connect: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
      }
      send();
    } else {
      s.connect(o.target.port, o.target.address, (err?: Error) => {
        if (err) finish(new AttemptFailure(`udp connect: ${err.message}`));
        else send();
      });
    }
  });
}
