import test from "node:test";
import assert from "node:assert/strict";
import { SwallowError } from "../errors.js";
import { parseGenerationConfig, parseModelConfig } from "./config.js";

// meta-llama/Llama-3.1-8B-Instruct config.json as published (transformers 4.x layout, no head_dim);
// values from shared/specs/llama3.md §1.1.
const META_LLAMA_31_8B_INSTRUCT = `{
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.3",
  "use_cache": true,
  "vocab_size": 128256
}
`;

// Base model: eos_token_id is a single int.
const META_LLAMA_31_8B_BASE = META_LLAMA_31_8B_INSTRUCT.replace(/"eos_token_id": \[[^\]]*\]/, '"eos_token_id": 128001');

// tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.3 config.json at a6d54b9 (§1.3): head_dim written,
// max_position_embeddings 8192 (below original_max_position_embeddings), torch_dtype float32.
const SWALLOW_8B_INSTRUCT_V03 = `{
  "_name_or_path": "tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.3",
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 8192,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "float32",
  "transformers_version": "4.46.2",
  "use_cache": true,
  "vocab_size": 128256
}
`;

// tokyotech-llm/Llama-3.1-Swallow-70B-Instruct-v0.3 config.json (§1.4).
const SWALLOW_70B_INSTRUCT_V03 = `{
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 8192,
  "initializer_range": 0.02,
  "intermediate_size": 28672,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 64,
  "num_hidden_layers": 80,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.47.1",
  "use_cache": true,
  "vocab_size": 128256
}
`;

// The same 8B model as transformers 5.x writes it: rope_parameters, dtype.
const LLAMA_31_8B_V5 = `{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "dtype": "bfloat16",
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pad_token_id": null,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_parameters": {
    "factor": 8.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_theta": 500000.0,
    "rope_type": "llama3"
  },
  "tie_word_embeddings": false,
  "transformers_version": "5.0.0",
  "use_cache": true,
  "vocab_size": 128256
}`;

// Meta Llama-3.1-8B-Instruct generation_config.json (184 bytes, §1.2).
const META_GENERATION_CONFIG = `{
  "bos_token_id": 128000,
  "do_sample": true,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "temperature": 0.6,
  "top_p": 0.9,
  "transformers_version": "4.42.3"
}
`;

// Swallow-8B-Instruct-v0.3 generation_config.json at a6d54b9 (155 bytes, §1.3).
const SWALLOW_GENERATION_CONFIG_A6D54B9 = `{
  "_from_model_config": true,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "transformers_version": "4.46.2"
}
`;

const LLAMA3_ROPE = { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };

function throwsSwallow(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SwallowError, `expected SwallowError, got ${String(error)}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), `one-line message: ${error.message}`);
    return true;
  });
}

/** A valid small config with `changes` applied (undefined deletes a key). */
function config(changes: Record<string, unknown> = {}): string {
  const base: Record<string, unknown> = JSON.parse(META_LLAMA_31_8B_INSTRUCT);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return JSON.stringify(base);
}

test("Meta Llama-3.1-8B-Instruct config.json (4.x layout, no head_dim)", () => {
  assert.deepEqual(parseModelConfig(META_LLAMA_31_8B_INSTRUCT, "config.json"), {
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
    ropeScaling: LLAMA3_ROPE,
    maxPositionEmbeddings: 131072,
    tieWordEmbeddings: false,
    bosTokenId: 128000,
    eosTokenIds: [128001, 128008, 128009],
    declaredDtype: "bfloat16",
  });
});

test("base model eos_token_id as a single int", () => {
  assert.deepEqual(parseModelConfig(META_LLAMA_31_8B_BASE, "config.json").eosTokenIds, [128001]);
});

test("Swallow-8B-Instruct-v0.3 config.json (max_position 8192, float32)", () => {
  const spec = parseModelConfig(SWALLOW_8B_INSTRUCT_V03, "swallow/config.json");
  assert.equal(spec.maxPositionEmbeddings, 8192);
  assert.equal(spec.declaredDtype, "float32");
  assert.equal(spec.headDim, 128);
  assert.deepEqual(spec.ropeScaling, LLAMA3_ROPE);
  assert.deepEqual(spec.eosTokenIds, [128001, 128008, 128009]);
});

test("Swallow-70B-Instruct-v0.3 config.json", () => {
  const spec = parseModelConfig(SWALLOW_70B_INSTRUCT_V03, "config.json");
  assert.equal(spec.hiddenSize, 8192);
  assert.equal(spec.intermediateSize, 28672);
  assert.equal(spec.numLayers, 80);
  assert.equal(spec.numHeads, 64);
  assert.equal(spec.numKvHeads, 8);
  assert.equal(spec.headDim, 128);
  assert.equal(spec.maxPositionEmbeddings, 131072);
});

test("transformers 5.x layout (rope_parameters, dtype) gives the same spec as 4.x", () => {
  const v5 = parseModelConfig(LLAMA_31_8B_V5, "config.json");
  const v4 = parseModelConfig(META_LLAMA_31_8B_INSTRUCT, "config.json");
  assert.deepEqual(v5, v4);
});

test("rope: default type, null/absent scaling, legacy `type` key, theta default", () => {
  assert.deepEqual(parseModelConfig(config({ rope_scaling: null }), "c").ropeScaling, { type: "default" });
  assert.deepEqual(parseModelConfig(config({ rope_scaling: undefined }), "c").ropeScaling, { type: "default" });
  assert.deepEqual(parseModelConfig(config({ rope_scaling: { rope_type: "default" } }), "c").ropeScaling, { type: "default" });
  const legacy = parseModelConfig(
    config({
      rope_scaling: { type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    }),
    "c",
  );
  assert.deepEqual(legacy.ropeScaling, LLAMA3_ROPE);
  const v5default = parseModelConfig(
    config({ rope_scaling: undefined, rope_theta: undefined, rope_parameters: { rope_type: "default", rope_theta: 10000.0 } }),
    "c",
  );
  assert.deepEqual([v5default.ropeTheta, v5default.ropeScaling], [10000, { type: "default" }]);
  // transformers' LlamaConfig default theta when the key is absent.
  assert.equal(parseModelConfig(config({ rope_theta: undefined, rope_scaling: null }), "c").ropeTheta, 10000);
});

test("defaults: head_dim from hidden/heads, kv heads = heads, tie false, eos [] and bos null when absent", () => {
  const spec = parseModelConfig(
    config({
      head_dim: undefined,
      num_key_value_heads: undefined,
      tie_word_embeddings: undefined,
      eos_token_id: undefined,
      bos_token_id: undefined,
      torch_dtype: undefined,
    }),
    "c",
  );
  assert.equal(spec.headDim, 128);
  assert.equal(spec.numKvHeads, 32);
  assert.equal(spec.tieWordEmbeddings, false);
  assert.deepEqual(spec.eosTokenIds, []);
  assert.equal(spec.bosTokenId, null);
  assert.equal(spec.declaredDtype, null);
  assert.equal(parseModelConfig(config({ tie_word_embeddings: true }), "c").tieWordEmbeddings, true);
  assert.equal(parseModelConfig(config({ head_dim: 64 }), "c").headDim, 64);
});

test("architecture: model_type llama accepted without architectures; others rejected with the required message", () => {
  assert.equal(parseModelConfig(config({ architectures: undefined }), "c").architecture, "LlamaForCausalLM");
  throwsSwallow(
    () => parseModelConfig(config({ architectures: ["MistralForCausalLM"] }), "/m/config.json"),
    /^unsupported architecture MistralForCausalLM in \/m\/config\.json: only LlamaForCausalLM \(Llama 3\.x\) checkpoints are supported$/,
  );
  throwsSwallow(
    () => parseModelConfig(config({ architectures: undefined, model_type: "qwen2" }), "c"),
    /unsupported architecture "qwen2" in c:/,
  );
  throwsSwallow(() => parseModelConfig(config({ architectures: [] }), "c"), /unsupported architecture \(empty list\) in c/);
});

test("unsupported rope types are named", () => {
  for (const type of ["linear", "dynamic", "yarn", "longrope"]) {
    throwsSwallow(
      () => parseModelConfig(config({ rope_scaling: { rope_type: type, factor: 2 } }), "c.json"),
      new RegExp(`c\\.json: "rope_scaling\\.rope_type" is "${type}": this RoPE type is unsupported`),
    );
    throwsSwallow(
      () =>
        parseModelConfig(config({ rope_scaling: undefined, rope_parameters: { rope_type: type, rope_theta: 1e4, factor: 2 } }), "c.json"),
      new RegExp(`"rope_parameters\\.rope_type" is "${type}": this RoPE type is unsupported`),
    );
  }
  throwsSwallow(() => parseModelConfig(config({ rope_scaling: { type: "linear", factor: 2 } }), "c"), /"rope_scaling\.type" is "linear"/);
  throwsSwallow(() => parseModelConfig(config({ rope_scaling: { factor: 2 } }), "c"), /"rope_scaling\.rope_type" is required/);
  throwsSwallow(
    () =>
      parseModelConfig(
        config({ rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, original_max_position_embeddings: 8192 } }),
        "c",
      ),
    /"rope_scaling\.high_freq_factor" must be a positive number, got nothing/,
  );
  throwsSwallow(
    () =>
      parseModelConfig(
        config({
          rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 4, high_freq_factor: 4, original_max_position_embeddings: 8192 },
        }),
        "c",
      ),
    /high_freq_factor" \(4\) must be greater than/,
  );
  throwsSwallow(() => parseModelConfig(config({ rope_scaling: "llama3" }), "c"), /"rope_scaling" must be an object or null/);
});

test("bad configs: each error names the file and key", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hidden_size: undefined }, /^cfg\.json: "hidden_size" must be a positive integer, got nothing; fix cfg\.json or download it again$/],
    [{ hidden_size: 0 }, /"hidden_size" must be a positive integer, got 0/],
    [{ hidden_size: 4096.5 }, /"hidden_size" must be a positive integer, got 4096\.5/],
    [{ vocab_size: "128256" }, /"vocab_size" must be a positive integer, got "128256"/],
    [{ num_hidden_layers: -1 }, /"num_hidden_layers" must be a positive integer/],
    [{ intermediate_size: null }, /"intermediate_size" must be a positive integer/],
    [{ num_key_value_heads: 7 }, /"num_attention_heads" \(32\) must be a multiple of "num_key_value_heads" \(7\)/],
    [{ head_dim: undefined, hidden_size: 4095 }, /"head_dim" is absent and "hidden_size" \(4095\) is not a multiple/],
    [{ head_dim: 127 }, /"head_dim" must be even/],
    [{ attention_bias: true }, /"attention_bias" is true .* not supported/],
    [{ mlp_bias: true }, /"mlp_bias" is true/],
    [{ attention_bias: "no" }, /"attention_bias" must be true or false/],
    [{ hidden_act: "gelu" }, /"hidden_act" is "gelu" but Llama uses "silu"/],
    [{ rms_norm_eps: 0 }, /"rms_norm_eps" must be a positive number/],
    [{ rope_theta: "big" }, /"rope_theta" must be a positive number/],
    [{ tie_word_embeddings: 1 }, /"tie_word_embeddings" must be true or false/],
    [{ eos_token_id: [128001, "x"] }, /"eos_token_id" must be a token id or a list of token ids/],
    [{ eos_token_id: -1 }, /"eos_token_id" must be a token id/],
    [{ bos_token_id: 1.5 }, /"bos_token_id" must be a token id/],
    [{ torch_dtype: 16 }, /"torch_dtype" must be a string/],
    [
      { quantization_config: { quant_method: "gptq" } },
      /"quantization_config" says the weights are quantized \(gptq\); quantized checkpoints are not supported/,
    ],
  ];
  for (const [changes, pattern] of cases) throwsSwallow(() => parseModelConfig(config(changes), "cfg.json"), pattern);
});

test("config.json that is not JSON, or not an object", () => {
  throwsSwallow(
    () => parseModelConfig('{"hidden_size": 4096,', "dir/config.json"),
    /^dir\/config\.json: not valid JSON \(.*\); the config is corrupt or truncated, download it again$/,
  );
  throwsSwallow(() => parseModelConfig("", "config.json"), /config\.json: not valid JSON/);
  throwsSwallow(() => parseModelConfig("[1,2]", "config.json"), /config\.json: expected a JSON object, got \[1,2\]/);
  throwsSwallow(() => parseModelConfig("null", "config.json"), /expected a JSON object, got null/);
  // A UTF-8 BOM is tolerated.
  assert.equal(parseModelConfig(`\uFEFF${META_LLAMA_31_8B_INSTRUCT}`, "c").hiddenSize, 4096);
});

test("keys inherited from Object.prototype are not mistaken for config values", () => {
  throwsSwallow(
    () => parseModelConfig(config({ architectures: undefined, model_type: undefined }), "c"),
    /unsupported architecture \(no architectures or model_type\)/,
  );
  // "constructor" is an own-property lookup only
  assert.equal(parseModelConfig(config({ constructor: 5 }), "c").hiddenSize, 4096);
});

test("Meta Instruct generation_config.json (184 bytes)", () => {
  assert.equal(new TextEncoder().encode(META_GENERATION_CONFIG).byteLength, 184);
  assert.deepEqual(parseGenerationConfig(META_GENERATION_CONFIG, "generation_config.json"), {
    eosTokenIds: [128001, 128008, 128009],
    bosTokenId: 128000,
    doSample: true,
    temperature: 0.6,
    topP: 0.9,
    topK: null,
    minP: null,
    repetitionPenalty: null,
    maxNewTokens: null,
  });
});

test("Swallow a6d54b9 generation_config.json (155 bytes, no sampling keys)", () => {
  assert.equal(new TextEncoder().encode(SWALLOW_GENERATION_CONFIG_A6D54B9).byteLength, 155);
  const g = parseGenerationConfig(SWALLOW_GENERATION_CONFIG_A6D54B9, "generation_config.json");
  assert.deepEqual(g.eosTokenIds, [128001, 128008, 128009]);
  assert.equal(g.doSample, null);
  assert.equal(g.temperature, null);
  assert.equal(g.topP, null);
});

test("generation_config: all fields, int eos, empty object", () => {
  assert.deepEqual(
    parseGenerationConfig(
      '{"eos_token_id": 2, "bos_token_id": null, "do_sample": false, "temperature": 1.0, "top_p": 1.0, "top_k": 50, "min_p": 0.05, "repetition_penalty": 1.1, "max_new_tokens": 256}',
      "g",
    ),
    {
      eosTokenIds: [2],
      bosTokenId: null,
      doSample: false,
      temperature: 1,
      topP: 1,
      topK: 50,
      minP: 0.05,
      repetitionPenalty: 1.1,
      maxNewTokens: 256,
    },
  );
  assert.deepEqual(parseGenerationConfig("{}", "g"), {
    eosTokenIds: [],
    bosTokenId: null,
    doSample: null,
    temperature: null,
    topP: null,
    topK: null,
    minP: null,
    repetitionPenalty: null,
    maxNewTokens: null,
  });
});

test("bad generation_config values name the file and key", () => {
  const cases: [string, RegExp][] = [
    ['{"temperature": -1}', /^gen\.json: "temperature" must be a number in \[0, ∞\), got -1; fix gen\.json or download it again$/],
    ['{"temperature": "hot"}', /"temperature" must be a number/],
    ['{"top_p": 0}', /"top_p" must be a number in \(0, 1\]/],
    ['{"top_p": 1.5}', /"top_p" must be a number in \(0, 1\]/],
    ['{"top_k": 2.5}', /"top_k" must be a non-negative integer/],
    ['{"min_p": 2}', /"min_p" must be a number in \[0, 1\]/],
    ['{"repetition_penalty": 0}', /"repetition_penalty" must be a number in \(0, ∞\)/],
    ['{"max_new_tokens": 0}', /"max_new_tokens" must be an integer >= 1/],
    ['{"do_sample": "yes"}', /"do_sample" must be true or false/],
    ['{"eos_token_id": [1, null]}', /"eos_token_id" must be a token id or a list/],
    ["[]", /gen\.json: expected a JSON object/],
    ["{", /gen\.json: not valid JSON/],
  ];
  for (const [text, pattern] of cases) throwsSwallow(() => parseGenerationConfig(text, "gen.json"), pattern);
});
