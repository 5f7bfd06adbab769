/**
 * Policy variables, substituted per principal when a policy is compiled:
 * `${device.id}`, `${device.segment}`, `${device.attr.NAME}`, `${cert.cn}`.
 *
 * A substituted value is always literal. A value that is missing, empty, or contains a
 * character with a meaning in resources (`+`, `#`, `/`, `*`, NUL) is unresolvable: it could
 * otherwise turn `site/${device.attr.site}/#` into `site/+/#`. What unresolvable means depends
 * on the effect (see compile.ts): an allow does not apply, a deny widens instead of vanishing.
 */
import type { Principal } from '../identity/principal.ts';

const VARIABLE = /\$\{([^}]*)\}/g;
const ATTR_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const UNSAFE_CHARS = ['+', '#', '/', '*', '\u0000'];

function isUnsafe(value: string): boolean {
  return UNSAFE_CHARS.some((c) => value.includes(c));
}

export const KNOWN_VARIABLES = ['device.id', 'device.segment', 'device.attr.NAME', 'cert.cn'] as const;

export function isKnownVariable(name: string): boolean {
  if (name === 'device.id' || name === 'device.segment' || name === 'cert.cn') return true;
  return name.startsWith('device.attr.') && ATTR_NAME.test(name.slice('device.attr.'.length));
}

/** Why a resource template's `${...}` syntax is broken, or null. Unknown names are lint's business. */
export function templateSyntaxProblem(template: string): string | null {
  let i = template.indexOf('${');
  while (i >= 0) {
    const end = template.indexOf('}', i + 2);
    if (end < 0) return `unclosed "\${" at offset ${i}`;
    if (end === i + 2) return `empty variable "\${}" at offset ${i}`;
    if (template.slice(i + 2, end).includes('${')) return `nested "\${" at offset ${i}`;
    i = template.indexOf('${', end + 1);
  }
  return null;
}

export function variablesIn(template: string): string[] {
  return [...template.matchAll(VARIABLE)].map((m) => m[1] ?? '');
}

export function hasVariables(template: string): boolean {
  return template.includes('${');
}

/** The literal value of a variable for this principal, or undefined when it has none. */
export function resolveVariable(name: string, p: Principal): string | undefined {
  switch (name) {
    case 'device.id':
      return p.id;
    case 'device.segment':
      return p.segment;
    case 'cert.cn':
      return p.certCommonName ?? undefined;
    default:
      if (name.startsWith('device.attr.') && isKnownVariable(name)) {
        const attrs = p.attrs;
        const key = name.slice('device.attr.'.length);
        return Object.hasOwn(attrs, key) ? attrs[key] : undefined;
      }
      return undefined;
  }
}

export type Substitution =
  | { ok: true; value: string }
  /** `prefix` is the substituted text before the variable that failed, at `offset` in the template. */
  | { ok: false; offset: number; prefix: string; variable: string; why: 'missing' | 'unsafe' | 'unknown' };

type Accessor = (p: Principal) => string | undefined;

const accessors = new Map<string, Accessor>([
  ['device.id', (p) => p.id],
  ['device.segment', (p) => p.segment],
  ['cert.cn', (p) => p.certCommonName ?? undefined],
]);

/** How to read a variable, decided once per template rather than per principal; null when unknown. */
function accessorFor(name: string): Accessor | null {
  const fixed = accessors.get(name);
  if (fixed) return fixed;
  if (!isKnownVariable(name)) return null;
  const key = name.slice('device.attr.'.length);
  return (p) => (Object.hasOwn(p.attrs, key) ? p.attrs[key] : undefined);
}

/** A template split once into literal text and variable names, so substitution is concatenation. */
export interface ParsedTemplate {
  readonly template: string;
  /** Literal text; `literals.length === variables.length + 1`, variables between them. */
  readonly literals: readonly string[];
  readonly variables: readonly string[];
  readonly offsets: readonly number[];
  readonly accessors: ReadonlyArray<Accessor | null>;
}

export function parseTemplate(template: string): ParsedTemplate {
  const literals: string[] = [];
  const variables: string[] = [];
  const offsets: number[] = [];
  let last = 0;
  for (const m of template.matchAll(VARIABLE)) {
    literals.push(template.slice(last, m.index));
    variables.push(m[1] ?? '');
    offsets.push(m.index);
    last = m.index + m[0].length;
  }
  literals.push(template.slice(last));
  return { template, literals, variables, offsets, accessors: variables.map(accessorFor) };
}

export function substituteParsed(t: ParsedTemplate, p: Principal): Substitution {
  let out = t.literals[0] ?? '';
  for (let i = 0; i < t.variables.length; i++) {
    const read = t.accessors[i] ?? null;
    const value = read === null ? undefined : read(p);
    if (read === null || value === undefined || value === '' || isUnsafe(value)) {
      const why = read === null ? 'unknown' : value === undefined || value === '' ? 'missing' : 'unsafe';
      return { ok: false, offset: t.offsets[i] ?? 0, prefix: out, variable: t.variables[i] ?? '', why };
    }
    out += value + (t.literals[i + 1] ?? '');
  }
  return { ok: true, value: out };
}

/** Substitutes every variable once (values are never re-scanned for `${`). */
export function substitute(template: string, p: Principal): Substitution {
  if (!template.includes('${')) return { ok: true, value: template };
  return substituteParsed(parseTemplate(template), p);
}
