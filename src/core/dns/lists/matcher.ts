/**
 * One set of domain rules (a list's block rules, or its allow rules) and the lookup the filter
 * runs on every query. Exact names and "this name and all its subdomains" share one
 * Map<canonical name, flags>: a lookup walks the query's suffixes (`a.b.example.com`,
 * `b.example.com`, `example.com`, `com`), so it costs at most one hash lookup per label whatever
 * the list's size. Globs and regular expressions, rare in practice, run only when the list has
 * some. The rule text in a verdict is rebuilt from the flags (`||x^`, `*.x`, `x`) rather than
 * kept per entry: a million copies of the text would double the memory of a large list.
 */
import { globMatch } from './glob.ts';

/** The name itself (hosts lines, plain domain lists). */
export const EXACT = 1;
/** The name and every subdomain, written `||name^` (adblock). */
export const SUBTREE_ADBLOCK = 2;
/** The name and every subdomain, written `*.name` (Pi-hole's wildcard includes the apex). */
export const SUBTREE_WILDCARD = 4;
const SUBTREE = SUBTREE_ADBLOCK | SUBTREE_WILDCARD;

export interface GlobRule {
  readonly pattern: string;
  /** `||glob^`: the glob may match the name or any suffix of it that starts at a label. */
  readonly subtree: boolean;
  readonly text: string;
}

export interface RegexRule {
  readonly re: RegExp;
  readonly text: string;
}

export class DomainMatcher {
  readonly #names = new Map<string, number>();
  readonly #globs: GlobRule[] = [];
  readonly #regexes: RegexRule[] = [];

  /** Adds a name rule; `flag` is EXACT, SUBTREE_ADBLOCK or SUBTREE_WILDCARD. */
  addName(name: string, flag: number): void {
    const had = this.#names.get(name);
    this.#names.set(name, had === undefined ? flag : had | flag);
  }

  addGlob(rule: GlobRule): void {
    this.#globs.push(rule);
  }

  addRegex(rule: RegexRule): void {
    this.#regexes.push(rule);
  }

  /** Number of distinct rules (a name written both `x` and `||x^` counts once). */
  get size(): number {
    return this.#names.size + this.#globs.length + this.#regexes.length;
  }

  /** The rule text that matches `name` (canonical), or null. Most specific name first. */
  match(name: string): string | null {
    const names = this.#names;
    if (names.size > 0) {
      const own = names.get(name);
      if (own !== undefined) return ruleText(name, own);
      let dot = name.indexOf('.');
      while (dot !== -1) {
        const suffix = name.slice(dot + 1);
        const flags = names.get(suffix);
        if (flags !== undefined && (flags & SUBTREE) !== 0) return ruleText(suffix, flags & SUBTREE);
        dot = name.indexOf('.', dot + 1);
      }
    }
    if (this.#globs.length > 0) {
      for (const g of this.#globs) if (matchGlob(g, name)) return g.text;
    }
    if (this.#regexes.length > 0) {
      for (const r of this.#regexes) if (r.re.test(name)) return r.text;
    }
    return null;
  }
}

function ruleText(name: string, flags: number): string {
  if ((flags & EXACT) !== 0) return name;
  if ((flags & SUBTREE_ADBLOCK) !== 0) return `||${name}^`;
  return `*.${name}`;
}

function matchGlob(g: GlobRule, name: string): boolean {
  if (globMatch(g.pattern, name)) return true;
  if (!g.subtree) return false;
  let dot = name.indexOf('.');
  while (dot !== -1) {
    if (globMatch(g.pattern, name.slice(dot + 1))) return true;
    dot = name.indexOf('.', dot + 1);
  }
  return false;
}
