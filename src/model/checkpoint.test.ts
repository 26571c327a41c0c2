import test from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwallowError } from "../errors.js";
import { NodeFileTree } from "../node/file-tree.js";
import { MemoryFileTree, type ByteSource, type FileTree } from "./byte-source.js";
import { expectedLlamaTensors, llamaTensorNames, openCheckpoint } from "./checkpoint.js";
import { parseModelConfig } from "./config.js";
import { fillerBytes, tensorByteLength, writeSafetensors, type TensorSpec } from "../../test/support/safetensors-writer.js";
import { fixturesDir } from "../../test/support/paths.js";

/** A tiny GQA Llama config (transformers 4.x layout). */
function tinyConfig(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 4,
    hidden_act: "silu",
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    max_position_embeddings: 256,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: [2, 3],
    torch_dtype: "bfloat16",
    ...changes,
  };
}

/** Every tensor the config needs, BF16 with deterministic bytes, plus an ignorable inv_freq. */
function tinyTensors(config: Record<string, unknown>, dtype = "BF16"): Record<string, TensorSpec> {
  const spec = parseModelConfig(JSON.stringify(config), "config.json");
  const tensors: Record<string, TensorSpec> = {};
  let seed = 1;
  for (const { name, shape } of expectedLlamaTensors(spec))
    tensors[name] = { dtype, shape, data: fillerBytes(tensorByteLength(dtype, shape), seed++) };
  tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = { dtype: "F32", shape: [2] };
  return tensors;
}

const encode = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

interface BuildOptions {
  config?: Record<string, unknown>;
  tensors?: Record<string, TensorSpec>;
  /** Split into this many shards with an index. */
  shards?: number;
  generation?: string | null;
}

function buildFiles(options: BuildOptions = {}): Map<string, Uint8Array> {
  const config = options.config ?? tinyConfig();
  const tensors = options.tensors ?? tinyTensors(config);
  const files = new Map<string, Uint8Array>();
  files.set("config.json", encode(config));
  if (options.generation !== null) {
    files.set(
      "generation_config.json",
      encode(options.generation ?? '{"bos_token_id":1,"do_sample":true,"eos_token_id":[2,3],"temperature":0.6,"top_p":0.9}'),
    );
  }
  if (!options.shards) {
    files.set("model.safetensors", writeSafetensors(tensors));
    return files;
  }
  const names = Object.keys(tensors);
  const weightMap: Record<string, string> = {};
  const perShard = Math.ceil(names.length / options.shards);
  for (let shard = 0; shard < options.shards; shard++) {
    const file = `model-${String(shard + 1).padStart(5, "0")}-of-${String(options.shards).padStart(5, "0")}.safetensors`;
    const part: Record<string, TensorSpec> = {};
    for (const name of names.slice(shard * perShard, (shard + 1) * perShard)) {
      part[name] = tensors[name];
      weightMap[name] = file;
    }
    files.set(file, writeSafetensors(part));
  }
  files.set("model.safetensors.index.json", encode({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return files;
}

function memoryTree(files: Map<string, Uint8Array>): MemoryFileTree {
  return new MemoryFileTree("/models/tiny", files);
}

async function expectOpenFails(files: Map<string, Uint8Array>, pattern: RegExp): Promise<void> {
  await assert.rejects(openCheckpoint(memoryTree(files)), (error: unknown) => {
    assert.ok(error instanceof SwallowError, `expected SwallowError, got ${String(error)}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"));
    return true;
  });
}

test("llamaTensorNames gives the Hugging Face names; lm_head null when tied", () => {
  const names = llamaTensorNames({ numLayers: 2, tieWordEmbeddings: false });
  assert.equal(names.embed, "model.embed_tokens.weight");
  assert.equal(names.finalNorm, "model.norm.weight");
  assert.equal(names.lmHead, "lm_head.weight");
  assert.equal(names.layers.length, 2);
  assert.deepEqual(names.layers[1], {
    inputNorm: "model.layers.1.input_layernorm.weight",
    q: "model.layers.1.self_attn.q_proj.weight",
    k: "model.layers.1.self_attn.k_proj.weight",
    v: "model.layers.1.self_attn.v_proj.weight",
    o: "model.layers.1.self_attn.o_proj.weight",
    postNorm: "model.layers.1.post_attention_layernorm.weight",
    gate: "model.layers.1.mlp.gate_proj.weight",
    up: "model.layers.1.mlp.up_proj.weight",
    down: "model.layers.1.mlp.down_proj.weight",
  });
  assert.equal(llamaTensorNames({ numLayers: 1, tieWordEmbeddings: true }).lmHead, null);
});

test("expected shapes for Llama-3.1-8B and the 8B parameter count", () => {
  const spec = {
    vocabSize: 128256,
    hiddenSize: 4096,
    intermediateSize: 14336,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 8,
    headDim: 128,
    tieWordEmbeddings: false,
  };
  const expected = expectedLlamaTensors(spec);
  assert.equal(expected.length, 2 + 9 * 32 + 1);
  const byName = new Map(expected.map((t) => [t.name, t.shape]));
  assert.deepEqual(byName.get("model.embed_tokens.weight"), [128256, 4096]);
  assert.deepEqual(byName.get("model.layers.31.self_attn.q_proj.weight"), [4096, 4096]);
  assert.deepEqual(byName.get("model.layers.31.self_attn.k_proj.weight"), [1024, 4096]);
  assert.deepEqual(byName.get("model.layers.31.self_attn.v_proj.weight"), [1024, 4096]);
  assert.deepEqual(byName.get("model.layers.31.self_attn.o_proj.weight"), [4096, 4096]);
  assert.deepEqual(byName.get("model.layers.31.mlp.gate_proj.weight"), [14336, 4096]);
  assert.deepEqual(byName.get("model.layers.31.mlp.down_proj.weight"), [4096, 14336]);
  assert.deepEqual(byName.get("lm_head.weight"), [128256, 4096]);
  // §1.1: 8,030,261,248 parameters.
  assert.equal(
    expected.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0),
    8030261248,
  );
  assert.equal(expectedLlamaTensors({ ...spec, tieWordEmbeddings: true }).length, 2 + 9 * 32);
});

test("single-file checkpoint: spec, generation defaults, tensor info and reads", async () => {
  const files = buildFiles();
  const checkpoint = await openCheckpoint(memoryTree(files));
  assert.equal(checkpoint.spec.numKvHeads, 2);
  assert.equal(checkpoint.location, "/models/tiny");
  assert.deepEqual(checkpoint.generation?.eosTokenIds, [2, 3]);
  assert.equal(checkpoint.generation?.temperature, 0.6);
  const names = checkpoint.tensorNames();
  assert.equal(names.length, 2 + 9 * 2 + 1 + 1);
  assert.ok(names.includes("model.layers.0.self_attn.rotary_emb.inv_freq"));
  const info = checkpoint.tensorInfo("model.layers.1.self_attn.k_proj.weight")!;
  assert.deepEqual(
    [info.dtype, info.safetensorsDtype, info.shape, info.byteLength, info.file],
    ["bf16", "BF16", [8, 16], 256, "model.safetensors"],
  );
  assert.equal(checkpoint.tensorInfo("nope"), undefined);
  const tensor = await checkpoint.readTensor("model.layers.1.self_attn.k_proj.weight");
  assert.deepEqual([tensor.dtype, tensor.shape, tensor.bytes.byteLength], ["bf16", [8, 16], 256]);
  const file = files.get("model.safetensors")!;
  assert.deepEqual(tensor.bytes, file.subarray(info.dataStartBytes, info.dataStartBytes + 256));
  await assert.rejects(checkpoint.readTensor("nope"), /has no tensor "nope"/);
  await checkpoint.close();
});

test("sharded checkpoint with an index reads the same bytes as the single file", async () => {
  const config = tinyConfig();
  const tensors = tinyTensors(config);
  const single = await openCheckpoint(memoryTree(buildFiles({ config, tensors })));
  const sharded = await openCheckpoint(memoryTree(buildFiles({ config, tensors, shards: 3 })));
  assert.deepEqual(sharded.tensorNames(), single.tensorNames());
  assert.equal(sharded.tensorInfo("lm_head.weight")!.file, "model-00003-of-00003.safetensors");
  for (const name of single.tensorNames()) {
    assert.deepEqual(await sharded.readTensor(name), await single.readTensor(name), name);
  }
  await single.close();
  await sharded.close();
});

test("tied embeddings: lm_head may be absent; F16/F32 weights accepted; no generation_config", async () => {
  const config = tinyConfig({ tie_word_embeddings: true });
  const tensors = tinyTensors(config, "F32");
  tensors["model.norm.weight"] = { dtype: "F16", shape: [16] };
  const checkpoint = await openCheckpoint(memoryTree(buildFiles({ config, tensors, generation: null })));
  assert.equal(checkpoint.generation, null);
  assert.equal(checkpoint.tensorInfo("lm_head.weight"), undefined);
  assert.equal((await checkpoint.readTensor("model.norm.weight")).dtype, "f16");
  assert.equal((await checkpoint.readTensor("model.embed_tokens.weight")).bytes.byteLength, 32 * 16 * 4);
  await checkpoint.close();
});

test("model.safetensors wins when both it and an index exist (as in transformers)", async () => {
  const files = buildFiles();
  files.set("model.safetensors.index.json", encode({ weight_map: { "model.norm.weight": "missing.safetensors" } }));
  const checkpoint = await openCheckpoint(memoryTree(files));
  assert.equal(checkpoint.tensorInfo("model.norm.weight")!.file, "model.safetensors");
  await checkpoint.close();
});

test("missing files", async () => {
  const noConfig = buildFiles();
  noConfig.delete("config.json");
  await expectOpenFails(noConfig, /^\/models\/tiny\/config\.json not found; --model must be a Hugging Face checkpoint directory/);
  const noWeights = buildFiles();
  noWeights.delete("model.safetensors");
  await expectOpenFails(noWeights, /^\/models\/tiny: no model\.safetensors or model\.safetensors\.index\.json; download/);
  noWeights.set("pytorch_model.bin", new Uint8Array(4));
  await expectOpenFails(noWeights, /PyTorch \.bin weights are not supported/);
});

test("config problems surface from openCheckpoint with the config's path", async () => {
  await expectOpenFails(
    buildFiles({ config: tinyConfig({ architectures: ["GPT2LMHeadModel"] }), tensors: {} }),
    /^unsupported architecture GPT2LMHeadModel in \/models\/tiny\/config\.json/,
  );
  const badGeneration = buildFiles({ generation: '{"temperature": "x"}' });
  await expectOpenFails(badGeneration, /^\/models\/tiny\/generation_config\.json: "temperature" must be a number/);
});

test("a tensor shape that does not match config.json", async () => {
  const config = tinyConfig();
  const tensors = tinyTensors(config);
  tensors["model.layers.1.self_attn.k_proj.weight"] = { dtype: "BF16", shape: [16, 16] };
  await expectOpenFails(
    buildFiles({ config, tensors }),
    /^\/models\/tiny\/model\.safetensors: tensor "model\.layers\.1\.self_attn\.k_proj\.weight" has shape \[16, 16\] but config\.json implies \[8, 16\]; config\.json and the weights do not belong together/,
  );
  // The same weights against a config claiming a different vocabulary.
  await expectOpenFails(
    buildFiles({ config: tinyConfig({ vocab_size: 64 }), tensors: tinyTensors(config) }),
    /"model\.embed_tokens\.weight" has shape \[32, 16\] but config\.json implies \[64, 16\]/,
  );
});

test("missing tensors: layer, final norm, untied lm_head; extra layers in config", async () => {
  for (const name of ["model.layers.1.mlp.up_proj.weight", "model.norm.weight", "lm_head.weight"]) {
    const config = tinyConfig();
    const tensors = tinyTensors(config);
    delete tensors[name];
    await expectOpenFails(
      buildFiles({ config, tensors }),
      new RegExp(`^/models/tiny/model\\.safetensors: tensor "${name.replaceAll(".", "\\.")}" is missing`),
    );
    await expectOpenFails(
      buildFiles({ config, tensors, shards: 2 }),
      new RegExp(`model\\.safetensors\\.index\\.json: tensor "${name.replaceAll(".", "\\.")}" is missing`),
    );
  }
  // A config that claims 10^9 layers fails at the first missing layer, quickly.
  await expectOpenFails(
    buildFiles({ config: tinyConfig({ num_hidden_layers: 1e9 }), tensors: tinyTensors(tinyConfig()) }),
    /"model\.layers\.2\.input_layernorm\.weight" is missing \(config\.json has num_hidden_layers 1000000000\)/,
  );
});

test("unsupported weight dtypes are named; unexpected extra tensors are ignored", async () => {
  const config = tinyConfig();
  const tensors = tinyTensors(config);
  tensors["model.layers.0.mlp.down_proj.weight"] = { dtype: "I8", shape: [16, 24] };
  await expectOpenFails(
    buildFiles({ config, tensors }),
    /tensor "model\.layers\.0\.mlp\.down_proj\.weight" has dtype I8; only BF16, F16 and F32 weights are supported/,
  );

  const extra = tinyTensors(config);
  extra["model.layers.0.self_attn.q_proj.bias"] = { dtype: "BF16", shape: [16] };
  extra["some.other.counter"] = { dtype: "I64", shape: [1] };
  const checkpoint = await openCheckpoint(memoryTree(buildFiles({ config, tensors: extra })));
  assert.equal(checkpoint.tensorInfo("some.other.counter")!.dtype, null);
  await assert.rejects(checkpoint.readTensor("some.other.counter"), /has dtype I64/);
  await checkpoint.close();
});

test("index problems: missing shard, tensor missing from its shard, bad JSON, unsafe paths", async () => {
  const files = buildFiles({ shards: 3 });
  files.delete("model-00002-of-00003.safetensors");
  await expectOpenFails(
    files,
    /model\.safetensors\.index\.json puts tensor ".*" in model-00002-of-00003\.safetensors, but \/models\/tiny\/model-00002-of-00003\.safetensors does not exist; the download is incomplete/,
  );

  const listed = buildFiles({ shards: 2 });
  const index = JSON.parse(new TextDecoder().decode(listed.get("model.safetensors.index.json")));
  index.weight_map["model.extra.weight"] = "model-00001-of-00002.safetensors";
  listed.set("model.safetensors.index.json", encode(index));
  await expectOpenFails(
    listed,
    /^\/models\/tiny\/model-00001-of-00002\.safetensors: tensor "model\.extra\.weight" is listed in model\.safetensors\.index\.json but missing from this shard/,
  );

  const cases: [unknown, RegExp][] = [
    ["{not json", /model\.safetensors\.index\.json: not valid JSON/],
    ["[]", /index\.json: not a JSON object/],
    [{ metadata: {} }, /"weight_map" is missing or not an object/],
    [{ weight_map: {} }, /"weight_map" is empty/],
    [{ weight_map: { a: 5 } }, /"weight_map" entry "a" is "5", not a shard file name/],
    [{ weight_map: { a: "../../etc/passwd" } }, /not a shard file name in this directory/],
    [{ weight_map: { a: "/etc/passwd" } }, /not a shard file name/],
  ];
  for (const [value, pattern] of cases) {
    const bad = buildFiles({ shards: 2 });
    bad.set("model.safetensors.index.json", encode(value));
    await expectOpenFails(bad, pattern);
  }
});

test("a corrupt shard closes the shards opened before it", async () => {
  const files = buildFiles({ shards: 3 });
  files.set("model-00003-of-00003.safetensors", files.get("model-00003-of-00003.safetensors")!.subarray(0, 40));
  const counting = new CountingTree(memoryTree(files));
  await assert.rejects(
    openCheckpoint(counting),
    /model-00003-of-00003\.safetensors: .*the safetensors file is corrupt or truncated, download it again/,
  );
  assert.equal(counting.opened, 3);
  assert.equal(counting.closed, 3);
});

/** Wraps a FileTree and counts opens, closes, reads and bytes read. */
class CountingTree implements FileTree {
  opened = 0;
  closed = 0;
  reads: { file: string; offset: number; length: number }[] = [];
  readonly openedFiles: string[] = [];
  constructor(private readonly inner: FileTree) {}
  get location() {
    return this.inner.location;
  }
  exists(path: string) {
    return this.inner.exists(path);
  }
  readText(path: string) {
    return this.inner.readText(path);
  }
  async open(path: string): Promise<ByteSource> {
    const source = await this.inner.open(path);
    this.opened++;
    this.openedFiles.push(path);
    const tree = this;
    return {
      name: source.name,
      sizeBytes: source.sizeBytes,
      async read(offset: number, length: number) {
        tree.reads.push({ file: path, offset, length });
        return source.read(offset, length);
      },
      async close() {
        tree.closed++;
        return source.close();
      },
    };
  }
  bytesRead(): number {
    return this.reads.reduce((sum, read) => sum + read.length, 0);
  }
}

test("NodeFileTree: openCheckpoint reads only headers, each shard opened once; readTensor is one range read", async () => {
  const dir = await mkdtemp(join(tmpdir(), "swallow-checkpoint-"));
  try {
    const config = tinyConfig({ vocab_size: 4096, hidden_size: 64, head_dim: 16, intermediate_size: 96 });
    const files = buildFiles({ config, tensors: tinyTensors(config), shards: 4 });
    let headerBytes = 0;
    let totalBytes = 0;
    for (const [name, bytes] of files) {
      await writeFile(join(dir, name), bytes);
      if (name.endsWith(".safetensors")) {
        headerBytes += 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
        totalBytes += bytes.byteLength;
      }
    }
    const tree = new CountingTree(new NodeFileTree(dir));
    const checkpoint = await openCheckpoint(tree);
    assert.equal(tree.opened, 4);
    assert.equal(new Set(tree.openedFiles).size, 4, "each shard opened once");
    assert.equal(tree.reads.length, 8, "two reads per shard: length prefix and header");
    assert.equal(tree.bytesRead(), headerBytes);
    assert.ok(headerBytes * 20 < totalBytes, "the test files are mostly tensor data");

    tree.reads.length = 0;
    const name = "model.embed_tokens.weight";
    const info = checkpoint.tensorInfo(name)!;
    const tensor = await checkpoint.readTensor(name);
    assert.deepEqual(tree.reads, [{ file: info.file, offset: info.dataStartBytes, length: 4096 * 64 * 2 }]);
    assert.deepEqual(tensor.bytes, fillerBytes(4096 * 64 * 2, 1), "tinyTensors seeds tensor data 1, 2, ... in order");

    await checkpoint.close();
    assert.equal(tree.closed, 4);
    await assert.rejects(checkpoint.readTensor(name), /closed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("NodeFileTree: a truncated shard on disk is reported as corrupt", async () => {
  const dir = await mkdtemp(join(tmpdir(), "swallow-checkpoint-"));
  try {
    for (const [name, bytes] of buildFiles())
      await writeFile(join(dir, name), name === "model.safetensors" ? bytes.subarray(0, bytes.length - 1) : bytes);
    await assert.rejects(
      openCheckpoint(new NodeFileTree(dir)),
      (error: unknown) =>
        error instanceof SwallowError &&
        /model\.safetensors: .*(run past the end of the data|tensors cover).*the safetensors file is corrupt or truncated, download it again$/.test(
          error.message,
        ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the transformers-written fixtures open (4.x and 5.x configs, tied, sharded)", async () => {
  const expected: Record<string, { layers: number; tensors: number; tied: boolean; files: number }> = {
    "gqa-llama3": { layers: 2, tensors: 21, tied: false, files: 1 },
    "gqa-llama3-v4": { layers: 2, tensors: 21, tied: false, files: 1 },
    "mha-default-tied": { layers: 2, tensors: 20, tied: true, files: 1 },
    "mqa-llama3-sharded-v4": { layers: 3, tensors: 30, tied: false, files: 5 },
  };
  for (const [variant, want] of Object.entries(expected)) {
    const tree = new CountingTree(new NodeFileTree(join(fixturesDir, "tiny", variant)));
    const checkpoint = await openCheckpoint(tree);
    assert.equal(checkpoint.spec.numLayers, want.layers, variant);
    assert.equal(checkpoint.spec.tieWordEmbeddings, want.tied, variant);
    assert.equal(checkpoint.tensorNames().length, want.tensors, variant);
    assert.equal(tree.opened, want.files, variant);
    assert.notEqual(checkpoint.generation, null);
    await checkpoint.close();
  }
});
