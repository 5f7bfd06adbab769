/**
 * Which topics are replay-protected for a device: MQTT filters from `shield.replay.topics`, or a
 * segment's own list when `shield.replay.segments.<name>.topics` is set. Compiled once into
 * topic tries so the check per message walks only the levels a topic can reach.
 */
import { TopicTrie } from '../../core/messaging/topic-trie.ts';

/** Topics remembered per list; devices publish to few distinct topics, so most checks are one lookup. */
const CACHE_LIMIT = 4096;

interface Compiled {
  trie: TopicTrie<true>;
  /** topic -> protected; cleared when full rather than evicted one by one (bounded, and cheap). */
  seen: Map<string, boolean>;
}

export class ProtectedTopics {
  readonly #global: Compiled;
  readonly #bySegment = new Map<string, Compiled>();

  constructor(topics: readonly string[], segments: Readonly<Record<string, { topics: readonly string[] }>>) {
    this.#global = compile(topics);
    for (const [name, s] of Object.entries(segments)) this.#bySegment.set(name, compile(s.topics));
  }

  /** False when no topic is protected anywhere: the guard can step aside entirely. */
  get any(): boolean {
    if (this.#global.trie.size > 0) return true;
    for (const t of this.#bySegment.values()) if (t.trie.size > 0) return true;
    return false;
  }

  isProtected(segment: string, topic: string): boolean {
    const c = this.#bySegment.get(segment) ?? this.#global;
    if (c.trie.size === 0) return false;
    const known = c.seen.get(topic);
    if (known !== undefined) return known;
    let hit = false;
    c.trie.match(topic, () => {
      hit = true;
    });
    if (c.seen.size >= CACHE_LIMIT) c.seen.clear();
    c.seen.set(topic, hit);
    return hit;
  }
}

function compile(filters: readonly string[]): Compiled {
  const trie = new TopicTrie<true>();
  for (const f of filters) trie.add(f, f, true);
  return { trie, seen: new Map() };
}
