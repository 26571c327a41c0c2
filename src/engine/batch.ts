import type { ForwardBatch } from "../gpu/backend.js";
import type { SequenceSlots } from "./kv-blocks.js";

/** One sequence's share of a step: tokens to append, and whether logits are wanted for each or only the last. */
export interface SequenceChunk {
  slots: SequenceSlots;
  tokenIds: readonly number[];
  /** "last": logits for the chunk's last token (generation); "all": for every token (scoring). */
  logits: "last" | "all" | "none";
}

/**
 * Packs chunks of several sequences into one flat ForwardBatch, reserving KV slots. After the forward
 * pass the caller must `commit` so the sequences count the new tokens as cached.
 */
export function buildForwardBatch(chunks: readonly SequenceChunk[]): { batch: ForwardBatch; commit: () => void } {
  const numTokens = chunks.reduce((n, c) => n + c.tokenIds.length, 0);
  const tokenIds = new Int32Array(numTokens);
  const positions = new Int32Array(numTokens);
  const seqIndex = new Int32Array(numTokens);
  const slots = new Int32Array(numTokens);
  const logitRows: number[] = [];
  const reserved = chunks.map((c) => c.slots.reserve(c.tokenIds.length));
  const maxBlocksPerSeq = Math.max(1, ...chunks.map((c) => c.slots.blocks.length));
  const blockTables = new Int32Array(chunks.length * maxBlocksPerSeq).fill(-1);
  let t = 0;
  chunks.forEach((chunk, s) => {
    blockTables.set(chunk.slots.blocks, s * maxBlocksPerSeq);
    chunk.tokenIds.forEach((id, i) => {
      tokenIds[t] = id;
      positions[t] = chunk.slots.numCached + i;
      seqIndex[t] = s;
      slots[t] = reserved[s][i];
      if (chunk.logits === "all" || (chunk.logits === "last" && i === chunk.tokenIds.length - 1)) logitRows.push(t);
      t++;
    });
  });
  const batch: ForwardBatch = {
    numTokens,
    tokenIds,
    positions,
    seqIndex,
    slots,
    blockTables,
    maxBlocksPerSeq,
    logitRows: Int32Array.from(logitRows),
  };
  const commit = () => chunks.forEach((c) => c.slots.commit(c.tokenIds.length));
  return { batch, commit };
}
