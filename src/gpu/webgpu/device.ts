/// <reference types="@webgpu/types" />
import { SwallowError } from "../../errors.js";
import { dawnPollMs, throttleDawnPolling } from "./dawn-poll.js";
import { envVar } from "./env.js";
import type { SubgroupMatrixConfig } from "./kernels/tensor/plan.js";

/**
 * WebGPU device acquisition: `navigator.gpu` where the runtime has it (browsers, Deno), else Dawn through
 * the `webgpu` npm package in Node (imported dynamically, so this module has no `node:*` import and loads
 * in a browser). See shared/specs/webgpu.md for the Dawn facts behind the choices here.
 */

export interface WebGpuOptions {
  /**
   * Dawn's `disable_robustness` toggle: no bounds clamping on buffer access (faster). Kernels must then
   * never index out of range, so tests run with robustness on. Node (Dawn) only. Default: off, unless the
   * environment sets SWALLOW_ROBUSTNESS=off (to run the test suite on a GPU without it).
   */
  disableRobustness?: boolean;
  powerPreference?: GPUPowerPreference;
}

/** Whether `options` turn robustness off (the option, else SWALLOW_ROBUSTNESS=off). */
export function robustnessDisabled(options: WebGpuOptions): boolean {
  return options.disableRobustness ?? envVar("SWALLOW_ROBUSTNESS") === "off";
}

/** What the adapter is, for logs and for `--backend auto` (which avoids software adapters). */
export interface AdapterReport {
  /** The device's name as the adapter reports it (e.g. "nvidia-h100-80gb-hbm3"), else its description. */
  name: string;
  /** Driver description (e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)", "NVIDIA: 580.159.04"). */
  description: string;
  vendor: string;
  architecture: string;
  /** A CPU implementation (llvmpipe/lavapipe, SwiftShader, WARP, or flagged as a fallback adapter). */
  isSoftware: boolean;
  features: string[];
  subgroupMinSize: number | null;
  subgroupMaxSize: number | null;
}

/** Optional features the backend uses when the adapter has them. */
export interface DeviceFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /**
   * Subgroup-matrix (tensor-core) configurations when the device was granted Dawn's
   * `chromium-experimental-subgroup-matrix` (exposed by the `allow_unsafe_apis` toggle); else empty.
   */
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

/** The device limits the kernels and buffer code depend on (as granted: the adapter's maximums). */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  minUniformBufferOffsetAlignment: number;
  minStorageBufferOffsetAlignment: number;
}

const REQUESTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

export interface WebGpuAdapter {
  adapter: GPUAdapter;
  report: AdapterReport;
}

export interface WebGpuDevice {
  device: GPUDevice;
  adapter: AdapterReport;
  features: DeviceFeatures;
  limits: DeviceLimits;
}

/**
 * Dawn instances by toggle string. Dawn frees its instance when the object returned by `create()` is
 * garbage-collected, even while adapters and devices made from it are alive (the process then crashes
 * later with a segfault or a futex error), so every instance stays reachable from here and from globalThis
 * for the life of the process.
 */
export const dawnInstances = new Map<string, GPU>();
(globalThis as Record<symbol, unknown>)[Symbol.for("swallow.dawnInstances")] = dawnInstances;

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === "string";
}

function dawnToggles(options: WebGpuOptions): string[] {
  const features = ["allow_unsafe_apis", "vulkan_enable_f16_on_nvidia"];
  // With robustness on, Tint's integer range analysis drops the clamp of every index it can bound (kernels write
  // their hot workgroup indices as min(…, constant) for it: bench/NOTES.md, session 17). Chromium turns it on too.
  if (robustnessDisabled(options)) features.push("disable_robustness");
  else features.push("enable_integer_range_analysis_in_robustness");
  const toggles = [`enable-dawn-features=${features.join(",")}`];
  // Kernel-lab hook: Dawn toggles to turn off (comma-separated), e.g. to compare shader code paths.
  const off = envVar("SWALLOW_DAWN_DISABLE");
  if (off) toggles.push(`disable-dawn-features=${off}`);
  return toggles;
}

async function gpuEntryPoint(options: WebGpuOptions): Promise<GPU> {
  const navigatorGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (navigatorGpu) return navigatorGpu;
  if (!isNode()) {
    throw new SwallowError("no WebGPU adapter found: this runtime has no navigator.gpu; use --backend cpu");
  }
  const toggles = dawnToggles(options);
  const key = toggles.join(" ");
  const existing = dawnInstances.get(key);
  if (existing) return existing;
  // A variable specifier keeps browser bundlers from trying to resolve Dawn's native addon.
  const specifier = "webgpu";
  let dawn: { create(toggles: string[]): GPU };
  try {
    dawn = (await import(specifier)) as typeof dawn;
  } catch (error) {
    throw new SwallowError(
      `no WebGPU adapter found: the \`webgpu\` package (Dawn for Node) did not load (${(error as Error).message}); run npm install, or use --backend cpu`,
      { cause: error },
    );
  }
  const gpu = dawn.create(toggles);
  dawnInstances.set(key, gpu);
  throttleDawnPolling(dawnPollMs());
  return gpu;
}

/**
 * Linux only: whether a GPU device node exists (/dev/dri/renderD*, /dev/nvidia<N>). Without one, Vulkan can
 * offer nothing but a software adapter, and merely asking Dawn prints loader warnings on stderr, so
 * `--backend auto` skips the probe. Null where this cannot be told (other systems, browsers).
 */
export async function gpuDeviceNodesPresent(): Promise<boolean | null> {
  const proc = (globalThis as { process?: { platform?: string } }).process;
  if (!isNode() || proc?.platform !== "linux") return null;
  const specifier = "node:fs/promises";
  const fs = (await import(specifier)) as { readdir(path: string): Promise<string[]> };
  const list = async (dir: string) => fs.readdir(dir).catch(() => [] as string[]);
  const dri = await list("/dev/dri");
  const dev = await list("/dev");
  return dri.some((name) => name.startsWith("renderD")) || dev.some((name) => /^nvidia\d+$/.test(name));
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|\bwarp\b|basic render|software/i;

function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info as Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean };
  const vendor = info.vendor ?? "";
  const architecture = info.architecture ?? "";
  const description = info.description ?? "";
  const name = (info.device ?? "").replace(/-+$/, "") || description || vendor || "unknown adapter";
  const legacyFallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const isSoftware = info.isFallbackAdapter === true || legacyFallback || SOFTWARE_NAMES.test(`${name} ${description} ${architecture}`);
  return {
    name,
    description,
    vendor,
    architecture,
    isSoftware,
    features: [...adapter.features].sort(),
    subgroupMinSize: info.subgroupMinSize ?? null,
    subgroupMaxSize: info.subgroupMaxSize ?? null,
  };
}

/** The default adapter, or null when the runtime has none (e.g. no Vulkan driver installed). */
export async function requestWebGpuAdapter(options: WebGpuOptions = {}): Promise<WebGpuAdapter | null> {
  const gpu = await gpuEntryPoint(options);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? "high-performance" });
  return adapter ? { adapter, report: describeAdapter(adapter) } : null;
}

export const NO_ADAPTER_MESSAGE =
  "no WebGPU adapter found: install a GPU driver with Vulkan (Linux), Metal (macOS) or D3D12 (Windows) support, " +
  "or Mesa's lavapipe for a CPU one (scripts/install-lavapipe.sh); or use --backend cpu";

/**
 * A device with the adapter's largest limits for what the kernels use and the optional features they
 * benefit from (shader-f16, subgroups, timestamp-query).
 */
export async function requestWebGpuDevice({ adapter, report }: WebGpuAdapter): Promise<WebGpuDevice> {
  const wanted = ["shader-f16", "subgroups", "timestamp-query", SUBGROUP_MATRIX_FEATURE] as GPUFeatureName[];
  const requiredFeatures = wanted.filter((feature) => adapter.features.has(feature));
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: "swallow" });
  const limits: DeviceLimits = {
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
    maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: device.limits.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
    minUniformBufferOffsetAlignment: device.limits.minUniformBufferOffsetAlignment,
    minStorageBufferOffsetAlignment: device.limits.minStorageBufferOffsetAlignment,
  };
  const features: DeviceFeatures = {
    shaderF16: device.features.has("shader-f16"),
    subgroups: device.features.has("subgroups"),
    timestampQuery: device.features.has("timestamp-query"),
    subgroupMatrixConfigs: device.features.has(SUBGROUP_MATRIX_FEATURE) ? subgroupMatrixConfigs(adapter) : [],
  };
  return { device, adapter: report, features, limits };
}

const SUBGROUP_MATRIX_FEATURE = "chromium-experimental-subgroup-matrix";

/** `adapter.info.subgroupMatrixConfigs` (Dawn extension; not in @webgpu/types) as plain objects. */
function subgroupMatrixConfigs(adapter: GPUAdapter): SubgroupMatrixConfig[] {
  const info = adapter.info as unknown as { subgroupMatrixConfigs?: Iterable<SubgroupMatrixConfig> };
  return [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({
    componentType: String(c.componentType),
    resultComponentType: String(c.resultComponentType),
    M: Number(c.M),
    N: Number(c.N),
    K: Number(c.K),
  }));
}

/** Adapter + device, or a SwallowError saying how to get one. */
export async function openWebGpu(options: WebGpuOptions = {}): Promise<WebGpuDevice> {
  const adapter = await requestWebGpuAdapter(options);
  if (!adapter) throw new SwallowError(NO_ADAPTER_MESSAGE);
  return requestWebGpuDevice(adapter);
}

/** One line for logs: "nvidia-h100-80gb-hbm3 [NVIDIA: 580.159.04] (hardware, shader-f16, subgroups)". */
export function describeDevice(gpu: WebGpuDevice): string {
  const traits = [gpu.adapter.isSoftware ? "software" : "hardware"];
  if (gpu.features.shaderF16) traits.push("shader-f16");
  if (gpu.features.subgroups) traits.push("subgroups");
  if (gpu.features.subgroupMatrixConfigs.length > 0) traits.push("subgroup-matrix");
  const driver = gpu.adapter.description && gpu.adapter.description !== gpu.adapter.name ? ` [${gpu.adapter.description}]` : "";
  return `${gpu.adapter.name}${driver} (${traits.join(", ")})`;
}
