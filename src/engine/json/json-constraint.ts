/**
 * Constrained decoding for `response_format` `json_object` / `json_schema` (issue #4): a {@link TokenConstraint}
 * that only lets through tokens whose bytes keep the output a prefix of a matching JSON document.
 *
 * Per step the vocabulary trie is walked against the automaton state (shared prefixes once, dead subtrees
 * skipped); inside strings, per-token tables replace the walk (string-mask.ts). The allowed-token bitmap is
 * cached per distinct state, so steps that repeat a state (the middle of a long string, the next array item)
 * cost one pass over the logits (~0.2 ms on Llama 3's 128,256 tokens).
 *
 * Output choices (all still valid JSON matching the schema): no whitespace before or after the top-level value;
 * at most `maxWhitespace` bytes of whitespace in each gap inside it; the stricter schema choices of schema.ts.
 * Special tokens never appear inside the JSON. Once the document is complete only stop tokens stay allowed,
 * except after a complete top-level number or enum value that could still grow (`1` → `12`): then both are.
 */

import { SwallowError } from "../../errors.js";
import type { TokenConstraint } from "../constraint.js";
import { applyTokenMask } from "./apply-mask.js";
import { grammarCache, LruMap } from "./lru.js";
import { JsonAutomaton, type Stack } from "./automaton.js";
import { compileSchema } from "./schema.js";
import { STRING_STATES } from "./string-bytes.js";
import { forEachStringToken, type StringPosition, stringTokenTable } from "./string-mask.js";
import { type VocabSource, type VocabTrie, vocabTrieOf } from "./vocab-trie.js";

export interface JsonConstraintOptions {
  /** A JSON schema; absent = any JSON object (OpenAI `json_object`). */
  schema?: object;
  /** Tokens that end generation: masked until the document is complete, then the only ones allowed. */
  stopTokenIds: number[];
  /**
   * The request's max_tokens: when given, tokens are only allowed if the document can still be completed in the
   * tokens left (one byte per token at worst), so the output closes before the limit whenever that is possible.
   */
  maxTokensHint?: number;
  /** Most whitespace bytes in one gap between JSON tokens (default {@link DEFAULT_MAX_WHITESPACE}; 0 = compact). */
  maxWhitespace?: number;
}

/**
 * Whitespace bound per gap: enough for pretty-printed output (newline + indent) a few levels deep, while a
 * model cannot loop on whitespace forever.
 */
export const DEFAULT_MAX_WHITESPACE = 16;
/** Cached masks per compiled grammar (each is vocab/8 bytes: 16 KB for Llama 3). */
const MASK_CACHE_ENTRIES = 256;
/** Compiled grammars kept per tokenizer (a server sees the same few schemas again and again). */
const GRAMMAR_CACHE_ENTRIES = 16;

interface Mask {
  /** Allowed non-stop tokens, one bit each. */
  bits: Uint32Array;
  count: number;
  /** Largest completion distance (bytes) among the allowed tokens' next states. */
  maxDistNext: number;
}

/** One schema compiled against one tokenizer: the automaton, the vocabulary trie and the mask cache. */
export class JsonGrammar {
  private readonly masks = new LruMap<string, Mask>(MASK_CACHE_ENTRIES);
  /** `levels[d]`: the states after the first d bytes of the trie path being walked (reused between walks). */
  private readonly levels: Stack[][];
  /** Per token: the completion distance after it, from the last walk (clamped to 65535), and that walk's state key. */
  private readonly dist: Uint16Array;
  private distKey = "";

  /** @param options.stringTables false = walk the trie inside strings too (slower; for tests that compare both). */
  constructor(
    readonly automaton: JsonAutomaton,
    readonly trie: VocabTrie,
    private readonly options: { stringTables?: boolean } = {},
  ) {
    this.levels = Array.from({ length: trie.maxDepth + 1 }, () => []);
    this.dist = new Uint16Array(trie.vocabSize);
  }

  /**
   * The allowed tokens from `states` (`key`: their {@link JsonAutomaton.stateKey}s). With a finite `bound`, only
   * tokens after which the document can be completed in at most `bound` bytes; those masks are not cached, but are
   * filtered from the last walk's per-token distances when it was for the same state.
   */
  maskFor(states: Stack[], key: string, bound = Infinity): Mask {
    let full = this.masks.get(key);
    if (!full || (bound !== Infinity && full.maxDistNext > bound && this.distKey !== key)) {
      full = this.walk(states);
      this.distKey = key;
      this.masks.set(key, full);
    }
    return full.maxDistNext <= bound ? full : this.within(full, bound);
  }

  /** `full` without the tokens whose distance (from the last walk, which was for the same state) exceeds `bound`. */
  private within(full: Mask, bound: number): Mask {
    const dist = this.dist;
    const bits = new Uint32Array(full.bits.length);
    let count = 0;
    let maxDistNext = 0;
    for (let w = 0; w < bits.length; w++) {
      const word = full.bits[w];
      if (word === 0) continue;
      for (let k = 0; k < 32; k++) {
        const id = w * 32 + k;
        if ((word & (1 << k)) === 0 || dist[id] > bound) continue;
        bits[w] |= 1 << k;
        count++;
        maxDistNext = Math.max(maxDistNext, dist[id]);
      }
    }
    return { bits, count, maxDistNext };
  }

  /** Walks the trie in preorder; a byte no state accepts skips its whole subtree. */
  private walk(states: Stack[]): Mask {
    const inString = states.length === 1 && this.options.stringTables !== false ? this.automaton.stringPosition(states[0]) : null;
    if (inString) return this.stringWalk(inString.at, inString.up);
    const distOf = this.dist;
    const { byte, depth, end, token, sameBytes, size, vocabSize } = this.trie;
    const automaton = this.automaton;
    const levels = this.levels;
    const bits = new Uint32Array((vocabSize + 31) >>> 5);
    let count = 0;
    let maxDistNext = 0;
    levels[0] = states;
    for (let i = 0; i < size;) {
      const d = depth[i];
      const parent = levels[d - 1];
      const out = levels[d];
      out.length = 0;
      const b = byte[i];
      for (let k = 0; k < parent.length; k++) automaton.step(parent[k], b, out);
      if (out.length === 0) {
        i = end[i];
        continue;
      }
      if (out.length > 1) dedupe(automaton, out);
      const id = token[i];
      if (id >= 0) {
        let dist = Infinity;
        for (let k = 0; k < out.length; k++) dist = Math.min(dist, automaton.distance(out[k]));
        maxDistNext = Math.max(maxDistNext, dist);
        bits[id >>> 5] |= 1 << (id & 31);
        distOf[id] = Math.min(dist, 65535);
        count++;
        for (const other of sameBytes.get(i) ?? []) {
          bits[other >>> 5] |= 1 << (other & 31);
          distOf[other] = distOf[id];
          count++;
        }
      }
      i++;
    }
    levels[0] = [];
    return { bits, count, maxDistNext };
  }

  /** The mask inside a string from the per-token tables (string-mask.ts) instead of the trie. */
  private stringWalk(at: StringPosition, up: Stack): Mask {
    const distOf = this.dist;
    const automaton = this.automaton;
    const source = this.trie.source;
    const bits = new Uint32Array((this.trie.vocabSize + 31) >>> 5);
    let count = 0;
    let maxDistNext = 0;
    // Many closing tokens share their tail (`",`, `"}`): step each distinct tail once.
    const tails = new Map<string, number>();
    const afterClose = (id: number, restStart: number): number => {
      const rest = source.tokenBytes(id).subarray(restStart);
      const tail = String.fromCharCode(...rest);
      let dist = tails.get(tail);
      if (dist === undefined) {
        let states = [up];
        for (const b of rest) {
          const next: Stack[] = [];
          for (const s of states) automaton.step(s, b, next);
          states = next;
          if (states.length === 0) break;
        }
        dist = Math.min(Infinity, ...states.map((s) => automaton.distance(s)));
        tails.set(tail, dist);
      }
      return dist;
    };
    forEachStringToken(this.trie, at, automaton.distance(up), afterClose, (id, dist) => {
      if (dist > maxDistNext) maxDistNext = dist;
      distOf[id] = Math.min(dist, 65535);
      bits[id >>> 5] |= 1 << (id & 31);
      count++;
    });
    return { bits, count, maxDistNext };
  }
}

/** Removes states with equal keys (nondeterminism from anyOf can reach the same state twice). */
function dedupe(automaton: JsonAutomaton, states: Stack[]): void {
  const seen = new Set<string>();
  let n = 0;
  for (const s of states) {
    const key = automaton.stateKey(s);
    if (seen.has(key)) continue;
    seen.add(key);
    states[n++] = s;
  }
  states.length = n;
}

const cachedGrammar = grammarCache<JsonGrammar>(GRAMMAR_CACHE_ENTRIES);

/** The compiled grammar of (`tokenizer`, `schema`, whitespace bound), cached per tokenizer object. */
export function jsonGrammarFor(tokenizer: VocabSource, schema: object | undefined, maxWhitespace: number): JsonGrammar {
  const key = `${maxWhitespace}:${schema === undefined ? "" : JSON.stringify(schema)}`;
  return cachedGrammar(
    tokenizer,
    key,
    () => new JsonGrammar(new JsonAutomaton(compileSchema(schema), { maxWhitespace }), vocabTrieOf(tokenizer)),
  );
}

class JsonConstraint implements TokenConstraint {
  private states: Stack[];
  private generated = 0;
  private readonly stops: Set<number>;

  constructor(
    private readonly grammar: JsonGrammar,
    private readonly tokenizer: VocabSource,
    private readonly options: JsonConstraintOptions,
  ) {
    this.states = [grammar.automaton.initial()];
    this.stops = new Set(options.stopTokenIds);
  }

  isComplete(): boolean {
    return this.states.some((s) => this.grammar.automaton.isAccepting(s));
  }

  mask(logits: Float32Array): void {
    const automaton = this.grammar.automaton;
    const key = this.states
      .map((s) => automaton.stateKey(s))
      .sort()
      .join("\n");
    let mask = this.grammar.maskFor(this.states, key);
    const hint = this.options.maxTokensHint;
    if (hint !== undefined && mask.count > 0) {
      // Tokens left after this one; keep only tokens after which the rest still fits (or, if nothing does, that make progress).
      const bound = hint - this.generated - 1;
      if (mask.maxDistNext > bound) {
        mask = this.grammar.maskFor(this.states, key, bound);
        if (mask.count === 0) {
          const now = Math.min(...this.states.map((s) => automaton.distance(s)));
          mask = this.grammar.maskFor(this.states, key, Math.max(0, now - 1));
        }
      }
    }
    const complete = this.isComplete();
    applyTokenMask(logits, mask.bits, mask.count, this.grammar.trie.vocabSize, this.stops, complete);
  }

  /** @throws Error when the token was masked (a bug in the caller: it sampled outside the mask). */
  accept(tokenId: number): void {
    if (this.stops.has(tokenId) && this.isComplete()) return;
    if (this.tokenizer.specialTokenIds.has(tokenId) || this.stops.has(tokenId)) {
      throw new Error(`token ${tokenId} was sampled inside a JSON document, but the JSON constraint masks it`);
    }
    const automaton = this.grammar.automaton;
    let states = this.states;
    for (const b of this.tokenizer.tokenBytes(tokenId)) {
      const next: Stack[] = [];
      for (const s of states) automaton.step(s, b, next);
      if (next.length > 1) dedupe(automaton, next);
      states = next;
      if (states.length === 0) {
        throw new Error(`token ${tokenId} does not continue the JSON document; the JSON constraint masks it`);
      }
    }
    this.states = states;
    this.generated++;
  }
}

/**
 * Builds the per-tokenizer tables (vocabulary trie, string tables for every string sub-state) ahead of the first
 * request, e.g. when the server loads the model, so no request pays for them (~0.5 s on Llama 3).
 */
export function warmJsonConstraints(tokenizer: VocabSource): void {
  const trie = vocabTrieOf(tokenizer);
  for (let q = 0; q < STRING_STATES; q++) stringTokenTable(trie, q);
}

/**
 * A constraint whose output is always a JSON object (no schema) or a JSON document matching `schema`.
 * For the OpenAI server: `response_format: {type: "json_object"}` → no schema; `{type: "json_schema",
 * json_schema: {schema}}` → that schema; `stopTokenIds` and `maxTokensHint` from the resolved sampling params.
 * The compiled schema and the vocabulary trie are cached per tokenizer object, so creating one per request is cheap.
 * @throws SwallowError (a 400 for the server) naming an unsupported keyword or a schema no document can match.
 */
export function createJsonConstraint(tokenizer: VocabSource, options: JsonConstraintOptions): TokenConstraint {
  if (options.stopTokenIds.length === 0) {
    throw new SwallowError("JSON constrained decoding needs at least one stop token id to end the output once the JSON is complete");
  }
  const maxWhitespace = options.maxWhitespace ?? DEFAULT_MAX_WHITESPACE;
  if (!Number.isSafeInteger(maxWhitespace) || maxWhitespace < 0) {
    throw new SwallowError(`maxWhitespace must be an integer >= 0, got ${maxWhitespace}`);
  }
  const grammar = jsonGrammarFor(tokenizer, options.schema, maxWhitespace);
  return new JsonConstraint(grammar, tokenizer, options);
}
