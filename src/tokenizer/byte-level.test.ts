import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BYTE_TO_CHAR, BYTE_TO_CODE_POINT, byteLevelToBytes, byteOfCharCode, bytesToByteLevel, textToByteLevel } from "./byte-level.js";

describe("GPT-2 byte-level alphabet", () => {
  it("keeps printable bytes and moves the other 68 to U+0100 upwards", () => {
    assert.equal(BYTE_TO_CHAR[0x20], "Ġ");
    assert.equal(BYTE_TO_CHAR[0x0a], "Ċ");
    assert.equal(BYTE_TO_CHAR[0x00], "\u0100");
    assert.equal(BYTE_TO_CHAR[0x21], "!");
    assert.equal(BYTE_TO_CHAR[0x7e], "~");
    assert.equal(BYTE_TO_CHAR[0x7f], "ġ");
    assert.equal(BYTE_TO_CHAR[0xad], "Ń");
    assert.equal(BYTE_TO_CHAR[0xe9], "é");
    const moved = [...BYTE_TO_CODE_POINT].filter((cp, byte) => cp !== byte);
    assert.equal(moved.length, 68);
    assert.deepEqual(
      moved,
      Array.from({ length: 68 }, (_, k) => 0x100 + k),
    );
  });

  it("is a bijection", () => {
    assert.equal(new Set(BYTE_TO_CHAR).size, 256);
    for (let byte = 0; byte < 256; byte++) assert.equal(byteOfCharCode(BYTE_TO_CODE_POINT[byte]), byte);
    assert.equal(byteOfCharCode("あ".charCodeAt(0)), -1);
    assert.equal(byteOfCharCode(0x144), -1);
  });

  it("round-trips text and bytes", () => {
    assert.equal(textToByteLevel(" world\n"), "ĠworldĊ");
    assert.equal(textToByteLevel("é"), "Ã©");
    const all = Uint8Array.from({ length: 256 }, (_, b) => b);
    assert.deepEqual(byteLevelToBytes(bytesToByteLevel(all)), all);
    assert.equal(byteLevelToBytes("<|eot_id|>") !== null, true);
    assert.equal(byteLevelToBytes("a b"), null);
  });
});
