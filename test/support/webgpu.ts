import { SwallowError } from "../../src/errors.js";
import { WebGpuBackend } from "../../src/gpu/webgpu/backend.js";

/**
 * The default WebGPU backend for tests, or the reason to skip them when the machine has no adapter.
 * With SWALLOW_REQUIRE_WEBGPU=1 (CI, which installs lavapipe) a missing adapter is an error instead.
 */
export async function openTestBackend(): Promise<{ backend: WebGpuBackend | null; skip: string | false }> {
  try {
    return { backend: await WebGpuBackend.create(), skip: false };
  } catch (error) {
    const noAdapter = error instanceof SwallowError && error.message.startsWith("no WebGPU adapter found");
    if (!noAdapter || process.env.SWALLOW_REQUIRE_WEBGPU === "1") throw error;
    return { backend: null, skip: error.message };
  }
}
