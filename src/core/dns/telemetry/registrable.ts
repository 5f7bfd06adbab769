/**
 * "Registrable-ish" names without the Public Suffix List: the name an owner registered
 * (eTLD+1) is approximated as the last two labels, or the last three when the second-to-last
 * label is a common second-level label under a two-letter country code (`co.uk`, `com.au`,
 * `ne.jp`). Wrong for private suffixes (`s3.amazonaws.com`, `github.io`: their tenants share one
 * registrable name here) and for rarer public ones (`pvt.k12.ma.us`): for per-device "names
 * never seen before" that errs towards fewer new names, which is the safe side for an alarm.
 */

/** Second-level labels that registries under ccTLDs use as public suffixes. */
const CC_SECOND_LEVEL = new Set(['ac', 'co', 'com', 'edu', 'gov', 'govt', 'net', 'org', 'or', 'ne', 'go', 'gob', 'gouv', 'mil', 'nic', 'ltd', 'plc', 'sch', 'nom', 'biz', 'info', 'gen', 'firm', 'web', 'int', 'res', 'tm', 'lg', 'ad', 'ed', 'gr']);

/** The registrable part of a canonical name (lower case, no trailing dot); the name itself when it has one or two labels. */
export function registrableName(name: string): string {
  const last = name.lastIndexOf('.');
  if (last < 0) return name;
  const second = name.lastIndexOf('.', last - 1);
  if (second < 0) return name;
  // Only a two-letter TLD with a short second-level label can be a `co.uk`-style suffix: no slice otherwise.
  if (name.length - last === 3 && last - second <= 5 && CC_SECOND_LEVEL.has(name.slice(second + 1, last))) {
    const third = name.lastIndexOf('.', second - 1);
    return third < 0 ? name : name.slice(third + 1);
  }
  return name.slice(second + 1);
}

/**
 * The label a DGA controls: the leftmost label of the registrable name (`google` of
 * `www.google.com`, `xjwqkzpt` of `xjwqkzpt.co.uk`). Deeper labels are left alone on purpose:
 * cloud endpoints put random-looking ids there (`a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com`),
 * while a DGA must register what it generates, so its randomness sits in this label.
 */
export function significantLabel(name: string): string {
  const r = registrableName(name);
  const dot = r.indexOf('.');
  return dot < 0 ? r : r.slice(0, dot);
}
