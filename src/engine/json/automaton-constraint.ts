/**
 * A {@link TokenConstraint} from any deterministic automaton over the output's bytes (vLLM's `choice` and `regex`
 * structured outputs): the vocabulary trie is walked against the automaton's state, so a token is allowed when
 * its bytes keep a whole match reachable, and stop tokens only once the bytes so far are a whole match.
 *
 * States are small integers, so a walk costs one array lookup per viable trie node; the allowed-token bitmap is
 * cached per state (a choice or a fixed regex revisits the same few states).
 */

import { SwallowError } from "../../errors.js";
import type { TokenConstraint } from "../constraint.js";
import { applyTokenMask } from "./apply-mask.js";
import { grammarCache, LruMap } from "./lru.js";
import { type VocabSource, type VocabTrie, vocabTrieOf } from "./vocab-trie.js";

/** A deterministic byte automaton whose states are integers ≥ 0. */
export interface ByteAutomaton {
  readonly start: number;
  /** The state after `byte`, or -1 when no whole match can follow. */
  step(state: number, byte: number): number;
  /** True when the bytes so far are a whole match (the output may end here). */
  isAccepting(state: number): boolean;
  /** Fewest more bytes to a whole match (0 when accepting). */
  distanceBytes(state: number): number;
}

export interface AutomatonConstraintOptions {
  /** Tokens that end generation: masked until the text is a whole match, then allowed. */
  stopTokenIds: number[];
  /**
   * The request's max_tokens: when given, only tokens after which a whole match is still reachable in the tokens
   * left (one byte per token at worst) are allowed, so the output ends in a match before the limit when it can.
   */
  maxTokensHint?: number;
}

interface Mask {
  /** Allowed non-stop tokens, one bit each. */
  bits: Uint32Array;
  count: number;
  /** Largest distance (bytes) to a whole match after one of the allowed tokens. */
  maxDistanceBytes: number;
}

/** Cached masks per grammar (each is vocab/8 bytes: 16 KB for Llama 3). */
const MASK_CACHE_ENTRIES = 256;
/** Compiled grammars kept per tokenizer. */
const GRAMMAR_CACHE_ENTRIES = 16;

/** One automaton against one tokenizer's vocabulary trie, with its mask cache. */
export class AutomatonGrammar {
  private readonly masks = new LruMap<number, Mask>(MASK_CACHE_ENTRIES);
  /** `levels[d]`: the automaton state after the first d bytes of the trie path being walked. */
  private readonly levels: Int32Array;
  /** The mask that allows no token. */
  readonly nothing: Mask;

  constructor(
    readonly automaton: ByteAutomaton,
    readonly trie: VocabTrie,
  ) {
    this.levels = new Int32Array(trie.maxDepth + 1);
    this.nothing = { bits: new Uint32Array((trie.vocabSize + 31) >>> 5), count: 0, maxDistanceBytes: 0 };
  }

  /** The allowed tokens from `state`; with a finite `boundBytes`, only those after which a match is that close (not cached). */
  maskFor(state: number, boundBytes = Infinity): Mask {
    let full = this.masks.get(state);
    if (!full) this.masks.set(state, (full = this.walk(state, Infinity)));
    return full.maxDistanceBytes <= boundBytes ? full : this.walk(state, boundBytes);
  }

  /** Walks the trie in preorder; a byte the automaton rejects skips its whole subtree. */
  private walk(state: number, boundBytes: number): Mask {
    const { byte, depth, end, token, sameBytes, size, vocabSize } = this.trie;
    const automaton = this.automaton;
    const levels = this.levels;
    const bits = new Uint32Array((vocabSize + 31) >>> 5);
    let count = 0;
    let maxDistanceBytes = 0;
    levels[0] = state;
    for (let i = 0; i < size;) {
      const next = automaton.step(levels[depth[i] - 1], byte[i]);
      if (next < 0) {
        i = end[i];
        continue;
      }
      levels[depth[i]] = next;
      const id = token[i];
      if (id >= 0) {
        const distance = automaton.distanceBytes(next);
        if (distance <= boundBytes) {
          maxDistanceBytes = Math.max(maxDistanceBytes, distance);
          bits[id >>> 5] |= 1 << (id & 31);
          count++;
          for (const other of sameBytes.get(i) ?? []) {
            bits[other >>> 5] |= 1 << (other & 31);
            count++;
          }
        }
      }
      i++;
    }
    return { bits, count, maxDistanceBytes };
  }
}

const cachedGrammar = grammarCache<AutomatonGrammar>(GRAMMAR_CACHE_ENTRIES);

/**
 * The grammar cached under `key` for `tokenizer` (a server sees the same few choices and regexes again and again),
 * else a new one from `build()`.
 */
export function automatonGrammarFor(tokenizer: VocabSource, key: string, build: () => ByteAutomaton): AutomatonGrammar {
  return cachedGrammar(tokenizer, key, () => new AutomatonGrammar(build(), vocabTrieOf(tokenizer)));
}

class AutomatonConstraint implements TokenConstraint {
  private state: number;
  private generated = 0;
  private readonly stops: Set<number>;

  constructor(
    private readonly grammar: AutomatonGrammar,
    private readonly tokenizer: VocabSource,
    private readonly options: AutomatonConstraintOptions,
  ) {
    this.state = grammar.automaton.start;
    this.stops = new Set(options.stopTokenIds);
  }

  isComplete(): boolean {
    return this.grammar.automaton.isAccepting(this.state);
  }

  mask(logits: Float32Array): void {
    const complete = this.isComplete();
    let mask = this.grammar.maskFor(this.state);
    const hint = this.options.maxTokensHint;
    if (hint !== undefined && mask.count > 0) {
      // Tokens left after this one; keep tokens after which a match still fits, or failing that, those that get closer.
      const boundBytes = hint - this.generated - 1;
      if (complete && boundBytes < 0)
        mask = this.grammar.nothing; // the budget is spent on a whole match: only a stop token
      else if (mask.maxDistanceBytes > boundBytes) {
        mask = this.grammar.maskFor(this.state, boundBytes);
        if (mask.count === 0) mask = this.grammar.maskFor(this.state, Math.max(0, this.grammar.automaton.distanceBytes(this.state) - 1));
      }
    }
    applyTokenMask(logits, mask.bits, mask.count, this.grammar.trie.vocabSize, this.stops, complete);
  }

  /** @throws Error when the token was masked (a bug in the caller: it sampled outside the mask). */
  accept(tokenId: number): void {
    if (this.stops.has(tokenId) && this.isComplete()) return;
    if (this.tokenizer.specialTokenIds.has(tokenId) || this.stops.has(tokenId)) {
      throw new Error(`token ${tokenId} was sampled before the output matched, but the constraint masks it`);
    }
    let state = this.state;
    for (const b of this.tokenizer.tokenBytes(tokenId)) {
      state = this.grammar.automaton.step(state, b);
      if (state < 0) throw new Error(`token ${tokenId} cannot continue to a match; the constraint masks it`);
    }
    this.state = state;
    this.generated++;
  }
}

/** A fresh constraint (one per request: it is stateful) over a cached grammar. */
export function createAutomatonConstraint(
  tokenizer: VocabSource,
  grammar: AutomatonGrammar,
  options: AutomatonConstraintOptions,
): TokenConstraint {
  if (options.stopTokenIds.length === 0) {
    throw new SwallowError("constrained decoding needs at least one stop token id to end the output once it matches");
  }
  return new AutomatonConstraint(grammar, tokenizer, options);
}
