/// <reference types="@webgpu/types" />
import type { Activation } from "../backend.js";
import { BufferPool, BufferUsage, bucketInputBytes, bucketRows, checkBindable } from "./buffers.js";
import type { DeviceLimits } from "./device.js";
import type { CachedPipeline } from "./pipelines.js";

/**
 * An f32 activation `[rows, cols]` on the GPU. Its buffer comes from the pool when the step that produces
 * it is encoded, and goes back after its last use in that step (see StepRecorder for the lifetime rule).
 */
export class GpuActivation implements Activation {
  buffer: GPUBuffer | null = null;
  state: "pending" | "live" | "freed";
  /**
   * Its f16 copy for the tensor-core matmul, where the kernel that made it wrote one (kernels/tensor/f16-copy.ts):
   * [rows, cols / 2] words of f16 pairs and a flag per row.
   */
  f16Copy: { x16: GpuActivation; rowFlags: GpuActivation } | null = null;

  constructor(
    readonly rows: number,
    readonly cols: number,
    /** The step (number of submitted steps before it) during which this activation was created. */
    readonly step: number,
    state: "pending" | "live",
    /**
     * Rows the buffer holds (≥ rows): a kernel that writes whole tiles (the tensor-core matmul) gets room for
     * the rows past the last one. (Every binding is the whole pooled buffer; kernels take their row counts from
     * uniforms.)
     */
    readonly capacityRows: number = rows,
  ) {
    this.state = state;
  }

  get bytes(): number {
    return this.rows * this.cols * 4;
  }

  get capacityBytes(): number {
    return this.capacityRows * this.cols * 4;
  }

  get isEmpty(): boolean {
    return this.rows * this.cols === 0;
  }
}

/** What one binding of a dispatch refers to, in binding order. */
export type Resource =
  /**
   * `rewrites`: the dispatch writes rows of an activation an earlier dispatch of the step produced (two kernels
   * filling one output): not a consumer.
   */
  | { kind: "activation"; activation: GpuActivation; rewrites?: boolean }
  /** A buffer that outlives the step (weights, KV cache) or one of the step's inputs. */
  | { kind: "buffer"; buffer: GPUBuffer; size: number }
  /** Kernel parameters, packed into the step's uniform arena when the step is encoded. */
  | { kind: "uniform"; words: Uint32Array };

export interface DispatchRecord {
  pipeline: CachedPipeline;
  resources: Resource[];
  workgroups: number;
}

const UNIFORM_CHUNK_BYTES = 64 * 1024;

/**
 * Opt-in GPU timing of steps (timestamp-query): "pass" times the step's one compute pass; "dispatch" encodes
 * one compute pass per dispatch (more overhead) and times each. Off by default.
 */
export type ProfileMode = "off" | "pass" | "dispatch";

/** GPU timestamps of one profiled step: `labels[i]` ran from `ns[2i]` to `ns[2i + 1]` (Dawn quantizes them). */
export interface StepProfile {
  mode: "pass" | "dispatch";
  labels: string[];
  /** Bytes of the long-lived buffers (weights, KV cache) each timed span binds. */
  bufferBytes: number[];
  ns: BigUint64Array;
}

/**
 * Hands a step's commands to the queue in pieces while the rest is still being encoded, so the device starts after the
 * first few dispatches instead of after all of them (an idle queue's step; see WebGpuBackend.prepareRead). `chunks`:
 * the dispatches of each piece in order, the last size repeating; `flush` finishes and submits `encoder` and returns
 * the encoder for the next piece.
 */
export interface EarlySubmit {
  readonly chunks: readonly number[];
  flush(encoder: GPUCommandEncoder): GPUCommandEncoder;
}

/** A profiled step's timestamps in flight (`encode` returns it; `readProfile` reads it). */
export type ProfileTicket = PendingProfile;

interface PendingProfile {
  mode: "pass" | "dispatch";
  labels: string[];
  bufferBytes: number[];
  read: GPUBuffer;
  count: number;
}

/**
 * Records the dispatches of one step (everything between two `read`s) and encodes them in one compute
 * pass when the step is read. Recording first and encoding at the end lets buffers be assigned with
 * liveness: an activation's buffer is taken from the pool at its producing dispatch and returned after its
 * last use, so a forward pass needs its peak working set, not the sum of all activations.
 *
 * Lifetime rule: an activation created in step s is valid until it is consumed in step s (then its buffer
 * is recycled), or — if nothing in step s consumes it (the logits, a read target) — until the end of step
 * s + 1. Using a recycled activation throws.
 */
export class StepRecorder {
  private dispatches: DispatchRecord[] = [];
  private stepBuffers: GPUBuffer[] = [];
  private readonly inputs = new Map<object, Map<string, Resource>>();
  private readonly live = new Set<GpuActivation>();
  private readonly uniformChunks: { buffer: GPUBuffer; staging: Uint32Array }[] = [];
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly uniformStride: number;
  /** Number of steps encoded so far; activations record the step they belong to. */
  stepNumber = 0;
  /** GPU timing of encoded steps (needs the timestamp-query feature); "off" leaves encoding unchanged. */
  profileMode: ProfileMode = "off";
  private querySet: GPUQuerySet | null = null;
  private queryCapacity = 0;
  private resolveBuffer: GPUBuffer | null = null;
  /** Mappable copies of resolved timestamps, one per profiled step in flight (pipelined steps overlap), and spares. */
  private readonly readBuffers: GPUBuffer[] = [];
  /** Profiled steps submitted and not yet read, oldest first (reads complete in submission order). */
  private readonly pendingProfiles: PendingProfile[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly limits: DeviceLimits,
    readonly pool: BufferPool,
  ) {
    this.uniformStride = Math.max(256, limits.minUniformBufferOffsetAlignment);
  }

  get hasPending(): boolean {
    return this.dispatches.length > 0;
  }

  /** An activation a dispatch of this step will produce. Empty ones are live at once and never bound. */
  output(rows: number, cols: number, capacityRows = rows): GpuActivation {
    const activation = new GpuActivation(rows, cols, this.stepNumber, rows * cols === 0 ? "live" : "pending", Math.max(rows, capacityRows));
    checkBindable(this.limits, activation.capacityBytes, `an activation [${rows}, ${cols}]`);
    return activation;
  }

  /** An activation holding host data now (tests and host-side inputs). */
  upload(rows: number, cols: number, data: Float32Array): GpuActivation {
    const activation = new GpuActivation(rows, cols, this.stepNumber, "live");
    if (!activation.isEmpty) {
      activation.buffer = this.pool.acquire(activation.bytes, `an activation [${rows}, ${cols}]`);
      this.device.queue.writeBuffer(activation.buffer, 0, data.buffer, data.byteOffset, rows * cols * 4);
      this.live.add(activation);
    }
    return activation;
  }

  /**
   * A step input built from host data (token ids, positions, block tables, RoPE tables), uploaded once per
   * step for each (owner, tag): every layer's op that passes the same batch array shares one buffer.
   */
  input(owner: object, tag: string, make: () => ArrayBufferView): Resource {
    let byTag = this.inputs.get(owner);
    if (!byTag) this.inputs.set(owner, (byTag = new Map()));
    const cached = byTag.get(tag);
    if (cached) return cached;
    const data = make();
    const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
    const buffer = this.pool.acquire(size, `step input ${tag}`, bucketInputBytes(size));
    if (data.byteLength > 0) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      // writeBuffer copies whole words; pad a tail that is not a multiple of 4 bytes.
      const padded = data.byteLength % 4 === 0 ? bytes : copyPadded(bytes, size);
      this.device.queue.writeBuffer(buffer, 0, padded.buffer, padded.byteOffset, padded.byteLength);
    }
    this.stepBuffers.push(buffer);
    // Bound whole, as activations are (bindGroupFor).
    const resource: Resource = { kind: "buffer", buffer, size: buffer.size };
    byTag.set(tag, resource);
    return resource;
  }

  /** Uploads again every step input made from `owner`'s current values (late-bound inputs; see Backend.prepareRead). */
  rewriteInput(owner: object): void {
    for (const resource of this.inputs.get(owner)?.values() ?? []) {
      if (resource.kind !== "buffer") continue;
      const data = owner as Int32Array;
      const bytes = Math.min(resource.size, data.byteLength);
      if (bytes % 4 !== 0) throw new Error("late-bound step inputs must be whole 4-byte words");
      this.device.queue.writeBuffer(resource.buffer, 0, data.buffer, data.byteOffset, bytes);
    }
  }

  /** Records a dispatch of the step; returns its record (for removeLast), or null when it has no workgroups. */
  dispatch(pipeline: CachedPipeline, resources: Resource[], workgroups: number): DispatchRecord | null {
    for (const resource of resources) {
      if (resource.kind !== "activation") continue;
      const { activation } = resource;
      if (activation.state === "freed") {
        throw new Error(
          `an activation [${activation.rows}, ${activation.cols}] from step ${activation.step} was used after its buffer was recycled ` +
            `(activations live until consumed in their own step, or until the end of the next step)`,
        );
      }
      if (activation.isEmpty) throw new Error(`kernel ${pipeline.key}: empty activations are never bound`);
    }
    if (workgroups === 0) return null;
    const record = { pipeline, resources, workgroups };
    this.dispatches.push(record);
    return record;
  }

  /**
   * Takes `record` back if it is the step's last dispatch (a kernel that would redo its work fused with its own),
   * and says whether it did. Nothing recorded after it can have read its outputs then.
   */
  removeLast(record: DispatchRecord): boolean {
    if (this.dispatches.at(-1) !== record) return false;
    this.dispatches.pop();
    return true;
  }

  /** Checks an activation can still be read. */
  assertReadable(activation: GpuActivation): void {
    if (activation.state === "freed") {
      throw new Error(
        `cannot read an activation [${activation.rows}, ${activation.cols}] of step ${activation.step}: its buffer was recycled ` +
          `(read it before it is consumed, or in the step after it was made)`,
      );
    }
  }

  /** What the recorded step dispatches so far (the backend's ReadPacer tells kinds of step apart by it). */
  get pendingShape(): { dispatches: number; workgroups: number } {
    return { dispatches: this.dispatches.length, workgroups: this.dispatches.reduce((sum, d) => sum + d.workgroups, 0) };
  }

  /**
   * Encodes the recorded step into `encoder` as one compute pass, assigning activation buffers by
   * liveness and keeping `target` alive. Writes the step's uniforms to the queue (they land before the
   * submit that follows). Call `finishStep` after submitting. With `early` (not while profiling), the pass is
   * cut into pieces that `early.flush` submits as they are encoded; the step's last commands stay in the encoder
   * `early.flush` last returned.
   */
  encode(encoder: GPUCommandEncoder, target: GpuActivation, early?: EarlySubmit): ProfileTicket | null {
    try {
      if (early && this.profileMode !== "off") throw new Error("a profiled step is encoded as one pass, not submitted early");
      return this.encodeStep(encoder, target, early);
    } finally {
      this.dispatches = [];
      this.stepNumber++;
    }
  }

  private encodeStep(encoder: GPUCommandEncoder, target: GpuActivation, early: EarlySubmit | undefined): ProfileTicket | null {
    const step = this.stepNumber;
    const lastUse = new Map<GpuActivation, number>();
    const references = new Map<GpuActivation, number>();
    this.dispatches.forEach((record, index) => {
      for (const resource of record.resources) {
        if (resource.kind !== "activation") continue;
        lastUse.set(resource.activation, index);
        if (!resource.rewrites) references.set(resource.activation, (references.get(resource.activation) ?? 0) + 1);
      }
    });
    // Which activations keep their buffer after this step: the read target, and this step's activations
    // that nothing in the step consumes (a pending one's first reference is its producer).
    const kept = new Set<GpuActivation>([target]);
    for (const [activation, count] of references) {
      const consumers = activation.state === "pending" ? count - 1 : count;
      if (activation.step === step && consumers === 0) kept.add(activation);
    }
    const uniforms = this.packUniforms();
    const profile = this.profileMode;
    const perDispatch = profile === "dispatch";
    if (profile !== "off") this.ensureQueries(perDispatch ? this.dispatches.length * 2 : 2);
    const labels: string[] = [];
    const bufferBytes: number[] = [];
    let pass =
      profile === "pass"
        ? encoder.beginComputePass({
            label: `step ${step}`,
            timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
          })
        : perDispatch
          ? null!
          : encoder.beginComputePass({ label: `step ${step}` });
    if (profile === "pass") {
      labels.push(`step (${this.dispatches.length} dispatches)`);
      bufferBytes.push(0);
    }
    let uniformIndex = 0;
    let piece = 0;
    let pieceEnd = early?.chunks[0] ?? Infinity;
    this.dispatches.forEach((record, index) => {
      if (perDispatch) {
        let bytes = 0;
        for (const resource of record.resources) if (resource.kind === "buffer" && resource.size >= 1 << 20) bytes += resource.size;
        labels.push(record.pipeline.key);
        bufferBytes.push(bytes);
        pass = encoder.beginComputePass({
          label: record.pipeline.key,
          timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 },
        });
      }
      const entries: GPUBindGroupEntry[] = record.resources.map((resource, binding) => {
        switch (resource.kind) {
          case "activation": {
            const activation = resource.activation;
            if (activation.state === "pending") {
              activation.buffer = this.acquireBucketed(activation);
              activation.state = "live";
            }
            // The whole pooled buffer, not the activation's rows: its binding (and so its bind group) is then the
            // same whatever the step's row count (see bindGroupFor).
            return { binding, resource: { buffer: activation.buffer!, offset: 0, size: activation.buffer!.size } };
          }
          case "buffer":
            return { binding, resource: { buffer: resource.buffer, offset: 0, size: resource.size } };
          case "uniform":
            return { binding, resource: uniforms[uniformIndex++] };
        }
      });
      const bindGroup = this.bindGroupFor(record.pipeline, entries);
      pass.setPipeline(record.pipeline.pipeline);
      pass.setBindGroup(0, bindGroup);
      const [x, y] = this.grid(record.workgroups);
      pass.dispatchWorkgroups(x, y);
      if (perDispatch) pass.end();
      for (const resource of record.resources) {
        if (resource.kind === "activation" && lastUse.get(resource.activation) === index && !kept.has(resource.activation)) {
          this.free(resource.activation);
        }
      }
      // A buffer freed above may be bound again in a later piece: pieces run in submission order, as one pass's
      // dispatches do.
      if (early && index + 1 === pieceEnd && index + 1 < this.dispatches.length) {
        pass.end();
        encoder = early.flush(encoder);
        pass = encoder.beginComputePass({ label: `step ${step} from dispatch ${index + 1}` });
        piece++;
        pieceEnd += early.chunks[Math.min(piece, early.chunks.length - 1)];
      }
    });
    if (!perDispatch) pass.end();
    let ticket: ProfileTicket | null = null;
    if (profile !== "off" && labels.length > 0) {
      const count = labels.length * 2;
      encoder.resolveQuerySet(this.querySet!, 0, count, this.resolveBuffer!, 0);
      // The query set and resolve buffer are reused by the next step: the queue runs this step's resolve and copy
      // before the next step's pass. The mappable copy is this step's own until its profile is taken.
      const read =
        this.readBuffers.pop() ??
        this.device.createBuffer({
          size: this.queryCapacity * 8,
          usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
          label: "profile read",
        });
      encoder.copyBufferToBuffer(this.resolveBuffer!, 0, read, 0, count * 8);
      ticket = { mode: profile, labels, bufferBytes, read, count };
      this.pendingProfiles.push(ticket);
    }
    for (const activation of this.live) {
      if (activation.step < step && activation !== target) this.free(activation);
    }
    for (const activation of lastUse.keys()) {
      if (activation.state === "live") this.live.add(activation);
    }
    return ticket;
  }

  /** The pooled buffer of `activation`: sized for its row bucket (bucketRows), so steps of one bucket bind the same buffers. */
  private acquireBucketed(activation: GpuActivation): GPUBuffer {
    const bucketBytes = bucketRows(activation.capacityRows) * activation.cols * 4;
    return this.pool.acquire(activation.capacityBytes, `an activation [${activation.rows}, ${activation.cols}]`, bucketBytes);
  }

  /** Bind groups created so far (cache misses of bindGroupFor; benchmarks report them). */
  bindGroupsCreated = 0;

  /**
   * Bind groups are cached by (pipeline, bound buffers, offsets, sizes): in steady decoding every step binds
   * the same weights, the same pooled activation buffers and the same uniform-arena slots (only their
   * contents change), so after the first steps no bind group is created. Creating ~500 per step through
   * Dawn's Node binding cost milliseconds of host time per token. Pooled buffers (activations, step inputs)
   * are bound whole for this: bound by their rows, a serving step (whose row count changes every step) made
   * every bind group anew — 11 of 45 s of host time at 256 sequences on the H100 (bench/NOTES.md, session 13).
   * So no kernel may take a count from `arrayLength` of a pooled binding: counts come in its uniforms.
   */
  private bindGroupFor(pipeline: CachedPipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
    let key = pipeline.key;
    for (const entry of entries) {
      const binding = entry.resource as GPUBufferBinding;
      key += `|${bufferId(binding.buffer)}@${binding.offset ?? 0}+${binding.size ?? 0}`;
    }
    let group = this.bindGroups.get(key);
    if (group === undefined) {
      if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
      this.bindGroupsCreated++;
      group = this.device.createBindGroup({ layout: pipeline.layout, entries, label: pipeline.key });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  private ensureQueries(count: number): void {
    if (count <= this.queryCapacity) return;
    if (count > 4096) throw new Error(`profiling a step of ${count / 2} dispatches needs more than 4096 timestamp queries`);
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
    for (const buffer of this.readBuffers.splice(0)) buffer.destroy(); // too small now; pending ones are destroyed when taken
    const capacity = Math.min(4096, Math.max(count, 2 * this.queryCapacity, 256));
    this.querySet = this.device.createQuerySet({ type: "timestamp", count: capacity, label: "profile" });
    this.resolveBuffer = this.device.createBuffer({
      size: capacity * 8,
      usage: 0x0200 /* QUERY_RESOLVE */ | BufferUsage.COPY_SRC,
      label: "profile resolve",
    });
    this.queryCapacity = capacity;
  }

  /**
   * After the submit of a profiled step: the timestamps of the oldest profiled step not yet taken (null when none
   * is pending). Steps complete in submission order, so with pipelined steps each read takes its own step's.
   */
  async takeProfile(): Promise<StepProfile | null> {
    const oldest = this.pendingProfiles[0];
    return oldest ? this.readProfile(oldest) : null;
  }

  /** The timestamps of the step `encode` returned `ticket` for, once that step is submitted (and then done). */
  async readProfile(ticket: ProfileTicket): Promise<StepProfile> {
    const index = this.pendingProfiles.indexOf(ticket);
    if (index < 0) throw new Error("this step's profile was already read");
    const [pending] = this.pendingProfiles.splice(index, 1);
    await pending.read.mapAsync(1 /* GPUMapMode.READ */, 0, pending.count * 8);
    const ns = new BigUint64Array(pending.read.getMappedRange(0, pending.count * 8).slice(0));
    pending.read.unmap();
    if (pending.read.size === this.queryCapacity * 8) this.readBuffers.push(pending.read);
    else pending.read.destroy();
    return { mode: pending.mode, labels: pending.labels, bufferBytes: pending.bufferBytes, ns };
  }

  /** Returns the step's input buffers to the pool once the step is submitted. */
  finishStep(): void {
    for (const buffer of this.stepBuffers) this.pool.release(buffer);
    this.stepBuffers = [];
    this.inputs.clear();
  }

  /** Splits a workgroup count into a 2-D grid within maxComputeWorkgroupsPerDimension. */
  grid(workgroups: number): [number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(workgroups, max);
    const y = Math.ceil(workgroups / x);
    if (y > max) throw new Error(`a dispatch of ${workgroups} workgroups exceeds the ${max}×${max} grid`);
    return [x, y];
  }

  private free(activation: GpuActivation): void {
    if (activation.buffer) this.pool.release(activation.buffer);
    activation.buffer = null;
    activation.state = "freed";
    this.live.delete(activation);
  }

  /** Packs every uniform of the step into 64 KiB chunks (one writeBuffer per chunk). */
  private packUniforms(): GPUBufferBinding[] {
    const bindings: GPUBufferBinding[] = [];
    const wordsPerChunk = UNIFORM_CHUNK_BYTES / 4;
    const strideWords = this.uniformStride / 4;
    let chunkIndex = -1;
    let offsetWords = wordsPerChunk;
    const used: number[] = [];
    for (const record of this.dispatches) {
      for (const resource of record.resources) {
        if (resource.kind !== "uniform") continue;
        const sizeWords = Math.ceil(resource.words.length / 4) * 4;
        if (offsetWords + sizeWords > wordsPerChunk) {
          chunkIndex++;
          offsetWords = 0;
          if (chunkIndex === this.uniformChunks.length) {
            this.uniformChunks.push({
              buffer: this.device.createBuffer({
                size: UNIFORM_CHUNK_BYTES,
                usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
                label: "uniform arena",
              }),
              staging: new Uint32Array(wordsPerChunk),
            });
          }
          used[chunkIndex] = 0;
        }
        const chunk = this.uniformChunks[chunkIndex];
        chunk.staging.fill(0, offsetWords, offsetWords + sizeWords);
        chunk.staging.set(resource.words, offsetWords);
        bindings.push({ buffer: chunk.buffer, offset: offsetWords * 4, size: sizeWords * 4 });
        used[chunkIndex] = offsetWords + sizeWords;
        offsetWords += Math.ceil(sizeWords / strideWords) * strideWords;
      }
    }
    used.forEach((words, index) => {
      const chunk = this.uniformChunks[index];
      this.device.queue.writeBuffer(chunk.buffer, 0, chunk.staging.buffer, 0, words * 4);
    });
    return bindings;
  }

  destroy(): void {
    for (const chunk of this.uniformChunks) chunk.buffer.destroy();
    this.uniformChunks.length = 0;
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
    for (const buffer of this.readBuffers.splice(0)) buffer.destroy();
    for (const pending of this.pendingProfiles.splice(0)) pending.read.destroy();
  }
}

/**
 * Bound on the bind-group cache: a decode step of an 8B model uses ~520, and a server's warm-up (every row bucket,
 * decode batches up to 256) creates ~13k on the H200 (bench/NOTES.md, session 27); clearing it makes them anew.
 */
const MAX_CACHED_BIND_GROUPS = 32_768;

/** A process-wide id per GPUBuffer (ids are never reused, so a destroyed buffer's cached groups never match again). */
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;
function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(buffer, id);
  }
  return id;
}

function copyPadded(bytes: Uint8Array, size: number): Uint8Array {
  const padded = new Uint8Array(size);
  padded.set(bytes);
  return padded;
}
