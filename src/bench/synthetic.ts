import type { HostTensor } from "../gpu/backend.js";
import { expectedLlamaTensors } from "../model/checkpoint.js";
import type { TensorSource } from "../model/llama.js";
import type { ModelSpec } from "../model/spec.js";
import { bytesToByteLevel } from "../tokenizer/byte-level.js";
import { Tokenizer } from "../tokenizer/tokenizer.js";

const LLAMA_31_8B: ModelSpec = {
  architecture: "LlamaForCausalLM",
  vocabSize: 128256,
  hiddenSize: 4096,
  intermediateSize: 14336,
  numLayers: 32,
  numHeads: 32,
  numKvHeads: 8,
  headDim: 128,
  rmsNormEps: 1e-5,
  ropeTheta: 500000,
  ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  maxPositionEmbeddings: 131072,
  tieWordEmbeddings: false,
  bosTokenId: 128000,
  eosTokenIds: [128001, 128008, 128009],
  declaredDtype: "bfloat16",
};

/** Model shapes `swallow bench --shape` knows (Llama-3.1 Swallow uses Llama 3.1's). */
export const MODEL_SHAPES: Record<string, ModelSpec> = {
  "llama-3.1-8b": LLAMA_31_8B,
  "llama-3.1-70b": { ...LLAMA_31_8B, hiddenSize: 8192, intermediateSize: 28672, numLayers: 80, numHeads: 64 },
  tiny: { ...LLAMA_31_8B, vocabSize: 1000, hiddenSize: 256, intermediateSize: 512, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 64 },
};

/** xorshift32 → bf16 bit patterns of uniform values in [-0.02, 0.02] (typical trained-weight scale). */
function randomBf16(bytes: number, seed: number): Uint8Array {
  const out = new Uint16Array(bytes / 2);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    f[0] = (s / 4294967296 - 0.5) * 0.04;
    out[i] = u[0] >>> 16;
  }
  return new Uint8Array(out.buffer);
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Random bf16 weights for any shape without a file: one 64 MiB block of random values is tiled into a
 * scratch buffer as large as the largest tensor, and each tensor is a view at a per-tensor offset (16 GB of
 * JS random numbers would take minutes). Norm weights are 1 ± 0.02. Values are never all zero.
 */
export class SyntheticWeights implements TensorSource {
  private readonly tile: Uint8Array;
  private readonly scratch: Uint8Array;
  private static readonly TILE_BYTES = 64 * 1024 * 1024;

  /** Random weights for every tensor a Llama checkpoint of `spec` holds. */
  static forSpec(spec: ModelSpec): SyntheticWeights {
    return new SyntheticWeights(new Map(expectedLlamaTensors(spec).map((t) => [t.name, t.shape] as [string, readonly number[]])));
  }

  constructor(private readonly shapes: Map<string, readonly number[]>) {
    const maxBytes = Math.max(...[...shapes.values()].map((shape) => shape.reduce((a, b) => a * b, 1) * 2));
    const tileBytes = SyntheticWeights.TILE_BYTES;
    this.tile = randomBf16(tileBytes, 0x9e3779b9);
    this.scratch = new Uint8Array(maxBytes + tileBytes);
    for (let o = 0; o < this.scratch.length; o += tileBytes) {
      this.scratch.set(this.tile.subarray(0, Math.min(tileBytes, this.scratch.length - o)), o);
    }
  }

  async readTensor(name: string): Promise<HostTensor> {
    const shape = this.shapes.get(name);
    if (!shape) throw new Error(`synthetic weights: no tensor ${name}`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 1) {
      const values = new Uint16Array(count);
      const noise = new Uint16Array(this.tile.buffer, (hashName(name) % 1024) * 2048, count);
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      for (let i = 0; i < count; i++) {
        u[0] = noise[i] << 16;
        f[0] = 1 + f[0];
        values[i] = u[0] >>> 16;
      }
      return { dtype: "bf16", shape, bytes: new Uint8Array(values.buffer) };
    }
    const offset = (hashName(name) % (SyntheticWeights.TILE_BYTES / 2)) * 2;
    return { dtype: "bf16", shape, bytes: this.scratch.subarray(offset, offset + count * 2) };
  }
}

/**
 * A byte-level tokenizer with `vocabSize` ids for synthetic models: ids 0–255 are the bytes, the others
 * decode to `<tN>`, the model's EOS ids are special. Only decoding matters for benchmarks.
 */
export function syntheticTokenizer(spec: ModelSpec): Tokenizer {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[bytesToByteLevel(Uint8Array.of(b))] = b;
  const special = new Set([spec.bosTokenId, ...spec.eosTokenIds].filter((id): id is number => id !== null && id !== undefined));
  const addedTokens: object[] = [];
  for (let id = 256; id < spec.vocabSize; id++) {
    const content = special.has(id) ? `<|special_${id}|>` : `<t${id}>`;
    // In the model vocabulary too: HF gives an added token the id its content has there, else the next free
    // id after the vocabulary (the "id" field is not read), which would renumber the special ids.
    vocab[content] = id;
    if (special.has(id))
      addedTokens.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  }
  return Tokenizer.fromJson(
    {
      version: "1.0",
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: "BPE", dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges: [] },
    },
    "a synthetic tokenizer",
  );
}
