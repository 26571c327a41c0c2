import { test } from "node:test";
import assert from "node:assert/strict";
import { afterWarmup, warmProcessOnce } from "./warm.js";

test("afterWarmup repeats a pass until the GPU time reaches the minimum, then returns the last pass's time", async () => {
  const times = [90e6, 80e6, 50e6, 40e6, 30e6];
  let calls = 0;
  const last = await afterWarmup(async () => times[calls++], 200);
  assert.equal(calls, 3, "90 + 80 + 50 ms reach 200 ms");
  assert.equal(last, 50e6);
  calls = 0;
  assert.equal(await afterWarmup(async () => [300e6, 7e6][calls++], 200, 2), 7e6, "at least two passes");
  calls = 0;
  assert.ok(Number.isNaN(await afterWarmup(async () => (calls++, NaN), 200, 3)));
  assert.equal(calls, 3, "without timestamps: the minimum number of passes");
});

test("warmProcessOnce repeats the first work it is given for the time asked, and nothing after that", async () => {
  let calls = 0;
  const pass = async () => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  };
  const start = performance.now();
  await warmProcessOnce(pass, 0.05);
  assert.ok(performance.now() - start >= 50, "ran for the 50 ms asked");
  assert.ok(calls >= 2, `${calls} passes`);
  const before = calls;
  await warmProcessOnce(pass, 0.05);
  assert.equal(calls, before, "a second call runs nothing");
});
