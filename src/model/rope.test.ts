import test from "node:test";
import assert from "node:assert/strict";
import { ropeInverseFrequencies } from "./rope.js";

// Values from shared/specs/llama3.md §2.2, computed independently in float64 for d=128, theta=5e5:
// indices 0–28 unscaled, 29–34 smoothed, 35–63 divided by 8.
const llama31 = {
  headDim: 128,
  ropeTheta: 500000,
  ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
} as const;

test("llama3 scaling matches the published Llama 3.1 inverse frequencies", () => {
  const inv = ropeInverseFrequencies(llama31);
  const expected = [2.16657e-3, 1.37189e-3, 8.56751e-4, 5.24846e-4, 3.12694e-4, 1.78508e-4];
  expected.forEach((value, j) => assert.ok(Math.abs(inv[29 + j] / value - 1) < 1e-5, `inv_freq[${29 + j}] = ${inv[29 + j]}`));
  assert.ok(Math.abs(inv[63] / 3.06893e-7 - 1) < 1e-5, `inv_freq[63] = ${inv[63]}`);
  for (let i = 0; i <= 28; i++) assert.ok(Math.abs(inv[i] / 500000 ** (-(2 * i) / 128) - 1) < 1e-6);
  for (let i = 35; i < 64; i++) assert.ok(Math.abs(inv[i] / (500000 ** (-(2 * i) / 128) / 8) - 1) < 1e-6);
});

test("default rope is theta^(-2i/d)", () => {
  const inv = ropeInverseFrequencies({ headDim: 16, ropeTheta: 10000, ropeScaling: { type: "default" } });
  assert.equal(inv.length, 8);
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(inv[i] - 10000 ** (-(2 * i) / 16)) < 1e-7);
});
