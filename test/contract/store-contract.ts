/**
 * The behaviour every `Store` implementation must show (SQLite today, PostgreSQL later). Each
 * test gets a fresh store from `open()`, which must return an empty, migrated store; the suite
 * closes it afterwards. Where ports.ts leaves list order unspecified the assertions sort first,
 * so an implementation is only held to the orders the port promises (messages by seq, events by id).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, PalisadeError, type ErrorCode } from '../../src/core/errors.ts';
import { GENESIS, hashEvent } from '../../src/core/events/event-hash.ts';
import { verifyChain } from '../../src/core/events/verify.ts';
import { runOperatorContract } from './operator-contract.ts';
import { runReplayContract } from './replay-contract.ts';
import { runQueueShadowContract } from './queue-shadow-contract.ts';
import { runBanContract } from './ban-contract.ts';
import { runDnsQueryContract } from './dns-query-contract.ts';
import type {
  CertificateRecord,
  Device,
  EnrollmentTokenRecord,
  MessageProperties,
  MessageWrite,
  PolicyDocument,
  RetainedMessage,
  EventCheckpointInput,
  SecurityEvent,
  SecurityEventInput,
  SessionRecord,
  Store,
  StoredMessage,
  SubscriptionRecord,
} from '../../src/core/ports.ts';

const T0 = 1_700_000_000_000;

/** Every byte value plus invalid UTF-8 sequences, so any text coercion of payloads shows up. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const INVALID_UTF8 = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0x80, 0x00]);
const UNICODE_TOPIC = 'sites/zürich/température/温度/😀/emoji 🚀';

const FULL_PROPERTIES: MessageProperties = {
  payloadFormatIndicator: true,
  contentType: 'application/json; charset=utf-8',
  responseTopic: 'reply/こんにちは',
  correlationData: Buffer.from([0, 1, 2, 255]).toString('base64'),
  userProperties: [
    ['k', 'v'],
    ['k', 'duplicate keys are legal in MQTT 5'],
    ['ünï', '😀'],
  ],
};

function device(overrides: Partial<Device> = {}): Device {
  return {
    id: 'dev-1',
    segment: 'factory',
    status: 'active',
    attrs: { floor: '3', line: 'Ä-7' },
    passwordHash: '$scrypt$N=16384,r=8,p=1$c2FsdA$aGFzaA',
    credentialFingerprint: null,
    createdAt: T0,
    ...overrides,
  };
}

function cert(overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial: '0a1b2c3d',
    kind: 'device',
    deviceId: 'dev-1',
    subject: 'CN=dev-1,O=Palisade',
    notBefore: T0,
    notAfter: T0 + 365 * 86_400_000,
    fingerprint: 'ab'.repeat(32),
    pem: '-----BEGIN CERTIFICATE-----\nMIIB\nAAAA\n-----END CERTIFICATE-----\n',
    revokedAt: null,
    revocationReason: null,
    ...overrides,
  };
}

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    clientId: 'client-a',
    principalId: 'dev-1',
    protocolVersion: 5,
    expiryInterval: 3600,
    disconnectedAt: null,
    createdAt: T0,
    ...overrides,
  };
}

function sub(overrides: Partial<SubscriptionRecord> = {}): SubscriptionRecord {
  return {
    clientId: 'client-a',
    filter: 'sensors/+/temp',
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId: null,
    ...overrides,
  };
}

function retained(overrides: Partial<RetainedMessage> = {}): RetainedMessage {
  return {
    topic: 'sensors/1/temp',
    payload: Buffer.from('21.5'),
    qos: 1,
    properties: {},
    expiresAt: null,
    storedAt: T0,
    ...overrides,
  };
}

function msg(overrides: Partial<StoredMessage> = {}): StoredMessage {
  return {
    clientId: 'client-a',
    seq: 1,
    packetId: null,
    state: 'queued',
    topic: 'sensors/1/temp',
    payload: Buffer.from('21.5'),
    qos: 1,
    retain: false,
    properties: {},
    subscriptionIds: [],
    expiresAt: null,
    ...overrides,
  };
}

function event(overrides: Partial<SecurityEventInput> = {}): SecurityEventInput {
  return {
    ts: T0,
    type: 'auth.failed',
    severity: 'warning',
    principal: 'dev-1',
    source: '192.0.2.10:50123',
    detail: { reason: 'bad password', attempts: 3 },
    ...overrides,
  };
}

function checkpoint(overrides: Partial<EventCheckpointInput> = {}): EventCheckpointInput {
  return { lastEventId: 7, lastHash: 'ab'.repeat(32), count: 7, ts: T0, keyId: '0123456789abcdef', signature: 'c2lnbmF0dXJl', ...overrides };
}

const put = (message: StoredMessage): MessageWrite => ({ kind: 'put', message });
const del = (clientId: string, seq: number): MessageWrite => ({ kind: 'delete', clientId, seq });
const qos2Add = (clientId: string, packetId: number): MessageWrite => ({ kind: 'qos2-in-add', clientId, packetId });
const qos2Remove = (clientId: string, packetId: number): MessageWrite => ({ kind: 'qos2-in-remove', clientId, packetId });

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected rejection with ${code}`).toBeInstanceOf(PalisadeError);
  expect((err as PalisadeError).code).toBe(code);
}

function sortBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export function runStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await store.close();
    });

    runOperatorContract(() => store);
    runQueueShadowContract(() => store);
    runReplayContract(() => store);
    runBanContract(() => store);
    runDnsQueryContract(() => store);

    it('reports a positive integer schema version', async () => {
      const version = await store.schemaVersion();
      expect(Number.isInteger(version)).toBe(true);
      expect(version).toBeGreaterThan(0);
    });

    describe('devices', () => {
      it('round-trips every field, including null passwordHash and unicode attrs', async () => {
        const a = device();
        const b = device({ id: 'dev-2', passwordHash: null, attrs: {}, status: 'disabled' });
        await store.devices.create(a);
        await store.devices.create(b);
        expect(await store.devices.get('dev-1')).toStrictEqual(a);
        expect(await store.devices.get('dev-2')).toStrictEqual(b);
      });

      it('returns null for an unknown id', async () => {
        expect(await store.devices.get('nope')).toBeNull();
      });

      it('rejects a duplicate create with ALREADY_EXISTS and keeps the original', async () => {
        await store.devices.create(device());
        await expectCode(store.devices.create(device({ segment: 'other' })), ErrorCodes.ALREADY_EXISTS);
        expect((await store.devices.get('dev-1'))?.segment).toBe('factory');
      });

      it('lists all devices and filters by segment', async () => {
        await store.devices.create(device({ id: 'd1', segment: 's1' }));
        await store.devices.create(device({ id: 'd2', segment: 's2' }));
        await store.devices.create(device({ id: 'd3', segment: 's1' }));
        expect(sortBy(await store.devices.list(), (d) => d.id).map((d) => d.id)).toEqual(['d1', 'd2', 'd3']);
        expect(sortBy(await store.devices.list({}), (d) => d.id).map((d) => d.id)).toEqual(['d1', 'd2', 'd3']);
        expect(sortBy(await store.devices.list({ segment: 's1' }), (d) => d.id).map((d) => d.id)).toEqual(['d1', 'd3']);
        expect(await store.devices.list({ segment: 'S1' })).toEqual([]);
        expect(await store.devices.list({ segment: 'none' })).toEqual([]);
      });

      it('returns an empty list when there are no devices', async () => {
        expect(await store.devices.list()).toEqual([]);
      });

      it('updates each field on its own, leaving the others unchanged', async () => {
        const original = device();
        await store.devices.create(original);

        await store.devices.update('dev-1', { status: 'disabled' });
        expect(await store.devices.get('dev-1')).toStrictEqual({ ...original, status: 'disabled' });

        await store.devices.update('dev-1', { segment: 'lab' });
        expect(await store.devices.get('dev-1')).toStrictEqual({ ...original, status: 'disabled', segment: 'lab' });

        await store.devices.update('dev-1', { passwordHash: null });
        expect((await store.devices.get('dev-1'))?.passwordHash).toBeNull();

        await store.devices.update('dev-1', { passwordHash: 'new-hash' });
        expect((await store.devices.get('dev-1'))?.passwordHash).toBe('new-hash');

        expect(await store.devices.get('dev-1')).toStrictEqual({
          ...original,
          status: 'disabled',
          segment: 'lab',
          passwordHash: 'new-hash',
        });
      });

      it('replaces attrs wholesale rather than merging', async () => {
        await store.devices.create(device({ attrs: { a: '1', b: '2' } }));
        await store.devices.update('dev-1', { attrs: { c: '3' } });
        expect((await store.devices.get('dev-1'))?.attrs).toStrictEqual({ c: '3' });
        await store.devices.update('dev-1', { attrs: {} });
        expect((await store.devices.get('dev-1'))?.attrs).toStrictEqual({});
      });

      it('applies a multi-field patch and treats an empty patch as a no-op', async () => {
        const original = device();
        await store.devices.create(original);
        await store.devices.update('dev-1', {});
        expect(await store.devices.get('dev-1')).toStrictEqual(original);
        await store.devices.update('dev-1', { segment: 'lab', status: 'disabled', attrs: { x: 'y' }, passwordHash: null });
        expect(await store.devices.get('dev-1')).toStrictEqual({
          ...original,
          segment: 'lab',
          status: 'disabled',
          attrs: { x: 'y' },
          passwordHash: null,
        });
      });

      it('moves a device between segment listings when its segment changes', async () => {
        await store.devices.create(device({ segment: 'a' }));
        await store.devices.update('dev-1', { segment: 'b' });
        expect(await store.devices.list({ segment: 'a' })).toEqual([]);
        expect((await store.devices.list({ segment: 'b' })).map((d) => d.id)).toEqual(['dev-1']);
      });

      it('throws NOT_FOUND when updating a missing device, and does not create it', async () => {
        await expectCode(store.devices.update('ghost', { status: 'disabled' }), ErrorCodes.NOT_FOUND);
        await expectCode(store.devices.update('ghost', {}), ErrorCodes.NOT_FOUND);
        expect(await store.devices.get('ghost')).toBeNull();
      });

      it('deletes and reports whether a row was removed', async () => {
        await store.devices.create(device());
        await store.devices.create(device({ id: 'dev-2' }));
        expect(await store.devices.delete('dev-1')).toBe(true);
        expect(await store.devices.delete('dev-1')).toBe(false);
        expect(await store.devices.delete('never')).toBe(false);
        expect(await store.devices.get('dev-1')).toBeNull();
        expect((await store.devices.list()).map((d) => d.id)).toEqual(['dev-2']);
      });

      it('allows re-creating a device id after delete', async () => {
        await store.devices.create(device());
        await store.devices.delete('dev-1');
        await store.devices.create(device({ segment: 'reborn' }));
        expect((await store.devices.get('dev-1'))?.segment).toBe('reborn');
      });

      it('does not alias caller objects', async () => {
        const input = device();
        await store.devices.create(input);
        input.attrs.floor = 'mutated';
        const read = await store.devices.get('dev-1');
        read!.attrs.floor = 'mutated-again';
        expect((await store.devices.get('dev-1'))?.attrs.floor).toBe('3');
      });
    });

    describe('device credential fingerprints', () => {
      const FP_A = 'aa'.repeat(32);
      const FP_B = 'bb'.repeat(32);

      it('round-trips a fingerprint and lists the devices sharing one, by id', async () => {
        await store.devices.create(device({ id: 'd2', credentialFingerprint: FP_A }));
        await store.devices.create(device({ id: 'd1', credentialFingerprint: FP_A }));
        await store.devices.create(device({ id: 'd3', credentialFingerprint: FP_B }));
        await store.devices.create(device({ id: 'd4', passwordHash: null }));
        expect((await store.devices.get('d1'))?.credentialFingerprint).toBe(FP_A);
        expect((await store.devices.listByCredentialFingerprint(FP_A)).map((d) => d.id)).toEqual(['d1', 'd2']);
        expect((await store.devices.listByCredentialFingerprint(FP_B)).map((d) => d.id)).toEqual(['d3']);
        expect(await store.devices.listByCredentialFingerprint('cc'.repeat(32))).toEqual([]);
      });

      it('reads a device created without the field as null', async () => {
        const { credentialFingerprint: _omit, ...bare } = device();
        await store.devices.create(bare);
        expect((await store.devices.get('dev-1'))?.credentialFingerprint).toBeNull();
      });

      it('sets a fingerprint with its hash, and clears it when the hash changes without one', async () => {
        await store.devices.create(device());
        await store.devices.update('dev-1', { passwordHash: 'h2', credentialFingerprint: FP_A });
        expect(await store.devices.get('dev-1')).toMatchObject({ passwordHash: 'h2', credentialFingerprint: FP_A });
        await store.devices.update('dev-1', { segment: 'lab' });
        expect((await store.devices.get('dev-1'))?.credentialFingerprint).toBe(FP_A);
        await store.devices.update('dev-1', { passwordHash: 'h2' });
        expect((await store.devices.get('dev-1'))?.credentialFingerprint).toBe(FP_A);
        await store.devices.update('dev-1', { passwordHash: 'h3' });
        expect((await store.devices.get('dev-1'))?.credentialFingerprint).toBeNull();
        expect(await store.devices.listByCredentialFingerprint(FP_A)).toEqual([]);
        await store.devices.update('dev-1', { credentialFingerprint: FP_B });
        await store.devices.update('dev-1', { passwordHash: null });
        expect(await store.devices.get('dev-1')).toMatchObject({ passwordHash: null, credentialFingerprint: null });
      });
    });

    describe('segments', () => {
      it('upserts, gets and lists', async () => {
        const a = { name: 'factory', description: 'Shop floor PLCs', createdAt: T0 };
        const b = { name: 'lab', description: 'Ünïcödé 🧪', createdAt: T0 + 1 };
        await store.segments.upsert(a);
        await store.segments.upsert(b);
        expect(await store.segments.get('factory')).toStrictEqual(a);
        expect(await store.segments.get('lab')).toStrictEqual(b);
        expect(sortBy(await store.segments.list(), (s) => s.name)).toStrictEqual([a, b]);
      });

      it('returns null for an unknown name and an empty list when none exist', async () => {
        expect(await store.segments.get('nope')).toBeNull();
        expect(await store.segments.list()).toEqual([]);
      });

      it('replaces an existing segment on upsert', async () => {
        await store.segments.upsert({ name: 's', description: 'old', createdAt: T0 });
        const replacement = { name: 's', description: 'new', createdAt: T0 + 5 };
        await store.segments.upsert(replacement);
        expect(await store.segments.get('s')).toStrictEqual(replacement);
        expect(await store.segments.list()).toHaveLength(1);
      });
    });

    describe('certificates', () => {
      it('round-trips every field, including a CA with no device', async () => {
        const ca = cert({ serial: '01', kind: 'root-ca', deviceId: null, subject: 'CN=Palisade Root' });
        const dev = cert();
        await store.certificates.add(ca);
        await store.certificates.add(dev);
        expect(await store.certificates.get('01')).toStrictEqual(ca);
        expect(await store.certificates.get('0a1b2c3d')).toStrictEqual(dev);
      });

      it('returns null for an unknown serial', async () => {
        expect(await store.certificates.get('ffff')).toBeNull();
      });

      it('rejects a duplicate serial with ALREADY_EXISTS and keeps the original', async () => {
        await store.certificates.add(cert());
        await expectCode(store.certificates.add(cert({ subject: 'CN=impostor' })), ErrorCodes.ALREADY_EXISTS);
        expect((await store.certificates.get('0a1b2c3d'))?.subject).toBe('CN=dev-1,O=Palisade');
      });

      it('lists by device', async () => {
        await store.certificates.add(cert({ serial: 'a1', deviceId: 'd1' }));
        await store.certificates.add(cert({ serial: 'a2', deviceId: 'd2' }));
        await store.certificates.add(cert({ serial: 'a3', deviceId: 'd1', notBefore: T0 + 10 }));
        await store.certificates.add(cert({ serial: 'ca', kind: 'issuing-ca', deviceId: null }));
        const d1 = sortBy(await store.certificates.listByDevice('d1'), (c) => c.serial);
        expect(d1.map((c) => c.serial)).toEqual(['a1', 'a3']);
        expect(d1[1]).toStrictEqual(cert({ serial: 'a3', deviceId: 'd1', notBefore: T0 + 10 }));
        expect(await store.certificates.listByDevice('d3')).toEqual([]);
      });

      it('revokes once: the first time and reason stick, repeats and unknown serials return false', async () => {
        await store.certificates.add(cert());
        expect(await store.certificates.revoke('0a1b2c3d', T0 + 100, 'keyCompromise')).toBe(true);
        expect(await store.certificates.revoke('0a1b2c3d', T0 + 200, 'superseded')).toBe(false);
        expect(await store.certificates.revoke('unknown', T0 + 300, 'keyCompromise')).toBe(false);
        expect(await store.certificates.get('0a1b2c3d')).toStrictEqual(
          cert({ revokedAt: T0 + 100, revocationReason: 'keyCompromise' }),
        );
        expect(await store.certificates.get('unknown')).toBeNull();
      });

      it('lists only revoked certificates, and revoked ones stay in the device listing', async () => {
        expect(await store.certificates.listRevoked()).toEqual([]);
        await store.certificates.add(cert({ serial: 'r1' }));
        await store.certificates.add(cert({ serial: 'ok' }));
        await store.certificates.add(cert({ serial: 'r2', deviceId: 'dev-2' }));
        await store.certificates.revoke('r2', T0 + 2, 'cessationOfOperation');
        await store.certificates.revoke('r1', T0 + 1, 'keyCompromise');
        const revoked = sortBy(await store.certificates.listRevoked(), (c) => c.serial);
        expect(revoked).toStrictEqual([
          cert({ serial: 'r1', revokedAt: T0 + 1, revocationReason: 'keyCompromise' }),
          cert({ serial: 'r2', deviceId: 'dev-2', revokedAt: T0 + 2, revocationReason: 'cessationOfOperation' }),
        ]);
        expect(sortBy(await store.certificates.listByDevice('dev-1'), (c) => c.serial).map((c) => c.serial)).toEqual([
          'ok',
          'r1',
        ]);
      });

      it('keeps certificate records when their device is deleted, so revocation stays complete', async () => {
        await store.devices.create(device());
        await store.certificates.add(cert());
        await store.certificates.revoke('0a1b2c3d', T0, 'cessationOfOperation');
        await store.devices.delete('dev-1');
        expect((await store.certificates.get('0a1b2c3d'))?.revokedAt).toBe(T0);
        expect(await store.certificates.listRevoked()).toHaveLength(1);
      });
    });

    describe('sessions', () => {
      it('round-trips every field, including a never-expiring interval above 2^31', async () => {
        const a = session({ expiryInterval: 0xffffffff });
        const b = session({ clientId: 'client-b', protocolVersion: 3, expiryInterval: 0, disconnectedAt: T0 + 9 });
        const c = session({ clientId: 'client-c', protocolVersion: 4 });
        await store.sessions.save(a);
        await store.sessions.save(b);
        await store.sessions.save(c);
        expect(await store.sessions.get('client-a')).toStrictEqual(a);
        expect(await store.sessions.get('client-b')).toStrictEqual(b);
        expect(sortBy(await store.sessions.list(), (s) => s.clientId)).toStrictEqual([a, b, c]);
      });

      it('returns null for an unknown client and an empty list when none exist', async () => {
        expect(await store.sessions.get('nope')).toBeNull();
        expect(await store.sessions.list()).toEqual([]);
      });

      it('replaces the whole record on save (disconnect, then reconnect)', async () => {
        await store.sessions.save(session());
        await store.sessions.save(session({ disconnectedAt: T0 + 50 }));
        expect((await store.sessions.get('client-a'))?.disconnectedAt).toBe(T0 + 50);
        const reconnected = session({ disconnectedAt: null, principalId: 'dev-9', protocolVersion: 4, expiryInterval: 7 });
        await store.sessions.save(reconnected);
        expect(await store.sessions.get('client-a')).toStrictEqual(reconnected);
        expect(await store.sessions.list()).toHaveLength(1);
      });

      it('stores subscriptions with every option combination', async () => {
        const subs = [
          sub({ filter: 'a/#', qos: 0, subscriptionId: null }),
          sub({ filter: '$share/group-1/jobs/+', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionId: 268_435_455 }),
          sub({ filter: UNICODE_TOPIC, qos: 1, retainHandling: 1, subscriptionId: 1 }),
          sub({ filter: '#', noLocal: true }),
        ];
        for (const s of subs) await store.sessions.setSubscription(s);
        const listed = sortBy(await store.sessions.listSubscriptions('client-a'), (s) => s.filter);
        expect(listed).toStrictEqual(sortBy(subs, (s) => s.filter));
      });

      it('upserts a subscription on (clientId, filter)', async () => {
        await store.sessions.setSubscription(sub());
        const updated = sub({ qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1, subscriptionId: 42 });
        await store.sessions.setSubscription(updated);
        expect(await store.sessions.listSubscriptions('client-a')).toStrictEqual([updated]);
        const cleared = sub({ subscriptionId: null });
        await store.sessions.setSubscription(cleared);
        expect(await store.sessions.listSubscriptions('client-a')).toStrictEqual([cleared]);
      });

      it('treats filters that differ only by case or a trailing slash as distinct', async () => {
        await store.sessions.setSubscription(sub({ filter: 'a/b' }));
        await store.sessions.setSubscription(sub({ filter: 'A/b' }));
        await store.sessions.setSubscription(sub({ filter: 'a/b/' }));
        expect(await store.sessions.listSubscriptions('client-a')).toHaveLength(3);
      });

      it('keeps subscriptions per client and lists them all', async () => {
        await store.sessions.setSubscription(sub({ clientId: 'client-a', filter: 'x' }));
        await store.sessions.setSubscription(sub({ clientId: 'client-b', filter: 'x', qos: 2 }));
        await store.sessions.setSubscription(sub({ clientId: 'client-b', filter: 'y' }));
        expect((await store.sessions.listSubscriptions('client-a')).map((s) => s.filter)).toEqual(['x']);
        expect(await store.sessions.listSubscriptions('nobody')).toEqual([]);
        const all = sortBy(await store.sessions.listAllSubscriptions(), (s) => `${s.clientId}\u0000${s.filter}`);
        expect(all).toStrictEqual([
          sub({ clientId: 'client-a', filter: 'x' }),
          sub({ clientId: 'client-b', filter: 'x', qos: 2 }),
          sub({ clientId: 'client-b', filter: 'y' }),
        ]);
      });

      it('removes one subscription without touching other clients, and ignores unknown ones', async () => {
        await store.sessions.setSubscription(sub({ clientId: 'client-a', filter: 'x' }));
        await store.sessions.setSubscription(sub({ clientId: 'client-a', filter: 'y' }));
        await store.sessions.setSubscription(sub({ clientId: 'client-b', filter: 'x' }));
        await store.sessions.removeSubscription('client-a', 'x');
        await store.sessions.removeSubscription('client-a', 'not-subscribed');
        await store.sessions.removeSubscription('nobody', 'x');
        expect((await store.sessions.listSubscriptions('client-a')).map((s) => s.filter)).toEqual(['y']);
        expect((await store.sessions.listSubscriptions('client-b')).map((s) => s.filter)).toEqual(['x']);
      });

      it('delete removes the session, its subscriptions, stored messages and QoS 2 ids, and nothing else', async () => {
        for (const clientId of ['client-a', 'client-b']) {
          await store.sessions.save(session({ clientId }));
          await store.sessions.setSubscription(sub({ clientId }));
          await store.messages.write([put(msg({ clientId, seq: 1 })), put(msg({ clientId, seq: 2 })), qos2Add(clientId, 7)]);
        }
        await store.sessions.delete('client-a');

        expect(await store.sessions.get('client-a')).toBeNull();
        expect(await store.sessions.listSubscriptions('client-a')).toEqual([]);
        expect(await store.messages.listForSession('client-a')).toEqual([]);
        expect(await store.messages.listIncomingQos2('client-a')).toEqual([]);
        expect(await store.messages.maxSeq('client-a')).toBe(0);

        expect(await store.sessions.get('client-b')).not.toBeNull();
        expect(await store.sessions.listSubscriptions('client-b')).toHaveLength(1);
        expect(await store.messages.listForSession('client-b')).toHaveLength(2);
        expect(await store.messages.listIncomingQos2('client-b')).toEqual([7]);
        expect((await store.sessions.listAllSubscriptions()).map((s) => s.clientId)).toEqual(['client-b']);
      });

      it('delete clears messages and subscriptions even when no session row was ever saved', async () => {
        await store.messages.write([put(msg({ clientId: 'orphan' })), qos2Add('orphan', 1)]);
        await store.sessions.setSubscription(sub({ clientId: 'orphan' }));
        await store.sessions.delete('orphan');
        expect(await store.messages.listForSession('orphan')).toEqual([]);
        expect(await store.messages.listIncomingQos2('orphan')).toEqual([]);
        expect(await store.sessions.listSubscriptions('orphan')).toEqual([]);
      });

      it('accepts messages written before the session row, and keeps them when the session is saved', async () => {
        await store.messages.write([put(msg({ clientId: 'early' }))]);
        await store.sessions.save(session({ clientId: 'early' }));
        expect(await store.messages.listForSession('early')).toHaveLength(1);
      });

      it('delete of an unknown client is a no-op', async () => {
        await store.sessions.save(session());
        await store.sessions.delete('ghost');
        expect(await store.sessions.list()).toHaveLength(1);
      });
    });

    describe('retained', () => {
      it('round-trips every field with full MQTT 5 properties', async () => {
        const m = retained({ qos: 2, properties: FULL_PROPERTIES, expiresAt: T0 + 60_000, storedAt: T0 + 1 });
        await store.retained.set(m);
        const got = await store.retained.get('sensors/1/temp');
        expect(got).toStrictEqual(m);
        expect(Buffer.isBuffer(got?.payload)).toBe(true);
      });

      it('returns null for an unknown topic and an empty list when none exist', async () => {
        expect(await store.retained.get('nope')).toBeNull();
        expect(await store.retained.list()).toEqual([]);
      });

      it('upserts by topic', async () => {
        await store.retained.set(retained({ payload: Buffer.from('old'), qos: 0 }));
        const replacement = retained({ payload: Buffer.from('new'), qos: 1, properties: { contentType: 'text/plain' }, storedAt: T0 + 1 });
        await store.retained.set(replacement);
        expect(await store.retained.get('sensors/1/temp')).toStrictEqual(replacement);
        expect(await store.retained.list()).toHaveLength(1);
      });

      it('deletes by topic and ignores unknown topics', async () => {
        await store.retained.set(retained({ topic: 'a' }));
        await store.retained.set(retained({ topic: 'b' }));
        await store.retained.delete('a');
        await store.retained.delete('never-set');
        expect(await store.retained.get('a')).toBeNull();
        expect((await store.retained.list()).map((m) => m.topic)).toEqual(['b']);
      });

      it('round-trips binary payloads: all byte values, invalid UTF-8 and zero length', async () => {
        const messages = [
          retained({ topic: 'bin/all', payload: ALL_BYTES }),
          retained({ topic: 'bin/invalid-utf8', payload: INVALID_UTF8 }),
          retained({ topic: 'bin/empty', payload: Buffer.alloc(0) }),
        ];
        for (const m of messages) await store.retained.set(m);
        for (const m of messages) {
          const got = await store.retained.get(m.topic);
          expect(Buffer.isBuffer(got?.payload)).toBe(true);
          expect(got?.payload.equals(m.payload)).toBe(true);
          expect(got?.payload.length).toBe(m.payload.length);
        }
        const listed = sortBy(await store.retained.list(), (m) => m.topic);
        expect(listed.map((m) => m.topic)).toEqual(['bin/all', 'bin/empty', 'bin/invalid-utf8']);
        for (const m of listed) expect(Buffer.isBuffer(m.payload)).toBe(true);
      });

      it('round-trips a ~1 MB payload', async () => {
        const big = randomBytes(1024 * 1024 + 3);
        await store.retained.set(retained({ topic: 'big', payload: big }));
        const got = await store.retained.get('big');
        expect(got?.payload.length).toBe(big.length);
        expect(got?.payload.equals(big)).toBe(true);
      });

      it('keys unicode topics exactly, distinguishing case and trailing slashes', async () => {
        const topics = [UNICODE_TOPIC, 'a/b', 'A/b', 'a/b/', '/a/b', 'a//b'];
        for (const [i, topic] of topics.entries()) await store.retained.set(retained({ topic, payload: Buffer.from([i]) }));
        for (const [i, topic] of topics.entries()) {
          expect((await store.retained.get(topic))?.payload).toEqual(Buffer.from([i]));
        }
        expect(await store.retained.list()).toHaveLength(topics.length);
      });

      it('does not alias the caller payload buffer', async () => {
        const payload = Buffer.from('original');
        await store.retained.set(retained({ payload }));
        payload.fill(0);
        expect((await store.retained.get('sensors/1/temp'))?.payload.toString()).toBe('original');
      });
    });

    describe('messages', () => {
      it('round-trips every field of a put', async () => {
        const m = msg({
          seq: 5,
          packetId: 65535,
          state: 'sent',
          topic: UNICODE_TOPIC,
          payload: INVALID_UTF8,
          qos: 2,
          retain: true,
          properties: FULL_PROPERTIES,
          subscriptionIds: [1, 268_435_455, 3],
          expiresAt: T0 + 1000,
        });
        await store.messages.write([put(m)]);
        const [got] = await store.messages.listForSession('client-a');
        expect(got).toStrictEqual(m);
        expect(Buffer.isBuffer(got?.payload)).toBe(true);
      });

      it('returns empty results for an unknown session, and maxSeq 0', async () => {
        expect(await store.messages.listForSession('nobody')).toEqual([]);
        expect(await store.messages.listIncomingQos2('nobody')).toEqual([]);
        expect(await store.messages.maxSeq('nobody')).toBe(0);
      });

      it('accepts an empty batch', async () => {
        await store.messages.write([]);
        expect(await store.messages.listForSession('client-a')).toEqual([]);
      });

      it('lists by seq ascending regardless of write order, per client', async () => {
        await store.messages.write([put(msg({ seq: 3 })), put(msg({ seq: 10 })), put(msg({ clientId: 'client-b', seq: 2 }))]);
        await store.messages.write([put(msg({ seq: 1 })), put(msg({ seq: 2 }))]);
        expect((await store.messages.listForSession('client-a')).map((m) => m.seq)).toEqual([1, 2, 3, 10]);
        expect((await store.messages.listForSession('client-b')).map((m) => m.seq)).toEqual([2]);
      });

      it('upserts on (clientId, seq): the state machine queued -> sent -> pubrel', async () => {
        await store.messages.write([put(msg({ seq: 1 }))]);
        await store.messages.write([put(msg({ seq: 1, state: 'sent', packetId: 17, qos: 2 }))]);
        expect(await store.messages.listForSession('client-a')).toStrictEqual([msg({ seq: 1, state: 'sent', packetId: 17, qos: 2 })]);
        await store.messages.write([put(msg({ seq: 1, state: 'pubrel', packetId: 17, qos: 2 }))]);
        expect(await store.messages.listForSession('client-a')).toStrictEqual([msg({ seq: 1, state: 'pubrel', packetId: 17, qos: 2 })]);
        await store.messages.write([put(msg({ seq: 1, state: 'queued', packetId: null, payload: Buffer.alloc(0) }))]);
        expect(await store.messages.listForSession('client-a')).toStrictEqual([msg({ seq: 1, payload: Buffer.alloc(0) })]);
      });

      it('deletes by (clientId, seq) only, ignoring unknown keys', async () => {
        await store.messages.write([put(msg({ seq: 1 })), put(msg({ seq: 2 })), put(msg({ clientId: 'client-b', seq: 1 }))]);
        await store.messages.write([del('client-a', 1), del('client-a', 99), del('nobody', 1)]);
        expect((await store.messages.listForSession('client-a')).map((m) => m.seq)).toEqual([2]);
        expect((await store.messages.listForSession('client-b')).map((m) => m.seq)).toEqual([1]);
      });

      it('applies a mixed batch in order', async () => {
        await store.messages.write([
          put(msg({ seq: 1, topic: 'first' })),
          del('client-a', 1),
          del('client-a', 2),
          put(msg({ seq: 2, topic: 'second' })),
          put(msg({ seq: 3, topic: 'x' })),
          put(msg({ seq: 3, topic: 'y' })),
          qos2Add('client-a', 5),
          qos2Remove('client-a', 5),
          qos2Remove('client-a', 6),
          qos2Add('client-a', 6),
        ]);
        const listed = await store.messages.listForSession('client-a');
        expect(listed.map((m) => [m.seq, m.topic])).toEqual([
          [2, 'second'],
          [3, 'y'],
        ]);
        expect(await store.messages.listIncomingQos2('client-a')).toEqual([6]);
      });

      it('put then delete of the same seq in one batch leaves nothing', async () => {
        await store.messages.write([put(msg({ seq: 7 })), del('client-a', 7)]);
        expect(await store.messages.listForSession('client-a')).toEqual([]);
        expect(await store.messages.maxSeq('client-a')).toBe(0);
      });

      it('rolls back the whole batch when one write is invalid', async () => {
        await store.messages.write([put(msg({ seq: 1, topic: 'kept' })), qos2Add('client-a', 1)]);
        const bogus = { kind: 'bogus', clientId: 'client-a' } as unknown as MessageWrite;
        await expect(
          store.messages.write([del('client-a', 1), put(msg({ seq: 2 })), qos2Remove('client-a', 1), qos2Add('client-a', 2), bogus]),
        ).rejects.toBeInstanceOf(PalisadeError);
        expect((await store.messages.listForSession('client-a')).map((m) => [m.seq, m.topic])).toEqual([[1, 'kept']]);
        expect(await store.messages.listIncomingQos2('client-a')).toEqual([1]);
        // The store must still be usable after a failed batch.
        await store.messages.write([put(msg({ seq: 3 }))]);
        expect((await store.messages.listForSession('client-a')).map((m) => m.seq)).toEqual([1, 3]);
      });

      it('keeps the incoming QoS 2 id set: add is idempotent, remove ignores unknown ids, per client', async () => {
        await store.messages.write([qos2Add('client-a', 300), qos2Add('client-a', 1), qos2Add('client-a', 65535)]);
        await store.messages.write([qos2Add('client-a', 300), qos2Add('client-b', 300)]);
        expect([...(await store.messages.listIncomingQos2('client-a'))].sort((a, b) => a - b)).toEqual([1, 300, 65535]);
        await store.messages.write([qos2Remove('client-a', 300), qos2Remove('client-a', 42)]);
        expect([...(await store.messages.listIncomingQos2('client-a'))].sort((a, b) => a - b)).toEqual([1, 65535]);
        expect(await store.messages.listIncomingQos2('client-b')).toEqual([300]);
      });

      it('tracks maxSeq through puts and deletes, including seqs beyond 32 bits', async () => {
        await store.messages.write([put(msg({ seq: 4 })), put(msg({ seq: 9 })), put(msg({ clientId: 'client-b', seq: 100 }))]);
        expect(await store.messages.maxSeq('client-a')).toBe(9);
        await store.messages.write([del('client-a', 9)]);
        expect(await store.messages.maxSeq('client-a')).toBe(4);
        const big = 2 ** 40 + 1;
        await store.messages.write([put(msg({ seq: big }))]);
        expect(await store.messages.maxSeq('client-a')).toBe(big);
        expect((await store.messages.listForSession('client-a')).map((m) => m.seq)).toEqual([4, big]);
        expect(await store.messages.maxSeq('client-b')).toBe(100);
      });

      it('round-trips binary payloads: all byte values, invalid UTF-8, zero length and ~1 MB', async () => {
        const big = randomBytes(1024 * 1024);
        const payloads = [ALL_BYTES, INVALID_UTF8, Buffer.alloc(0), big];
        await store.messages.write(payloads.map((payload, i) => put(msg({ seq: i + 1, payload }))));
        const listed = await store.messages.listForSession('client-a');
        expect(listed).toHaveLength(payloads.length);
        for (const [i, m] of listed.entries()) {
          expect(Buffer.isBuffer(m.payload)).toBe(true);
          expect(m.payload.length).toBe(payloads[i]!.length);
          expect(m.payload.equals(payloads[i]!)).toBe(true);
        }
      });

      it('does not alias the caller payload buffer', async () => {
        const payload = Buffer.from('original');
        await store.messages.write([put(msg({ payload }))]);
        payload.fill(0);
        expect((await store.messages.listForSession('client-a'))[0]?.payload.toString()).toBe('original');
      });

      it('handles concurrent batches without losing writes', async () => {
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            store.messages.write([put(msg({ clientId: `c${i % 4}`, seq: i + 1 })), qos2Add(`c${i % 4}`, i + 1)]),
          ),
        );
        let total = 0;
        for (let c = 0; c < 4; c++) {
          const listed = await store.messages.listForSession(`c${c}`);
          total += listed.length;
          expect(listed.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, k) => k * 4 + c + 1));
          expect(await store.messages.listIncomingQos2(`c${c}`)).toHaveLength(10);
        }
        expect(total).toBe(40);
      });

      it('matches an in-memory model under random put/delete/qos2 batches', async () => {
        const clients = ['p-a', 'p-b'] as const;
        const clientArb = fc.constantFrom(...clients);
        const seqArb = fc.integer({ min: 1, max: 12 });
        const messageArb = fc.record({
          clientId: clientArb,
          seq: seqArb,
          packetId: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
          state: fc.constantFrom('queued' as const, 'sent' as const, 'pubrel' as const),
          topic: fc.constantFrom('a', 'a/b', UNICODE_TOPIC),
          payload: fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u)),
          qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
          retain: fc.boolean(),
          properties: fc.constantFrom<MessageProperties>({}, { contentType: 'x' }, FULL_PROPERTIES),
          subscriptionIds: fc.array(fc.integer({ min: 1, max: 268_435_455 }), { maxLength: 3 }),
          expiresAt: fc.option(fc.integer({ min: T0, max: T0 + 1e9 }), { nil: null }),
        });
        const writeArb: fc.Arbitrary<MessageWrite> = fc.oneof(
          // fc.record builds null-prototype objects; spread so toStrictEqual compares like with like.
          { weight: 4, arbitrary: messageArb.map((m) => put({ ...m })) },
          { weight: 3, arbitrary: fc.tuple(clientArb, seqArb).map(([c, s]) => del(c, s)) },
          { weight: 1, arbitrary: fc.tuple(clientArb, fc.integer({ min: 1, max: 6 })).map(([c, p]) => qos2Add(c, p)) },
          { weight: 1, arbitrary: fc.tuple(clientArb, fc.integer({ min: 1, max: 6 })).map(([c, p]) => qos2Remove(c, p)) },
        );
        const batchesArb = fc.array(fc.array(writeArb, { maxLength: 8 }), { minLength: 1, maxLength: 6 });

        await fc.assert(
          fc.asyncProperty(batchesArb, async (batches) => {
            for (const c of clients) await store.sessions.delete(c);
            const model = new Map<string, Map<number, StoredMessage>>(clients.map((c) => [c, new Map()]));
            const qos2 = new Map<string, Set<number>>(clients.map((c) => [c, new Set()]));
            for (const batch of batches) {
              await store.messages.write(batch);
              for (const w of batch) {
                if (w.kind === 'put') model.get(w.message.clientId)!.set(w.message.seq, w.message);
                else if (w.kind === 'delete') model.get(w.clientId)!.delete(w.seq);
                else if (w.kind === 'qos2-in-add') qos2.get(w.clientId)!.add(w.packetId);
                else qos2.get(w.clientId)!.delete(w.packetId);
              }
            }
            for (const c of clients) {
              const expected = [...model.get(c)!.values()].sort((a, b) => a.seq - b.seq);
              expect(await store.messages.listForSession(c)).toStrictEqual(expected);
              expect(await store.messages.maxSeq(c)).toBe(expected.at(-1)?.seq ?? 0);
              const ids = [...(await store.messages.listIncomingQos2(c))].sort((a, b) => a - b);
              expect(ids).toEqual([...qos2.get(c)!].sort((a, b) => a - b));
            }
          }),
          { numRuns: 60 },
        );
      });
    });

    describe('events', () => {
      it('assigns increasing ids and returns the full event, chained by the store', async () => {
        const first = await store.events.append(event());
        const second = await store.events.append(event({ type: 'policy.denied', severity: 'critical', principal: null, source: null }));
        expect(Number.isInteger(first.id)).toBe(true);
        expect(first).toStrictEqual({ ...event(), id: first.id, prevHash: GENESIS, hash: hashEvent(GENESIS, { ...event(), id: first.id }) });
        expect(second.id).toBeGreaterThan(first.id);
        const secondInput = event({ type: 'policy.denied', severity: 'critical', principal: null, source: null });
        expect(second).toStrictEqual({ ...secondInput, id: second.id, prevHash: first.hash, hash: hashEvent(first.hash, { ...secondInput, id: second.id }) });
      });

      it('numbers events 1, 2, 3 with no gaps, so a missing id means a deleted row', async () => {
        const ids = [];
        for (let i = 0; i < 5; i++) ids.push((await store.events.append(event({ ts: T0 + i }))).id);
        expect(ids).toEqual([1, 2, 3, 4, 5]);
      });

      it('hashes the detail as stored, so list() re-verifies it', async () => {
        // undefined members vanish in storage; the hash must not cover them.
        const appended = await store.events.append(event({ detail: { kept: 1, dropped: undefined, z: { b: 2, a: 1 } } }));
        expect(appended.detail).toStrictEqual({ kept: 1, z: { b: 2, a: 1 } });
        expect(verifyChain(await store.events.list())).toBeNull();
      });

      it('counts events up to an id', async () => {
        expect(await store.events.count(10)).toBe(0);
        const a = await store.events.append(event());
        const b = await store.events.append(event());
        expect(await store.events.count(a.id)).toBe(1);
        expect(await store.events.count(b.id)).toBe(2);
        expect(await store.events.count(b.id + 100)).toBe(2);
      });

      it('stores checkpoints verbatim, by id', async () => {
        expect(await store.events.lastCheckpoint()).toBeNull();
        expect(await store.events.listCheckpoints()).toEqual([]);
        const c1 = await store.events.addCheckpoint(checkpoint());
        const c2 = await store.events.addCheckpoint(checkpoint({ lastEventId: 9, count: 9, lastHash: 'cd'.repeat(32), ts: T0 + 1 }));
        expect(c1).toStrictEqual({ ...checkpoint(), id: c1.id });
        expect(c2.id).toBeGreaterThan(c1.id);
        expect(await store.events.listCheckpoints()).toStrictEqual([c1, c2]);
        expect(await store.events.lastCheckpoint()).toStrictEqual(c2);
      });

      it('round-trips nested JSON detail and null principal/source', async () => {
        const detail = {
          nested: { list: [1, 'two', null, true, { deep: 'ünï 😀' }] },
          empty: {},
          zero: 0,
          negative: -1.5,
          flag: false,
          nothing: null,
        };
        const appended = await store.events.append(event({ detail, principal: null, source: null, severity: 'info' }));
        const [listed] = await store.events.list();
        expect(listed).toStrictEqual(appended);
        expect(listed?.detail).toStrictEqual(detail);
      });

      it('returns the same event from append, list and last', async () => {
        const appended = await store.events.append(event());
        expect(await store.events.last()).toStrictEqual(appended);
        expect(await store.events.list()).toStrictEqual([appended]);
      });

      it('last is null when empty and the highest id otherwise', async () => {
        expect(await store.events.last()).toBeNull();
        await store.events.append(event({ type: 'a' }));
        const b = await store.events.append(event({ type: 'b' }));
        expect(await store.events.last()).toStrictEqual(b);
      });

      it('lists in id order with sinceId, type and limit filters', async () => {
        expect(await store.events.list()).toEqual([]);
        const appended: SecurityEvent[] = [];
        for (let i = 0; i < 10; i++) {
          appended.push(await store.events.append(event({ ts: T0 + i, type: i % 3 === 0 ? 'auth.failed' : 'shield.blocked' })));
        }
        const ids = appended.map((e) => e.id);
        expect((await store.events.list()).map((e) => e.id)).toEqual(ids);
        expect(await store.events.list({ sinceId: ids[4] })).toStrictEqual(appended.slice(5));
        expect(await store.events.list({ sinceId: ids[9] })).toEqual([]);
        expect(await store.events.list({ sinceId: 0 })).toStrictEqual(appended);
        expect(await store.events.list({ limit: 3 })).toStrictEqual(appended.slice(0, 3));
        expect(await store.events.list({ limit: 0 })).toEqual([]);
        expect(await store.events.list({ type: 'auth.failed' })).toStrictEqual(appended.filter((e) => e.type === 'auth.failed'));
        expect(await store.events.list({ type: 'unknown' })).toEqual([]);
        expect((await store.events.list({ type: 'shield.blocked', sinceId: ids[2], limit: 3 })).map((e) => e.id)).toEqual([
          ids[4],
          ids[5],
          ids[7],
        ]);
      });

      it('defaults to a limit of 1000', async () => {
        for (let i = 0; i < 1003; i++) await store.events.append(event({ ts: T0 + i }));
        const listed = await store.events.list();
        expect(listed).toHaveLength(1000);
        expect(listed[0]!.ts).toBe(T0);
        expect(listed[999]!.ts).toBe(T0 + 999);
        expect(await store.events.list({ sinceId: listed[999]!.id })).toHaveLength(3);
        expect(await store.events.list({ limit: 2000 })).toHaveLength(1003);
      });

      it('keeps ids unique and one unbroken chain under concurrent appends', async () => {
        const appended = await Promise.all(Array.from({ length: 25 }, (_, i) => store.events.append(event({ ts: T0 + i }))));
        const ids = appended.map((e) => e.id);
        expect(new Set(ids).size).toBe(25);
        const listed = await store.events.list();
        expect(listed.map((e) => e.id)).toEqual([...ids].sort((a, b) => a - b));
        expect(verifyChain(listed)).toBeNull();
      });
    });

    describe('policies', () => {
      const policyDoc = (name: string, overrides: Partial<PolicyDocument> = {}): PolicyDocument => ({
        name,
        version: '2026-11',
        description: 'Kameras — ünïcödé 📷',
        statements: [
          { sid: 'tele', effect: 'allow', actions: ['mqtt:publish'], resources: ['video/${device.id}/telemetry/#'] },
          {
            effect: 'deny',
            actions: ['mqtt:*', 'http:get'],
            resources: ['video/+/admin/#', '/api/**'],
            conditions: { quarantined: false, firmwareCurrent: true, certDaysLeftAtLeast: 2.5, sourceCidr: ['10.0.0.0/8', '2001:db8::/32'] },
          },
        ],
        ...overrides,
      });

      it('round-trips documents exactly, including conditions and unicode', async () => {
        const a = policyDoc('cams');
        await store.policies.put(a);
        expect(await store.policies.get('cams')).toStrictEqual(a);
        expect(await store.policies.get('nope')).toBeNull();
      });

      it('replaces a document of the same name and keeps its attachments', async () => {
        await store.policies.put(policyDoc('cams'));
        await store.policies.attach({ kind: 'segment', id: 'video' }, 'cams');
        const replacement = policyDoc('cams', { statements: [] });
        await store.policies.put(replacement);
        expect(await store.policies.get('cams')).toStrictEqual(replacement);
        expect(await store.policies.list()).toHaveLength(1);
        expect(await store.policies.attachments()).toStrictEqual({ segment: { video: ['cams'] }, device: {} });
      });

      it('lists documents by name, and nothing when empty', async () => {
        expect(await store.policies.list()).toEqual([]);
        for (const n of ['b', 'c', 'a']) await store.policies.put(policyDoc(n));
        expect((await store.policies.list()).map((p) => p.name)).toEqual(['a', 'b', 'c']);
      });

      it('attaches to segments and devices, idempotently, with sorted name lists', async () => {
        for (const n of ['p2', 'p1', 'p3']) await store.policies.put(policyDoc(n));
        expect(await store.policies.attachments()).toStrictEqual({ segment: {}, device: {} });
        await store.policies.attach({ kind: 'segment', id: 'video' }, 'p2');
        await store.policies.attach({ kind: 'segment', id: 'video' }, 'p1');
        await store.policies.attach({ kind: 'segment', id: 'video' }, 'p1');
        await store.policies.attach({ kind: 'device', id: 'video' }, 'p3');
        await store.policies.attach({ kind: 'device', id: 'cam-1' }, 'p1');
        expect(await store.policies.attachments()).toStrictEqual({
          segment: { video: ['p1', 'p2'] },
          device: { 'cam-1': ['p1'], video: ['p3'] },
        });
      });

      it('refuses to attach a policy that does not exist, with NOT_FOUND', async () => {
        await expectCode(store.policies.attach({ kind: 'segment', id: 'video' }, 'ghost'), ErrorCodes.NOT_FOUND);
        expect(await store.policies.attachments()).toStrictEqual({ segment: {}, device: {} });
      });

      it('detaches, reporting whether anything was attached', async () => {
        await store.policies.put(policyDoc('p'));
        await store.policies.attach({ kind: 'device', id: 'cam-1' }, 'p');
        expect(await store.policies.detach({ kind: 'segment', id: 'cam-1' }, 'p')).toBe(false);
        expect(await store.policies.detach({ kind: 'device', id: 'cam-1' }, 'p')).toBe(true);
        expect(await store.policies.detach({ kind: 'device', id: 'cam-1' }, 'p')).toBe(false);
        expect(await store.policies.attachments()).toStrictEqual({ segment: {}, device: {} });
      });

      it('deletes a document together with every attachment of it', async () => {
        await store.policies.put(policyDoc('gone'));
        await store.policies.put(policyDoc('kept'));
        await store.policies.attach({ kind: 'segment', id: 's1' }, 'gone');
        await store.policies.attach({ kind: 'segment', id: 's1' }, 'kept');
        await store.policies.attach({ kind: 'device', id: 'd1' }, 'gone');
        expect(await store.policies.delete('gone')).toBe(true);
        expect(await store.policies.delete('gone')).toBe(false);
        expect(await store.policies.get('gone')).toBeNull();
        expect(await store.policies.attachments()).toStrictEqual({ segment: { s1: ['kept'] }, device: {} });
        // A policy put again under the old name does not inherit the old attachments.
        await store.policies.put(policyDoc('gone'));
        expect(await store.policies.attachments()).toStrictEqual({ segment: { s1: ['kept'] }, device: {} });
      });

      it('keeps targets named like Object.prototype members as plain keys', async () => {
        await store.policies.put(policyDoc('p'));
        await store.policies.attach({ kind: 'device', id: '__proto__' }, 'p');
        await store.policies.attach({ kind: 'segment', id: 'constructor' }, 'p');
        const a = await store.policies.attachments();
        expect(Object.hasOwn(a.device, '__proto__')).toBe(true);
        expect(Object.getPrototypeOf(a.device)).toBe(Object.prototype);
        expect(Object.entries(a.device)).toEqual([['__proto__', ['p']]]);
        expect(Object.entries(a.segment)).toEqual([['constructor', ['p']]]);
      });
    });

    describe('enrollment', () => {
      const token = (over: Partial<EnrollmentTokenRecord> = {}): EnrollmentTokenRecord => ({ id: 't1', lookup: 'a'.repeat(64), sealed: 'sealed-1', deviceId: 'd1', segment: 'lab', createdAt: 1000, expiresAt: 5000, usedAt: null, usedFor: null, ...over });

      it('stores tokens, finds them by lookup and id, lists them by device', async () => {
        await store.enrollment.addToken(token());
        await store.enrollment.addToken(token({ id: 't2', lookup: 'b'.repeat(64), deviceId: 'd2', createdAt: 2000 }));
        expect(await store.enrollment.findTokenByLookup('a'.repeat(64))).toEqual(token());
        expect(await store.enrollment.findTokenByLookup('c'.repeat(64))).toBeNull();
        expect((await store.enrollment.getToken('t2'))?.deviceId).toBe('d2');
        expect((await store.enrollment.listTokens()).map((t) => t.id)).toEqual(['t1', 't2']);
        expect((await store.enrollment.listTokens({ deviceId: 'd2' })).map((t) => t.id)).toEqual(['t2']);
        await expectCode(store.enrollment.addToken(token({ id: 't3' })), ErrorCodes.ALREADY_EXISTS);
      });

      it('consumes a token once, and never after its expiry', async () => {
        await store.enrollment.addToken(token());
        expect(await store.enrollment.consumeToken('t1', 5000, 'serial-x')).toBe(false);
        expect(await store.enrollment.consumeToken('t1', 4000, 'serial-1')).toBe(true);
        expect(await store.enrollment.consumeToken('t1', 4001, 'serial-2')).toBe(false);
        expect(await store.enrollment.getToken('t1')).toMatchObject({ usedAt: 4000, usedFor: 'serial-1' });
        expect(await store.enrollment.deleteToken('t1')).toBe(true);
        expect(await store.enrollment.deleteToken('t1')).toBe(false);
      });

      it('reseals only over the expected previous value; the lookup key is first-writer-wins', async () => {
        await store.enrollment.addToken(token());
        expect(await store.enrollment.resealToken('t1', 'other', 'sealed-2')).toBe(false);
        expect(await store.enrollment.resealToken('t1', 'sealed-1', 'sealed-2')).toBe(true);
        expect((await store.enrollment.getToken('t1'))?.sealed).toBe('sealed-2');
        expect(await store.enrollment.getLookupKey()).toBeNull();
        expect(await store.enrollment.initLookupKey('k1')).toBe('k1');
        expect(await store.enrollment.initLookupKey('k2')).toBe('k1');
        expect(await store.enrollment.resealLookupKey('k2', 'k3')).toBe(false);
        expect(await store.enrollment.resealLookupKey('k1', 'k3')).toBe(true);
        expect(await store.enrollment.getLookupKey()).toBe('k3');
      });

      it('stores bootstrap certificates', async () => {
        await store.certificates.add({ serial: 'b00', kind: 'bootstrap', deviceId: 'd1', subject: 'CN=bootstrap:d1', notBefore: 1, notAfter: 2, fingerprint: 'f', pem: 'p', revokedAt: null, revocationReason: null });
        expect((await store.certificates.get('b00'))?.kind).toBe('bootstrap');
      });
    });

    describe('device PSKs', () => {
      it('puts, replaces, lists, reseals with a guard and deletes', async () => {
        expect(await store.devicePsks.get('d1')).toBeNull();
        await store.devicePsks.put({ deviceId: 'd1', sealed: 's1', createdAt: 1 });
        await store.devicePsks.put({ deviceId: 'd0', sealed: 's0', createdAt: 2 });
        await store.devicePsks.put({ deviceId: 'd1', sealed: 's2', createdAt: 3 });
        expect(await store.devicePsks.get('d1')).toEqual({ deviceId: 'd1', sealed: 's2', createdAt: 3 });
        expect((await store.devicePsks.list()).map((r) => r.deviceId)).toEqual(['d0', 'd1']);
        expect(await store.devicePsks.reseal('d1', 's1', 's3')).toBe(false);
        expect(await store.devicePsks.reseal('d1', 's2', 's3')).toBe(true);
        expect((await store.devicePsks.get('d1'))?.sealed).toBe('s3');
        expect(await store.devicePsks.delete('d1')).toBe(true);
        expect(await store.devicePsks.delete('d1')).toBe(false);
        expect(await store.devicePsks.get('d1')).toBeNull();
      });
    });

    describe('changes', () => {
      const kinds = async (after: number) => (await store.changes.since(after)).map((c) => `${c.kind}:${c.key}`);

      it('records every write to devices, policies and attachments, in order, whoever wrote it', async () => {
        const start = await store.changes.latest();
        await store.devices.create(device({ id: 'ch-1' }));
        await store.devices.update('ch-1', { segment: 'quarantine' });
        await store.policies.put({ name: 'ch-p', version: '2026-11', statements: [{ effect: 'allow', actions: ['mqtt:publish'], resources: ['a'] }] });
        await store.policies.attach({ kind: 'device', id: 'ch-1' }, 'ch-p');
        await store.policies.detach({ kind: 'device', id: 'ch-1' }, 'ch-p');
        await store.devices.delete('ch-1');
        expect(await kinds(start)).toEqual(['device:ch-1', 'device:ch-1', 'policy:ch-p', 'policy:ch-p', 'policy:ch-p', 'device:ch-1']);
        const all = await store.changes.since(start);
        expect(all.map((c) => c.seq)).toEqual([...all.map((c) => c.seq)].sort((a, b) => a - b));
        expect(await store.changes.latest()).toBe(all.at(-1)?.seq);
      });

      it('pages with since(after, limit) and reads nothing past the end', async () => {
        const start = await store.changes.latest();
        for (const id of ['p1', 'p2', 'p3']) await store.devices.create(device({ id }));
        const first = await store.changes.since(start, 2);
        expect(first.map((c) => c.key)).toEqual(['p1', 'p2']);
        expect((await store.changes.since(first[1]!.seq)).map((c) => c.key)).toEqual(['p3']);
        expect(await store.changes.since(await store.changes.latest())).toEqual([]);
      });

      it('prunes by age only', async () => {
        await store.devices.create(device({ id: 'old' }));
        const before = (await store.changes.since(0)).length;
        expect(before).toBeGreaterThan(0);
        expect(await store.changes.prune(0)).toBe(0);
        expect(await store.changes.prune(Date.now() + 60_000)).toBe(before);
        expect(await store.changes.since(0)).toEqual([]);
      });
    });
  });
}
