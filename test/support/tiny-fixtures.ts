import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fixturesDir } from "./paths.js";

/** The tiny transformers-made checkpoints (scripts/make_tiny_checkpoints.py) and their reference outputs. */
export const TINY_VARIANTS = ["gqa-llama3", "gqa-llama3-v4", "mha-default-tied", "mqa-llama3-sharded-v4"] as const;

/** A top-2 logit margin at or below this is a near-tie: either token is a correct argmax. */
export const NEAR_TIE = 1e-3;

export interface TinyReference {
  prompts: {
    tokens: number[];
    logprobs: (number | null)[];
    argmax: number[];
    /** Top-2 logit margin at each position. */
    margins: number[];
    /** Greedy continuation with min_new_tokens = max_new_tokens (EOS masked), and each step's margin. */
    greedy: { max_new_tokens: number; new_tokens: number[]; margins: number[] };
  }[];
}

export function tinyDir(variant: string): string {
  return join(fixturesDir, "tiny", variant);
}

export async function readTinyReference(variant: string): Promise<TinyReference> {
  return JSON.parse(await readFile(join(tinyDir(variant), "reference.json"), "utf8")) as TinyReference;
}
