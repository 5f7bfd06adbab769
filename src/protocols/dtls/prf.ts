/**
 * The TLS 1.2 pseudo-random function (RFC 5246 §5) with SHA-256, which every suite DTLS 1.2
 * negotiates here uses (RFC 6655 §2, RFC 7251 §2, RFC 5487 §2 for the PSK GCM suites via RFC 5288).
 */
import { createHmac } from 'node:crypto';

/** P_SHA256(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ... (RFC 5246 §5). */
function pSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let produced = 0;
  let a = seed;
  while (produced < length) {
    a = createHmac('sha256', secret).update(a).digest();
    const block = createHmac('sha256', secret).update(a).update(seed).digest();
    out.push(block);
    produced += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** PRF(secret, label, seed) = P_SHA256(secret, label + seed) (RFC 5246 §5). */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'ascii'), seed]), length);
}

/** RFC 5246 §8.1, or RFC 7627 §4 when both sides negotiated extended master secret. */
export function masterSecret(preMaster: Buffer, clientRandom: Buffer, serverRandom: Buffer, sessionHash: Buffer | null): Buffer {
  if (sessionHash !== null) return prf(preMaster, 'extended master secret', sessionHash, 48);
  return prf(preMaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
}

export interface AeadKeys {
  clientKey: Buffer;
  serverKey: Buffer;
  clientSalt: Buffer;
  serverSalt: Buffer;
}

/** RFC 5246 §6.3 key expansion for AEAD suites: no MAC keys, 16-byte keys and 4-byte implicit nonces (RFC 5288 §3, RFC 6655 §3). */
export function keyBlock(master: Buffer, clientRandom: Buffer, serverRandom: Buffer): AeadKeys {
  const block = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 40);
  return {
    clientKey: block.subarray(0, 16),
    serverKey: block.subarray(16, 32),
    clientSalt: block.subarray(32, 36),
    serverSalt: block.subarray(36, 40),
  };
}

/** Finished.verify_data (RFC 5246 §7.4.9): 12 bytes over the transcript hash. */
export function verifyData(master: Buffer, label: 'client finished' | 'server finished', transcriptHash: Buffer): Buffer {
  return prf(master, label, transcriptHash, 12);
}

/** The PSK premaster secret of RFC 4279 §2 for plain PSK: N zero octets, then the PSK, each with a uint16 length. */
export function pskPreMaster(psk: Buffer): Buffer {
  const out = Buffer.alloc(4 + psk.length * 2);
  out.writeUInt16BE(psk.length, 0);
  out.writeUInt16BE(psk.length, 2 + psk.length);
  psk.copy(out, 4 + psk.length);
  return out;
}
