/**
 * Slows Dawn's device polling in Node from a busy spin to one turn per millisecond.
 *
 * While any map, work-done or error-scope promise is pending, the `webgpu` package's AsyncRunner polls the device by
 * calling the global `setImmediate` with a new native function on every turn (its source notes "TODO: Create once,
 * reuse"). On the H100 serving benchmark (bench/NOTES.md, session 15) that loop took 15 s of the main thread's
 * 38 s and made 59% of the process's garbage (1.7 GB of 3.7 GB sampled in 30 s), whose full collections pause
 * the host for 70–130 ms every 2–4 s. A step's read is asked for only near its predicted end (ReadPacer), so a
 * poll every millisecond finds it done at most ~1 ms later, while the device keeps running the next step.
 *
 * A step predicted to take less than SLOW_POLL_FROM_MS (`pollFor`; a batch-1 decode step, ~6.4 ms on the H100) keeps
 * Dawn's spin, whose promptness its pipeline needs: with every wait slowed, decode batch 1 measured 152.7 tok/s
 * against 155.0 with the spin (same call). A step of unknown length (a serving run's mixed steps, whose shapes seldom
 * repeat; an idle engine's first step) is polled slowly: with those spinning, serving at 256 gained 3% instead of 7%.
 *
 * The binding's callbacks are told apart by being native functions; every JS callback (the engine's yields, other
 * libraries) still runs at once. A native callback from elsewhere (a bound function or a promise's resolve passed
 * straight to the global setImmediate) would be delayed by up to the interval too, which is harmless but slower:
 * this project passes arrow functions. Node only (browsers have no setImmediate and poll on their own).
 */

import { SwallowError } from "../../errors.js";
import { envVar } from "./env.js";

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

/** The default poll interval (ms); SWALLOW_DAWN_POLL_MS overrides it (0: Dawn's own spin, for A/B runs). */
export const DAWN_POLL_MS = 1;

/** The poll interval (ms): SWALLOW_DAWN_POLL_MS, else DAWN_POLL_MS; 0 keeps Dawn's own spin. */
export function dawnPollMs(): number {
  const value = envVar("SWALLOW_DAWN_POLL_MS");
  if (value === undefined || value === "") return DAWN_POLL_MS;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0) throw new SwallowError(`SWALLOW_DAWN_POLL_MS must be a number of milliseconds ≥ 0, got "${value}"`);
  return ms;
}

/** Steps predicted to take less than this (ms) keep Dawn's spin; longer ones, and those of unknown length, are polled every interval. */
export const SLOW_POLL_FROM_MS = 10;

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

function isNative(callback: unknown): boolean {
  return typeof callback === "function" && NATIVE.test(Function.prototype.toString.call(callback));
}

let restore: (() => void) | null = null;
/** Whether native callbacks wait for the interval now (pollFor). */
let slow = true;

/**
 * Before waiting for a step's results: spin if the step is predicted to take less than SLOW_POLL_FROM_MS, else (longer,
 * or unknown: `predictedMs` 0) poll every interval.
 */
export function pollFor(predictedMs: number): void {
  slow = !(predictedMs > 0 && predictedMs < SLOW_POLL_FROM_MS);
}

/**
 * Routes native callbacks of the global setImmediate through `setTimeout(callback, intervalMs)` (idempotent; a
 * later call with another interval replaces the first). Returns a function that puts the original back (tests).
 */
export function throttleDawnPolling(intervalMs = DAWN_POLL_MS): () => void {
  const g = globalThis as { setImmediate?: Immediate };
  restore?.();
  const original = g.setImmediate;
  if (typeof original !== "function" || intervalMs <= 0) return () => {};
  const throttled: Immediate = function (this: unknown, callback, ...args) {
    if (slow && isNative(callback)) return setTimeout(callback, intervalMs, ...args);
    return original.call(this, callback, ...args);
  };
  // Keep util.promisify's hook (and any other property) of Node's setImmediate.
  for (const key of Reflect.ownKeys(original)) {
    if (key === "length" || key === "name" || key === "prototype") continue;
    Object.defineProperty(throttled, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  g.setImmediate = throttled;
  const undo = () => {
    if (g.setImmediate === throttled) g.setImmediate = original;
    if (restore === undo) restore = null;
  };
  restore = undo;
  return undo;
}
