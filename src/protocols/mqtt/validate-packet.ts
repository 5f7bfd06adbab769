/**
 * Checks mqtt-packet leaves to us. Its parser accepts a property whose declared length runs
 * past the packet (the value comes back null) and a packet id cut short (-1); both are
 * malformed packets (§1.5, §2.2.1), and passing them on would crash the encoder later.
 */
import type { Packet } from 'mqtt-packet';

export type PacketProblem = { kind: 'malformed' | 'protocol'; why: string } | null;

const NEEDS_ID = new Set(['puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'unsubscribe']);

export function checkPacket(p: Packet): PacketProblem {
  const needsId = NEEDS_ID.has(p.cmd) || (p.cmd === 'publish' && p.qos > 0);
  if (needsId) {
    const id = p.messageId;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 65535) return { kind: 'malformed', why: 'bad packet identifier' };
    // [MQTT-2.2.1-3] a packet that needs an identifier must not carry 0.
    if (id === 0) return { kind: 'protocol', why: 'packet identifier 0' };
  }
  if ('properties' in p && p.properties !== undefined && !propertiesWellFormed(p.properties)) return { kind: 'malformed', why: 'malformed property' };
  if (p.cmd === 'connect' && p.will?.properties !== undefined && !propertiesWellFormed(p.will.properties)) return { kind: 'malformed', why: 'malformed will property' };
  if (p.cmd === 'connect' && p.will && (p.will.payload === null || typeof p.will.topic !== 'string')) return { kind: 'malformed', why: 'malformed will' };
  return null;
}

function propertiesWellFormed(props: object): boolean {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined) return false;
    if (key === 'userProperties') {
      if (typeof value !== 'object') return false;
      for (const v of Object.values(value as Record<string, unknown>)) {
        if (Array.isArray(v) ? v.some((x) => typeof x !== 'string') : typeof v !== 'string') return false;
      }
      continue;
    }
    if (key === 'correlationData' || key === 'authenticationData') {
      if (!Buffer.isBuffer(value)) return false;
      continue;
    }
    if (key === 'subscriptionIdentifier') {
      const ids = Array.isArray(value) ? value : [value];
      if (ids.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0)) return false;
      continue;
    }
    const t = typeof value;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return false;
    if (t === 'number' && (!Number.isFinite(value as number) || (value as number) < 0)) return false;
  }
  return true;
}
