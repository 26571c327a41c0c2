import type { WebGpuDevice } from "../../device.js";
import { envVar } from "../../env.js";
import {
  layoutVariant,
  pickF16Config,
  TENSOR_TILE_CLASSES,
  TENSOR_VARIANTS,
  unclampedVariant,
  type MajornessSyntax,
  type TensorCoreSetup,
  type TensorLayout,
  type TensorVariant,
} from "./plan.js";

/**
 * What the tensor-core matmul needs from a device: shader-f16, subgroups, and an f16→f32 subgroup-matrix
 * configuration (Dawn's `chromium-experimental-subgroup-matrix`). Null when any is missing (lavapipe,
 * browsers without the experimental feature).
 */
export function tensorCoreSetup(gpu: WebGpuDevice, majorness: MajornessSyntax = "argument"): TensorCoreSetup | null {
  if (!gpu.features.shaderF16 || !gpu.features.subgroups) return null;
  const config = pickF16Config(gpu.features.subgroupMatrixConfigs);
  const subgroupSize = gpu.adapter.subgroupMaxSize;
  if (!config || !subgroupSize) return null;
  return {
    config,
    majorness,
    subgroupSize,
    maxWorkgroupBytes: gpu.limits.maxComputeWorkgroupStorageSize,
    maxInvocations: gpu.limits.maxComputeInvocationsPerWorkgroup,
  };
}

/** Read once: SWALLOW_TENSOR_CLAMP=off leaves the matrix-load offsets and staging stores unbounded with robustness (A/B runs). */
const clampSwitch = envVar("SWALLOW_TENSOR_CLAMP") !== "off";

/** Whether tensor kernels clamp their workgroup matrix offsets (TensorLayout.clampOffsets): with robustness only. */
export function tensorClampOffsets(robust: boolean): boolean {
  return robust && clampSwitch;
}

/**
 * The layouts the backend picks from per matmul (layoutForShape), largest tile first: the named variant alone
 * when SWALLOW_TENSOR_VARIANT is set, else the TENSOR_TILE_CLASSES that fit this device (the default layout
 * when none does); empty without tensor cores. `robust` false (a device without robustness): each with the row
 * padding that loads correctly there (unclampedVariant).
 */
export function tensorCoreLayouts(gpu: WebGpuDevice, majorness?: MajornessSyntax, robust = true): TensorLayout[] {
  const setup = tensorCoreSetup(gpu, majorness);
  if (!setup) return [];
  // Each variant is laid out (and checked against the device's workgroup memory) with the padding it runs with.
  const padded = (variant: TensorVariant) => {
    const layout = layoutVariant(robust ? variant : unclampedVariant(variant), setup);
    return typeof layout === "string" || !tensorClampOffsets(robust) ? layout : { ...layout, clampOffsets: true };
  };
  const fits = (layout: TensorLayout | string): layout is TensorLayout => typeof layout !== "string";
  const name = envVar("SWALLOW_TENSOR_VARIANT");
  const named = name ? TENSOR_VARIANTS.filter((v) => v.name === name && v.ablate === undefined) : null;
  const chosen =
    named ?? TENSOR_TILE_CLASSES.map((className) => TENSOR_VARIANTS.find((v) => v.name === className)).filter((v) => v !== undefined);
  const layouts = chosen.map(padded).filter(fits);
  if (layouts.length > 0) return layouts;
  // Neither the named variant nor a tile class fits: the first variant that does (defaultLayout's rule).
  const fallback = TENSOR_VARIANTS.map(padded).find(fits);
  return fallback ? [fallback] : [];
}
