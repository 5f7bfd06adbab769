/**
 * A subscription trie keyed by topic level. Matching walks only the branches a topic can reach,
 * so routing cost grows with topic depth, not with the number of subscriptions.
 */
interface Node<T> {
  children: Map<string, Node<T>>;
  values: Map<string, T>;
}

function newNode<T>(): Node<T> {
  return { children: new Map(), values: new Map() };
}

export class TopicTrie<T> {
  #root: Node<T> = newNode();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds or replaces the value stored under (filter, key). */
  add(filter: string, key: string, value: T): void {
    let node = this.#root;
    for (const level of filter.split('/')) {
      let next = node.children.get(level);
      if (!next) {
        next = newNode();
        node.children.set(level, next);
      }
      node = next;
    }
    if (!node.values.has(key)) this.#size++;
    node.values.set(key, value);
  }

  remove(filter: string, key: string): boolean {
    const path: Array<[Node<T>, string]> = [];
    let node = this.#root;
    for (const level of filter.split('/')) {
      const next = node.children.get(level);
      if (!next) return false;
      path.push([node, level]);
      node = next;
    }
    if (!node.values.delete(key)) return false;
    this.#size--;
    // Prune empty branches so a churn of unique topics does not leak nodes.
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, level] = path[i]!;
      const child = parent.children.get(level)!;
      if (child.values.size > 0 || child.children.size > 0) break;
      parent.children.delete(level);
    }
    return true;
  }

  /** Calls `visit` for every value whose filter matches `topic`. */
  match(topic: string, visit: (value: T) => void): void {
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] wildcards in the first level do not match topics starting with '$'.
    this.#walk(this.#root, levels, 0, visit, topic.charCodeAt(0) === 36);
  }

  #walk(node: Node<T>, levels: string[], depth: number, visit: (value: T) => void, dollar: boolean): void {
    const hash = node.children.get('#');
    if (hash && !(dollar && depth === 0)) for (const v of hash.values.values()) visit(v);
    if (depth === levels.length) {
      for (const v of node.values.values()) visit(v);
      return;
    }
    const exact = node.children.get(levels[depth]!);
    if (exact) this.#walk(exact, levels, depth + 1, visit, dollar);
    if (!(dollar && depth === 0)) {
      const plus = node.children.get('+');
      if (plus) this.#walk(plus, levels, depth + 1, visit, dollar);
    }
  }
}
