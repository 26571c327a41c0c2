/**
 * An environment variable where there is one (Node), undefined elsewhere (browsers). The webgpu backend reads a
 * few for benchmarks and the kernel lab (SWALLOW_TENSOR_SPLIT, SWALLOW_TENSOR_MIN_TOKENS, SWALLOW_L2_PREFETCH, …).
 */
export function envVar(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}
