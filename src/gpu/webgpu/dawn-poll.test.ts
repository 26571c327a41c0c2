import test from "node:test";
import assert from "node:assert/strict";
import { promisify } from "node:util";
import { DAWN_POLL_MS, dawnPollMs, pollFor, SLOW_POLL_FROM_MS, throttleDawnPolling } from "./dawn-poll.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("throttleDawnPolling delays native setImmediate callbacks by the interval and runs JS callbacks at once", async () => {
  const original = globalThis.setImmediate;
  const restore = throttleDawnPolling(250);
  try {
    const calls: string[] = [];
    const started = performance.now();
    let nativeAt = 0;
    // A bound function is native code, as the Dawn binding's Napi functions are.
    const native = Array.prototype.push.bind(calls, "native");
    setImmediate(native);
    setImmediate(() => calls.push("js"));
    setImmediate((tag: string) => (nativeAt = tag === "arg" ? performance.now() : -1), "arg");
    await new Promise<void>((resolve) => original(() => resolve()));
    assert.deepEqual(calls, ["js"]);
    assert.ok(nativeAt > 0, "a JS callback gets its arguments and runs at once");
    await sleep(400);
    assert.deepEqual(calls, ["js", "native"]);
    assert.ok(performance.now() - started >= 250);
    // util.promisify keeps Node's own hook (a promise of the next turn, with its value).
    assert.equal(await promisify(setImmediate)("value"), "value");
  } finally {
    restore();
  }
  assert.equal(globalThis.setImmediate, original);
});

test("throttleDawnPolling with interval 0 leaves setImmediate alone, and installing twice keeps one wrapper", async () => {
  const original = globalThis.setImmediate;
  throttleDawnPolling(0)();
  assert.equal(globalThis.setImmediate, original);
  throttleDawnPolling(5);
  const restore = throttleDawnPolling(10);
  try {
    assert.notEqual(globalThis.setImmediate, original);
  } finally {
    restore();
  }
  assert.equal(globalThis.setImmediate, original);
});

test("pollFor: waits for steps predicted short spin (native callbacks at once), long or unknown ones poll every interval", async () => {
  const original = globalThis.setImmediate;
  const restore = throttleDawnPolling(250);
  const nextTurn = () => new Promise<void>((resolve) => original(() => resolve()));
  try {
    const calls: number[] = [];
    pollFor(SLOW_POLL_FROM_MS - 1);
    setImmediate(Array.prototype.push.bind(calls, 1));
    await nextTurn();
    assert.deepEqual(calls, [1]);
    pollFor(SLOW_POLL_FROM_MS);
    setImmediate(Array.prototype.push.bind(calls, 2));
    await nextTurn();
    assert.deepEqual(calls, [1]);
    pollFor(0); // unknown
    setImmediate(Array.prototype.push.bind(calls, 3));
    await nextTurn();
    assert.deepEqual(calls, [1]);
    await sleep(400);
    assert.deepEqual(calls, [1, 2, 3]);
  } finally {
    pollFor(Infinity);
    restore();
  }
});

test("dawnPollMs reads SWALLOW_DAWN_POLL_MS: unset or empty gives the default, a bad value a one-line error", () => {
  const saved = process.env.SWALLOW_DAWN_POLL_MS;
  try {
    delete process.env.SWALLOW_DAWN_POLL_MS;
    assert.equal(dawnPollMs(), DAWN_POLL_MS);
    process.env.SWALLOW_DAWN_POLL_MS = "";
    assert.equal(dawnPollMs(), DAWN_POLL_MS);
    process.env.SWALLOW_DAWN_POLL_MS = "0";
    assert.equal(dawnPollMs(), 0);
    process.env.SWALLOW_DAWN_POLL_MS = "2.5";
    assert.equal(dawnPollMs(), 2.5);
    process.env.SWALLOW_DAWN_POLL_MS = "fast";
    assert.throws(() => dawnPollMs(), /SWALLOW_DAWN_POLL_MS must be a number of milliseconds ≥ 0, got "fast"/);
  } finally {
    if (saved === undefined) delete process.env.SWALLOW_DAWN_POLL_MS;
    else process.env.SWALLOW_DAWN_POLL_MS = saved;
  }
});
