/**
 * `palisade policy lint`: finds policies that are valid but probably not what was meant.
 * Errors are things that grant far too much or can never work; warnings deserve a look.
 * Each finding has a stable `code` (tests and scripts match on it, not on the message).
 */
import { expandActionPattern, resourceKind, type Action } from './actions.ts';
import { BUILTIN_POLICY_NAMES, isBuiltinPolicy, QUARANTINE_SEGMENT } from './builtin.ts';
import { parseCidr } from './cidr.ts';
import { parsePolicyDocument, type PolicyAttachments, type PolicyDocument, type PolicyStatement } from './document.ts';
import { hasMqttWildcard, isAllWildcardFilter } from './mqtt-filters.ts';
import { isKnownVariable, KNOWN_VARIABLES, variablesIn } from './variables.ts';

export type LintCode =
  | 'invalid-document'
  | 'reserved-name'
  | 'duplicate-policy'
  | 'unknown-policy'
  | 'unattached'
  | 'empty-policy'
  | 'empty-statement'
  | 'unknown-variable'
  | 'over-broad-action'
  | 'over-broad-topic'
  | 'broad-glob'
  | 'deny-wildcard'
  | 'quarantine-allow'
  | 'cidr-everything';

export interface LintFinding {
  level: 'warning' | 'error';
  code: LintCode;
  /** Policy name, or `attachments.<kind>.<target>` for attachment findings. */
  policy: string;
  /** Statement sid, or its index when it has none; null for findings about a whole policy. */
  sid: string | null;
  message: string;
}

export interface LintInput {
  /** Documents as read from files or the store; invalid ones are reported, not thrown. */
  policies: readonly unknown[];
  /** When given, over-broad grants attached to a segment are errors and unattached policies are reported. */
  attachments?: PolicyAttachments;
}

/** Families where a `**` allow means "all of them", worth a second look. */
const BROAD_GLOB_FAMILIES = new Set(['http', 'coap', 'queue', 'shadow', 'admin']);

const DENY_WILDCARD_EXPLANATION =
  'AWS IoT reads MQTT wildcards in deny resources literally (its "potential misconfiguration" check), so a policy written for AWS may mean only the literal filter; ' +
  'Palisade reads them as wildcards: the deny covers every matching topic and refuses any subscription that overlaps it';

function statementActions(s: PolicyStatement): Set<Action> {
  const out = new Set<Action>();
  for (const p of s.actions) for (const a of expandActionPattern(p) ?? []) out.add(a);
  return out;
}

interface Exposure {
  segments: string[];
  devices: string[];
}

function exposureOf(name: string, attachments: PolicyAttachments): Exposure {
  const pick = (m: Record<string, string[]>): string[] => Object.keys(m).filter((k) => (m[k] ?? []).includes(name)).sort();
  return { segments: pick(attachments.segment), devices: pick(attachments.device) };
}

function lintStatement(doc: PolicyDocument, s: PolicyStatement, index: number, exposure: Exposure, add: (f: Omit<LintFinding, 'policy'>) => void): void {
  const sid = s.sid ?? String(index);
  const finding = (level: LintFinding['level'], code: LintCode, message: string): void => add({ level, code, sid, message });
  if (s.actions.length === 0) finding('error', 'empty-statement', 'empty statement: no actions, so it never applies');
  if (s.resources.length === 0) finding('error', 'empty-statement', 'empty statement: no resources, so it never applies');
  const actions = statementActions(s);
  const topicActions = [...actions].filter((a) => resourceKind(a) === 'topic' || resourceKind(a) === 'filter');
  const toSegments = exposure.segments.length > 0;
  const whom = toSegments ? `every device in segment${exposure.segments.length > 1 ? 's' : ''} ${exposure.segments.join(', ')}` : 'the devices it is attached to';
  const broadLevel: LintFinding['level'] = toSegments ? 'error' : 'warning';

  for (const r of s.resources) {
    for (const v of variablesIn(r)) {
      if (isKnownVariable(v)) continue;
      const effect = s.effect === 'allow' ? 'the statement never applies' : 'the deny is widened from that point';
      finding('error', 'unknown-variable', `unknown variable \${${v}} in ${JSON.stringify(r)} (${effect}); known: ${KNOWN_VARIABLES.map((k) => `\${${k}}`).join(', ')}`);
    }
  }

  if (s.effect === 'allow') {
    if (s.actions.includes('*')) finding(broadLevel, 'over-broad-action', `over-broad grant: allows every action ("*") to ${whom}; name the actions`);
    if (topicActions.length > 0) {
      for (const r of s.resources) {
        if (!isAllWildcardFilter(r)) continue;
        finding(broadLevel, 'over-broad-topic', `over-broad grant: ${JSON.stringify(r)} lets ${whom} ${topicActions.join('/')} on every device's topics; scope it, e.g. with \${device.id}`);
      }
    }
    const broadFamilies = [...new Set([...actions].map((a) => a.slice(0, a.indexOf(':'))).filter((f) => BROAD_GLOB_FAMILIES.has(f)))];
    if (broadFamilies.length > 0 && s.resources.includes('**')) {
      finding('warning', 'broad-glob', `broad grant: "**" matches every ${broadFamilies.join('/')} resource for ${whom}`);
    }
    if (s.conditions?.quarantined === true) {
      finding('warning', 'quarantine-allow', "never applies: a quarantined device gets only the built-in quarantine policy's allows");
    }
  } else if (topicActions.length > 0) {
    for (const r of s.resources) {
      if (hasMqttWildcard(r)) finding('warning', 'deny-wildcard', `MQTT wildcard in deny resource ${JSON.stringify(r)}: ${DENY_WILDCARD_EXPLANATION}`);
    }
  }

  for (const c of s.conditions?.sourceCidr ?? []) {
    const parsed = parseCidr(c);
    // IPv4 ranges are held as IPv4-mapped IPv6, so 0.0.0.0/0 is a /96 (cidr.ts).
    const everything = parsed !== null && (parsed.bits === 0 || (parsed.bits === 96 && !c.includes(':')));
    if (everything) finding('warning', 'cidr-everything', `sourceCidr ${c} matches every ${parsed.bits === 0 ? '' : 'IPv4 '}address, so it restricts nothing`);
  }
}

function nameOf(raw: unknown, fallback: string): string {
  if (typeof raw === 'object' && raw !== null && 'name' in raw && typeof raw.name === 'string' && raw.name !== '') return raw.name;
  return fallback;
}

export function lintPolicies(input: LintInput): LintFinding[] {
  const out: LintFinding[] = [];
  const attachments: PolicyAttachments = input.attachments ?? { segment: {}, device: {} };
  const docs: PolicyDocument[] = [];
  const seen = new Set<string>();
  input.policies.forEach((raw, i) => {
    let doc: PolicyDocument;
    try {
      doc = parsePolicyDocument(raw);
    } catch (err) {
      out.push({ level: 'error', code: 'invalid-document', policy: nameOf(raw, `policies[${i}]`), sid: null, message: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (isBuiltinPolicy(doc.name)) {
      out.push({ level: 'error', code: 'reserved-name', policy: doc.name, sid: null, message: `the name is reserved for a built-in policy (${BUILTIN_POLICY_NAMES.join(', ')})` });
      return;
    }
    if (seen.has(doc.name)) {
      out.push({ level: 'error', code: 'duplicate-policy', policy: doc.name, sid: null, message: 'defined more than once' });
      return;
    }
    seen.add(doc.name);
    docs.push(doc);
  });

  const known = new Set([...seen, ...BUILTIN_POLICY_NAMES]);
  for (const kind of ['segment', 'device'] as const) {
    for (const [target, names] of Object.entries(attachments[kind])) {
      for (const name of names) {
        if (known.has(name)) continue;
        out.push({ level: 'error', code: 'unknown-policy', policy: `attachments.${kind}.${target}`, sid: null, message: `no policy named ${JSON.stringify(name)}` });
      }
    }
  }
  const quarantineAttached = Object.hasOwn(attachments.segment, QUARANTINE_SEGMENT) ? (attachments.segment[QUARANTINE_SEGMENT] ?? []) : [];

  for (const doc of docs) {
    const add = (f: Omit<LintFinding, 'policy'>): void => {
      out.push({ ...f, policy: doc.name });
    };
    const exposure = exposureOf(doc.name, attachments);
    if (input.attachments !== undefined && exposure.segments.length === 0 && exposure.devices.length === 0) {
      add({ level: 'warning', code: 'unattached', sid: null, message: 'not attached to any segment or device, so it has no effect' });
    }
    if (doc.statements.length === 0) add({ level: 'warning', code: 'empty-policy', sid: null, message: 'no statements: it allows and denies nothing' });
    if (quarantineAttached.includes(doc.name) && doc.statements.some((s) => s.effect === 'allow')) {
      add({ level: 'warning', code: 'quarantine-allow', sid: null, message: "attached to the quarantine segment, where allows other than the built-in quarantine policy's are ignored" });
    }
    doc.statements.forEach((s, i) => lintStatement(doc, s, i, exposure, add));
  }
  return out;
}

/** One line per finding: `error cams#telemetry: ...`. */
export function formatFinding(f: LintFinding): string {
  return `${f.level} ${f.policy}${f.sid === null ? '' : `#${f.sid}`}: ${f.message}`;
}
