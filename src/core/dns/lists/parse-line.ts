/**
 * One line of a block or allow list → rules, for each supported format. Pure and total: junk
 * yields a counted, one-line reason through the sink and never an exception.
 *
 * Semantics (documented in data/dns/README.md):
 *  - hosts (`0.0.0.0 a.com b.com`, `127.0.0.1 x`, `:: x`): each name exactly, not its
 *    subdomains (Pi-hole, AdGuard Home); localhost-style entries are ignored.
 *  - plain domains (`a.com`): exactly that name.
 *  - wildcards (`*.a.com`): a.com AND every subdomain — Pi-hole's wildcard includes the apex.
 *    A `*` elsewhere (`ads*.a.com`) is a glob: `*` matches any characters, dots included.
 *  - adblock: `||a.com^` the name and its subdomains; `|a.com^` the name only; `@@` makes any
 *    of them an allow rule; modifiers `$important`, `$all`, `$document`/`$doc`, `$popup` change
 *    nothing for DNS and are accepted; any other modifier (`$third-party`, `$client=`, …) narrows
 *    the rule to a context a resolver cannot see, so the rule is ignored and counted. Cosmetic
 *    rules (`##`, `#@#`, `#?#`, `#$#`, …) and URL rules (`||a.com/path`) are ignored and counted.
 *  - regular expressions: `/…/` lines (any format but hosts and domains), or every line of a
 *    'regex' list (Pi-hole's format, slashes optional); admitted only if regex-safety.ts
 *    accepts the pattern; matched case-insensitively against the whole canonical name.
 * Comments: `#` (hosts, domains, regex; also trailing), `!` and `[Adblock Plus …]` headers.
 */
import type { GlobRule, RegexRule } from './matcher.ts';
import { EXACT, SUBTREE_ADBLOCK, SUBTREE_WILDCARD } from './matcher.ts';
import { MAX_NAME_LENGTH, canonicalName, clip } from './name.ts';
import { regexSafetyProblem } from './regex-safety.ts';

export type ListFormat = 'auto' | 'hosts' | 'domains' | 'adblock' | 'regex';
export type RuleAction = 'block' | 'allow';
/** Why a well-formed line produced no rule. */
export type IgnoredReason = 'cosmetic' | 'modifier' | 'url' | 'localhost' | 'option';

export interface RuleSink {
  name(action: RuleAction, name: string, flag: number): void;
  glob(action: RuleAction, rule: GlobRule): void;
  regex(action: RuleAction, rule: RegexRule): void;
  ignored(reason: IgnoredReason): void;
  bad(message: string): void;
}

/** Hosts-file names that describe the machine itself, never a blocking target. */
const LOCAL_NAMES = new Set([
  'localhost', 'localhost.localdomain', 'local', 'broadcasthost', 'ip6-localhost', 'ip6-loopback',
  'ip6-localnet', 'ip6-mcastprefix', 'ip6-allnodes', 'ip6-allrouters', 'ip6-allhosts', '0.0.0.0',
]);
/** Modifiers that do not narrow a rule for a resolver (AdGuard DNS filtering syntax). */
const NEUTRAL_MODIFIERS = new Set(['important', 'all', 'document', 'doc', 'popup']);
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^[0-9a-f:.]*:[0-9a-f:.]*(?:%\S+)?$/i;
const COSMETIC = /#[@?$%]?#|#@[$%?]#|#@\$\?#/;
const GLOB_CHARS = /^[a-z0-9_.*-]+$/;

export function parseLine(raw: string, format: ListFormat, sink: RuleSink): void {
  const line = raw.trim();
  if (line.length === 0) return;
  const c = line.charCodeAt(0);
  if (c === 33 /* ! */ || (c === 91 /* [ */ && line.endsWith(']'))) return;
  switch (format) {
    case 'regex':
      if (c === 35 /* # */) return;
      parseRegexLine(line, sink);
      return;
    case 'hosts':
      if (c === 35) return;
      parseHosts(stripComment(line), sink, true);
      return;
    case 'domains':
      if (c === 35) return;
      parseDomain(stripComment(line), sink);
      return;
    case 'adblock':
    case 'auto':
      if (COSMETIC.test(line)) {
        sink.ignored('cosmetic');
        return;
      }
      if (c === 35) return;
      if (format === 'adblock' || c === 124 /* | */ || c === 64 /* @ */ || (c === 47 /* / */ && line.length > 2) || line.endsWith('^') || line.includes('$')) {
        parseAdblock(line, sink);
        return;
      }
      {
        const body = stripComment(line);
        if (body.length === 0) return;
        if (format === 'auto' && /\s/.test(body)) {
          parseHosts(body, sink, false);
          return;
        }
        parseDomain(body, sink);
      }
  }
}

function stripComment(line: string): string {
  const hash = line.indexOf('#');
  return hash === -1 ? line : line.slice(0, hash).trimEnd();
}

function parseHosts(line: string, sink: RuleSink, strict: boolean): void {
  if (line.length === 0) return;
  const tokens = line.split(/\s+/);
  const address = tokens[0] ?? '';
  if (!IPV4.test(address) && !IPV6.test(address)) {
    if (strict && tokens.length === 1) {
      sink.bad(`hosts line without an address: ${clip(line)}`);
    } else {
      sink.bad(`not a hosts line (no address first): ${clip(line)}`);
    }
    return;
  }
  if (tokens.length < 2) {
    sink.bad(`hosts line without a name: ${clip(line)}`);
    return;
  }
  let bad: string | null = null;
  for (let i = 1; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    const name = canonicalName(token);
    if (typeof name !== 'string') {
      bad ??= name.error;
      continue;
    }
    if (LOCAL_NAMES.has(name)) {
      sink.ignored('localhost');
      continue;
    }
    sink.name('block', name, EXACT);
  }
  if (bad !== null) sink.bad(bad);
}

function parseDomain(body: string, sink: RuleSink): void {
  if (/\s/.test(body)) {
    sink.bad(`more than one word: ${clip(body)}`);
    return;
  }
  if (body.includes('*')) {
    addPattern('block', body, false, body, sink);
    return;
  }
  if (IPV4.test(body)) {
    sink.bad(`an address, not a name: ${clip(body)}`);
    return;
  }
  const name = canonicalName(body);
  if (typeof name === 'string') sink.name('block', name, EXACT);
  else sink.bad(name.error);
}

/**
 * A name with `*` in it. `*.x` is x and all its subdomains; `subtree` (from `||…^`) also lets a
 * glob match any suffix of the name.
 */
function addPattern(action: RuleAction, body: string, subtree: boolean, text: string, sink: RuleSink): void {
  if (body.startsWith('*.') && !body.includes('*', 2)) {
    const name = canonicalName(body.slice(2));
    if (typeof name === 'string') sink.name(action, name, subtree ? SUBTREE_ADBLOCK : SUBTREE_WILDCARD);
    else sink.bad(name.error);
    return;
  }
  let pattern = body.toLowerCase();
  while (pattern.endsWith('.')) pattern = pattern.slice(0, -1);
  if (!GLOB_CHARS.test(pattern) || pattern.length > MAX_NAME_LENGTH || /^\**$/.test(pattern)) {
    sink.bad(`not a domain pattern: ${clip(body)}`);
    return;
  }
  sink.glob(action, { pattern, subtree, text });
}

function parseAdblock(line: string, sink: RuleSink): void {
  let action: RuleAction = 'block';
  let s = line;
  if (s.startsWith('@@')) {
    action = 'allow';
    s = s.slice(2);
  }
  let modifiers = '';
  if (s.startsWith('/') && s.length > 2) {
    const close = s.lastIndexOf('/');
    const rest = s.slice(close + 1);
    if (close > 0 && (rest === '' || rest.startsWith('$'))) {
      if (!neutralModifiers(rest.slice(1), sink)) return;
      addRegex(action, s.slice(1, close), line, sink);
      return;
    }
  }
  const dollar = s.indexOf('$');
  if (dollar !== -1) {
    modifiers = s.slice(dollar + 1);
    s = s.slice(0, dollar);
  }
  if (!neutralModifiers(modifiers, sink)) return;
  let subtree = false;
  let exactAnchor = false;
  if (s.startsWith('||')) {
    subtree = true;
    s = s.slice(2);
  } else if (s.startsWith('|')) {
    exactAnchor = true;
    s = s.slice(1);
  }
  if (s.endsWith('^|')) s = s.slice(0, -2);
  else if (s.endsWith('^')) s = s.slice(0, -1);
  else if (exactAnchor && s.endsWith('|')) s = s.slice(0, -1);
  if (s.includes('/') || s.includes(':') || s.includes('^') || s.includes('?') || s.includes('=')) {
    sink.ignored('url');
    return;
  }
  if (s.length === 0) {
    sink.bad(`adblock rule without a domain: ${clip(line)}`);
    return;
  }
  if (s.includes('*')) {
    addPattern(action, s, subtree, line, sink);
    return;
  }
  const name = canonicalName(s);
  if (typeof name !== 'string') {
    sink.bad(name.error);
    return;
  }
  sink.name(action, name, subtree ? SUBTREE_ADBLOCK : EXACT);
}

/** True if every modifier leaves the rule meaning "this domain" for a resolver. */
function neutralModifiers(modifiers: string, sink: RuleSink): boolean {
  if (modifiers.length === 0) return true;
  for (const m of modifiers.split(',')) {
    if (!NEUTRAL_MODIFIERS.has(m.trim().toLowerCase())) {
      sink.ignored('modifier');
      return false;
    }
  }
  return true;
}

function parseRegexLine(line: string, sink: RuleSink): void {
  // Pi-hole's regex extensions (`;querytype=AAAA`, `;invert`) select by query type or invert
  // the rule; a filter that sees only the name cannot honour them, so the rule is ignored.
  if (/;(?:querytype|invert|reply)\b/.test(line)) {
    sink.ignored('option');
    return;
  }
  const pattern = line.length > 2 && line.startsWith('/') && line.endsWith('/') ? line.slice(1, -1) : line;
  addRegex('block', pattern, line, sink);
}

function addRegex(action: RuleAction, pattern: string, text: string, sink: RuleSink): void {
  const problem = regexSafetyProblem(pattern);
  if (problem !== null) {
    sink.bad(`${problem}: ${clip(text)}`);
    return;
  }
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch {
    sink.bad(`invalid regular expression: ${clip(text)}`);
    return;
  }
  sink.regex(action, { re, text });
}
