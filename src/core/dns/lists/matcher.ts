/**
 * One set of domain rules (a list's block rules, or its allow rules) and the lookup the filter
 * runs on every query. Exact names and "this name and all its subdomains" share one hash table
 * of names with flags (name-table.ts): a lookup walks the query's suffixes (`com`,
 * `example.com`, `b.example.com`, `a.b.example.com`), so it costs one hash probe per label
 * whatever the list's size. The most specific matching rule names the verdict. Globs and regular expressions, rare in practice, run only when the list has
 * some. The rule text in a verdict is rebuilt from the flags (`||x^`, `*.x`, `x`) rather than
 * kept per entry: a million copies of the text would double the memory of a large list.
 */
import { globMatch } from './glob.ts';
import { NameTable } from './name-table.ts';

/** The name itself (hosts lines, plain domain lists). */
export const EXACT = 1;
/** The name and every subdomain, written `||name^` (adblock). */
export const SUBTREE_ADBLOCK = 2;
/** The name and every subdomain, written `*.name` (Pi-hole's wildcard includes the apex). */
export const SUBTREE_WILDCARD = 4;
const SUBTREE = SUBTREE_ADBLOCK | SUBTREE_WILDCARD;
/** matchSuffix's out-parameter; lookups are synchronous, so one buffer serves all. */
const flagsOut = new Uint8Array(1);

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
  readonly #names = new NameTable();
  readonly #globs: GlobRule[] = [];
  readonly #regexes: RegexRule[] = [];

  /** Adds a name rule; `flag` is EXACT, SUBTREE_ADBLOCK or SUBTREE_WILDCARD. */
  addName(name: string, flag: number): void {
    this.#names.add(name, flag);
  }

  /** Frees spare capacity once every rule is in. */
  compact(): void {
    this.#names.compact();
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
    if (this.#names.size > 0) {
      const at = this.#names.matchSuffix(name, EXACT | SUBTREE, SUBTREE, flagsOut);
      if (at !== -1) {
        const flags = flagsOut[0] ?? 0;
        return ruleText(at === 0 ? name : name.slice(at), at === 0 ? flags : flags & SUBTREE);
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
