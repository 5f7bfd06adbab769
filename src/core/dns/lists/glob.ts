/**
 * Glob rules with `*` somewhere other than a leading `*.` (`ads*.example.com`,
 * `||tracker-*.example^`): `*` matches any run of characters, dots included (AdGuard's DNS
 * filtering syntax). Matched with the iterative two-pointer algorithm: no regular expression,
 * no recursion, at most O(name × pattern) steps and linear in practice.
 */

export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const pc = pattern.charCodeAt(p);
    if (p < pattern.length && pc !== 42 /* * */ && pc === name.charCodeAt(n)) {
      p++;
      n++;
    } else if (p < pattern.length && pc === 42) {
      star = p++;
      resume = n;
    } else if (star !== -1) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}
