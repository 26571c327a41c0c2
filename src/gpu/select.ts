import { SwallowError } from "../errors.js";
import type { Backend } from "./backend.js";
import { ReferenceBackend } from "./reference/backend.js";
import { WebGpuBackend } from "./webgpu/backend.js";
import { gpuDeviceNodesPresent, NO_ADAPTER_MESSAGE, requestWebGpuAdapter, type WebGpuAdapter } from "./webgpu/device.js";

export type BackendName = "cpu" | "webgpu" | "auto";

export const BACKEND_NAMES: readonly BackendName[] = ["cpu", "webgpu", "auto"];

export function parseBackendName(value: string | undefined): BackendName {
  const name = value ?? "auto";
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new SwallowError(`unknown backend "${name}": choose one of ${BACKEND_NAMES.join(", ")}`);
  }
  return name as BackendName;
}

/** The default adapter, or the error saying why there is none (the `webgpu` package failing to load counts). */
async function findAdapter(
  disableRobustness: boolean | undefined,
): Promise<{ adapter: WebGpuAdapter } | { adapter: null; error: SwallowError }> {
  try {
    const adapter = await requestWebGpuAdapter({ disableRobustness });
    return adapter ? { adapter } : { adapter: null, error: new SwallowError(NO_ADAPTER_MESSAGE) };
  } catch (error) {
    if (error instanceof SwallowError) return { adapter: null, error };
    const message = error instanceof Error ? error.message : String(error);
    return { adapter: null, error: new SwallowError(`no WebGPU adapter found: ${message}; use --backend cpu`, { cause: error }) };
  }
}

/**
 * Picks the compute backend. `webgpu` opens the default adapter, software ones (lavapipe, SwiftShader)
 * included, and fails when there is none; `auto` uses WebGPU only on a hardware adapter and falls back to
 * the `cpu` reference otherwise. `log` receives one informational line (stderr in the CLI).
 */
export interface BackendChoice {
  /**
   * WebGPU: tensor-core (subgroup-matrix) matmuls for batches of 3+ tokens — much faster prefill and batched
   * decoding, but a request's logits then depend slightly on what shares its batch (as in vLLM by default).
   * Default (undefined): used where the GPU has them and they pass a start-up check against the reference
   * (WebGpuBackendOptions.batchInvariant "auto"); true: used without the check; false: batch-invariant kernels
   * (`--batch-invariant`, vLLM's VLLM_BATCH_INVARIANT).
   */
  tensorCores?: boolean;
  /**
   * WebGPU in Node (Dawn): false turns off the bounds clamping of every buffer access (Dawn's
   * `disable_robustness`), as native engines run; kernels are then trusted to stay in bounds, which the tests
   * check with robustness on. Default true.
   */
  robustness?: boolean;
}

export async function createBackend(
  name: BackendName,
  log: (line: string) => void = () => {},
  choice: BackendChoice = {},
): Promise<Backend> {
  if (name === "cpu") return new ReferenceBackend();
  if (name === "auto" && (await gpuDeviceNodesPresent()) === false) {
    log("backend: cpu (no GPU device found)");
    return new ReferenceBackend();
  }
  const disableRobustness = choice.robustness === false || undefined; // undefined: the environment's default
  const found = await findAdapter(disableRobustness);
  const adapter = found.adapter;
  if (name === "webgpu" && !found.adapter) throw found.error;
  if (adapter && (name === "webgpu" || !adapter.report.isSoftware)) {
    const backend = await WebGpuBackend.create({
      adapter,
      batchInvariant: choice.tensorCores === undefined ? "auto" : !choice.tensorCores,
      disableRobustness,
    });
    log(`backend: webgpu on ${backend.describe()}`);
    return backend;
  }
  log(
    adapter
      ? `backend: cpu (the WebGPU adapter ${adapter.report.name} is a software one; pass --backend webgpu to use it anyway)`
      : "backend: cpu (no WebGPU adapter found)",
  );
  return new ReferenceBackend();
}
