/**
 * The machine code (SASS) the NVIDIA driver compiled our WGSL into, from its shader disk cache: registers per thread,
 * the tensor-core and shared-memory instructions, and the instruction mix of each kernel.
 *
 *   here, once:   mkdir -p .tools && cp /usr/bin/zstd /lib/x86_64-linux-gnu/{liblz4.so.1,liblzma.so.5,libz.so.1} .tools/
 *   on the device (carry .tools, which git ignores):
 *   export __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1
 *   node dist/bench/matmul-lab.js --no-robustness --variants 128x128-sg2x2-rb-x16 --shapes 4096x4096   (any run)
 *   ZSTD=.tools/zstd LD_LIBRARY_PATH=.tools node dist/bench/sass.js /tmp/nvcache [--out DIR] [--top 12]
 *
 * The Vulkan driver (580.159.04 on the H100) keeps compiled pipelines in `<dir>/GLCache/…/*.bin`: a header, then one
 * zstd frame per entry. An entry that holds GPU code starts "NVDANVVMNVuc"; the little-endian words at 0x4c and 0x50
 * are the code's size and offset, and the instructions (16 bytes each, sm_90) start 8 bytes after that offset. This
 * tool splits the frames, decompresses them with the `zstd` program (PATH, or $ZSTD: the device machine has none, so
 * carry one), cuts out the code and disassembles it with `nvdisasm -b SM90` (CUDA's, on the device machine). Layout
 * learnt from the files themselves (bench/NOTES.md, session 15); another driver may change it.
 *
 * Each instruction's scheduling control bits (controlBits) come from the code itself, which nvdisasm does not print:
 * with them the table says where a GEMM's K loop first waits for the global loads it issued (loadWaitInLoop), i.e.
 * whether the prefetch of the next K slice overlaps the multiplies (bench/NOTES.md, session 18).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const NVUC_MAGIC = "NVDANVVMNVuc";
/** Bytes per sm_90 instruction. */
const INSTRUCTION_BYTES = 16;

/** The zstd frames of a cache file: from each frame's magic to the next one's (a frame may carry trailing bytes). */
export function splitZstdFrames(data: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i + 4 <= data.length; i++) {
    if (data[i] === ZSTD_MAGIC[0] && data[i + 1] === ZSTD_MAGIC[1] && data[i + 2] === ZSTD_MAGIC[2] && data[i + 3] === ZSTD_MAGIC[3])
      starts.push(i);
  }
  return starts.map((start, k) => data.subarray(start, starts[k + 1] ?? data.length));
}

/** The instructions of a decompressed cache entry (whole 16-byte instructions), or null for an entry without GPU code. */
export function nvucCode(entry: Uint8Array): Uint8Array | null {
  if (entry.length < 0x54 || new TextDecoder().decode(entry.subarray(0, NVUC_MAGIC.length)) !== NVUC_MAGIC) return null;
  const view = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
  const size = view.getUint32(0x4c, true);
  const offset = view.getUint32(0x50, true);
  if (offset + size > entry.length || size <= 8) return null;
  const code = entry.subarray(offset + 8, offset + size);
  return code.subarray(0, code.length - (code.length % INSTRUCTION_BYTES));
}

/** A loop: the instructions from a backward branch's target to the branch, with their opcode counts. */
export interface SassLoop {
  /** Addresses (bytes) of its first instruction and of the backward branch. */
  from: number;
  to: number;
  instructions: number;
  opcodes: Map<string, number>;
}

export interface SassSummary {
  instructions: number;
  /** Every loop (backward branch), in address order. */
  loops: SassLoop[];
  /** Highest general register named (R0…R254): registers per thread are about one more, rounded up to 8. */
  maxRegister: number;
  /** Instruction counts by opcode (with its modifiers, e.g. "HMMA.16816.F32"), largest first. */
  opcodes: { opcode: string; count: number }[];
  /** Every instruction's address (byte offset in the code) and opcode, in address order. */
  listing: { address: number; opcode: string }[];
}

/** Counts the instructions of `nvdisasm` text (one per line that starts with an address comment) and finds its loops. */
export function summarizeSass(text: string): SassSummary {
  const counts = new Map<string, number>();
  const listing: { address: number; opcode: string; body: string }[] = [];
  let maxRegister = -1;
  for (const line of text.split("\n")) {
    const match = /^\s*\/\*([0-9a-f]{4,})\*\/\s+(.*?)\s*;/.exec(line);
    if (!match) continue;
    // Drop a predicate guard (@P0, @!UP1, @PT …), keep the opcode with its modifiers.
    const body = match[2].replace(/^@!?U?P[T0-9]+\s+/, "");
    const opcode = body.split(/\s+/)[0];
    listing.push({ address: parseInt(match[1], 16), opcode, body });
    counts.set(opcode, (counts.get(opcode) ?? 0) + 1);
    for (const reg of body.matchAll(/\bR(\d+)\b/g)) maxRegister = Math.max(maxRegister, Number(reg[1]));
  }
  const loops: SassLoop[] = [];
  for (const { address, opcode, body } of listing) {
    const target = /^BRA\s+0x([0-9a-f]+)/.exec(body);
    if (opcode !== "BRA" || !target || parseInt(target[1], 16) >= address) continue;
    const from = parseInt(target[1], 16);
    const opcodes = new Map<string, number>();
    let instructions = 0;
    for (const i of listing) {
      if (i.address < from || i.address > address) continue;
      instructions++;
      opcodes.set(i.opcode, (opcodes.get(i.opcode) ?? 0) + 1);
    }
    loops.push({ from, to: address, instructions, opcodes });
  }
  const opcodes = [...counts]
    .map(([opcode, count]) => ({ opcode, count }))
    .sort((a, b) => b.count - a.count || (a.opcode < b.opcode ? -1 : 1));
  return {
    instructions: listing.length,
    loops,
    maxRegister,
    opcodes,
    listing: listing.map(({ address, opcode }) => ({ address, opcode })),
  };
}

/**
 * The scheduling control of one sm_70+ instruction: the top 23 bits of its 128-bit word (bits 105–127), as
 * microbenchmarking papers decoded them (Jia et al., "Dissecting the NVIDIA Volta GPU Architecture via
 * Microbenchmarking", 2018): stall cycles (4 bits), yield (1), the scoreboard ("dependency barrier") the instruction
 * sets when its result is written (3; 7 = none) and when its sources have been read (3), the scoreboards it waits on
 * before issuing (a 6-bit mask) and operand-reuse flags (4). A variable-latency instruction (a load) sets a write
 * barrier; the first instruction that needs its result waits on it.
 */
export interface ControlBits {
  stallCycles: number;
  yieldHint: boolean;
  writeBarrier: number | null;
  readBarrier: number | null;
  waitMask: number;
  reuse: number;
}

/** The control bits of the instruction at byte `address` of `code` (16 bytes per instruction, little-endian). */
export function controlBits(code: Uint8Array, address: number): ControlBits {
  if (address % INSTRUCTION_BYTES !== 0 || address + INSTRUCTION_BYTES > code.length) {
    throw new RangeError(`controlBits: no instruction at byte ${address} of ${code.length}`);
  }
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
  // Bits 105–127 of the 128-bit word are bits 41–63 of its high 64-bit half.
  const control = Number(view.getBigUint64(address + 8, true) >> 41n);
  const barrier = (bits: number) => (bits === 7 ? null : bits);
  return {
    stallCycles: control & 0xf,
    yieldHint: ((control >> 4) & 1) === 1,
    writeBarrier: barrier((control >> 5) & 7),
    readBarrier: barrier((control >> 8) & 7),
    waitMask: (control >> 11) & 0x3f,
    reuse: (control >> 17) & 0xf,
  };
}

/** Where a loop first waits for the data of the global loads (LDG) it issued, counted from the first such load. */
export interface LoadWait {
  /** Address of the loop's first LDG that sets a write barrier. */
  loadAddress: number;
  /** The first instruction after it that waits on a barrier one of the loop's LDGs set (and nothing else reset since). */
  waitAddress: number;
  waitOpcode: string;
  /** HMMA instructions between that load and the wait, and in the whole loop. */
  hmmaBefore: number;
  hmmaInLoop: number;
  /**
   * LDG instructions from that load up to the wait, and in the whole loop: a kernel without HMMA (attention's chunk
   * loop) overlaps its loads when it issues most of them before it first waits.
   */
  loadsBefore: number;
  loadsInLoop: number;
}

/**
 * The first wait on the loop's global-load data: a prefetching GEMM whose first wait comes after most of its loop's
 * HMMA overlaps the loads with the multiplies; one that waits before them (register copies of the loaded values, as
 * session 18 found) does not. Null when the loop has no LDG with a write barrier or never waits on one.
 */
export function loadWaitInLoop(listing: readonly { address: number; opcode: string }[], loop: SassLoop, code: Uint8Array): LoadWait | null {
  const body = listing.filter((i) => i.address >= loop.from && i.address <= loop.to);
  const hmmaInLoop = body.filter((i) => i.opcode.startsWith("HMMA")).length;
  const loadsInLoop = body.filter((i) => i.opcode.startsWith("LDG")).length;
  let pending = 0; // barriers set by the loop's LDGs so far (bit per barrier)
  let loadAddress = -1;
  let hmmaBefore = 0;
  let loadsBefore = 0;
  for (const instruction of body) {
    const bits = controlBits(code, instruction.address);
    if (loadAddress >= 0 && (bits.waitMask & pending) !== 0) {
      const { address: waitAddress, opcode: waitOpcode } = instruction;
      return { loadAddress, waitAddress, waitOpcode, hmmaBefore, hmmaInLoop, loadsBefore, loadsInLoop };
    }
    if (instruction.opcode.startsWith("HMMA") && loadAddress >= 0) hmmaBefore++;
    if (instruction.opcode.startsWith("LDG") && (loadAddress >= 0 || bits.writeBarrier !== null)) loadsBefore++;
    if (bits.writeBarrier === null) continue;
    if (instruction.opcode.startsWith("LDG")) {
      pending |= 1 << bits.writeBarrier;
      if (loadAddress < 0) loadAddress = instruction.address;
    } else {
      pending &= ~(1 << bits.writeBarrier); // another instruction now owns that barrier: its waits are not the loads'
    }
  }
  return null;
}

/** How many of a loop's instructions have an opcode starting with `prefix` ("STS" counts STS.64 and STS.128). */
export function countPrefix(loop: SassLoop, prefix: string): number {
  let n = 0;
  for (const [opcode, count] of loop.opcodes) if (opcode.startsWith(prefix)) n += count;
  return n;
}

/**
 * The loop with the most HMMA instructions (a GEMM's K loop), else the most LDG (attention's chunk loop), the longest
 * among equals; null without loops.
 */
export function busiestLoop(loops: readonly SassLoop[]): SassLoop | null {
  let best: SassLoop | null = null;
  for (const loop of loops) {
    const more =
      best === null
        ? 1
        : countPrefix(loop, "HMMA") - countPrefix(best, "HMMA") ||
          countPrefix(loop, "LDG") - countPrefix(best, "LDG") ||
          loop.instructions - best.instructions;
    if (more > 0) best = loop;
  }
  return best;
}

function describeLoop(loop: SassLoop | null): string {
  if (!loop) return "no loop";
  const parts = ["HMMA", "LDSM", "STS", "LDG", "BAR"].map((prefix) => countPrefix(loop, prefix));
  return `${loop.instructions} (${parts.join(", ")}) at 0x${loop.from.toString(16)}–0x${loop.to.toString(16)}`;
}

function cacheFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...cacheFiles(path));
    else if (name.endsWith(".bin")) out.push(path);
  }
  return out;
}

function main(argv: string[]): void {
  const [dir, ...rest] = argv;
  if (!dir) throw new Error("usage: node dist/bench/sass.js CACHE_DIR [--out DIR] [--top N]");
  let out = "/tmp/sass";
  let top = 12;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--out") out = rest[++i];
    else if (rest[i] === "--top") top = Number(rest[++i]);
    else throw new Error(`unknown argument ${rest[i]}`);
  }
  mkdirSync(out, { recursive: true });
  const zstd = process.env.ZSTD ?? "zstd";
  let n = 0;
  console.log(
    "| kernel | instructions | max register | top opcodes | loop with the most HMMA (else LDG): instructions (HMMA, LDSM, STS, LDG, BAR) | first wait on the loop's LDG data |",
  );
  console.log("| --- | ---: | ---: | --- | --- | --- |");
  for (const file of cacheFiles(dir)) {
    for (const frame of splitZstdFrames(readFileSync(file))) {
      // zstd stops at the trailing bytes with an error after writing the frame: keep what it wrote.
      let entry: Buffer;
      try {
        entry = execFileSync(zstd, ["-d", "-c"], { input: frame, stdio: ["pipe", "pipe", "ignore"], maxBuffer: 1 << 28 });
      } catch (error) {
        entry = (error as { stdout?: Buffer }).stdout ?? Buffer.alloc(0);
      }
      const code = nvucCode(entry);
      if (!code) continue;
      const bin = join(out, `k${n}.bin`);
      writeFileSync(bin, code);
      const text = execFileSync("nvdisasm", ["-b", "SM90", bin], { maxBuffer: 1 << 28 }).toString();
      writeFileSync(join(out, `k${n}.sass`), text);
      const s = summarizeSass(text);
      const mix = s.opcodes.slice(0, top).map((o) => `${o.count} ${o.opcode}`);
      const loop = busiestLoop(s.loops);
      const wait = loop ? loadWaitInLoop(s.listing, loop, code) : null;
      const waitText = wait
        ? `${wait.waitOpcode} at 0x${wait.waitAddress.toString(16)}, after ${wait.hmmaBefore} of ${wait.hmmaInLoop} HMMA and ${wait.loadsBefore} of ${wait.loadsInLoop} LDG`
        : "none";
      console.log(`| k${n} | ${s.instructions} | R${s.maxRegister} | ${mix.join(", ")} | ${describeLoop(loop)} | ${waitText} |`);
      n++;
    }
  }
  if (n === 0) console.log(`no GPU code found under ${dir} (is __GL_SHADER_DISK_CACHE_PATH set for the run?)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
