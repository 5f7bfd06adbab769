/**
 * Checks the event log: every row against its own hash, every row against the one before it,
 * the ids for gaps, and every signed checkpoint against the row it names. Stops at the first
 * problem and names the event id, with a kind an operator can act on:
 *
 * - edited       the row's hash does not match its fields
 * - inserted     a row sits between two rows that chain to each other
 * - deleted      an id gap, or a log that does not start at id 1
 * - chain-break  prev_hash does not match the row before (edited and re-hashed, or renumbered)
 * - rewritten    the chain is consistent but differs from what a checkpoint signed
 * - truncated    a checkpoint names an event beyond the end of the log
 * - bad-signature a checkpoint that does not verify under the event-log public key
 *
 * What it cannot see: events appended after the newest checkpoint are protected by the chain
 * only (someone with write access can re-hash or drop them), and removing the tail together
 * with every checkpoint that covers it leaves an older, consistent log. The gateway logs each
 * checkpoint (id, last event, hash) so a log shipper can act as the outside witness.
 *
 * Events arrive as an iterable (the CLI pages through the store or reads an export line by
 * line), so a large log is never held in memory.
 */
import type { KeyObject } from 'node:crypto';
import type { SecurityEvent } from '../ports.ts';
import { checkpointSignatureValid, keyIdOf, type EventCheckpoint } from './checkpoint.ts';
import { GENESIS, hashEvent, hashEventV1 } from './event-hash.ts';

export type VerifyProblemKind = 'edited' | 'inserted' | 'deleted' | 'chain-break' | 'rewritten' | 'truncated' | 'bad-signature';

export interface VerifyProblem {
  kind: VerifyProblemKind;
  eventId: number;
  checkpointId: number | null;
  message: string;
}

export interface VerifyReport {
  events: number;
  /** Events written before schema v5 with the v1 formula (accepted only at the start of the log). */
  legacyEvents: number;
  lastId: number | null;
  /** Checkpoints whose signature and contents were checked. */
  checkpoints: number;
  lastSignedId: number | null;
  keyId: string | null;
  problem: VerifyProblem | null;
}

export interface VerifyOptions {
  checkpoints: readonly EventCheckpoint[];
  /** The event-log public key; null when none was found (then any checkpoint fails). */
  publicKey: KeyObject | null;
  /**
   * The events may begin after id 1 (an export made with --since-id): the first one's
   * prev_hash is taken as given, counts are not compared, and checkpoints before the first
   * event are skipped.
   */
  partial?: boolean;
  /**
   * The events may end before the log does (an export, checked against a newer store's
   * checkpoints): checkpoints beyond the last event are skipped instead of meaning truncation.
   */
  openEnded?: boolean;
}

function signatureProblem(cp: EventCheckpoint, publicKey: KeyObject | null): string | null {
  const at = `event ${cp.lastEventId}: checkpoint ${cp.id}`;
  if (publicKey === null) return `${at} cannot be checked: no event-log public key`;
  const keyId = keyIdOf(publicKey);
  if (cp.keyId !== keyId) return `${at} is signed by key ${cp.keyId}, not by the event-log key ${keyId} (forged)`;
  if (!checkpointSignatureValid(cp, publicKey)) return `${at} has a bad signature (forged or altered)`;
  return null;
}

export async function verifyEventLog(
  events: AsyncIterable<SecurityEvent> | Iterable<SecurityEvent>,
  opts: VerifyOptions,
): Promise<VerifyReport> {
  const partial = opts.partial ?? false;
  const cps = [...opts.checkpoints].sort((a, b) => a.lastEventId - b.lastEventId || a.id - b.id);
  const report: VerifyReport = {
    events: 0,
    legacyEvents: 0,
    lastId: null,
    checkpoints: 0,
    lastSignedId: null,
    keyId: opts.publicKey === null ? null : keyIdOf(opts.publicKey),
    problem: null,
  };
  const fail = (kind: VerifyProblemKind, eventId: number, message: string, checkpointId: number | null = null): VerifyReport => {
    report.problem = { kind, eventId, checkpointId, message };
    return report;
  };

  let ci = 0;
  let prev: SecurityEvent | null = null;
  let beforePrevHash: string | null = null;
  let v2Seen = false;
  for await (const e of events) {
    if (prev === null) {
      if (partial) {
        while (ci < cps.length && cps[ci]!.lastEventId < e.id) ci++;
      } else {
        if (e.id !== 1) return fail('deleted', 1, `event 1: missing, the log starts at event ${e.id} (events 1..${e.id - 1} deleted)`);
        if (e.prevHash !== GENESIS) return fail('chain-break', e.id, `event ${e.id}: the first event does not chain to the genesis hash`);
      }
    } else {
      if (e.id <= prev.id) return fail('inserted', e.id, `event ${e.id}: out of order after event ${prev.id} (duplicate or inserted row)`);
      if (e.id !== prev.id + 1) {
        const missing = e.id - 1 === prev.id + 1 ? `event ${prev.id + 1}` : `events ${prev.id + 1}..${e.id - 1}`;
        return fail('deleted', prev.id + 1, `event ${prev.id + 1}: missing, id gap between events ${prev.id} and ${e.id} (${missing} deleted)`);
      }
    }

    // The link first: a row inserted with a correct hash of its own shows as the next row
    // chaining past it, and rows renumbered to close a gap show as a break at the gap.
    if (prev !== null && e.prevHash !== prev.hash) {
      if (beforePrevHash !== null && e.prevHash === beforePrevHash) {
        return fail('inserted', prev.id, `event ${prev.id}: inserted row (event ${e.id} chains to the event before it)`);
      }
      return fail('chain-break', e.id, `event ${e.id}: prev_hash does not match the hash of event ${prev.id} (a row before it was re-hashed, inserted or deleted)`);
    }

    if (hashEvent(e.prevHash, e) === e.hash) v2Seen = true;
    else if (!v2Seen && hashEventV1(e.prevHash, e) === e.hash) report.legacyEvents++;
    else return fail('edited', e.id, `event ${e.id}: hash mismatch, the row was edited`);
    report.events++;
    report.lastId = e.id;

    while (ci < cps.length && cps[ci]!.lastEventId <= e.id) {
      const cp = cps[ci++]!;
      const bad = signatureProblem(cp, opts.publicKey);
      if (bad !== null) return fail('bad-signature', cp.lastEventId, bad, cp.id);
      if (cp.lastEventId !== e.id || cp.lastHash !== e.hash) {
        return fail('rewritten', cp.lastEventId, `event ${cp.lastEventId}: differs from what checkpoint ${cp.id} signed (the log was rewritten)`, cp.id);
      }
      if (!partial && cp.count !== report.events) {
        return fail('rewritten', e.id, `event ${e.id}: checkpoint ${cp.id} signed ${cp.count} events up to it, the log holds ${report.events}`, cp.id);
      }
      report.checkpoints++;
      report.lastSignedId = e.id;
    }
    beforePrevHash = prev?.hash ?? null;
    prev = e;
  }

  if (!(opts.openEnded ?? false) && ci < cps.length) {
    const cp = cps[ci]!;
    const bad = signatureProblem(cp, opts.publicKey);
    if (bad !== null) return fail('bad-signature', cp.lastEventId, bad, cp.id);
    const end = prev === null ? 'the log is empty' : `the log ends at event ${prev.id}`;
    return fail('truncated', cp.lastEventId, `event ${cp.lastEventId}: signed by checkpoint ${cp.id} but ${end} (tail truncated)`, cp.id);
  }
  return report;
}

/** One line: `ok: 1234 events, 3 checkpoints, last signed at id 1200`, or the problem. */
export function formatVerifyReport(r: VerifyReport): string {
  if (r.problem !== null) return r.problem.message;
  const signed = r.lastSignedId === null ? 'none signed yet' : `last signed at id ${r.lastSignedId}`;
  const legacy = r.legacyEvents > 0 ? ` (${r.legacyEvents} events from before schema v5 use the v1 hash)` : '';
  return `ok: ${r.events} events, ${r.checkpoints} checkpoints, ${signed}${legacy}`;
}

/** The chain alone, in memory: the id of the first event that breaks it, or null when intact. */
export function verifyChain(events: readonly SecurityEvent[], startHash: string = GENESIS): number | null {
  let prev = startHash;
  for (const e of events) {
    if (e.prevHash !== prev || hashEvent(prev, e) !== e.hash) return e.id;
    prev = e.hash;
  }
  return null;
}
