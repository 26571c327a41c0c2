import type { VocabSource } from "./vocab-trie.js";

/** A map that keeps its `capacity` most recently used entries: the constraints' caches of grammars and token masks. */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  /** The value under `key`, which becomes the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key); // Map keeps insertion order: re-inserting moves it to the end
      this.entries.set(key, value);
    }
    return value;
  }

  /** Stores `value` as the most recently used, dropping the least recently used entry when full. */
  set(key: K, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
  }
}

/**
 * A cache of compiled grammars per tokenizer (a server sees the same few schemas, choices and regexes again and
 * again): `(tokenizer, key, build)` gives the grammar cached under `key`, else builds and keeps it.
 */
export function grammarCache<G>(capacity: number): (tokenizer: VocabSource, key: string, build: () => G) => G {
  const perTokenizer = new WeakMap<object, LruMap<string, G>>();
  return (tokenizer, key, build) => {
    let grammars = perTokenizer.get(tokenizer);
    if (!grammars) perTokenizer.set(tokenizer, (grammars = new LruMap(capacity)));
    let grammar = grammars.get(key);
    if (grammar === undefined) grammars.set(key, (grammar = build()));
    return grammar;
  };
}
