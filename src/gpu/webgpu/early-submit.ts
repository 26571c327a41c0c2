/// <reference types="@webgpu/types" />
import type { EarlySubmit } from "./recorder.js";
import { SwallowError } from "../../errors.js";
import { envVar } from "./env.js";

/**
 * Dispatches per piece of a step submitted early, the last size repeating. A step sent to an idle queue would
 * otherwise wait for its whole encoding (~15 µs of host time per dispatch through Dawn's Node binding: 4.5–7.7 ms
 * for a 128-token prefill of 8B, against 15.7 ms of GPU time) and its whole submit (where Dawn records the Vulkan
 * commands: ~1 ms) before the device starts. A dispatch runs longer on the device than it takes to encode, so after
 * a small first piece the device stays ahead of the host. H200 (bench/NOTES.md, session 25), 8B, one process each,
 * pieces off / 8,16,32,64 / 2,8,32,128 / 16,32,64,128: a 128-token prefill 25.8 / 23.6 / 23.6 / 24.2 ms, 512 tokens
 * 56.5 / 53.6 / 51.9 / 52.0, serial batch-1 decode steps 8.96 / 7.95 / 6.96 / 8.15 ms; the engine's time to first
 * token (128-token prompt) 28.1, 23.4 → 22.4, 21.3 ms with 8,16,32,64.
 */
export const EARLY_SUBMIT_CHUNKS: readonly number[] = [2, 8, 32, 128];

/**
 * The pieces steps sent to an idle queue are submitted in: EARLY_SUBMIT_CHUNKS, or SWALLOW_EARLY_SUBMIT's sizes
 * ("8,32,…", for A/B runs); null for "off" (one submit after the whole step is encoded).
 */
export function earlySubmitChunks(): readonly number[] | null {
  const value = envVar("SWALLOW_EARLY_SUBMIT");
  if (value === undefined || value === "") return EARLY_SUBMIT_CHUNKS;
  if (value === "off") return null;
  const sizes = value.split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new SwallowError(`SWALLOW_EARLY_SUBMIT must be "off" or dispatch counts like "8,16,32,64", got "${value}"`);
  }
  return sizes;
}

/** Submits each piece of a step as the recorder finishes it, and times the submits. */
export class PieceSubmitter implements EarlySubmit {
  /** The encoder the step's next commands go to. */
  current: GPUCommandEncoder;
  /** Host time (ms) of the first submit: when the device could start. */
  firstSubmitAt = Number.NaN;
  /** Host time (ms) spent in queue.submit, all pieces together. */
  submitMs = 0;
  pieces = 0;

  constructor(
    private readonly device: GPUDevice,
    readonly chunks: readonly number[],
  ) {
    this.current = device.createCommandEncoder({ label: "step" });
  }

  flush(encoder: GPUCommandEncoder): GPUCommandEncoder {
    this.submit(encoder);
    this.current = this.device.createCommandEncoder({ label: "step (continued)" });
    return this.current;
  }

  /** Finishes and submits `encoder` (the last piece goes through here too). */
  submit(encoder: GPUCommandEncoder): void {
    const commands = encoder.finish();
    const start = performance.now();
    this.device.queue.submit([commands]);
    if (Number.isNaN(this.firstSubmitAt)) this.firstSubmitAt = start;
    this.submitMs += performance.now() - start;
    this.pieces++;
  }
}
