/**
 * The anomaly detector without a gateway (issue 5, point 6): baselines, the consecutive data
 * point state machine, resistance to baseline poisoning, bounded memory, segments, the event
 * classification and the config schema. Windows are closed by hand, so nothing here depends on
 * wall-clock speed.
 */
import { describe, expect, it } from 'vitest';
import { anomalySchema } from '../../src/config/anomaly.ts';
import { EwmaBaseline, PercentileBaseline, PERCENTILE_RESERVOIR, percentile } from '../../src/shield/anomaly/baseline.ts';
import { AnomalyDetector } from '../../src/shield/anomaly/detector.ts';
import { classifyEvent } from '../../src/shield/anomaly/event-metrics.ts';
import type { AnomalyNotice, AnomalySettings, Behaviour } from '../../src/shield/anomaly/types.ts';
import { addressOf } from '../../src/shield/anomaly/window.ts';

const EWMA = { baseline: 'ewma', alpha: 0.2, deviations: 4, minSamples: 5, minDeviation: 1, floor: 0 } as const;

function settings(behaviours: Behaviour[], extra: Partial<AnomalySettings> = {}): AnomalySettings {
  return { enabled: true, windowSeconds: 60, forgetAfterWindows: 10, maxDevices: 1000, maxTopicsPerWindow: 256, sysTopic: false, webhook: { url: null, timeoutMs: 1000, maxInFlight: 4 }, behaviours, ...extra };
}

function detector(behaviours: Behaviour[], extra: Partial<AnomalySettings> = {}): { d: AnomalyDetector; notices: AnomalyNotice[] } {
  const notices: AnomalyNotice[] = [];
  const d = new AnomalyDetector({ settings: settings(behaviours, extra), sink: { notify: (n) => notices.push(n) } });
  return { d, notices };
}

function publish(d: AnomalyDetector, id: string, n: number, opts: { segment?: string; topics?: number; bytes?: number } = {}): void {
  for (let i = 0; i < n; i++) d.recordPublish(id, opts.segment ?? 'plant', `plant/${id}/t${i % (opts.topics ?? 1)}`, opts.bytes ?? 10, '10.0.0.1:4000');
}

const rate = (over: Partial<Behaviour> = {}): Behaviour => ({ name: 'rate', metric: 'messagesSent', threshold: EWMA, datapointsToAlarm: 2, datapointsToClear: 2, mitigations: ['alert'], ...over });

describe('baselines', () => {
  it('EWMA follows RFC 6298 smoothing: mean and mean absolute deviation', () => {
    const b = new EwmaBaseline({ ...EWMA, alpha: 0.5, minSamples: 3 });
    b.learn(10);
    expect([b.mean, b.deviation]).toEqual([10, 0]);
    b.learn(20); // dev = 0.5*0 + 0.5*|20-10| = 5; mean = 15
    expect([b.mean, b.deviation]).toEqual([15, 5]);
    expect(b.limit()).toBeNull(); // two samples, three needed
    b.learn(15); // dev = 2.5 + 0 = 2.5; mean 15
    expect([b.mean, b.deviation]).toEqual([15, 2.5]);
    expect(b.limit()).toBe(15 + 4 * 2.5);
    expect(b.breaches(25)).toBe(false);
    expect(b.breaches(25.1)).toBe(true);
  });

  it('EWMA: minDeviation keeps a perfectly steady device from alarming on +1, floor below which nothing alarms', () => {
    const b = new EwmaBaseline({ ...EWMA, minDeviation: 2, floor: 50 });
    for (let i = 0; i < 10; i++) b.learn(5);
    expect(b.deviation).toBe(0);
    expect(b.limit()).toBe(50);
    const c = new EwmaBaseline({ ...EWMA, minDeviation: 2 });
    for (let i = 0; i < 10; i++) c.learn(5);
    expect(c.limit()).toBe(5 + 4 * 2);
  });

  it('percentile: nearest rank over a bounded reservoir of recent points, times factor', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 100)).toBe(5);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
    const b = new PercentileBaseline({ baseline: 'percentile', p: 90, factor: 2, minSamples: 10, floor: 0 });
    for (let i = 1; i <= 9; i++) b.learn(i * 10);
    expect(b.limit()).toBeNull();
    b.learn(100); // 10..100: p90 is 90
    expect(b.limit()).toBe(180);
    // Only the last PERCENTILE_RESERVOIR points count: old large ones age out.
    for (let i = 0; i < PERCENTILE_RESERVOIR; i++) b.learn(1);
    expect(b.limit()).toBe(2);
  });
});

describe('consecutive data points', () => {
  it('alarms after datapointsToAlarm breaching windows in a row, and a normal window in between restarts the count', () => {
    const { d, notices } = detector([{ name: 'denials', metric: 'messagesSent', threshold: { op: '>', value: 5 }, datapointsToAlarm: 3, datapointsToClear: 2, mitigations: ['alert'] }]);
    const pattern = [10, 10, 1, 10, 10, 10];
    for (const n of pattern) {
      publish(d, 'dev', n);
      d.closeWindow();
    }
    expect(notices.map((n) => [n.kind, n.window])).toEqual([['alarm', 5]]);
    expect(notices[0]).toMatchObject({ deviceId: 'dev', value: 10, threshold: 5, segment: 'plant' });
    expect(d.alarms('dev')).toEqual(['denials']);
  });

  it('clears after datapointsToClear normal windows in a row; a breach in between restarts the count', () => {
    const { d, notices } = detector([{ name: 'denials', metric: 'messagesSent', threshold: { op: '>', value: 5 }, datapointsToAlarm: 1, datapointsToClear: 3, mitigations: ['alert'] }]);
    for (const n of [10, 1, 1, 10, 1, 1, 1, 1]) {
      publish(d, 'dev', n);
      d.closeWindow();
    }
    expect(notices.map((n) => [n.kind, n.window])).toEqual([['alarm', 0], ['cleared', 6]]);
    expect(notices[1]!.cause).toBe('datapoints');
    expect(d.alarms('dev')).toEqual([]);
  });

  it('a "<" threshold alarms on silence (a device that stopped reporting)', () => {
    const { d, notices } = detector([{ name: 'silent', metric: 'messagesSent', threshold: { op: '<', value: 1 }, datapointsToAlarm: 2, datapointsToClear: 1, mitigations: ['alert'] }]);
    publish(d, 'dev', 3);
    d.closeWindow();
    d.closeWindow();
    d.closeWindow();
    expect(notices.map((n) => [n.kind, n.window])).toEqual([['alarm', 2]]);
  });
});

describe('learned baselines', () => {
  it('a message rate far above the device\'s own baseline alarms; another device with a higher normal rate does not', () => {
    const { d, notices } = detector([rate()]);
    for (let w = 0; w < 20; w++) {
      publish(d, 'slow', 5 + (w % 3));
      publish(d, 'busy', 200 + (w % 7));
      d.closeWindow();
    }
    expect(notices).toEqual([]);
    for (let w = 0; w < 2; w++) {
      publish(d, 'slow', 60);
      publish(d, 'busy', 205);
      d.closeWindow();
    }
    expect(notices.map((n) => [n.kind, n.deviceId])).toEqual([['alarm', 'slow']]);
  });

  it('poisoning: breaching windows are never learned, so a flood stays anomalous however long it lasts', () => {
    const { d, notices } = detector([rate({ datapointsToAlarm: 1, datapointsToClear: 1 })]);
    for (let w = 0; w < 20; w++) {
      publish(d, 'dev', 5);
      d.closeWindow();
    }
    // Fifty windows of flood: one alarm, and it never clears while the flood lasts.
    for (let w = 0; w < 50; w++) {
      publish(d, 'dev', 100);
      d.closeWindow();
    }
    expect(notices.map((n) => n.kind)).toEqual(['alarm']);
    // The baseline is what it was before the flood.
    expect(notices[0]!.threshold).toBe(5 + 4 * 1);
    publish(d, 'dev', 5);
    d.closeWindow();
    expect(notices.map((n) => n.kind)).toEqual(['alarm', 'cleared']);
    expect(notices[1]!.threshold).toBe(9);
    // Back to flooding: alarms again at once, not a taught-in "new normal".
    publish(d, 'dev', 100);
    d.closeWindow();
    expect(notices.map((n) => n.kind)).toEqual(['alarm', 'cleared', 'alarm']);
  });

  it('a steady device that doubles its rate at once is caught on the first window', () => {
    const { d, notices } = detector([rate({ datapointsToAlarm: 1 })]);
    for (let w = 0; w < 20; w++) {
      publish(d, 'dev', 10);
      d.closeWindow();
    }
    publish(d, 'dev', 20);
    d.closeWindow();
    expect(notices.map((n) => n.kind)).toEqual(['alarm']);
  });

  it('silent windows are missing data, not zeros: an idle spell does not lower the baseline', () => {
    const { d, notices } = detector([rate({ datapointsToAlarm: 1 })], { forgetAfterWindows: 100 });
    for (let w = 0; w < 10; w++) {
      publish(d, 'dev', 20);
      d.closeWindow();
    }
    for (let w = 0; w < 30; w++) d.closeWindow();
    publish(d, 'dev', 20);
    d.closeWindow();
    expect(notices).toEqual([]);
  });

  it('topic fan-out counts distinct topics per window', () => {
    const { d, notices } = detector([{ name: 'fanout', metric: 'topicFanout', threshold: EWMA, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] }]);
    for (let w = 0; w < 10; w++) {
      publish(d, 'dev', 50, { topics: 2 });
      d.closeWindow();
    }
    publish(d, 'dev', 50, { topics: 50 });
    d.closeWindow();
    expect(notices.map((n) => [n.kind, n.value])).toEqual([['alarm', 50]]);
  });
});

describe('segments and events', () => {
  it('a behaviour for some segments ignores devices elsewhere, and clears when its device leaves them', () => {
    const { d, notices } = detector([{ name: 'ops-only', metric: 'messagesSent', segments: ['ops'], threshold: { op: '>', value: 3 }, datapointsToAlarm: 1, datapointsToClear: 5, mitigations: ['alert'] }]);
    publish(d, 'a', 10, { segment: 'ops' });
    publish(d, 'b', 10, { segment: 'plant' });
    d.closeWindow();
    expect(notices.map((n) => n.deviceId)).toEqual(['a']);
    publish(d, 'a', 10, { segment: 'quarantine' });
    d.closeWindow();
    expect(notices.map((n) => [n.kind, n.cause])).toEqual([['alarm', undefined], ['cleared', 'segment']]);
  });

  it('policy refusals, connects and refused logins count from the event log', () => {
    const { d, notices } = detector([
      { name: 'authz', metric: 'authorizationFailures', threshold: { op: '>=', value: 3 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] },
      { name: 'authn', metric: 'authenticationFailures', threshold: { op: '>=', value: 2 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] },
      { name: 'conn', metric: 'connectionAttempts', threshold: { op: '>=', value: 2 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] },
      { name: 'addr', metric: 'sourceAddresses', threshold: { op: '>=', value: 2 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] },
    ]);
    const ev = (type: string, principal: string | null, source: string, detail: Record<string, unknown> = {}): void => d.onSecurityEvent({ ts: 0, type, severity: 'warning', principal, source, detail });
    ev('mqtt.publish_denied', 'dev', '10.0.0.1:1');
    ev('http.publish_denied', 'dev', '10.0.0.1');
    ev('coap.request_denied', 'dev', '10.0.0.1');
    ev('mqtt.receive_denied', 'other', '10.0.0.9:1'); // not the device's doing
    ev('mqtt.connected', 'dev', '10.0.0.2:5');
    ev('mqtt.connected', 'dev', '10.0.0.2:6');
    ev('mqtt.connect_refused', null, '10.9.9.9:1', { username: 'victim' });
    ev('mqtt.connect_refused', null, '10.9.9.9:2', { username: 'victim' });
    ev('anomaly.alarm', 'dev', '');
    d.closeWindow();
    expect(notices.map((n) => `${n.deviceId}:${n.behaviour.name}=${n.value}`).sort()).toEqual(['dev:addr=2', 'dev:authz=3', 'dev:conn=2', 'victim:authn=2']);
    // The claimed name's failed logins moved nothing else of "victim": no address, no attempt.
    expect(d.alarms('victim')).toEqual(['authn']);
    expect(d.alarms('other')).toEqual([]);
  });

  it('a device seen only in events gets its segment from the store lookup, once', async () => {
    const lookups: string[] = [];
    const notices: AnomalyNotice[] = [];
    const d = new AnomalyDetector({
      settings: settings([{ name: 'ops-denials', metric: 'authorizationFailures', segments: ['ops'], threshold: { op: '>', value: 1 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] }]),
      sink: { notify: (n) => notices.push(n) },
      resolveSegment: (id) => {
        lookups.push(id);
        return Promise.resolve(id === 'dev' ? 'ops' : null);
      },
    });
    for (let i = 0; i < 3; i++) d.onSecurityEvent({ ts: 0, type: 'mqtt.publish_denied', severity: 'warning', principal: 'dev', source: '10.0.0.1:1', detail: {} });
    await Promise.resolve();
    d.closeWindow();
    expect(lookups).toEqual(['dev']);
    expect(notices.map((n) => [n.deviceId, n.segment, n.value])).toEqual([['dev', 'ops', 3]]);
  });

  it('classifies only authenticated principals as the device for everything but failed logins', () => {
    expect(classifyEvent({ ts: 0, type: 'mqtt.publish_denied', severity: 'warning', principal: null, source: null, detail: {} })).toBeNull();
    expect(classifyEvent({ ts: 0, type: 'mqtt.connect_refused', severity: 'warning', principal: 'dev', source: null, detail: {} })).toEqual({ metrics: ['connectionAttempts', 'authorizationFailures'], deviceId: 'dev', authenticated: true });
    expect(classifyEvent({ ts: 0, type: 'admin.denied', severity: 'warning', principal: 'op:alice', source: null, detail: {} })).toBeNull();
    expect(addressOf('[::1]:1883')).toBe('::1');
    expect(addressOf('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressOf('10.1.2.3:5')).toBe('10.1.2.3');
    expect(addressOf('fe80::1')).toBe('fe80::1');
  });
});

describe('bounded memory', () => {
  it('never tracks more than maxDevices; the longest-silent make room, and alarmed devices are kept', () => {
    const { d } = detector([{ name: 'x', metric: 'messagesSent', threshold: { op: '>', value: 5 }, datapointsToAlarm: 1, datapointsToClear: 100, mitigations: ['alert'] }], { maxDevices: 50, forgetAfterWindows: 1000 });
    publish(d, 'loud', 10);
    d.closeWindow();
    expect(d.alarms('loud')).toEqual(['x']);
    for (let w = 0; w < 20; w++) {
      for (let i = 0; i < 100; i++) publish(d, `w${w}-d${i}`, 1);
      d.closeWindow();
      expect(d.trackedDevices).toBeLessThanOrEqual(50);
    }
    expect(d.alarms('loud')).toEqual(['x']);
    // In one window more new devices than the cap, and nobody silent to evict: the rest overflow.
    expect(d.overflow).toBeGreaterThan(0);
  });

  it('forgets a device silent for forgetAfterWindows windows', () => {
    const { d } = detector([rate()], { forgetAfterWindows: 3 });
    publish(d, 'gone', 1);
    publish(d, 'stays', 1);
    d.closeWindow();
    for (let w = 0; w < 4; w++) {
      publish(d, 'stays', 1);
      d.closeWindow();
    }
    expect(d.trackedDevices).toBe(1);
  });

  it('caps topic fan-out per window at maxTopicsPerWindow', () => {
    const { d, notices } = detector([{ name: 'f', metric: 'topicFanout', threshold: { op: '>', value: 1 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] }], { maxTopicsPerWindow: 16 });
    publish(d, 'dev', 10_000, { topics: 10_000 });
    d.closeWindow();
    expect(notices[0]!.value).toBe(16);
  });
});

describe('config', () => {
  it('ships defaults: windows of 60 s, authorization failures quarantine, the rest alert', () => {
    const c = anomalySchema.parse({});
    expect(c.windowSeconds).toBe(60);
    expect(c.behaviours.map((b) => b.name)).toContain('authorization-failures');
    expect(c.behaviours.find((b) => b.name === 'authorization-failures')!.mitigations).toEqual(['alert', 'quarantine']);
    // The parsed config is what the detector takes.
    const s: AnomalySettings = c;
    expect(s.behaviours.length).toBeGreaterThan(4);
    const parsed = anomalySchema.parse({ behaviours: [{ name: 'b', metric: 'topicFanout', threshold: { baseline: 'ewma' } }] });
    expect(parsed.behaviours[0]!.threshold).toMatchObject({ alpha: 0.1, deviations: 6, minSamples: 10 });
  });

  it('refuses quarantine or revoke on failed logins, whose device name is only claimed', () => {
    const r = anomalySchema.safeParse({ behaviours: [{ name: 'b', metric: 'authenticationFailures', threshold: { op: '>', value: 1 }, mitigations: ['quarantine'] }] });
    expect(r.success).toBe(false);
    expect(anomalySchema.safeParse({ behaviours: [{ name: 'b', metric: 'authenticationFailures', threshold: { op: '>', value: 1 }, mitigations: ['alert', 'ban'] }] }).success).toBe(true);
  });
});
