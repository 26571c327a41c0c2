import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { busiestLoop, countPrefix, nvucCode, splitZstdFrames, summarizeSass } from "./sass.js";

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
});
