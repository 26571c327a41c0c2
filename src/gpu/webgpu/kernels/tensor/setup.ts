import type { WebGpuDevice } from "../../device.js";
import { defaultLayout, layoutVariant, pickF16Config, TENSOR_VARIANTS, type TensorCoreSetup, type TensorLayout } from "./plan.js";

/**
 * What the tensor-core matmul needs from a device: shader-f16, subgroups, and an f16→f32 subgroup-matrix
 * configuration (Dawn's `chromium-experimental-subgroup-matrix`). Null when any is missing (lavapipe,
 * browsers without the experimental feature).
 */
export function tensorCoreSetup(gpu: WebGpuDevice): TensorCoreSetup | null {
  if (!gpu.features.shaderF16 || !gpu.features.subgroups) return null;
  const config = pickF16Config(gpu.features.subgroupMatrixConfigs);
  const subgroupSize = gpu.adapter.subgroupMaxSize;
  if (!config || !subgroupSize) return null;
  return {
    config,
    subgroupSize,
    maxWorkgroupBytes: gpu.limits.maxComputeWorkgroupStorageSize,
    maxInvocations: gpu.limits.maxComputeInvocationsPerWorkgroup,
  };
}

/**
 * The layout the backend uses: the named variant (SWALLOW_TENSOR_VARIANT, for the kernel lab's end-to-end
 * runs) when it fits, else the default one; null without tensor cores.
 */
export function tensorCoreLayout(gpu: WebGpuDevice, variantName?: string): TensorLayout | null {
  const setup = tensorCoreSetup(gpu);
  if (!setup) return null;
  const name =
    variantName ?? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.SWALLOW_TENSOR_VARIANT;
  const named = name ? TENSOR_VARIANTS.find((v) => v.name === name) : undefined;
  if (named) {
    const layout = layoutVariant(named, setup);
    if (typeof layout !== "string") return layout;
  }
  return defaultLayout(setup);
}
