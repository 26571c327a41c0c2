import type { Activation, Backend, ForwardBatch, HostTensor, KvCache, KvCacheLayout, Weight } from "../gpu/backend.js";
import { llamaTensorNames } from "./checkpoint.js";
import { ropeInverseFrequencies } from "./rope.js";
import type { ModelSpec } from "./spec.js";

/** Where weights come from: a checkpoint (safetensors today, GGUF later). */
export interface TensorSource {
  readTensor(name: string): Promise<HostTensor>;
}

interface LayerWeights {
  inputNorm: Weight; // [hidden]
  q: Weight; // [numHeads * headDim, hidden]
  k: Weight; // [numKvHeads * headDim, hidden]
  v: Weight; // [numKvHeads * headDim, hidden]
  o: Weight; // [hidden, numHeads * headDim]
  postNorm: Weight; // [hidden]
  gate: Weight; // [intermediate, hidden]
  up: Weight; // [intermediate, hidden]
  down: Weight; // [hidden, intermediate]
}

export interface LoadProgress {
  tensorsDone: number;
  tensorsTotal: number;
}

/**
 * Llama 3.x decoder (LlamaForCausalLM) over any Backend. The model knows nothing about generation:
 * it maps a batch of tokens (with positions and KV slots) to logits for the requested rows.
 */
export class LlamaModel {
  private constructor(
    readonly spec: ModelSpec,
    readonly backend: Backend,
    private readonly embedTokens: Weight, // [vocab, hidden]
    private readonly layers: LayerWeights[],
    private readonly finalNorm: Weight, // [hidden]
    private readonly lmHead: Weight, // [vocab, hidden] (the embedding table when tied)
    private readonly invFreq: Weight, // [headDim / 2] f32
  ) {}

  /** Uploads every weight tensor by tensor, so at most one tensor is in JS memory at a time. */
  static async load(
    spec: ModelSpec,
    source: TensorSource,
    backend: Backend,
    onProgress?: (progress: LoadProgress) => void,
  ): Promise<LlamaModel> {
    const names = llamaTensorNames(spec);
    const tensorsTotal = 3 + 9 * spec.numLayers - (spec.tieWordEmbeddings ? 1 : 0);
    let tensorsDone = 0;
    const upload = async (name: string): Promise<Weight> => {
      const weight = await backend.uploadWeight(name, await source.readTensor(name));
      onProgress?.({ tensorsDone: ++tensorsDone, tensorsTotal });
      return weight;
    };
    const embedTokens = await upload(names.embed);
    const layers: LayerWeights[] = [];
    for (const layer of names.layers) {
      layers.push({
        inputNorm: await upload(layer.inputNorm),
        q: await upload(layer.q),
        k: await upload(layer.k),
        v: await upload(layer.v),
        o: await upload(layer.o),
        postNorm: await upload(layer.postNorm),
        gate: await upload(layer.gate),
        up: await upload(layer.up),
        down: await upload(layer.down),
      });
    }
    const finalNorm = await upload(names.finalNorm);
    const lmHead = spec.tieWordEmbeddings || !names.lmHead ? embedTokens : await upload(names.lmHead);
    const inv = ropeInverseFrequencies(spec);
    const invFreq = await backend.uploadWeight("rope.inv_freq", {
      dtype: "f32",
      shape: [inv.length],
      bytes: new Uint8Array(inv.buffer),
    });
    return new LlamaModel(spec, backend, embedTokens, layers, finalNorm, lmHead, invFreq);
  }

  /** KV cache layout for this model with `numBlocks` blocks of `blockSize` tokens. */
  kvCacheLayout(numBlocks: number, blockSize: number): KvCacheLayout {
    const { numLayers, numKvHeads, headDim } = this.spec;
    return { numLayers, numKvHeads, headDim, numBlocks, blockSize };
  }

  /** One forward pass; returns logits `[batch.logitRows.length, vocab]` (not yet read back). */
  forward(batch: ForwardBatch, cache: KvCache): Activation {
    const { backend: b, spec } = this;
    const scale = 1 / Math.sqrt(spec.headDim);
    let h = b.embed(this.embedTokens, batch); // [T, hidden]
    this.layers.forEach((w, layer) => {
      const x = b.rmsNorm(h, w.inputNorm, spec.rmsNormEps);
      const q = b.rope(b.matmul(x, w.q), batch, this.invFreq, spec.headDim); // [T, numHeads * headDim]
      const k = b.rope(b.matmul(x, w.k), batch, this.invFreq, spec.headDim); // [T, numKvHeads * headDim]
      const v = b.matmul(x, w.v); // [T, numKvHeads * headDim]
      b.writeKv(cache, layer, k, v, batch);
      const attention = b.attention(q, cache, layer, batch, spec.numHeads, scale);
      h = b.add(h, b.matmul(attention, w.o));
      const y = b.rmsNorm(h, w.postNorm, spec.rmsNormEps);
      h = b.add(h, b.matmul(b.siluMul(b.matmul(y, w.gate), b.matmul(y, w.up)), w.down));
    });
    const last = b.gatherRows(h, batch.logitRows); // [R, hidden]
    return b.matmul(b.rmsNorm(last, this.finalNorm, spec.rmsNormEps), this.lmHead); // [R, vocab]
  }
}
