import { SwallowError } from "../errors.js";
import { oneLine } from "./safetensors.js";
import type { GenerationDefaults, ModelSpec, RopeScaling } from "./spec.js";

/**
 * Parsers for a Hugging Face checkpoint's config.json and generation_config.json.
 *
 * config.json comes in two layouts: transformers 4.x writes `rope_theta` plus `rope_scaling`
 * ({rope_type | type, factor, ...} or null), transformers 5.x writes `rope_parameters`
 * ({rope_type, rope_theta, factor, ...}). Both are normalised into one ModelSpec.
 * Keys that transformers' LlamaConfig gives a default get the same default here; the five size
 * keys (vocab, hidden, intermediate, layers, heads) are required because a config without them is
 * not a real checkpoint's.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// transformers LlamaConfig defaults for optional keys.
const DEFAULT_RMS_NORM_EPS = 1e-6;
const DEFAULT_ROPE_THETA = 10000;
const DEFAULT_MAX_POSITION_EMBEDDINGS = 2048;

/** Short, single-line rendering of a JSON value for error messages. */
export function describeJsonValue(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? "nothing" : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function has(object: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/** Own property or undefined (never an inherited one such as `constructor`). */
function get(object: JsonObject, key: string): Json | undefined {
  return has(object, key) ? object[key] : undefined;
}

function parseJsonObject(text: string, fileName: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    const reason = oneLine(error instanceof Error ? error.message : String(error)).slice(0, 120);
    throw new SwallowError(`${fileName}: not valid JSON (${reason}); the ${what} is corrupt or truncated, download it again`);
  }
  if (!isObject(value)) {
    throw new SwallowError(
      `${fileName}: expected a JSON object, got ${describeJsonValue(value)}; the ${what} is corrupt, download it again`,
    );
  }
  return value;
}

/** Error for one bad key: names the file and key, what was found and what to do. */
function badKey(fileName: string, key: string, expectation: string, value: unknown): SwallowError {
  return new SwallowError(
    `${fileName}: "${key}" ${expectation}, got ${describeJsonValue(value)}; fix ${baseName(fileName)} or download it again`,
  );
}

function baseName(fileName: string): string {
  const parts = fileName.split(/[\\/]/);
  return parts[parts.length - 1] || fileName;
}

class Reader {
  constructor(
    readonly object: JsonObject,
    readonly fileName: string,
    /** Prefix for nested keys in messages, e.g. "rope_scaling.". */
    readonly prefix = "",
  ) {}

  raw(key: string): Json | undefined {
    return get(this.object, key);
  }

  /** Absent or null. */
  missing(key: string): boolean {
    const value = this.raw(key);
    return value === undefined || value === null;
  }

  fail(key: string, expectation: string, value: unknown = this.raw(key)): SwallowError {
    return badKey(this.fileName, this.prefix + key, expectation, value);
  }

  positiveInt(key: string, fallback?: number): number {
    const value = this.raw(key);
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) throw this.fail(key, "must be a positive integer");
    return value;
  }

  positiveNumber(key: string, fallback?: number): number {
    const value = this.raw(key);
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw this.fail(key, "must be a positive number");
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") throw this.fail(key, "must be true or false");
    return value;
  }

  nullableBoolean(key: string): boolean | null {
    const value = this.raw(key);
    if (value === undefined || value === null) return null;
    if (typeof value !== "boolean") throw this.fail(key, "must be true or false");
    return value;
  }

  nullableString(key: string): string | null {
    const value = this.raw(key);
    if (value === undefined || value === null) return null;
    if (typeof value !== "string") throw this.fail(key, "must be a string");
    return value;
  }

  /** A number in [min, max] (bounds inclusive unless told), or null when absent. */
  nullableNumber(key: string, min: number, max: number, options: { minExclusive?: boolean } = {}): number | null {
    const value = this.raw(key);
    if (value === undefined || value === null) return null;
    const range = `${options.minExclusive ? "(" : "["}${min}, ${max === Infinity ? "∞)" : `${max}]`}`;
    if (typeof value !== "number" || !Number.isFinite(value)) throw this.fail(key, `must be a number in ${range}`);
    if (value < min || value > max || (options.minExclusive && value === min)) throw this.fail(key, `must be a number in ${range}`);
    return value;
  }

  nullableInt(key: string, min: number): number | null {
    const value = this.raw(key);
    if (value === undefined || value === null) return null;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      throw this.fail(key, min === 0 ? "must be a non-negative integer" : `must be an integer >= ${min}`);
    }
    return value;
  }

  tokenId(key: string): number | null {
    const value = this.raw(key);
    if (value === undefined || value === null) return null;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
      throw this.fail(key, "must be a token id (a non-negative integer)");
    return value;
  }

  /** An int, a list of ints, or absent/null (⇒ []). Duplicates are dropped, order kept. */
  tokenIdList(key: string): number[] {
    const value = this.raw(key);
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    const ids: number[] = [];
    for (const id of list) {
      if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
        throw this.fail(key, "must be a token id or a list of token ids (non-negative integers)");
      }
      if (!ids.includes(id)) ids.push(id);
    }
    return ids;
  }
}

/**
 * Parses a checkpoint's config.json (transformers 4.x or 5.x layout) into a ModelSpec.
 * `fileName` is used in error messages (pass the path the user would recognise).
 * Throws SwallowError for anything that is not a Llama 3.x (LlamaForCausalLM) config this engine runs.
 */
export function parseModelConfig(text: string, fileName: string): ModelSpec {
  const config = parseJsonObject(text, fileName, "config");
  const r = new Reader(config, fileName);

  checkArchitecture(r);

  const quantization = r.raw("quantization_config");
  if (quantization !== undefined && quantization !== null) {
    const method = isObject(quantization) ? get(quantization, "quant_method") : undefined;
    throw new SwallowError(
      `${fileName}: "quantization_config" says the weights are quantized${typeof method === "string" ? ` (${method})` : ""}; quantized checkpoints are not supported, use the original bf16 checkpoint`,
    );
  }

  const vocabSize = r.positiveInt("vocab_size");
  const hiddenSize = r.positiveInt("hidden_size");
  const intermediateSize = r.positiveInt("intermediate_size");
  const numLayers = r.positiveInt("num_hidden_layers");
  const numHeads = r.positiveInt("num_attention_heads");
  const numKvHeads = r.positiveInt("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new SwallowError(
      `${fileName}: "num_attention_heads" (${numHeads}) must be a multiple of "num_key_value_heads" (${numKvHeads}); fix config.json or download it again`,
    );
  }

  let headDim: number;
  if (r.missing("head_dim")) {
    if (hiddenSize % numHeads !== 0) {
      throw new SwallowError(
        `${fileName}: "head_dim" is absent and "hidden_size" (${hiddenSize}) is not a multiple of "num_attention_heads" (${numHeads}); add "head_dim" to config.json or download it again`,
      );
    }
    headDim = hiddenSize / numHeads;
  } else {
    headDim = r.positiveInt("head_dim");
  }
  if (headDim % 2 !== 0) throw r.fail("head_dim", "must be even (RoPE rotates pairs of values)", headDim);

  const hiddenAct = r.raw("hidden_act") ?? "silu";
  // transformers maps "swish" to the same SiLU function.
  if (hiddenAct !== "silu" && hiddenAct !== "swish") {
    throw new SwallowError(
      `${fileName}: "hidden_act" is ${describeJsonValue(hiddenAct)} but Llama uses "silu"; this activation is not supported, use a Llama 3.x checkpoint`,
    );
  }
  for (const key of ["attention_bias", "mlp_bias"]) {
    if (r.boolean(key, false)) {
      throw new SwallowError(`${fileName}: "${key}" is true but Llama 3.x has no bias terms; checkpoints with biases are not supported`);
    }
  }

  const rmsNormEps = r.positiveNumber("rms_norm_eps", DEFAULT_RMS_NORM_EPS);
  const { ropeTheta, ropeScaling } = parseRope(r);
  const maxPositionEmbeddings = r.positiveInt("max_position_embeddings", DEFAULT_MAX_POSITION_EMBEDDINGS);
  const tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
  const bosTokenId = r.tokenId("bos_token_id");
  const eosTokenIds = r.tokenIdList("eos_token_id");
  const declaredDtype = r.missing("torch_dtype") ? r.nullableString("dtype") : r.nullableString("torch_dtype");

  return {
    architecture: "LlamaForCausalLM",
    vocabSize,
    hiddenSize,
    intermediateSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps,
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings,
    tieWordEmbeddings,
    bosTokenId,
    eosTokenIds,
    declaredDtype,
  };
}

function checkArchitecture(r: Reader): void {
  const architectures = r.raw("architectures");
  if (architectures === undefined || architectures === null) {
    const modelType = r.raw("model_type");
    if (modelType === "llama") return;
    const found = modelType === undefined || modelType === null ? "(no architectures or model_type)" : describeJsonValue(modelType);
    throw new SwallowError(
      `unsupported architecture ${found} in ${r.fileName}: only LlamaForCausalLM (Llama 3.x) checkpoints are supported`,
    );
  }
  const list = Array.isArray(architectures) ? architectures : [architectures];
  if (list.includes("LlamaForCausalLM")) return;
  const found = list.length === 0 ? "(empty list)" : list.map((a) => (typeof a === "string" ? a : describeJsonValue(a))).join(", ");
  throw new SwallowError(
    `unsupported architecture ${found.length > 120 ? `${found.slice(0, 117)}...` : found} in ${r.fileName}: only LlamaForCausalLM (Llama 3.x) checkpoints are supported`,
  );
}

function parseRope(r: Reader): { ropeTheta: number; ropeScaling: RopeScaling } {
  const parameters = r.raw("rope_parameters");
  if (parameters !== undefined && parameters !== null) {
    // transformers 5.x: everything in one object; rope_type defaults to "default".
    if (!isObject(parameters)) throw r.fail("rope_parameters", "must be an object");
    const p = new Reader(parameters, r.fileName, "rope_parameters.");
    const ropeTheta = p.missing("rope_theta") ? r.positiveNumber("rope_theta", DEFAULT_ROPE_THETA) : p.positiveNumber("rope_theta");
    return { ropeTheta, ropeScaling: parseRopeScaling(p, true) };
  }
  // transformers 4.x: rope_theta at top level, rope_scaling null/absent for plain RoPE.
  const ropeTheta = r.positiveNumber("rope_theta", DEFAULT_ROPE_THETA);
  const scaling = r.raw("rope_scaling");
  if (scaling === undefined || scaling === null) return { ropeTheta, ropeScaling: { type: "default" } };
  if (!isObject(scaling)) throw r.fail("rope_scaling", "must be an object or null");
  return { ropeTheta, ropeScaling: parseRopeScaling(new Reader(scaling, r.fileName, "rope_scaling."), false) };
}

function parseRopeScaling(s: Reader, typeDefaultsToDefault: boolean): RopeScaling {
  const typeKey = s.missing("rope_type") ? "type" : "rope_type";
  const type = s.raw(typeKey);
  if (type === undefined || type === null) {
    if (typeDefaultsToDefault) return { type: "default" };
    throw s.fail("rope_type", 'is required ("default" or "llama3")');
  }
  if (typeof type !== "string") throw s.fail(typeKey, 'must be a string ("default" or "llama3")');
  if (type === "default") return { type: "default" };
  if (type !== "llama3") {
    throw new SwallowError(
      `${s.fileName}: "${s.prefix}${typeKey}" is ${describeJsonValue(type)}: this RoPE type is unsupported (only "default" and "llama3" are); use a Llama 3.x checkpoint`,
    );
  }
  const factor = s.positiveNumber("factor");
  const lowFreqFactor = s.positiveNumber("low_freq_factor");
  const highFreqFactor = s.positiveNumber("high_freq_factor");
  if (highFreqFactor <= lowFreqFactor) {
    throw new SwallowError(
      `${s.fileName}: "${s.prefix}high_freq_factor" (${highFreqFactor}) must be greater than "${s.prefix}low_freq_factor" (${lowFreqFactor}); fix config.json or download it again`,
    );
  }
  const originalMaxPositionEmbeddings = s.positiveInt("original_max_position_embeddings");
  return { type: "llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings };
}

/**
 * Parses generation_config.json. Every field is null (or [] for eos) when absent; present values are
 * type- and range-checked because sampling uses them as defaults.
 */
export function parseGenerationConfig(text: string, fileName: string): GenerationDefaults {
  const r = new Reader(parseJsonObject(text, fileName, "generation config"), fileName);
  return {
    eosTokenIds: r.tokenIdList("eos_token_id"),
    bosTokenId: r.tokenId("bos_token_id"),
    doSample: r.nullableBoolean("do_sample"),
    temperature: r.nullableNumber("temperature", 0, Infinity),
    topP: r.nullableNumber("top_p", 0, 1, { minExclusive: true }),
    topK: r.nullableInt("top_k", 0),
    minP: r.nullableNumber("min_p", 0, 1),
    repetitionPenalty: r.nullableNumber("repetition_penalty", 0, Infinity, { minExclusive: true }),
    maxNewTokens: r.nullableInt("max_new_tokens", 1),
  };
}
