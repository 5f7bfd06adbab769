/**
 * Builds a compiled list from text fed in chunks (a file stream, a fetch body), so a caller can
 * yield to the event loop between chunks and never holds a second copy of a large list. Lines
 * are split on LF (CRLF tolerated); a line longer than MAX_LINE is one bad line, not a memory
 * sink. Nothing here throws on list content.
 */
import { DomainMatcher } from './matcher.ts';
import type { GlobRule, RegexRule } from './matcher.ts';
import { parseLine } from './parse-line.ts';
import type { IgnoredReason, ListFormat, RuleAction, RuleSink } from './parse-line.ts';

export type ListKind = 'block' | 'allow';

/** The first few bad lines are kept for the operator; the rest are only counted. */
export const MAX_KEPT_ERRORS = 20;
const MAX_LINE = 8192;

export interface ListError {
  /** 1-based line number. */
  readonly line: number;
  readonly message: string;
}

export interface ListStats {
  readonly lines: number;
  /** Distinct block rules and allow rules. */
  readonly blockRules: number;
  readonly allowRules: number;
  readonly badLines: number;
  /** Well-formed lines with no meaning for a resolver (cosmetic, narrowed by a modifier, …). */
  readonly ignored: Readonly<Record<IgnoredReason, number>>;
  readonly errors: readonly ListError[];
}

/**
 * A parsed list, ready for DnsFilter.setList. `block` holds its block rules, `allow` its allow
 * rules: every rule of a kind 'allow' list, and the `@@` exceptions of a block list.
 */
export interface CompiledList {
  readonly kind: ListKind;
  readonly block: DomainMatcher;
  readonly allow: DomainMatcher;
  readonly stats: ListStats;
}

export interface ListBuilderOptions {
  readonly kind: ListKind;
  readonly format: ListFormat;
}

export class ListBuilder {
  readonly #kind: ListKind;
  readonly #format: ListFormat;
  readonly #block = new DomainMatcher();
  readonly #allow = new DomainMatcher();
  readonly #ignored: Record<IgnoredReason, number> = { cosmetic: 0, modifier: 0, url: 0, localhost: 0, option: 0 };
  readonly #errors: ListError[] = [];
  readonly #sink: RuleSink;
  #carry = '';
  #skipping = false;
  #lines = 0;
  #badLines = 0;
  #lineBad = false;

  constructor(options: ListBuilderOptions) {
    this.#kind = options.kind;
    this.#format = options.format;
    const target = (action: RuleAction): DomainMatcher => (action === 'allow' || this.#kind === 'allow' ? this.#allow : this.#block);
    this.#sink = {
      name: (action, name, flag) => target(action).addName(name, flag),
      glob: (action, rule: GlobRule) => target(action).addGlob(rule),
      regex: (action, rule: RegexRule) => target(action).addRegex(rule),
      ignored: (reason) => {
        this.#ignored[reason]++;
      },
      bad: (message) => this.#bad(message),
    };
  }

  /** Feeds the next piece of text; lines may span pieces. */
  write(chunk: string): void {
    if (this.#lines === 0 && this.#carry.length === 0 && chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1); // BOM
    let text = this.#carry.length > 0 ? this.#carry + chunk : chunk;
    this.#carry = '';
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      if (this.#skipping) {
        this.#skipping = false;
      } else {
        this.#line(text.slice(start, nl));
      }
      start = nl + 1;
    }
    if (start < text.length) {
      text = text.slice(start);
      if (this.#skipping) return;
      if (text.length > MAX_LINE) {
        this.#lines++;
        this.#lineBad = false;
        this.#bad(`line longer than ${MAX_LINE} characters`);
        this.#skipping = true;
        return;
      }
      this.#carry = text;
    }
  }

  /** Ends the text and returns the list; the builder must not be used again. */
  end(): CompiledList {
    if (this.#carry.length > 0) this.#line(this.#carry);
    this.#carry = '';
    this.#block.compact();
    this.#allow.compact();
    return {
      kind: this.#kind,
      block: this.#block,
      allow: this.#allow,
      stats: {
        lines: this.#lines,
        blockRules: this.#block.size,
        allowRules: this.#allow.size,
        badLines: this.#badLines,
        ignored: { ...this.#ignored },
        errors: this.#errors,
      },
    };
  }

  #line(raw: string): void {
    this.#lines++;
    this.#lineBad = false;
    if (raw.length > MAX_LINE) {
      this.#bad(`line longer than ${MAX_LINE} characters`);
      return;
    }
    parseLine(raw, this.#format, this.#sink);
  }

  #bad(message: string): void {
    if (this.#lineBad) return; // one error per line
    this.#lineBad = true;
    this.#badLines++;
    if (this.#errors.length < MAX_KEPT_ERRORS) this.#errors.push({ line: this.#lines, message });
  }
}

/** Parses a whole list held in memory. */
export function compileList(text: string, options: ListBuilderOptions): CompiledList {
  const builder = new ListBuilder(options);
  builder.write(text);
  return builder.end();
}

/** An empty list of `kind`: what a configured list holds before its first successful load. */
export function emptyList(kind: ListKind): CompiledList {
  return new ListBuilder({ kind, format: 'auto' }).end();
}
