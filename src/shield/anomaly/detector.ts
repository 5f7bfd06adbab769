/**
 * The anomaly detector (issue 5, point 6): per-device counters over fixed windows, fed by the
 * shield's inspector (`recordPublish`, every protocol), the security event log
 * (`onSecurityEvent`: refusals, connects, disconnects) and the DNS firewall
 * (`recordDnsQuery`, through dns-tap.ts). At the end of each window every tracked device yields one data point
 * per metric; each behaviour that applies to the device's segment compares it with its
 * threshold and steps a small state machine (Device Defender's consecutive data points to
 * alarm and to clear). Transitions go to the sink, which runs the mitigations.
 *
 * Memory is bounded: at most `maxDevices` devices (the longest-silent make room), a device
 * silent for `forgetAfterWindows` windows is forgotten, and each window's topic and address
 * sets are capped.
 */
import { DGA_THRESHOLD } from '../../core/dns/telemetry/dga.ts';
import type { SecurityEventInput } from '../../core/ports.ts';
import { baselineFor, StaticBaseline, type Baseline } from './baseline.ts';
import { classifyEvent } from './event-metrics.ts';
import type { AnomalyNotice, AnomalySettings, AnomalySink, Behaviour } from './types.ts';
import { addressOf, DeviceWindow } from './window.ts';

interface BehaviourState {
  baseline: Baseline;
  breaching: number;
  normal: number;
  alarmed: boolean;
}

interface Tracked {
  window: DeviceWindow;
  segment: string | null;
  /** Sequence number of the last window with activity. */
  lastSeen: number;
  lastSource: string;
  address: string | null;
  states: (BehaviourState | undefined)[];
  alarms: number;
  /** A segment lookup was started (once per device). */
  resolving: boolean;
}

export interface AnomalyDetectorOptions {
  settings: AnomalySettings;
  sink: AnomalySink;
  /** The segment of a device only seen in events so far (the store); asked once per device. */
  resolveSegment?: (deviceId: string) => Promise<string | null>;
  now?: () => number;
}

/** One DNS query as the detector counts it (the name is scored by core/dns/telemetry before). */
export interface DnsQuerySample {
  /** RCODE sent (3 = NXDOMAIN); -1 when nothing was sent. */
  rcode: number;
  /** The firewall blocked it (its NXDOMAIN does not count towards dnsNxdomainRate). */
  blocked: boolean;
  /** First time the device asked for this registrable name (as far as telemetry remembers). */
  newName: boolean;
  dgaScore: number;
  /** The device's segment, when the DNS firewall knows it. */
  segment?: string | null;
}

/** Devices looked at when one must make room for a new one. */
const EVICTION_SCAN = 64;

export class AnomalyDetector {
  readonly #s: AnomalySettings;
  readonly #sink: AnomalySink;
  readonly #resolve: ((deviceId: string) => Promise<string | null>) | undefined;
  readonly #now: () => number;
  readonly #devices = new Map<string, Tracked>();
  /** One shared instance per static behaviour: nothing per device to learn. */
  readonly #static: (StaticBaseline | null)[];
  #seq = 0;
  #overflow = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: AnomalyDetectorOptions) {
    this.#s = opts.settings;
    this.#sink = opts.sink;
    this.#resolve = opts.resolveSegment;
    this.#now = opts.now ?? Date.now;
    this.#static = this.#s.behaviours.map((b) => ('op' in b.threshold ? new StaticBaseline(b.threshold) : null));
  }

  get windowSeconds(): number {
    return this.#s.windowSeconds;
  }

  /** Sequence number of the window in progress. */
  get window(): number {
    return this.#seq;
  }

  get trackedDevices(): number {
    return this.#devices.size;
  }

  /** Devices that could not be tracked because the cap was reached and nobody could make room. */
  get overflow(): number {
    return this.#overflow;
  }

  /** Names of the behaviours in alarm for the device. */
  alarms(deviceId: string): string[] {
    const d = this.#devices.get(deviceId);
    if (!d) return [];
    return this.#s.behaviours.filter((_, i) => d.states[i]?.alarmed === true).map((b) => b.name);
  }

  start(): void {
    if (!this.#s.enabled || this.#timer) return;
    this.#timer = setInterval(() => this.closeWindow(), this.#s.windowSeconds * 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** A device's message passed policy and the shield (every protocol). Hot path: counters only. */
  recordPublish(deviceId: string, segment: string, topic: string, bytes: number, source: string): void {
    if (!this.#s.enabled) return;
    const d = this.#touch(deviceId);
    if (!d) return;
    d.segment = segment;
    const w = d.window;
    w.active = true;
    w.messagesSent++;
    w.messageBytesTotal += bytes;
    if (bytes > w.messageBytesMax) w.messageBytesMax = bytes;
    w.addTopic(topic);
    this.#source(d, source);
  }

  /** A message went out to the device (the broker's delivery hook). */
  recordDelivery(deviceId: string): void {
    if (!this.#s.enabled) return;
    const d = this.#devices.get(deviceId);
    // Deliveries alone never start tracking (they are not the device's doing) nor mark the
    // window active: a device that only listens keeps no learned baselines of its own sending.
    if (d) d.window.messagesReceived++;
  }

  /**
   * The DNS firewall answered a query of the device (dns-tap.ts scores the name first). Hot
   * path: counters only; the name itself is not kept.
   */
  recordDnsQuery(deviceId: string, q: DnsQuerySample): void {
    if (!this.#s.enabled) return;
    const d = this.#touch(deviceId);
    if (!d) return;
    if (q.segment) d.segment = q.segment;
    const w = d.window;
    w.active = true;
    w.dnsLookups++;
    if (q.blocked) w.dnsBlocked++;
    // RFC 1035 §4.1.1 RCODE 3, Name Error; a block answered NXDOMAIN is a policy answer, not the internet's.
    else if (q.rcode === 3) w.dnsNxdomain++;
    if (q.dgaScore > w.dnsDgaMax) w.dnsDgaMax = q.dgaScore;
    if (q.newName) {
      w.dnsNewNames++;
      if (q.dgaScore >= DGA_THRESHOLD) w.dnsDgaNames++;
    }
  }

  /** Listener for the security event log (events.onEvent). */
  onSecurityEvent(e: SecurityEventInput): void {
    if (!this.#s.enabled || e.type.startsWith('anomaly.')) return;
    const c = classifyEvent(e);
    if (!c) return;
    const d = this.#touch(c.deviceId);
    if (!d) return;
    const w = d.window;
    w.active = true;
    for (const m of c.metrics) w[m]++;
    if (!c.authenticated) return;
    if (e.source) this.#source(d, e.source);
    if (d.segment === null && !d.resolving && this.#resolve) {
      d.resolving = true;
      this.#resolve(c.deviceId).then(
        (segment) => {
          if (d.segment === null) d.segment = segment;
        },
        () => undefined,
      );
    }
  }

  /** Ends the window in progress: one data point per device and behaviour. The timer calls it; tests may too. */
  closeWindow(): void {
    const seq = this.#seq;
    const end = this.#now();
    const behaviours = this.#s.behaviours;
    for (const [id, d] of this.#devices) {
      if (!d.window.active && seq - d.lastSeen >= this.#s.forgetAfterWindows) {
        this.#devices.delete(id);
        continue;
      }
      for (let i = 0; i < behaviours.length; i++) this.#evaluate(id, d, i, behaviours[i]!, seq, end);
      d.window.reset();
    }
    this.#seq++;
  }

  #evaluate(id: string, d: Tracked, i: number, b: Behaviour, seq: number, end: number): void {
    let st = d.states[i];
    if (!applies(b, d.segment)) {
      if (st?.alarmed) {
        d.alarms--;
        this.#notify('cleared', id, d, b, st, 0, seq, end, 'segment');
      }
      d.states[i] = undefined;
      return;
    }
    const value = d.window.value(b.metric);
    const shared = this.#static[i];
    if (!st) {
      // A static behaviour keeps no state for a device until it breaches: most devices never do.
      if (shared && !shared.breaches(value)) return;
      st = { baseline: shared ?? baselineFor(b.threshold), breaching: 0, normal: 0, alarmed: false };
      d.states[i] = st;
    }
    if (st.baseline.breaches(value)) {
      st.breaching++;
      st.normal = 0;
      if (!st.alarmed && st.breaching >= b.datapointsToAlarm) {
        st.alarmed = true;
        d.alarms++;
        this.#notify('alarm', id, d, b, st, value, seq, end);
      }
      return;
    }
    st.normal++;
    st.breaching = 0;
    if (st.alarmed) {
      if (st.normal >= b.datapointsToClear) {
        st.alarmed = false;
        d.alarms--;
        this.#notify('cleared', id, d, b, st, value, seq, end, 'datapoints');
        if (shared) d.states[i] = undefined;
      }
      return;
    }
    if (shared) {
      d.states[i] = undefined;
      return;
    }
    // Learned only from normal windows with activity: a flood is never taught, and a silent
    // window is missing data rather than a zero.
    if (d.window.active) st.baseline.learn(value);
  }

  #notify(kind: AnomalyNotice['kind'], deviceId: string, d: Tracked, b: Behaviour, st: BehaviourState, value: number, window: number, windowEnd: number, cause?: AnomalyNotice['cause']): void {
    const notice: AnomalyNotice = { kind, deviceId, segment: d.segment, behaviour: b, metric: b.metric, value, threshold: st.baseline.limit() ?? Number.NaN, window, windowEnd, address: d.address };
    if (cause) notice.cause = cause;
    this.#sink.notify(notice);
  }

  #source(d: Tracked, source: string): void {
    if (source !== d.lastSource) {
      d.lastSource = source;
      d.address = addressOf(source);
    }
    if (d.address) d.window.addAddress(d.address);
  }

  #touch(deviceId: string): Tracked | null {
    let d = this.#devices.get(deviceId);
    if (d) {
      d.lastSeen = this.#seq;
      return d;
    }
    if (this.#devices.size >= this.#s.maxDevices && !this.#makeRoom()) {
      this.#overflow++;
      return null;
    }
    d = { window: new DeviceWindow(this.#s.maxTopicsPerWindow), segment: null, lastSeen: this.#seq, lastSource: '', address: null, states: [], alarms: 0, resolving: false };
    this.#devices.set(deviceId, d);
    return d;
  }

  /** Forgets the oldest-tracked device that is silent in this window and not in alarm. */
  #makeRoom(): boolean {
    let scanned = 0;
    for (const [id, d] of this.#devices) {
      if (d.lastSeen < this.#seq && d.alarms === 0) {
        this.#devices.delete(id);
        return true;
      }
      if (++scanned >= EVICTION_SCAN) break;
    }
    return false;
  }
}

function applies(b: Behaviour, segment: string | null): boolean {
  if (!b.segments || b.segments.length === 0) return true;
  return segment !== null && b.segments.includes(segment);
}
