/**
 * Which topics are replay-protected for a device: MQTT filters from `shield.replay.topics`, or a
 * segment's own list when `shield.replay.segments.<name>.topics` is set. Compiled once into
 * topic tries so the check per message walks only the levels a topic can reach.
 */
import { TopicTrie } from '../../core/messaging/topic-trie.ts';

export class ProtectedTopics {
  readonly #global: TopicTrie<true>;
  readonly #bySegment = new Map<string, TopicTrie<true>>();

  constructor(topics: readonly string[], segments: Readonly<Record<string, { topics: readonly string[] }>>) {
    this.#global = compile(topics);
    for (const [name, s] of Object.entries(segments)) this.#bySegment.set(name, compile(s.topics));
  }

  /** False when no topic is protected anywhere: the guard can step aside entirely. */
  get any(): boolean {
    if (this.#global.size > 0) return true;
    for (const t of this.#bySegment.values()) if (t.size > 0) return true;
    return false;
  }

  isProtected(segment: string, topic: string): boolean {
    const trie = this.#bySegment.get(segment) ?? this.#global;
    if (trie.size === 0) return false;
    let hit = false;
    trie.match(topic, () => {
      hit = true;
    });
    return hit;
  }
}

function compile(filters: readonly string[]): TopicTrie<true> {
  const trie = new TopicTrie<true>();
  for (const f of filters) trie.add(f, f, true);
  return trie;
}
