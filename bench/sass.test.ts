import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { busiestLoop, controlBits, countPrefix, loadWaitInLoop, nvucCode, splitZstdFrames, summarizeSass } from "./sass.js";

// A decompressed entry of the NVIDIA driver's shader cache (580.159.04, H100), as the driver wrote it: the code of one
// of the GEMM lab's small kernels. nvdisasm read its code as 71 instructions (bench/NOTES.md, session 15); the first
// is S2R (encoded 0x…7919 in its low bits, bytes 0x19 0x79 first), found 8 bytes past the offset the header names.
const entry = new Uint8Array(readFileSync(new URL("../../fixtures/gpu/nvidia-shader-cache-entry.bin", import.meta.url)));

test("nvucCode cuts a cache entry's instructions out of the driver's container", () => {
  const code = nvucCode(entry);
  assert.ok(code);
  assert.equal(code.length, 71 * 16);
  assert.deepEqual([...code.subarray(0, 2)], [0x19, 0x79]);
  // An entry without the container's magic (the driver's host-side ELF entries) has no GPU code.
  assert.equal(nvucCode(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, ...new Uint8Array(100)])), null);
});

test("splitZstdFrames finds each frame's magic and keeps the bytes up to the next one", () => {
  const data = new Uint8Array([1, 2, 0x28, 0xb5, 0x2f, 0xfd, 9, 9, 0x28, 0xb5, 0x2f, 0xfd, 7]);
  const frames = splitZstdFrames(data);
  assert.deepEqual(
    frames.map((f) => [...f]),
    [
      [0x28, 0xb5, 0x2f, 0xfd, 9, 9],
      [0x28, 0xb5, 0x2f, 0xfd, 7],
    ],
  );
});

test("summarizeSass counts nvdisasm's instructions by opcode, skipping guards, and finds the highest register", () => {
  // Lines as nvdisasm -b SM90 printed them for the 128×128 GEMM tile (session 15).
  const text = [
    '\t.headerflags\t@"EF_CUDA_64BIT_ADDRESS EF_CUDA_SM90 EF_CUDA_VIRTUAL_SM(EF_CUDA_SM90)"',
    "        /*0b20*/               @P0 LDG.E.128.CONSTANT R216, [R5.U32+UR16], !P6 ;",
    "        /*3440*/                   LDSM.16.M88.4 R180, [R184+0xa40] ;",
    "        /*3450*/                   HMMA.16816.F32 R4, R148.reuse, R144, R4 ;",
    "        /*3460*/                   LDSM.16.M88.4 R160, [R164+0x3240] ;",
    "        /*3470*/                   LDSM.16.M88.4 R184, [R184+0xf40] ;",
  ].join("\n");
  const summary = summarizeSass(text);
  assert.equal(summary.instructions, 5);
  assert.equal(summary.maxRegister, 216);
  assert.deepEqual(summary.opcodes, [
    { opcode: "LDSM.16.M88.4", count: 3 },
    { opcode: "HMMA.16816.F32", count: 1 },
    { opcode: "LDG.E.128.CONSTANT", count: 1 },
  ]);
});

test("summarizeSass finds loops by their backward branches, and busiestLoop the one with the most HMMA", () => {
  // The shape of nvdisasm's listing: a loop closed by a guarded backward branch, another without HMMA, and the
  // branch-to-itself every kernel ends with (not a loop).
  const text = [
    "        /*0000*/                   S2R R13, SR_TID.X ;",
    "        /*0010*/                   LDSM.16.M88.4 R148, [R164+0x2820] ;",
    "        /*0020*/                   HMMA.16816.F32 R4, R148.reuse, R144, R4 ;",
    "        /*0030*/                   STS.64 [R132+0x2820], R152 ;",
    "        /*0040*/                   BAR.SYNC 0x0 ;",
    "        /*0050*/              @!P0 BRA 0x10 ;",
    "        /*0060*/                   IADD3 R1, R1, 0x1, RZ ;",
    "        /*0070*/                   IADD3 R2, R2, 0x1, RZ ;",
    "        /*0080*/               @P1 BRA 0x60 ;",
    "        /*0090*/                   EXIT ;",
    "        /*00a0*/                   BRA 0xa0;",
  ].join("\n");
  const { loops, instructions } = summarizeSass(text);
  assert.equal(instructions, 11);
  assert.deepEqual(
    loops.map((l) => [l.from, l.to, l.instructions]),
    [
      [0x10, 0x50, 5],
      [0x60, 0x80, 3],
    ],
  );
  const busiest = busiestLoop(loops);
  assert.equal(busiest?.from, 0x10);
  assert.deepEqual(
    ["HMMA", "LDSM", "STS", "BAR", "IADD3"].map((prefix) => countPrefix(busiest!, prefix)),
    [1, 1, 1, 1, 0],
  );
  assert.equal(busiestLoop([]), null);
  // Without HMMA anywhere, the loop with the most LDG (attention's chunk loop) over a longer one.
  const loop = (from: number, instructions: number, ldg: number) => ({
    from,
    to: from,
    instructions,
    opcodes: new Map([["LDG.E.128", ldg]]),
  });
  assert.equal(busiestLoop([loop(0, 50, 2), loop(0x100, 20, 16), loop(0x200, 90, 0)])?.from, 0x100);
});

/** A 16-byte instruction whose low 105 bits are `low` and whose control bits are the given fields (composed here). */
function instruction(
  fields: { stall: number; yieldHint: 0 | 1; write: number; read: number; wait: number; reuse: number },
  low = 0n,
): Uint8Array {
  const control = BigInt(
    fields.stall | (fields.yieldHint << 4) | (fields.write << 5) | (fields.read << 8) | (fields.wait << 11) | (fields.reuse << 17),
  );
  const word = (control << 105n) | low;
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Number((word >> BigInt(8 * i)) & 0xffn);
  return bytes;
}

test("controlBits reads stall, yield, barriers, wait mask and reuse from bits 105–127 of each instruction", () => {
  const a = instruction({ stall: 11, yieldHint: 1, write: 3, read: 7, wait: 0b100101, reuse: 0b1010 }, (1n << 104n) | 0xfffffn);
  const b = instruction({ stall: 1, yieldHint: 0, write: 7, read: 2, wait: 0, reuse: 0 });
  const code = new Uint8Array([...a, ...b]);
  assert.deepEqual(controlBits(code, 0), {
    stallCycles: 11,
    yieldHint: true,
    writeBarrier: 3,
    readBarrier: null,
    waitMask: 0b100101,
    reuse: 0b1010,
  });
  assert.deepEqual(controlBits(code, 16), { stallCycles: 1, yieldHint: false, writeBarrier: null, readBarrier: 2, waitMask: 0, reuse: 0 });
  assert.throws(() => controlBits(code, 8), /no instruction/);
  assert.throws(() => controlBits(code, 32), /no instruction/);
});

// Four instructions of a GEMM K loop as the driver compiled them (H100, 580.159.04; bench/NOTES.md, session 18), with
// nvdisasm's text: three prefetch loads, then a copy of the first load's result register R156, which can only issue
// once that load has written it, so it must wait on the barrier the loads set.
const PREFETCH_CODE = [
  "81099ca110000000098d1e0800620100", // /*2a50*/ @P0 LDG.E.128.CONSTANT R156, [R161.U32+UR16], !P6 ;
  "81199400100000000b8d1e0800680100", // /*2ac0*/ @P1 LDG.E.128.CONSTANT R148, [R0.U32+UR16], !P4 ;
  "812998a0100000000a8d1e0800620100", // /*2ad0*/ @P2 LDG.E.128.CONSTANT R152, [R160.U32+UR16], !P5 ;
  "247200ffff0000009c008e0700e21f02", // /*2af0*/ IMAD.MOV.U32 R0, RZ, RZ, R156 ;
];

test("controlBits on the driver's code: the loads set a write barrier and the copy of their result waits on it", () => {
  const code = new Uint8Array(Buffer.from(PREFETCH_CODE.join(""), "hex"));
  const loads = [0, 16, 32].map((address) => controlBits(code, address));
  const copy = controlBits(code, 48);
  assert.ok(loads.every((l) => l.writeBarrier !== null && l.writeBarrier === loads[0].writeBarrier));
  assert.notEqual(copy.waitMask & (1 << loads[0].writeBarrier!), 0);
  assert.equal(copy.writeBarrier, null);
});

test("loadWaitInLoop finds the loop's first wait on its loads' barrier and the HMMA and loads issued before it", () => {
  const loads = instruction({ stall: 1, yieldHint: 1, write: 5, read: 0, wait: 0, reuse: 0 });
  const free = instruction({ stall: 1, yieldHint: 1, write: 7, read: 7, wait: 0, reuse: 0 });
  const waitsOn = (barrier: number) => instruction({ stall: 1, yieldHint: 1, write: 7, read: 7, wait: 1 << barrier, reuse: 0 });
  const lds = instruction({ stall: 1, yieldHint: 1, write: 1, read: 7, wait: 0, reuse: 0 });
  // 0x00 LDG (barrier 5), 0x10 HMMA, 0x20 LDS (barrier 1), 0x30 HMMA waiting on the LDS only, 0x40 HMMA, 0x50 STS
  // waiting on the LDG, 0x60 a second LDG after the wait.
  const code = new Uint8Array([...loads, ...free, ...lds, ...waitsOn(1), ...free, ...waitsOn(5), ...loads]);
  const opcodes = ["LDG.E.128.CONSTANT", "HMMA.16816.F32", "LDS", "HMMA.16816.F32", "HMMA.16816.F32", "STS.64", "LDG.E.128"];
  const listing = opcodes.map((opcode, i) => ({ address: 16 * i, opcode }));
  const loop = { from: 0, to: 0x60, instructions: 7, opcodes: new Map<string, number>() };
  assert.deepEqual(loadWaitInLoop(listing, loop, code), {
    loadAddress: 0,
    waitAddress: 0x50,
    waitOpcode: "STS.64",
    hmmaBefore: 3,
    hmmaInLoop: 3,
    loadsBefore: 1,
    loadsInLoop: 2,
  });
  // Without the first LDG the loop's only load comes after the STS: nothing waits for it.
  assert.equal(loadWaitInLoop(listing.slice(1), { ...loop, from: 0x10 }, code), null);
});
