import { SwallowError } from "../errors.js";
import type { ByteSource, FileTree } from "./byte-source.js";
import { parseGenerationConfig, parseModelConfig } from "./config.js";
import type { WeightDtype } from "./dtype.js";
import { oneLine, readRange, readSafetensorsIndex, type SafetensorsFile, type TensorEntry } from "./safetensors.js";
import type { GenerationDefaults, ModelSpec } from "./spec.js";

/** Hugging Face names of one decoder layer's tensors. */
export interface LlamaLayerTensorNames {
  inputNorm: string;
  q: string;
  k: string;
  v: string;
  o: string;
  postNorm: string;
  gate: string;
  up: string;
  down: string;
}

/** Hugging Face names of every tensor a LlamaForCausalLM forward pass uses. */
export interface LlamaTensorNames {
  embed: string;
  layers: LlamaLayerTensorNames[];
  finalNorm: string;
  /** null when `tie_word_embeddings` is set: the embedding table is the output projection. */
  lmHead: string | null;
}

export function llamaLayerTensorNames(layer: number): LlamaLayerTensorNames {
  const p = `model.layers.${layer}`;
  return {
    inputNorm: `${p}.input_layernorm.weight`,
    q: `${p}.self_attn.q_proj.weight`,
    k: `${p}.self_attn.k_proj.weight`,
    v: `${p}.self_attn.v_proj.weight`,
    o: `${p}.self_attn.o_proj.weight`,
    postNorm: `${p}.post_attention_layernorm.weight`,
    gate: `${p}.mlp.gate_proj.weight`,
    up: `${p}.mlp.up_proj.weight`,
    down: `${p}.mlp.down_proj.weight`,
  };
}

export function llamaTensorNames(spec: Pick<ModelSpec, "numLayers" | "tieWordEmbeddings">): LlamaTensorNames {
  return {
    embed: "model.embed_tokens.weight",
    layers: Array.from({ length: spec.numLayers }, (_, layer) => llamaLayerTensorNames(layer)),
    finalNorm: "model.norm.weight",
    lmHead: spec.tieWordEmbeddings ? null : "lm_head.weight",
  };
}

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

type ShapeSpec = Pick<ModelSpec, "vocabSize" | "hiddenSize" | "intermediateSize" | "numHeads" | "numKvHeads" | "headDim">;

function layerShapes(spec: ShapeSpec, names: LlamaLayerTensorNames): ExpectedTensor[] {
  const { hiddenSize: h, intermediateSize: i, numHeads, numKvHeads, headDim } = spec;
  return [
    { name: names.inputNorm, shape: [h] },
    { name: names.q, shape: [numHeads * headDim, h] },
    { name: names.k, shape: [numKvHeads * headDim, h] },
    { name: names.v, shape: [numKvHeads * headDim, h] },
    { name: names.o, shape: [h, numHeads * headDim] },
    { name: names.postNorm, shape: [h] },
    { name: names.gate, shape: [i, h] },
    { name: names.up, shape: [i, h] },
    { name: names.down, shape: [h, i] },
  ];
}

/** Every tensor the spec requires, with its shape, in checkpoint order (embed, layers, norm, lm_head). */
export function expectedLlamaTensors(spec: ShapeSpec & Pick<ModelSpec, "numLayers" | "tieWordEmbeddings">): ExpectedTensor[] {
  return [...iterateExpected(spec)];
}

function* iterateExpected(spec: ShapeSpec & Pick<ModelSpec, "numLayers" | "tieWordEmbeddings">): Generator<ExpectedTensor> {
  yield { name: "model.embed_tokens.weight", shape: [spec.vocabSize, spec.hiddenSize] };
  // Generated lazily: a config claiming 10^9 layers fails at the first missing layer instead of allocating.
  for (let layer = 0; layer < spec.numLayers; layer++) yield* layerShapes(spec, llamaLayerTensorNames(layer));
  yield { name: "model.norm.weight", shape: [spec.hiddenSize] };
  if (!spec.tieWordEmbeddings) yield { name: "lm_head.weight", shape: [spec.vocabSize, spec.hiddenSize] };
}

export interface CheckpointTensorInfo {
  name: string;
  /** null for dtypes the engine does not run (only possible for tensors the forward pass does not use). */
  dtype: WeightDtype | null;
  safetensorsDtype: string;
  shape: number[];
  byteLength: number;
  /** The file holding it, relative to the checkpoint directory. */
  file: string;
  /** Absolute offset of its first byte in that file. */
  dataStartBytes: number;
}

export interface CheckpointTensor {
  dtype: WeightDtype;
  shape: number[];
  bytes: Uint8Array;
}

export interface Checkpoint {
  /** The checkpoint directory (FileTree.location). */
  readonly location: string;
  readonly spec: ModelSpec;
  /** generation_config.json, or null when the checkpoint has none. */
  readonly generation: GenerationDefaults | null;
  /** Every tensor in the checkpoint (with an index: every tensor the index lists), sorted. */
  tensorNames(): string[];
  tensorInfo(name: string): CheckpointTensorInfo | undefined;
  /** tensorInfo(name).byteLength (what the memory account reads before loading). */
  tensorByteLength(name: string): number | undefined;
  /** One byte-range read of the tensor's data. */
  readTensor(name: string): Promise<CheckpointTensor>;
  /** Closes every open file. */
  close(): Promise<void>;
}

const CONFIG = "config.json";
const GENERATION_CONFIG = "generation_config.json";
const SINGLE_FILE = "model.safetensors";
const INDEX_FILE = "model.safetensors.index.json";

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

function quote(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length > 120 ? `${quoted.slice(0, 117)}..."` : quoted;
}

/**
 * Opens a Hugging Face Llama checkpoint directory: config.json (required), generation_config.json
 * (optional), and model.safetensors or model.safetensors.index.json with its shards. Only headers are
 * read; every tensor the spec needs is checked for presence, shape and dtype.
 */
export async function openCheckpoint(files: FileTree): Promise<Checkpoint> {
  const where = (relative: string) => `${files.location}/${relative}`;

  if (!(await files.exists(CONFIG))) {
    throw new SwallowError(
      `${where(CONFIG)} not found; --model must be a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json)`,
    );
  }
  const spec = parseModelConfig(await readText(files, CONFIG), where(CONFIG));
  const generation = (await files.exists(GENERATION_CONFIG))
    ? parseGenerationConfig(await readText(files, GENERATION_CONFIG), where(GENERATION_CONFIG))
    : null;

  const sources = new Map<string, ByteSource>();
  try {
    const tensors = await openWeights(files, sources, where);
    validateAgainstSpec(spec, tensors, files.location, sources.size > 1 || !sources.has(SINGLE_FILE) ? INDEX_FILE : SINGLE_FILE);
    return new SafetensorsCheckpoint(files.location, spec, generation, tensors, sources);
  } catch (error) {
    await Promise.allSettled([...sources.values()].map((source) => source.close()));
    throw error;
  }
}

async function readText(files: FileTree, relative: string): Promise<string> {
  try {
    return await files.readText(relative);
  } catch (error) {
    if (error instanceof SwallowError) throw error;
    const reason = oneLine(error instanceof Error ? error.message : String(error)).slice(0, 200);
    throw new SwallowError(`${files.location}/${relative}: cannot read (${reason}); check the model directory`, { cause: error });
  }
}

async function openSource(files: FileTree, relative: string): Promise<ByteSource> {
  try {
    return await files.open(relative);
  } catch (error) {
    if (error instanceof SwallowError) throw error;
    const reason = oneLine(error instanceof Error ? error.message : String(error)).slice(0, 200);
    throw new SwallowError(`${files.location}/${relative}: cannot open (${reason}); check the model directory`, { cause: error });
  }
}

interface Located {
  entry: TensorEntry;
  file: string;
}

async function openWeights(
  files: FileTree,
  sources: Map<string, ByteSource>,
  where: (relative: string) => string,
): Promise<Map<string, Located>> {
  const located = new Map<string, Located>();
  const openHeader = async (relative: string): Promise<SafetensorsFile> => {
    const source = await openSource(files, relative);
    sources.set(relative, source);
    return readSafetensorsIndex(source);
  };

  // transformers prefers model.safetensors when both exist.
  if (await files.exists(SINGLE_FILE)) {
    const header = await openHeader(SINGLE_FILE);
    for (const [name, entry] of header.tensors) located.set(name, { entry, file: SINGLE_FILE });
    return located;
  }
  if (!(await files.exists(INDEX_FILE))) {
    const legacy = (await files.exists("pytorch_model.bin")) || (await files.exists("pytorch_model.bin.index.json"));
    throw new SwallowError(
      `${files.location}: no ${SINGLE_FILE} or ${INDEX_FILE}; ${legacy ? "PyTorch .bin weights are not supported, download the checkpoint's *.safetensors files" : "download the checkpoint's *.safetensors files into this directory"}`,
    );
  }

  const weightMap = parseIndex(await readText(files, INDEX_FILE), where(INDEX_FILE));
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of weightMap) {
    const list = byShard.get(shard);
    if (list) list.push(name);
    else byShard.set(shard, [name]);
  }
  for (const [shard, names] of byShard) {
    if (!(await files.exists(shard))) {
      throw new SwallowError(
        `${where(INDEX_FILE)} puts tensor ${quote(names[0])} in ${shard}, but ${where(shard)} does not exist; the download is incomplete, download the missing shard`,
      );
    }
    const header = await openHeader(shard);
    for (const name of names) {
      const entry = header.tensors.get(name);
      if (!entry) {
        throw new SwallowError(
          `${where(shard)}: tensor ${quote(name)} is listed in ${INDEX_FILE} but missing from this shard; the shard and index do not match, download them again`,
        );
      }
      located.set(name, { entry, file: shard });
    }
  }
  return located;
}

/** weight_map of model.safetensors.index.json as tensor name → shard file name. */
function parseIndex(text: string, fileName: string): Map<string, string> {
  const fix = "the index is corrupt, download it again";
  let index: unknown;
  try {
    index = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    const reason = oneLine(error instanceof Error ? error.message : String(error)).slice(0, 200);
    throw new SwallowError(`${fileName}: not valid JSON (${reason}); ${fix}`);
  }
  if (typeof index !== "object" || index === null || Array.isArray(index)) throw new SwallowError(`${fileName}: not a JSON object; ${fix}`);
  const weightMap = Object.prototype.hasOwnProperty.call(index, "weight_map") ? (index as Record<string, unknown>).weight_map : undefined;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new SwallowError(`${fileName}: "weight_map" is missing or not an object; ${fix}`);
  }
  const result = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== "string" || !isSafeRelativePath(shard)) {
      throw new SwallowError(
        `${fileName}: "weight_map" entry ${quote(name)} is ${quote(String(shard))}, not a shard file name in this directory; ${fix}`,
      );
    }
    result.set(name, shard);
  }
  if (result.size === 0) throw new SwallowError(`${fileName}: "weight_map" is empty; ${fix}`);
  return result;
}

/** A file name inside the checkpoint directory: no absolute paths, backslashes or `.`/`..` segments. */
function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.startsWith("/") || path.includes("\\") || path.includes("\0") || /^[A-Za-z]:/.test(path)) return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

function validateAgainstSpec(spec: ModelSpec, tensors: Map<string, Located>, location: string, container: string): void {
  for (const expected of iterateExpected(spec)) {
    const found = tensors.get(expected.name);
    if (!found) {
      const why = expected.name.startsWith("model.layers.") ? ` (config.json has num_hidden_layers ${spec.numLayers})` : "";
      throw new SwallowError(
        `${location}/${container}: tensor ${quote(expected.name)} is missing${why}; the checkpoint is incomplete or does not match config.json, download it again`,
      );
    }
    const { entry, file } = found;
    if (!sameShape(entry.shape, expected.shape)) {
      throw new SwallowError(
        `${location}/${file}: tensor ${quote(expected.name)} has shape ${shapeText(entry.shape)} but config.json implies ${shapeText(expected.shape)}; config.json and the weights do not belong together, download the matching files`,
      );
    }
    if (entry.dtype === null) {
      throw new SwallowError(
        `${location}/${file}: tensor ${quote(expected.name)} has dtype ${entry.safetensorsDtype}; only BF16, F16 and F32 weights are supported (quantized checkpoints are not), use the original bf16 checkpoint`,
      );
    }
  }
}

class SafetensorsCheckpoint implements Checkpoint {
  private closed = false;

  constructor(
    readonly location: string,
    readonly spec: ModelSpec,
    readonly generation: GenerationDefaults | null,
    private readonly tensors: Map<string, Located>,
    private readonly sources: Map<string, ByteSource>,
  ) {}

  tensorNames(): string[] {
    return [...this.tensors.keys()].sort();
  }

  tensorByteLength(name: string): number | undefined {
    return this.tensors.get(name)?.entry.byteLength;
  }

  tensorInfo(name: string): CheckpointTensorInfo | undefined {
    const found = this.tensors.get(name);
    if (!found) return undefined;
    const { entry, file } = found;
    return {
      name,
      dtype: entry.dtype,
      safetensorsDtype: entry.safetensorsDtype,
      shape: [...entry.shape],
      byteLength: entry.byteLength,
      file,
      dataStartBytes: entry.dataStartBytes,
    };
  }

  async readTensor(name: string): Promise<CheckpointTensor> {
    if (this.closed) throw new Error(`readTensor(${quote(name)}) after the checkpoint at ${this.location} was closed`);
    const found = this.tensors.get(name);
    if (!found) throw new SwallowError(`${this.location}: the checkpoint has no tensor ${quote(name)}; download the complete checkpoint`);
    const { entry, file } = found;
    if (entry.dtype === null) {
      throw new SwallowError(
        `${this.location}/${file}: tensor ${quote(name)} has dtype ${entry.safetensorsDtype}; only BF16, F16 and F32 are supported`,
      );
    }
    const source = this.sources.get(file) as ByteSource;
    const bytes = await readRange(source, entry.dataStartBytes, entry.byteLength);
    return { dtype: entry.dtype, shape: [...entry.shape], bytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled([...this.sources.values()].map((source) => source.close()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failure) throw failure.reason;
  }
}
