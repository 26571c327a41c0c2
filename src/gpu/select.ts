import { SwallowError } from "../errors.js";
import type { Backend } from "./backend.js";
import { ReferenceBackend } from "./reference/backend.js";

export type BackendName = "cpu" | "webgpu" | "auto";

export const BACKEND_NAMES: readonly BackendName[] = ["cpu", "webgpu", "auto"];

export function parseBackendName(value: string | undefined): BackendName {
  const name = value ?? "auto";
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new SwallowError(`unknown backend "${name}": choose one of ${BACKEND_NAMES.join(", ")}`);
  }
  return name as BackendName;
}

/**
 * Picks the compute backend. `auto` will prefer WebGPU on a hardware adapter once that backend exists;
 * until then it is the `cpu` reference. `log` receives one informational line (stderr in the CLI).
 */
export async function createBackend(name: BackendName, log: (line: string) => void = () => {}): Promise<Backend> {
  if (name === "webgpu") {
    throw new SwallowError("the webgpu backend is not available in this build yet; use --backend cpu");
  }
  if (name === "auto") log("backend: cpu (the WebGPU backend is not available in this build)");
  return new ReferenceBackend();
}
