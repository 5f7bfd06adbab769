/**
 * The SQLi pre-filter: decides whether the tokenizer needs to run at all. Every fingerprint
 * classify.ts accepts needs one of: ';', '#', '(', '--', '/*', '&&', '||', one of the keywords
 * below as a whole word, or a quote together with an operator (to break out of a literal and do
 * something). Most telemetry strings have none. Regular expressions, not a JavaScript loop: the
 * engine's compiled scanners are several times faster per character here.
 */

const CHARS = /[;#(]|--|\/\*|&&|\|\|/;
const KEYWORD = /\b(?:union|select|x?or|and|having|order|group|limit|offset|into|waitfor|except|intersect|minus)\b/i;
const QUOTE = /['"`]/;
const OPERATOR = /[=<>|&!~^%*+/-]/;

export function worthReading(s: string): boolean {
  return CHARS.test(s) || KEYWORD.test(s) || (QUOTE.test(s) && OPERATOR.test(s));
}
