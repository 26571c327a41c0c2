/**
 * vLLM's `choice` / `guided_choice` structured output: the whole output is exactly one of the given strings.
 * The choices' UTF-8 bytes form a trie; its nodes are the automaton's states, walked against the vocabulary trie
 * by automaton-constraint.ts. A choice that is a prefix of another (`"a"`, `"ab"`) allows both a stop token and
 * the longer choice's next bytes.
 */

import { SwallowError } from "../../errors.js";
import type { TokenConstraint } from "../constraint.js";
import {
  type AutomatonConstraintOptions,
  automatonGrammarFor,
  type ByteAutomaton,
  createAutomatonConstraint,
} from "./automaton-constraint.js";
import type { VocabSource } from "./vocab-trie.js";

/** The byte trie of the choices: node 0 is the root (the empty output). */
export class ChoiceAutomaton implements ByteAutomaton {
  readonly start = 0;
  /** `edges.get(node * 256 + byte)`: the child node. */
  private readonly edges = new Map<number, number>();
  private readonly accepting: boolean[] = [false];
  private readonly distances: number[];

  /** @throws SwallowError when there are no choices. */
  constructor(choices: readonly string[]) {
    if (choices.length === 0) throw new SwallowError("choice needs at least one string");
    const encoder = new TextEncoder();
    for (const choice of choices) {
      let node = 0;
      for (const b of encoder.encode(choice)) {
        const key = node * 256 + b;
        let child = this.edges.get(key);
        if (child === undefined) {
          child = this.accepting.length;
          this.accepting.push(false);
          this.edges.set(key, child);
        }
        node = child;
      }
      this.accepting[node] = true;
    }
    // Children are numbered after their parents, so one backwards pass settles every distance.
    this.distances = this.accepting.map((a) => (a ? 0 : Infinity));
    const parentOf = new Map<number, number>();
    for (const [key, child] of this.edges) parentOf.set(child, Math.floor(key / 256));
    for (let node = this.accepting.length - 1; node > 0; node--) {
      const parent = parentOf.get(node)!;
      this.distances[parent] = Math.min(this.distances[parent], this.distances[node] + 1);
    }
  }

  step(state: number, byte: number): number {
    return this.edges.get(state * 256 + byte) ?? -1;
  }

  isAccepting(state: number): boolean {
    return this.accepting[state];
  }

  distanceBytes(state: number): number {
    return this.distances[state];
  }
}

/**
 * A constraint whose output is exactly one of `choices`, then a stop token. The compiled trie and its masks are
 * cached per tokenizer object, so creating one per request is cheap.
 * @throws SwallowError when `choices` is empty or there is no stop token.
 */
export function createChoiceConstraint(
  tokenizer: VocabSource,
  choices: readonly string[],
  options: AutomatonConstraintOptions,
): TokenConstraint {
  const grammar = automatonGrammarFor(tokenizer, `choice:${JSON.stringify(choices)}`, () => new ChoiceAutomaton(choices));
  return createAutomatonConstraint(tokenizer, grammar, options);
}
