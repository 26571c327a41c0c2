/**
 * An environment variable where there is one (Node), undefined elsewhere (browsers). The webgpu backend reads a
 * few for benchmarks and the kernel lab (KERNEL_SWITCHES).
 */
export function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

/**
 * The environment variables that change which kernels the WebGPU backend runs, or how it waits for them (A/B runs
 * and the kernel lab). A benchmark names those that are set, so its report says what it measured (none is a secret, unlike
 * SWALLOW_API_KEY, which is not listed).
 */
export const KERNEL_SWITCHES = [
  "SWALLOW_ROBUSTNESS",
  "SWALLOW_DAWN_DISABLE",
  "SWALLOW_TENSOR_VARIANT",
  "SWALLOW_TENSOR_CLAMP",
  "SWALLOW_TENSOR_SPLIT",
  "SWALLOW_TENSOR_MIN_TOKENS",
  "SWALLOW_TENSOR_MERGE",
  "SWALLOW_TENSOR_ATTENTION",
  "SWALLOW_TENSOR_ATTENTION_KEYS",
  "SWALLOW_TENSOR_ATTENTION_TILES",
  "SWALLOW_TENSOR_ATTENTION_Q",
  "SWALLOW_GEMV_ROWS",
  "SWALLOW_ATTENTION_PER_ROW",
  "SWALLOW_ATTENTION_SEGMENT",
  "SWALLOW_PER_ROW_HEADS",
  "SWALLOW_LANES_WORKGROUP",
  "SWALLOW_LANES_FORMS",
  "SWALLOW_DAWN_POLL_MS",
  "SWALLOW_EARLY_SUBMIT",
] as const;

/** "NAME=value" for each kernel switch set in `env` (default: this process's), in KERNEL_SWITCHES order. */
export function kernelSwitchesSet(env: Record<string, string | undefined> | undefined = processEnv()): string[] {
  return KERNEL_SWITCHES.filter((name) => env?.[name] !== undefined && env[name] !== "").map((name) => `${name}=${env![name]}`);
}

function processEnv(): Record<string, string | undefined> | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
}
