/**
 * Per-device DNS telemetry and its feed into the anomaly detector (issue 6, point 4):
 * registrable names, "names never seen before" with bounded memory, the NXDOMAIN rate and DGA
 * metrics per window, and a device walking a DGA list raising the default `dga-lookups` alarm
 * while a normal device stays clean. Windows are closed by hand.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anomalySchema } from '../../src/config/anomaly.ts';
import { DnsDeviceTelemetry } from '../../src/core/dns/telemetry/device-stats.ts';
import { fanOut } from '../../src/core/dns/telemetry/observers.ts';
import { registrableName, significantLabel } from '../../src/core/dns/telemetry/registrable.ts';
import type { DnsQueryRecord } from '../../src/core/dns/types.ts';
import { AnomalyDetector } from '../../src/shield/anomaly/detector.ts';
import { DnsAnomalyTap, loadBundledBigrams } from '../../src/shield/anomaly/dns-tap.ts';
import type { AnomalyNotice, AnomalySettings, Behaviour } from '../../src/shield/anomaly/types.ts';
import { DeviceWindow, MIN_LOOKUPS_FOR_RATE } from '../../src/shield/anomaly/window.ts';

const model = loadBundledBigrams();

function query(deviceId: string | null, name: string, over: Partial<DnsQueryRecord> = {}): DnsQueryRecord {
  return { at: Date.now(), client: '192.0.2.50', deviceId, segment: 'cameras', transport: 'udp', name, qtype: 1, rcode: 0, outcome: 'forwarded', blockedBy: null, latencyUs: 100, ...over };
}

function settings(behaviours: Behaviour[]): AnomalySettings {
  return { enabled: true, windowSeconds: 60, forgetAfterWindows: 10, maxDevices: 1000, maxTopicsPerWindow: 256, sysTopic: false, webhook: { url: null, timeoutMs: 1000, maxInFlight: 4 }, behaviours };
}

describe('registrable names', () => {
  it('keeps the last two labels, three under country second-level suffixes', () => {
    expect(registrableName('www.google.com')).toBe('google.com');
    expect(registrableName('a.b.c.example.org')).toBe('example.org');
    expect(registrableName('news.bbc.co.uk')).toBe('bbc.co.uk');
    expect(registrableName('shop.example.com.au')).toBe('example.com.au');
    expect(registrableName('co.uk')).toBe('co.uk');
    expect(registrableName('localhost')).toBe('localhost');
    expect(registrableName('')).toBe('');
    // A documented approximation: private suffixes share one registrable name.
    expect(registrableName('bucket.s3.amazonaws.com')).toBe('amazonaws.com');
    expect(significantLabel('a1b2c3-ats.iot.eu-west-1.amazonaws.com')).toBe('amazonaws');
    expect(significantLabel('www.example.co.jp')).toBe('example');
  });

  it('property: the registrable name is a suffix of the name, and idempotent', () => {
    const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 6 }), (labels) => {
        const name = labels.join('.');
        const r = registrableName(name);
        return name.endsWith(r) && registrableName(r) === r && (r === name || name.endsWith(`.${r}`));
      }),
    );
  });
});

describe('per-device telemetry', () => {
  it('a name is new once per device and registrable name; scores are kept with it', () => {
    const t = new DnsDeviceTelemetry({ model });
    const a = t.observe('cam-1', 'eu.api.vendor-cloud.com');
    expect(a).toMatchObject({ registrable: 'vendor-cloud.com', newName: true });
    expect(t.observe('cam-1', 'us.api.vendor-cloud.com')).toEqual({ ...a, newName: false });
    expect(t.observe('cam-2', 'eu.api.vendor-cloud.com').newName).toBe(true);
    expect(t.observe('cam-1', 'xjwqkzptvbnrml.com').dgaScore).toBeGreaterThan(0.9);
  });

  it('memory is bounded per device and in devices; CLOCK eviction spares what was asked again', () => {
    const t = new DnsDeviceTelemetry({ model, maxNamesPerDevice: 3, maxDevices: 2 });
    for (const n of ['a.com', 'b.com', 'c.com']) t.observe('d1', n);
    t.observe('d1', 'a.com'); // refreshes a
    t.observe('d1', 'd.com'); // evicts b, the least recently asked
    expect(t.namesOf('d1')).toBe(3);
    expect(t.observe('d1', 'a.com').newName).toBe(false);
    expect(t.observe('d1', 'b.com').newName).toBe(true);
    t.observe('d2', 'a.com');
    t.observe('d3', 'a.com'); // d1 was active again since it came (second chance): d2, asked once, goes
    expect(t.trackedDevices).toBe(2);
    expect(t.namesOf('d2')).toBe(0);
    expect(t.namesOf('d1')).toBe(3);
    expect(t.observe('d3', 'a.com').newName).toBe(false);
  });

  it('property: never more than the caps, whatever the traffic', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 40 })), { maxLength: 300 }), (qs) => {
        const t = new DnsDeviceTelemetry({ model, maxNamesPerDevice: 5, maxDevices: 4 });
        for (const [d, n] of qs) t.observe(`d${d}`, `n${n}.example`);
        if (t.trackedDevices > 4) return false;
        for (let d = 0; d < 10; d++) if (t.namesOf(`d${d}`) > 5) return false;
        return true;
      }),
    );
  });

  it('fanOut calls every observer, even after one throws', () => {
    const seen: string[] = [];
    const o = fanOut(
      { onQuery: () => { throw new Error('boom'); } },
      { onQuery: (r) => seen.push(r.name) },
    );
    o.onQuery(query('cam-1', 'a.example'));
    expect(seen).toEqual(['a.example']);
  });
});

describe('DNS metrics in the anomaly detector', () => {
  it('counts lookups, new names, blocks, NXDOMAIN rate (not for blocks, 0 under the minimum) and the DGA max per window', () => {
    const metrics = ['dnsLookups', 'dnsNewNames', 'dnsBlocked', 'dnsNxdomainRate', 'dnsDgaMax', 'dnsDgaNames'] as const;
    const behaviours: Behaviour[] = metrics.map((metric) => ({ name: metric, metric, threshold: { op: '>=', value: -1 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] }));
    const notices: AnomalyNotice[] = [];
    const d = new AnomalyDetector({ settings: settings(behaviours), sink: { notify: (n) => notices.push(n) } });
    // Window 0: 9 lookups (under the minimum for a rate), one new DGA-like name, one block.
    for (let i = 0; i < 7; i++) d.recordDnsQuery('cam', { rcode: 0, blocked: false, newName: i === 0, dgaScore: 0.1 });
    d.recordDnsQuery('cam', { rcode: 3, blocked: false, newName: true, dgaScore: 0.93 });
    d.recordDnsQuery('cam', { rcode: 3, blocked: true, newName: false, dgaScore: 0.2 });
    d.closeWindow();
    const first = Object.fromEntries(notices.map((n) => [n.metric, n.value]));
    expect(first).toEqual({ dnsLookups: 9, dnsNewNames: 2, dnsBlocked: 1, dnsNxdomainRate: 0, dnsDgaMax: 0.93, dnsDgaNames: 1 });
    // The window's arithmetic once there are enough lookups: blocks are not NXDOMAIN.
    const w = new DeviceWindow(8);
    w.dnsLookups = MIN_LOOKUPS_FOR_RATE - 1;
    w.dnsNxdomain = 5;
    expect(w.value('dnsNxdomainRate')).toBe(0);
    w.dnsLookups = 20;
    expect(w.value('dnsNxdomainRate')).toBe(0.25);
    w.reset();
    expect(metrics.map((m) => w.value(m))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('an NXDOMAIN-heavy device breaches an nxdomain-rate behaviour; blocked answers do not count', () => {
    const b: Behaviour = { name: 'nx', metric: 'dnsNxdomainRate', threshold: { op: '>', value: 0.5 }, datapointsToAlarm: 1, datapointsToClear: 1, mitigations: ['alert'] };
    const notices: AnomalyNotice[] = [];
    const d = new AnomalyDetector({ settings: settings([b]), sink: { notify: (n) => notices.push(n) } });
    const tap = new DnsAnomalyTap(d, { model });
    for (let i = 0; i < 20; i++) tap.onQuery(query('bot', `gone-${i}.example`, { rcode: 3 }));
    for (let i = 0; i < 20; i++) tap.onQuery(query('filtered', `ads-${i}.example`, { rcode: 3, outcome: 'blocked', blockedBy: { list: 'l', rule: 'r' } }));
    d.closeWindow();
    expect(notices.map((n) => [n.kind, n.deviceId, n.value])).toEqual([['alarm', 'bot', 1]]);
  });

  it('the default dga-lookups behaviour alarms for a device walking a DGA list; a normal device and unknown clients stay clean', () => {
    const behaviours = anomalySchema.parse({}).behaviours as Behaviour[];
    expect(behaviours.find((b) => b.name === 'dga-lookups')).toMatchObject({ metric: 'dnsDgaNames', mitigations: ['alert'] });
    const notices: AnomalyNotice[] = [];
    const d = new AnomalyDetector({ settings: settings(behaviours), sink: { notify: (n) => notices.push(n) } });
    const tap = new DnsAnomalyTap(d, { model });
    const normal = ['time.google.com', 'pool.ntp.org', 'api.tuyaeu.com', 'firmware.vendor-cloud.com', 'a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com', 'www.weather.com', 'mqtt.hivemq.com', 'ocsp.digicert.com'];
    // Ramnit-shaped names (Park–Miller LCG letters), and Necurs-shaped ones: one window each.
    const dga = ['knpqxlxcwtlvgrdyhd.com', 'hgyudheedieibxy.com', 'anrylixwcbnjopdd.com', 'vrndmdrdrjoff.com', 'itktxexjghvvxa.com', 'ectdsitvvoydawmfni.com'];
    for (let window = 0; window < 3; window++) {
      for (let i = 0; i < 30; i++) tap.onQuery(query('thermostat-1', normal[i % normal.length]!));
      for (let i = 0; i < 30; i++) tap.onQuery(query(null, `x${i}qzvkjwpl.com`)); // no device: skipped
      if (window === 1) for (const n of dga) tap.onQuery(query('camera-7', n, { rcode: 3 }));
      else tap.onQuery(query('camera-7', 'time.google.com'));
      d.closeWindow();
    }
    expect(notices.filter((n) => n.kind === 'alarm').map((n) => [n.deviceId, n.behaviour.name, n.metric, n.value])).toEqual([['camera-7', 'dga-lookups', 'dnsDgaNames', 6]]);
    expect(d.alarms('thermostat-1')).toEqual([]);
    expect(tap.telemetry.trackedDevices).toBe(2);
  });

  it('the config accepts behaviours on every DNS metric', () => {
    for (const metric of ['dnsLookups', 'dnsNewNames', 'dnsNxdomainRate', 'dnsDgaMax', 'dnsDgaNames', 'dnsBlocked']) {
      const parsed = anomalySchema.parse({ behaviours: [{ name: `b-${metric}`, metric, threshold: { baseline: 'ewma' } }] });
      expect(parsed.behaviours[0]!.metric).toBe(metric);
    }
    expect(() => anomalySchema.parse({ behaviours: [{ name: 'x', metric: 'dnsWhatever', threshold: { op: '>', value: 1 } }] })).toThrow();
  });
});
