/**
 * A letter-bigram model of ordinary words, for the DGA score's n-gram rarity (dga.ts): the
 * table counts each pair of letters in a benign corpus, with `^` and `$` for the start and end
 * of a word, and the model gives the mean surprise (bits) of a letter run's transitions. Words
 * people pick for names ("weather", "printer") are unsurprising; "xjwqkzpt" is not.
 *
 * The shipped table is data/dns/bigrams.tsv, built by `buildBigramCounts` from Debian's
 * wamerican word list (data/dns/bigrams.README.md). Core never reads files: the caller passes
 * the table's text to `BigramModel.parse`.
 */

/** `^`, a–z, `$`: start marker, letters, end marker. */
const SYMBOLS = 28;
const START = 0;
const END = 27;

function symbol(code: number): number {
  return code - 96; // 'a' (97) -> 1 ... 'z' (122) -> 26
}

/** Counts of every bigram over the words (lower-cased; words with anything but a–z are skipped). */
export function buildBigramCounts(words: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  for (const raw of words) {
    const w = raw.trim().toLowerCase();
    if (w.length < 2 || !/^[a-z]+$/.test(w) || seen.has(w)) continue;
    seen.add(w);
    const s = `^${w}$`;
    for (let i = 0; i + 1 < s.length; i++) {
      const bg = s.slice(i, i + 2);
      counts.set(bg, (counts.get(bg) ?? 0) + 1);
    }
  }
  return counts;
}

/** The table as text: `#` comment lines, then `bigram<TAB>count` lines sorted by bigram. */
export function formatBigramTable(counts: ReadonlyMap<string, number>, comments: readonly string[]): string {
  const lines = comments.map((c) => `# ${c}`);
  for (const k of [...counts.keys()].sort()) lines.push(`${k}\t${counts.get(k)}`);
  return `${lines.join('\n')}\n`;
}

export class BigramModel {
  /** Surprise in bits of each transition: -log2 P(next | prev), add-one smoothed. */
  readonly #bits: Float64Array;

  constructor(counts: ReadonlyMap<string, number>) {
    const n = new Float64Array(SYMBOLS * SYMBOLS);
    const rows = new Float64Array(SYMBOLS);
    for (const [bg, c] of counts) {
      const a = bg.charCodeAt(0) === 94 ? START : symbol(bg.charCodeAt(0));
      const b = bg.charCodeAt(1) === 36 ? END : symbol(bg.charCodeAt(1));
      if (a < 0 || a >= END || b <= START || b > END) continue;
      n[a * SYMBOLS + b] = c;
      rows[a]! += c;
    }
    this.#bits = new Float64Array(SYMBOLS * SYMBOLS);
    for (let a = 0; a < SYMBOLS; a++) {
      // 27 possible successors of any symbol (a letter or the end).
      for (let b = 0; b < SYMBOLS; b++) this.#bits[a * SYMBOLS + b] = -Math.log2((n[a * SYMBOLS + b]! + 1) / (rows[a]! + 27));
    }
  }

  /** Reads the text `formatBigramTable` writes. */
  static parse(text: string): BigramModel {
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const [bg, c] = line.split('\t');
      if (bg?.length !== 2 || c === undefined || !/^\d+$/.test(c)) throw new Error(`bad bigram table line: ${line.slice(0, 40)}`);
      counts.set(bg, Number(c));
    }
    return new BigramModel(counts);
  }

  /**
   * Total surprise (bits) and transitions of the letter runs of `label` (digits and hyphens
   * split runs; each run gets its own start and end), so callers can average over a whole label.
   */
  surprise(label: string): { bits: number; transitions: number } {
    let bits = 0;
    let transitions = 0;
    let prev = -1;
    for (let i = 0; i <= label.length; i++) {
      const c = i < label.length ? label.charCodeAt(i) : 0;
      const letter = c >= 97 && c <= 122 ? symbol(c) : -1;
      if (letter > 0) {
        bits += this.#bits[(prev < 0 ? START : prev) * SYMBOLS + letter]!;
        transitions++;
        prev = letter;
      } else if (prev > 0) {
        bits += this.#bits[prev * SYMBOLS + END]!;
        transitions++;
        prev = -1;
      }
    }
    return { bits, transitions };
  }
}
