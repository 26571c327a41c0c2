import test from "node:test";
import assert from "node:assert/strict";
import { backendChoice } from "./load.js";

test("backendChoice: tensor cores by default (checked), --tensor-cores / --batch-invariant force them on / off; robustness stays on unless asked", () => {
  assert.deepEqual(backendChoice({}), { tensorCores: undefined, robustness: true });
  assert.deepEqual(backendChoice({ "tensor-cores": true }), { tensorCores: true, robustness: true });
  assert.deepEqual(backendChoice({ "batch-invariant": true }), { tensorCores: false, robustness: true });
  assert.deepEqual(backendChoice({ "no-robustness": true }), { tensorCores: undefined, robustness: false });
  assert.throws(() => backendChoice({ "tensor-cores": true, "batch-invariant": true }), /contradict each other: pass one/);
});
