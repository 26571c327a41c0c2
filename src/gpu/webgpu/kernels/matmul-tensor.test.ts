import { test } from "node:test";
import assert from "node:assert/strict";
import { tensorMatmulSource } from "./matmul-tensor.js";
import { layoutVariant, TENSOR_VARIANTS, type TensorCoreSetup, type TensorLayout } from "./tensor/plan.js";

// The kernel only compiles where Dawn has subgroup matrices (not on lavapipe): these tests read its WGSL text. What it
// computes is tested on a GPU that has them (test/webgpu-tensor.test.ts, bench/matmul-lab.ts --check).
const SETUP: TensorCoreSetup = {
  config: { componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 },
  subgroupSize: 32,
  maxWorkgroupBytes: 49152,
  maxInvocations: 1024,
};

function layoutOf(name: string): TensorLayout {
  const variant = TENSOR_VARIANTS.find((v) => v.name === name);
  assert.ok(variant, `no variant ${name}`);
  const layout = layoutVariant(variant, SETUP);
  assert.ok(typeof layout !== "string", `${name}: ${layout}`);
  return layout;
}

/** The WGSL text of function `name`, from its `fn` to its closing brace at the start of a line. */
function functionText(source: string, name: string): string {
  const start = source.indexOf(`fn ${name}(`);
  assert.ok(start >= 0, `no fn ${name}`);
  return source.slice(start, source.indexOf("\n}\n", start) + 2);
}

/** Register bank i's suffix: "" for the first, then "2", "3", … */
const bank = (i: number) => (i === 0 ? "" : String(i + 1));

test("a prefetch depth of D keeps D register banks in rotation: slice s comes in bank s mod D, and s + D is fetched into it", () => {
  for (const [name, depth] of [
    ["16x128-sg1x4-k64-rb2-x16", 2],
    ["16x128-sg1x4-k64-rb3-x16", 3],
    ["16x128-sg1x4-k64-rb4-x16", 4],
    ["32x128-sg1x4-k64-rb3-x16", 3],
  ] as const) {
    for (const parts of [1, 2]) {
      const source = tensorMatmulSource(layoutOf(name), "bf16", parts);
      const banks = Array.from({ length: depth }, (_, i) => bank(i));
      const label = `${name}, ${parts} part(s)`;
      // Each bank declared once, with its own fetch (per part) and stage functions.
      for (const b of banks.slice(1)) {
        assert.equal(source.split(`var<private> xr${b}: `).length - 1, 1, `${label}: xr${b}`);
        assert.equal(source.split(`var<private> wr${b}: `).length - 1, 1, `${label}: wr${b}`);
        const stage = functionText(source, `stage${b}`);
        assert.ok(stage.includes(`wr${b}[`) && stage.includes(`xr${b}[`), `${label}: stage${b} reads bank ${b}`);
        assert.ok(!stage.includes("wr[") && !stage.includes("xr["), `${label}: stage${b} reads only bank ${b}`);
      }
      assert.ok(!source.includes(`var<private> xr${bank(depth)}:`), `${label}: no bank beyond ${depth}`);
      // Each part's K loop (part 0's fetch is fetch / fetch2 …, part 1's fetch1 / fetch12 …).
      for (let p = 0; p < parts; p++) {
        const fetchName = (b: string) => (parts > 1 ? `fetch${p}${b}` : `fetch${b}`);
        for (const b of banks) assert.ok(source.includes(`fn ${fetchName(b)}(m0: u32`), `${label}: ${fetchName(b)}`);
        // Before the loop: slices sliceBegin + 1 … + D − 1 into banks 2 … D.
        const prologue = [...source.matchAll(/if \(sliceBegin \+ (\d)u < sliceEnd\) \{ (\w+)\(/g)].filter((m) =>
          m[2].startsWith(fetchName("")),
        );
        assert.deepEqual(
          prologue.map((m) => [Number(m[1]), m[2]]),
          banks.slice(1).map((b, i) => [i + 1, fetchName(b)]),
          `${label}, part ${p}: prologue`,
        );
        // In the loop, step i: slice s + D into bank i (whose slice s was staged), then bank i + 1 (slice s + 1) staged.
        const fetches = [...source.matchAll(/if \(s \+ (\d)u < sliceEnd\) \{ (\w+)\(m0/g)].filter((m) => m[2].startsWith(fetchName("")));
        assert.deepEqual(
          fetches.map((m) => [Number(m[1]), m[2]]),
          banks.map((b) => [depth, fetchName(b)]),
          `${label}, part ${p}: loop fetches`,
        );
      }
      const stages = [...source.matchAll(/if \(s \+ 1u < sliceEnd\) \{ (stage\d?)\(0u/g)].map((m) => m[1]);
      assert.deepEqual(
        stages,
        Array.from({ length: parts }, () => banks.map((_, i) => `stage${bank((i + 1) % depth)}`)).flat(),
        `${label}: loop stages`,
      );
      assert.ok(source.includes(`s0 += ${depth}u`), `${label}: the loop steps by ${depth}`);
    }
  }
});

test("without a prefetch depth the kernel keeps one register bank and no unrolled loop", () => {
  const source = tensorMatmulSource(layoutOf("32x128-sg1x4-k64-rb-x16"), "bf16");
  assert.ok(!source.includes("xr2") && !source.includes("fetch2") && !source.includes("s0 +="));
});
