/**
 * Property tests of the policy engine against a reference evaluator written straight from the
 * rules (deny overrides allow, no match is deny), with the MQTT matching of topics.ts and a
 * naive glob matcher. The engine's indexes, prefix checks and caches must not change a decision.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterCovers, topicMatches } from '../../src/core/messaging/topics.ts';
import { expandActionPattern, resourceKind, type Action } from '../../src/core/policy/actions.ts';
import type { PolicyDocument, PolicyStatement } from '../../src/core/policy/document.ts';
import { ZeroTrustPolicyEngine } from '../../src/core/policy/engine.ts';
import { filtersOverlap } from '../../src/core/policy/mqtt-filters.ts';
import { allow, config, deny, device, doc } from '../../src/core/policy/test-fixtures.ts';

/** Naive glob: `**` anything, `*` anything but '/', by recursion (no regular expressions). */
function globRef(p: string, s: string): boolean {
  if (p === '') return s === '';
  if (p.startsWith('**')) {
    for (let i = 0; i <= s.length; i++) if (globRef(p.slice(2), s.slice(i))) return true;
    return false;
  }
  if (p.startsWith('*')) {
    for (let i = 0; i <= s.length; i++) {
      if (i > 0 && s[i - 1] === '/') break;
      if (globRef(p.slice(1), s.slice(i))) return true;
    }
    return false;
  }
  return s.length > 0 && s[0] === p[0] && globRef(p.slice(1), s.slice(1));
}

function matchesRef(action: Action, effect: 'allow' | 'deny', pattern: string, resource: string): boolean {
  switch (resourceKind(action)) {
    case 'topic':
      return topicMatches(pattern, resource);
    case 'filter':
      return effect === 'allow' ? filterCovers(pattern, resource) : filtersOverlap(pattern, resource);
    default:
      return globRef(pattern, resource);
  }
}

function statementMatches(s: PolicyStatement, action: Action, resource: string): boolean {
  const actions = s.actions.flatMap((a) => expandActionPattern(a) ?? []);
  return actions.includes(action) && s.resources.some((r) => matchesRef(action, s.effect, r, resource));
}

const ACTIONS: Action[] = ['mqtt:publish', 'mqtt:subscribe', 'mqtt:receive', 'admin:read', 'queue:pull'];
const levels = (alphabet: string[], min = 1, max = 4): fc.Arbitrary<string[]> => fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max });
const filterArb = fc.tuple(levels(['a', 'b', '+', '*']), fc.boolean()).map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'));
const statementArb: fc.Arbitrary<PolicyStatement> = fc.record({
  effect: fc.constantFrom('allow' as const, 'deny' as const),
  actions: fc.uniqueArray(fc.constantFrom('mqtt:publish', 'mqtt:subscribe', 'mqtt:receive', 'mqtt:*', 'admin:read', 'queue:pull', '*'), { minLength: 1, maxLength: 3 }),
  resources: fc.array(fc.oneof(filterArb, fc.constantFrom('#', '+/#', '**', 'a/**')), { minLength: 1, maxLength: 3 }),
});
const policiesArb = fc.array(fc.tuple(fc.array(statementArb, { minLength: 1, maxLength: 4 }), fc.constantFrom('segment', 'device')), { minLength: 1, maxLength: 3 });

function requestArb(): fc.Arbitrary<[Action, string]> {
  return fc.constantFrom(...ACTIONS).chain((action): fc.Arbitrary<[Action, string]> => {
    const kind = resourceKind(action);
    const resource =
      kind === 'topic' ? levels(['a', 'b', '*']).map((l) => l.join('/')) : kind === 'filter' ? filterArb : levels(['a', 'b', '*', '+', '#', '']).map((l) => l.join('/'));
    return resource.map((r): [Action, string] => [action, r]);
  });
}

function build(policies: Array<[PolicyStatement[], string]>): { engine: ZeroTrustPolicyEngine; docs: PolicyDocument[] } {
  const docs = policies.map(([statements], i) => doc(`p${i}`, ...statements));
  const segment: Record<string, string[]> = { video: [] };
  const devices: Record<string, string[]> = { 'cam-1': [] };
  policies.forEach(([, where], i) => (where === 'segment' ? segment.video! : devices['cam-1']!).push(`p${i}`));
  return { engine: new ZeroTrustPolicyEngine(config(docs, segment, devices), { cacheSize: 4 }), docs };
}

describe('policy engine properties', () => {
  it('decides like the reference: any matching deny wins, then any allow, else default-deny', () => {
    fc.assert(
      fc.property(policiesArb, fc.array(requestArb(), { minLength: 1, maxLength: 12 }), (policies, requests) => {
        const { engine, docs } = build(policies);
        const compiled = engine.compile(device());
        // Twice: the second round is served from the (tiny, churning) cache.
        for (let round = 0; round < 2; round++) {
          for (const [action, resource] of requests) {
            const d = compiled.authorize(action, resource);
            const all = docs.flatMap((p) => p.statements.map((s, i) => ({ s, rule: `${p.name}#${i}` })));
            const denies = all.filter(({ s }) => s.effect === 'deny' && statementMatches(s, action, resource)).map((x) => x.rule);
            const allows = all.filter(({ s }) => s.effect === 'allow' && statementMatches(s, action, resource)).map((x) => x.rule);
            if (denies.length > 0) {
              expect(d.allowed, `${action} ${resource}`).toBe(false);
              expect(denies).toContain(d.rule);
            } else if (allows.length > 0) {
              expect(d.allowed, `${action} ${resource}`).toBe(true);
              expect(allows).toContain(d.rule);
            } else {
              expect(d, `${action} ${resource}`).toEqual({ allowed: false, rule: 'default-deny' });
            }
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('deny overrides allow: adding a deny that matches a request always refuses it', () => {
    fc.assert(
      fc.property(policiesArb, requestArb(), fc.constantFrom('segment', 'device'), fc.nat(4), (policies, [action, resource], where, position) => {
        const veto: PolicyStatement = { sid: 'veto', effect: 'deny', actions: [action], resources: [resource] };
        const withVeto = policies.map(([s, w], i): [PolicyStatement[], string] => (i === 0 ? [[...s.slice(0, position), veto, ...s.slice(position)], where] : [s, w]));
        // The request's own text as a resource: a topic matches itself, a filter overlaps itself, a glob without '*' is literal.
        if (resource === '' || (resourceKind(action) !== 'topic' && resourceKind(action) !== 'filter' && resource.includes('*'))) return;
        const d = build(withVeto).engine.compile(device()).authorize(action, resource);
        expect(d.allowed).toBe(false);
        if (d.rule !== 'invalid-resource') expect(d.rule.startsWith('p')).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});

describe('variables never widen', () => {
  const value = fc.oneof(
    fc.constant(undefined),
    fc.string({ unit: fc.constantFrom('a', 'b', '+', '#', '/', '*', '$', '.'), maxLength: 4 }),
  );
  const topicIn = (v: string): fc.Arbitrary<string> =>
    fc.tuple(fc.constantFrom('p', 'q'), fc.constantFrom(v, 'a', 'b', '+', '#', 'a/b'), levels(['a', 'x', '+', '#'], 0, 2)).map(([root, mid, rest]) => [root, mid, ...rest].join('/'));
  const safe = (v: string | undefined): v is string => v !== undefined && v !== '' && !/[+#/*]/.test(v);

  it('an allow with a variable grants at most the literal value', () => {
    const policy = doc('v', allow(['mqtt:publish', 'mqtt:subscribe'], ['p/${device.attr.x}/#'], { sid: 'mqtt' }), allow(['admin:read'], ['/p/${device.attr.x}/*'], { sid: 'http' }));
    const engine = new ZeroTrustPolicyEngine(config([policy], { video: ['v'] }));
    fc.assert(
      fc.property(value, fc.string({ unit: fc.constantFrom('a', '+', '#', '/', '*'), maxLength: 3 }), (v, extra) => {
        const compiled = engine.compile(device({ attrs: v === undefined ? {} : { x: v } }));
        fc.assert(
          fc.property(topicIn(v ?? 'a'), (t) => {
            for (const action of ['mqtt:publish', 'mqtt:subscribe'] as const) {
              const d = compiled.authorize(action, t);
              if (!d.allowed) continue;
              expect(safe(v)).toBe(true);
              expect(t === `p/${v}` || t.startsWith(`p/${v}/`)).toBe(true);
            }
            const path = `/p/${v ?? 'a'}/${extra}`;
            if (compiled.authorize('admin:read', path).allowed) {
              expect(safe(v)).toBe(true);
              expect(extra.includes('/')).toBe(false);
            }
          }),
          { numRuns: 30 },
        );
      }),
      { numRuns: 200 },
    );
  });

  it('a deny with a variable always covers at least the literal value', () => {
    const policy = doc('v', allow(['mqtt:publish', 'mqtt:subscribe'], ['#']), deny(['mqtt:publish', 'mqtt:subscribe'], ['p/${device.attr.x}/#'], { sid: 'no' }));
    const engine = new ZeroTrustPolicyEngine(config([policy], { video: ['v'] }));
    fc.assert(
      fc.property(value, levels(['a', 'x'], 0, 2), (v, rest) => {
        const compiled = engine.compile(device({ attrs: v === undefined ? {} : { x: v } }));
        const literal = ['p', v ?? 'a', ...rest].join('/');
        // A topic name cannot hold '+' or '#'; everything else under p/<value> must be refused.
        if (!/[+#]/.test(literal)) expect(compiled.authorize('mqtt:publish', literal)).toEqual({ allowed: false, rule: 'v#no' });
        if (!safe(v)) expect(compiled.authorize('mqtt:publish', 'p/anything/else')).toEqual({ allowed: false, rule: 'v#no' });
        expect(compiled.authorize('mqtt:publish', 'q/a').allowed).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
