import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { KERNEL_SWITCHES, kernelSwitchesSet } from "./env.js";
import { repoRoot } from "../../../test/support/paths.js";

test("kernelSwitchesSet names the kernel switches that are set, in list order, and nothing else (no API key)", () => {
  const env = {
    SWALLOW_TENSOR_MERGE: "off",
    SWALLOW_API_KEY: "secret",
    SWALLOW_GEMV_ROWS: "",
    SWALLOW_ROBUSTNESS: "off",
    PATH: "/usr/bin",
  };
  assert.deepEqual(kernelSwitchesSet(env), ["SWALLOW_ROBUSTNESS=off", "SWALLOW_TENSOR_MERGE=off"]);
  assert.deepEqual(kernelSwitchesSet({}), []);
  assert.deepEqual(kernelSwitchesSet(undefined), []);
});

test("every SWALLOW_* variable the WebGPU backend reads is a listed kernel switch", async () => {
  const dir = join(repoRoot, "src", "gpu", "webgpu");
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  const read = new Set<string>();
  for (const file of files) {
    const source = await readFile(join(dir, file), "utf8");
    for (const match of source.matchAll(/envVar\("(SWALLOW_[A-Z0-9_]+)"\)/g)) read.add(match[1]);
  }
  assert.ok(read.size >= 8, `only ${read.size} switches found: the scan is broken`);
  assert.deepEqual(
    [...read].filter((name) => !(KERNEL_SWITCHES as readonly string[]).includes(name)),
    [],
  );
});
