import type { Activation, Backend, ForwardBatch, HostTensor, KvCache, KvCacheLayout, Weight } from "../gpu/backend.js";
import { llamaTensorNames } from "./checkpoint.js";
import { ropeInverseFrequencies } from "./rope.js";
import type { ModelSpec } from "./spec.js";

/** Where weights come from: a checkpoint (safetensors today, GGUF later). */
export interface TensorSource {
  readTensor(name: string): Promise<HostTensor>;
  /** A tensor's stored size without reading it (a checkpoint's header); sources without it count as bf16. */
  tensorByteLength?(name: string): number | undefined;
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

/**
 * A `[rows, cols]` weight stored as row bands, each within the backend's largest buffer (Llama-3.1-70B's
 * embedding and LM head are 2.1 GB, over WebGPU's 2 GiB − 4 binding limit). Most weights have one band.
 */
interface BandedWeight {
  bands: { weight: Weight; firstRow: number }[];
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
    private readonly embedTokens: BandedWeight, // [vocab, hidden]
    private readonly layers: LayerWeights[],
    private readonly finalNorm: Weight, // [hidden]
    private readonly lmHead: BandedWeight, // [vocab, hidden] (the embedding table when tied)
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
    // A weight over the backend's buffer limit is uploaded as row bands (views of the host tensor, no copy).
    const uploadBanded = async (name: string): Promise<BandedWeight> => {
      const tensor = await source.readTensor(name);
      const [rows, cols] = tensor.shape;
      const rowBytes = tensor.bytes.byteLength / rows;
      const bandRows = Math.max(1, Math.floor(backend.maxWeightBytes / rowBytes));
      const bands: BandedWeight["bands"] = [];
      for (let firstRow = 0; firstRow < rows; firstRow += bandRows) {
        const count = Math.min(bandRows, rows - firstRow);
        const bytes = tensor.bytes.subarray(firstRow * rowBytes, (firstRow + count) * rowBytes);
        const bandName = count === rows ? name : `${name}[${firstRow}:${firstRow + count}]`;
        bands.push({ weight: await backend.uploadWeight(bandName, { dtype: tensor.dtype, shape: [count, cols], bytes }), firstRow });
      }
      onProgress?.({ tensorsDone: ++tensorsDone, tensorsTotal });
      return { bands };
    };
    const embedTokens = await uploadBanded(names.embed);
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
    const lmHead = spec.tieWordEmbeddings || !names.lmHead ? embedTokens : await uploadBanded(names.lmHead);
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
    let h = this.embed(batch); // [T, hidden]
    this.layers.forEach((w, layer) => {
      // rmsNorm(h) · Wᵀ for q/k/v: [T, numHeads * headDim], [T, numKvHeads * headDim] ×2 (the norm fused where the backend can)
      const [q, k, v] = b.matmulMany(h, [w.q, w.k, w.v], { weight: w.inputNorm, eps: spec.rmsNormEps });
      // Store K/V, then attend (one dispatch where the backend fuses them); RoPE on q and k happens inside
      // (rotate-half, the same values as b.rope).
      const attention = b.writeKvAttention(q, k, v, cache, layer, batch, spec.numHeads, scale, this.invFreq);
      h = b.matmul(attention, w.o, h); // h + attention · Woᵀ (the residual add fused where the backend can)
      // silu(y·Gateᵀ) ⊙ y·Upᵀ with y = rmsNorm(h): [T, intermediate]
      h = b.matmul(b.swiGlu(h, w.gate, w.up, { weight: w.postNorm, eps: spec.rmsNormEps }), w.down, h);
    });
    const last = b.gatherRows(h, batch.logitRows); // [R, hidden]
    const x = b.rmsNorm(last, this.finalNorm, spec.rmsNormEps);
    const { bands } = this.lmHead;
    return bands.length === 1 ? b.matmul(x, bands[0].weight) : b.concatColumns(bands.map((band) => b.matmul(x, band.weight))); // [R, vocab]
  }

  /** Token embeddings; with a banded table, each band gathers its own ids (zeros elsewhere) and the bands are summed. */
  private embed(batch: ForwardBatch): Activation {
    const b = this.backend;
    const { bands } = this.embedTokens;
    if (bands.length === 1) return b.embed(bands[0].weight, batch);
    return bands.map((band) => b.embed(band.weight, batch, band.firstRow)).reduce((sum, part) => b.add(sum, part));
  }
}
