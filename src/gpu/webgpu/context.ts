/// <reference types="@webgpu/types" />
import type { WeightDtype } from "../../model/dtype.js";
import type { Weight } from "../backend.js";
import type { PipelineCache } from "./pipelines.js";
import type { GpuActivation, Resource, StepRecorder } from "./recorder.js";
import type { KvDtype } from "./wgsl.js";

/** What a kernel's dispatch function needs: the pipeline cache and the step being recorded. */
export interface KernelContext {
  readonly pipelines: PipelineCache;
  readonly recorder: StepRecorder;
}

/**
 * The right operand of a matmul (y = x · Wᵀ, W [N, K]): a weight, or one of the step's activations holding
 * 16-bit values (the prefill attention's gathered K and V), bound through `resource`.
 */
export interface MatmulOperand {
  readonly name: string;
  readonly dtype: WeightDtype;
  readonly shape: readonly number[];
  readonly resource: Resource;
}

/** A weight resident on the GPU in its stored precision (bf16/f16 as packed u32 pairs). */
export class GpuWeight implements Weight {
  constructor(
    readonly name: string,
    readonly dtype: WeightDtype,
    readonly shape: readonly number[],
    readonly buffer: GPUBuffer,
    /** Bytes bound (the stored bytes rounded up to whole words). */
    readonly size: number,
    /** f32 copy of a small 1-D weight (RoPE frequencies) for tables built on the host; else null. */
    readonly host: Float32Array | null,
  ) {}

  get resource(): Resource {
    return { kind: "buffer", buffer: this.buffer, size: this.size };
  }
}

/** One layer's K and V pages: `[numBlocks * blockSize, numKvHeads * headDim]` each, in `dtype`. */
export interface GpuKvLayer {
  keys: GPUBuffer;
  values: GPUBuffer;
  size: number;
}

/** An activation as a binding: its whole pooled buffer, which holds its capacityRows (see StepRecorder.bindGroupFor). */
export function activationResource(activation: GpuActivation): Resource {
  return { kind: "activation", activation };
}

/** Uniform parameters as u32 words (f32 fields packed with f32Bits). */
export function uniform(...words: number[]): Resource {
  return { kind: "uniform", words: Uint32Array.from(words) };
}

export type { KvDtype };
