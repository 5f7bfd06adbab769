/**
 * Resource globs for every action that is not an MQTT topic action: HTTP and CoAP paths, queue,
 * shadow and firmware names, admin paths, client ids for mqtt:connect, domains for dns:resolve.
 *
 * - `*` matches any run of characters (possibly empty) that contains no `/`: one path segment.
 * - `**` matches any run of characters, `/` included.
 * - Every other character is literal; there is no `?`, no character class and no escape.
 * - Domains (dns:resolve) compare case-insensitively and ignore one trailing dot, so
 *   `*.example.com` matches `a.example.com` and `a.b.example.com.` (a domain has no `/`).
 */

export type GlobMatcher = (resource: string) => boolean;

/** Enough for real patterns; a cap keeps the regular expression's backtracking small. */
export const MAX_GLOB_STARS = 8;

/** Why a pattern is not a valid glob, or null. */
export function globProblem(pattern: string): string | null {
  if (pattern.length === 0) return 'empty resource';
  if (pattern.includes('***')) return 'more than two consecutive "*"';
  const runs = pattern.match(/\*+/g)?.length ?? 0;
  if (runs > MAX_GLOB_STARS) return `more than ${MAX_GLOB_STARS} wildcards`;
  return null;
}

export function normalizeDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileGlob(pattern: string, options: { domain?: boolean } = {}): GlobMatcher {
  const domain = options.domain === true;
  const p = domain ? normalizeDomain(pattern) : pattern;
  const norm = domain ? normalizeDomain : (s: string): string => s;
  if (p === '**') return () => true;
  if (!p.includes('*')) return (r) => norm(r) === p;
  const firstStar = p.indexOf('*');
  const stars = p.length - p.replaceAll('*', '').length;
  // The common shapes without a regular expression: `prefix**`, `prefix*`, `*suffix`.
  if (p.endsWith('**') && firstStar === p.length - 2) {
    const prefix = p.slice(0, -2);
    return (r) => norm(r).startsWith(prefix);
  }
  if (stars === 1 && firstStar === p.length - 1) {
    const prefix = p.slice(0, -1);
    return (r) => {
      const s = norm(r);
      return s.startsWith(prefix) && !s.includes('/', prefix.length);
    };
  }
  if (stars === 1 && firstStar === 0) {
    const suffix = p.slice(1);
    return (r) => {
      const s = norm(r);
      return s.endsWith(suffix) && !s.slice(0, s.length - suffix.length).includes('/');
    };
  }
  const source = p
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : escapeRegExp(part)))
    .join('');
  // `s` so `.` also crosses line breaks: a resource is data, never trusted to be one line.
  const re = new RegExp(`^${source}$`, 's');
  return (r) => re.test(norm(r));
}
