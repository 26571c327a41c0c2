import { test } from "node:test";
import assert from "node:assert/strict";
import { probeOperands, probeSource, smallIntF16Bits } from "./majorness-probe.js";
import { matrixLoad, matrixStoreRowMajor, type SubgroupMatrixConfig } from "./plan.js";

const CONFIG: SubgroupMatrixConfig = { componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 };

test("matrixLoad / matrixStoreRowMajor write Dawn's template form and the older argument form", () => {
  assert.equal(matrixLoad("template", "L", "&xs", "o", false, "S"), "subgroupMatrixLoad<L, row_major>(&xs, o, S)");
  assert.equal(matrixLoad("template", "R", "&ws", "o", true, "S"), "subgroupMatrixLoad<R, col_major>(&ws, o, S)");
  assert.equal(matrixLoad("argument", "L", "&xs", "o", false, "S"), "subgroupMatrixLoad<L>(&xs, o, false, S)");
  assert.equal(matrixLoad("argument", "R", "&ws", "o", true, "S"), "subgroupMatrixLoad<R>(&ws, o, true, S)");
  assert.equal(matrixStoreRowMajor("template", "&y", "o", "m", "n"), "subgroupMatrixStore<row_major>(&y, o, m, n)");
  assert.equal(matrixStoreRowMajor("argument", "&y", "o", "m", "n"), "subgroupMatrixStore(&y, o, m, false, n)");
});

test("the probe multiplies with the template form from both address spaces and stores both products", () => {
  const source = probeSource(CONFIG, 32);
  assert.equal((source.match(/subgroupMatrixLoad<[^>]*>, row_major>/g) ?? []).length, 2);
  assert.equal((source.match(/subgroupMatrixLoad<[^>]*>, col_major>/g) ?? []).length, 2);
  assert.equal((source.match(/subgroupMatrixStore<row_major>/g) ?? []).length, 2);
  for (const pointer of ["&aw", "&a,", "&b,", "&bw"]) assert.ok(source.includes(`(${pointer}`), pointer);
  assert.ok(!/, (true|false), /.test(source), "no argument-form layout flags");
});

test("the probe's operands are small integers whose product is exact, computed independently here", () => {
  const { a, b, expected } = probeOperands(CONFIG);
  assert.equal(a.length, 256);
  assert.equal(b.length, 256);
  assert.equal(expected.length, 2 * 256);
  assert.ok(a.every((v) => Number.isInteger(v) && Math.abs(v) <= 4) && b.every((v) => Number.isInteger(v) && Math.abs(v) <= 3));
  assert.ok(new Set(a).size > 3 && new Set(b).size > 3, "operands must vary");
  // y[m][n] = Σ_k a[m][k] · b[n][k] (b is W[N, K]: the right matrix column-major), both halves equal.
  const at = (m: number, n: number) => a.slice(m * 16, m * 16 + 16).reduce((sum, v, k) => sum + v * b[n * 16 + k], 0);
  assert.equal(expected[3 * 16 + 5], at(3, 5));
  assert.equal(expected[256 + 15 * 16 + 0], at(15, 0));
  assert.notEqual(at(3, 5), at(5, 3), "a transposed right matrix must give a different answer");
});

test("smallIntF16Bits gives IEEE half bits", () => {
  // Reference bits of IEEE 754 binary16: 1.0 = 0x3c00, -2 = 0xc000, 3 = 0x4200, 4 = 0x4400, -3 = 0xc200.
  assert.deepEqual([0, 1, -2, 3, 4, -3].map(smallIntF16Bits), [0x0000, 0x3c00, 0xc000, 0x4200, 0x4400, 0xc200]);
});
