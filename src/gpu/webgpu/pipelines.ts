/// <reference types="@webgpu/types" />

export interface CachedPipeline {
  readonly key: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/**
 * Compute pipelines by kernel variant. A key names everything that changes the WGSL (kernel, weight dtype,
 * KV dtype, baked constants such as head size), so each variant is compiled once per device. Compilation
 * errors are caught in an error scope and reported at the next `read` (see `takeErrors`).
 */
export class PipelineCache {
  private readonly pipelines = new Map<string, CachedPipeline>();
  private pendingChecks: Promise<string | null>[] = [];
  private pendingWarnings: Promise<string[]>[] = [];
  /** Kernels compiled and the host time createShaderModule + createComputePipeline took for them (Dawn compiles there). */
  private readonly compiledKeys: string[] = [];
  private compileMs = 0;

  /**
   * Whether kernels may use subgroup operations (`enable subgroups;`): the device's `subgroups` feature.
   * Tests turn it off to exercise the workgroup-memory fallbacks; kernels put it in their pipeline keys.
   */
  useSubgroups: boolean;

  /** The device's maxComputeWorkgroupStorageSize (kernels with a choice of layouts pick one that fits). */
  readonly maxWorkgroupBytes: number;
  /** The device's maxComputeInvocationsPerWorkgroup. */
  readonly maxInvocations: number;
  /** The device's maxStorageBuffersPerShaderStage (kernels with optional bindings check they fit). */
  readonly maxStorageBuffers: number;
  /**
   * The adapter's smallest subgroup size, null where the runtime does not say (`device.adapterInfo` is recent):
   * kernels that split a subgroup into fixed groups of lanes need a lower bound.
   */
  readonly subgroupMinSize: number | null;
  /**
   * Whether subgroups were probed to be consecutive runs of a 1-D workgroup (kernels/subgroup-layout-probe.ts), which
   * kernels that hand fixed groups of lanes one task rely on; false when not probed.
   */
  readonly consecutiveSubgroups: boolean;

  constructor(
    private readonly device: GPUDevice,
    options: { consecutiveSubgroups?: boolean } = {},
  ) {
    this.consecutiveSubgroups = options.consecutiveSubgroups ?? false;
    this.useSubgroups = device.features.has("subgroups");
    this.maxWorkgroupBytes = device.limits.maxComputeWorkgroupStorageSize;
    this.maxInvocations = device.limits.maxComputeInvocationsPerWorkgroup;
    this.maxStorageBuffers = device.limits.maxStorageBuffersPerShaderStage;
    this.subgroupMinSize = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo?.subgroupMinSize ?? null;
  }

  /** Whether a kernel variant was compiled (tests check which path a step took). */
  has(key: string): boolean {
    return this.pipelines.has(key);
  }

  get(key: string, source: () => string): CachedPipeline {
    const cached = this.pipelines.get(key);
    if (cached) return cached;
    const started = performance.now();
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ code: source(), label: key });
    const pipeline = this.device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: key });
    this.compiledKeys.push(key);
    this.compileMs += performance.now() - started;
    this.pendingChecks.push(this.device.popErrorScope().then((error) => (error ? `compiling kernel ${key}: ${error.message}` : null)));
    // Dawn prints a shader's warnings on stdout, where they would corrupt machine-readable output: kept here
    // so tests can insist there are none.
    this.pendingWarnings.push(
      module
        .getCompilationInfo()
        .then((info) =>
          info.messages.filter((m) => m.type !== "error").map((m) => `kernel ${key}: ${m.type}: ${m.message} (line ${m.lineNum})`),
        ),
    );
    const entry: CachedPipeline = { key, pipeline, layout: pipeline.getBindGroupLayout(0) };
    this.pipelines.set(key, entry);
    return entry;
  }

  get size(): number {
    return this.pipelines.size;
  }

  /** Kernels compiled so far, their keys in order, and the host milliseconds compilation took (steps wait for it). */
  get compiled(): { kernels: number; ms: number; keys: readonly string[] } {
    return { kernels: this.compiledKeys.length, ms: this.compileMs, keys: this.compiledKeys };
  }

  /** How many kernels were compiled since the last call, and their compiler warnings and notes. */
  async takeWarnings(): Promise<{ kernels: number; warnings: string[] }> {
    const pending = this.pendingWarnings;
    this.pendingWarnings = [];
    return { kernels: pending.length, warnings: (await Promise.all(pending)).flat() };
  }

  /** Messages of compilation errors since the last call. */
  async takeErrors(): Promise<string[]> {
    if (this.pendingChecks.length === 0) return [];
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    return (await Promise.all(checks)).filter((message): message is string => message !== null);
  }
}
