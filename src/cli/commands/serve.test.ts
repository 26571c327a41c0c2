import test from "node:test";
import assert from "node:assert/strict";
import type { Backend } from "../../gpu/backend.js";
import { serverMaxNumSeqs } from "./serve.js";

test("serve's --max-num-seqs default: vLLM's 256 where the kernels batch (a preferred pass size), else 64", () => {
  assert.equal(serverMaxNumSeqs({ preferredBatchTokens: 2048 } as Backend), 256);
  assert.equal(serverMaxNumSeqs({ preferredBatchTokens: undefined } as Backend), 64);
  assert.equal(serverMaxNumSeqs({} as Backend), 64);
});
