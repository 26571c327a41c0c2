import { test } from "node:test";
import assert from "node:assert/strict";
import type { WebGpuDevice } from "../../device.js";
import { tensorCoreLayouts } from "./setup.js";

/** What tensorCoreLayouts reads of a device: an H100's features and limits, with `workgroupBytes` of workgroup memory. */
function fakeDevice(workgroupBytes: number): WebGpuDevice {
  return {
    features: {
      shaderF16: true,
      subgroups: true,
      subgroupMatrixConfigs: [{ componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 }],
    },
    adapter: { subgroupMaxSize: 32 },
    limits: { maxComputeWorkgroupStorageSize: workgroupBytes, maxComputeInvocationsPerWorkgroup: 1024 },
  } as unknown as WebGpuDevice;
}

test("tensorCoreLayouts: the tile classes, without robustness laid out at the padding they run with", () => {
  const names = (workgroupBytes: number, robust: boolean) =>
    tensorCoreLayouts(fakeDevice(workgroupBytes), "argument", robust).map((l) => l.variant.name);
  // The same classes either way (the robust list of sessions 4–15 was slower with robustness too: bench/NOTES.md).
  assert.deepEqual(names(48 * 1024, true), [
    "128x128-sg2x2-rb-uf-pc-x16",
    "64x128-sg2x2-rb-x16",
    "16x128-sg1x4-k64-rb2-x16",
    "32x128-sg1x4-k64-rb-x16",
    "64x128-sg1x4-k32-rb-uf-pc-x16",
  ]);
  // With robustness the matrix offsets are clamped (Tint's predicates provably true), without they are not.
  assert.ok(tensorCoreLayouts(fakeDevice(48 * 1024), "argument", true).every((l) => l.clampOffsets === true));
  assert.ok(tensorCoreLayouts(fakeDevice(48 * 1024), "argument", false).every((l) => l.clampOffsets === undefined));
  assert.deepEqual(names(48 * 1024, false), [
    "128x128-sg2x2-rb-uf-pc-x16-p8",
    "64x128-sg2x2-rb-x16-p8",
    "16x128-sg1x4-k64-rb2-x16-p8",
    "32x128-sg1x4-k64-rb-x16-p8",
    "64x128-sg1x4-k32-rb-uf-pc-x16-p8",
  ]);
  // 20,000 bytes: the 128×128 tile needs 20,512 with 40-half rows, the skinny 16- and 32-row tiles 20,768 and
  // 23,072 with 72-half rows; the 64×128 ones 15,392.
  assert.deepEqual(names(20_000, false), ["64x128-sg2x2-rb-x16-p8", "64x128-sg1x4-k32-rb-uf-pc-x16-p8"]);
  for (const layout of tensorCoreLayouts(fakeDevice(20_000), "argument", false)) assert.ok(layout.workgroupBytes <= 20_000);
  // 16 KiB still holds the 64×128 tiles; 15 KiB nothing.
  assert.deepEqual(names(16 * 1024, false), ["64x128-sg2x2-rb-x16-p8", "64x128-sg1x4-k32-rb-uf-pc-x16-p8"]);
  assert.deepEqual(names(15 * 1024, false), []);
});
