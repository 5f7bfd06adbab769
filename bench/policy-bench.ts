/**
 * Policy microbenchmark (issue 3 point 10): one decision from the cache (target < 1 µs) and
 * one evaluated from the compiled statements (target < 20 µs), plus compiling a principal.
 * Single thread, no I/O, timed with process.hrtime.bigint over many iterations.
 *
 * The configuration is a realistic-sized one: the built-ins, 20 segment policies of 5
 * statements (topic filters with variables, denies with wildcards, sourceCidr conditions,
 * HTTP/queue globs), and a device policy. "Uncached" uses a distinct topic on every call, so
 * each call misses, evaluates every deny and allow for the action, and inserts into the
 * bounded cache (evicting the oldest entry once full), which is the real miss path.
 *
 * Usage: node bench/policy-bench.ts [iterations=2000000]
 */
import { Actions, ZeroTrustPolicyEngine, type PolicyDocument } from '../src/core/policy/index.ts';
import type { DevicePrincipal } from '../src/core/identity/principal.ts';

const N = Number(process.argv[2] ?? 2_000_000);
const TARGET_CACHED_NS = 1000;
const TARGET_UNCACHED_NS = 20_000;

const policies: PolicyDocument[] = [];
for (let i = 0; i < 20; i++) {
  policies.push({
    name: `seg-policy-${i}`,
    version: '2026-11',
    statements: [
      { sid: 'telemetry', effect: 'allow', actions: ['mqtt:publish'], resources: [`site-${i}/\${device.attr.site}/\${device.id}/telemetry/#`, `metrics/${i}/+/\${device.id}`] },
      { sid: 'commands', effect: 'allow', actions: ['mqtt:subscribe', 'mqtt:receive'], resources: [`cmd/${i}/\${device.id}/#`, `cmd/${i}/all/+`] },
      { sid: 'no-secrets', effect: 'deny', actions: ['mqtt:*'], resources: [`secret/${i}/#`, `site-${i}/+/admin/#`] },
      { sid: 'api', effect: 'allow', actions: ['http:get', 'http:post'], resources: [`/api/v1/devices/\${device.id}/*`, '/api/v1/ota/**'], conditions: { sourceCidr: ['10.0.0.0/8', 'fd00::/8'] } },
      { sid: 'queue', effect: 'allow', actions: ['queue:pull', 'queue:ack'], resources: [`jobs-${i}-*`] },
    ],
  });
}
policies.push({
  name: 'cam-1-extra',
  version: '2026-11',
  statements: [{ sid: 'extra', effect: 'allow', actions: ['mqtt:publish'], resources: ['video/shared/${device.id}/+'] }],
});

const engine = new ZeroTrustPolicyEngine(
  { policies, attachments: { segment: { video: policies.slice(0, 20).map((p) => p.name) }, device: { 'cam-1': ['cam-1-extra'] } } },
  { cacheSize: 1024 },
);

const principal: DevicePrincipal = {
  kind: 'device',
  id: 'cam-1',
  segment: 'video',
  authMethod: 'certificate',
  attrs: { site: 'berlin' },
  certSerial: 'ab',
  certCommonName: 'cam-1',
  firmwareCurrent: true,
  certNotAfter: Date.now() + 30 * 86_400_000,
};

function measure(name: string, iterations: number, fn: (i: number) => boolean, target: number | null): number {
  const warm = Math.min(iterations, 50_000);
  let sink = 0;
  for (let i = 0; i < warm; i++) if (fn(i)) sink++;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (fn(i)) sink++;
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  const verdict = target === null ? '' : ns < target ? `  (target < ${target} ns: ok)` : `  (target < ${target} ns: MISSED)`;
  console.log(`${name.padEnd(52)} ${ns.toFixed(1).padStart(9)} ns/op  (${iterations} ops, ${sink} allowed)${verdict}`);
  return ns;
}

const compiled = engine.compile(principal);

// 1. Cached: the same publish again and again (a device streaming telemetry on one topic).
const topic = 'video/cam-1/telemetry';
measure('cached: mqtt:publish, same topic', N, () => compiled.authorize(Actions.mqttPublish, topic).allowed, TARGET_CACHED_NS);

// 2. Cached, rotating over 256 topics (all fit in the cache), mixed allow/deny.
const rotating = Array.from({ length: 256 }, (_, i) => (i % 4 === 0 ? `secret/${i % 20}/x/${i}` : `site-${i % 20}/berlin/cam-1/telemetry/${i}`));
measure('cached: mqtt:publish, 256 rotating topics', N, (i) => compiled.authorize(Actions.mqttPublish, rotating[i & 255]!).allowed, TARGET_CACHED_NS);

// 3. Cached, source-dependent action (key includes the source address).
const ctx = { source: '10.1.2.3:40000' };
measure('cached: http:get with sourceCidr', N, () => compiled.authorize(Actions.httpGet, '/api/v1/devices/cam-1/state', ctx).allowed, TARGET_CACHED_NS);

// 4. Uncached: a distinct topic every call; pre-built so string building is not timed.
const M = Math.min(N, 500_000);
const fresh = Array.from({ length: M + 50_000 }, (_, i) => `site-${i % 20}/berlin/cam-1/telemetry/${i}`);
let offset = 0;
measure('uncached: mqtt:publish, distinct topics (allow)', M, (i) => compiled.authorize(Actions.mqttPublish, fresh[(offset + i) % fresh.length]!).allowed, TARGET_UNCACHED_NS);
offset += 50_000;

// 5. Uncached: a topic no statement allows (the first-level index skips most rules).
const misses = Array.from({ length: M + 50_000 }, (_, i) => `other/${i}/x`);
measure('uncached: mqtt:publish, default-deny (nothing matches)', M, (i) => !compiled.authorize(Actions.mqttPublish, misses[i % misses.length]!).allowed, TARGET_UNCACHED_NS);

// 6. Uncached subscribe: filterCovers for allows, overlap for denies.
const filters = Array.from({ length: M + 50_000 }, (_, i) => `cmd/${i % 20}/cam-1/${i}/#`);
measure('uncached: mqtt:subscribe, distinct filters', M, (i) => compiled.authorize(Actions.mqttSubscribe, filters[i % filters.length]!).allowed, TARGET_UNCACHED_NS);

// 7. Uncached HTTP with a CIDR check and globs, distinct paths.
const paths = Array.from({ length: M + 50_000 }, (_, i) => `/api/v1/ota/images/${i}`);
measure('uncached: http:get, glob + sourceCidr', M, (i) => compiled.authorize(Actions.httpGet, paths[i % paths.length]!, ctx).allowed, TARGET_UNCACHED_NS);

// 8. Compiling a principal (at connect, and after every policy change).
const C = Math.max(1000, Math.floor(N / 200));
measure('compile: one principal, 21 attached policies', C, () => engine.compile(principal).quarantined, null);
