import test from "node:test";
import assert from "node:assert/strict";
import { backendChoice } from "./load.js";

test("backendChoice: --tensor-cores and --no-robustness reach createBackend; robustness stays on unless asked", () => {
  assert.deepEqual(backendChoice({}), { tensorCores: undefined, robustness: true });
  assert.deepEqual(backendChoice({ "tensor-cores": true }), { tensorCores: true, robustness: true });
  assert.deepEqual(backendChoice({ "no-robustness": true }), { tensorCores: undefined, robustness: false });
});
