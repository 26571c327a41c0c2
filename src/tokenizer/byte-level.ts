/**
 * GPT-2's byte-level alphabet (`bytes_to_unicode` in the original encoder.py, `ByteLevel` in Hugging Face
 * `tokenizers`): every byte 0–255 gets one printable code point, so any UTF-8 text becomes a string of
 * "byte characters" that BPE vocabularies are written in.
 *
 * Bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF stand for themselves; the remaining 68 bytes (controls, space,
 * 0x7F–0xA0, soft hyphen) take U+0100, U+0101, … in increasing byte order. So ' ' (0x20) is 'Ġ' (U+0120)
 * and '\n' (0x0A) is 'Ċ' (U+010A).
 */

function buildByteToCodePoint(): Uint16Array {
  const table = new Uint16Array(256);
  let next = 0x100;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    table[byte] = printable ? byte : next++;
  }
  return table;
}

/** `BYTE_TO_CODE_POINT[b]` is the code point (< U+0144) that stands for byte `b`. */
export const BYTE_TO_CODE_POINT: Readonly<Uint16Array> = buildByteToCodePoint();

/** `BYTE_TO_CHAR[b]` is the one-character string that stands for byte `b`. */
export const BYTE_TO_CHAR: readonly string[] = Array.from(BYTE_TO_CODE_POINT, (cp) => String.fromCharCode(cp));

const CODE_POINT_LIMIT = 0x144;

/** Inverse table over code points below U+0144: the byte, or -1 where the code point is no byte character. */
const CODE_POINT_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(CODE_POINT_LIMIT).fill(-1);
  for (let byte = 0; byte < 256; byte++) table[BYTE_TO_CODE_POINT[byte]] = byte;
  return table;
})();

/** The byte that the character with this UTF-16 code unit stands for, or -1 if it stands for none. */
export function byteOfCharCode(code: number): number {
  return code < CODE_POINT_LIMIT ? CODE_POINT_TO_BYTE[code] : -1;
}

/** Maps raw bytes to their byte-level string (one character per byte). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = "";
  // Chunks keep String.fromCharCode's argument count well under engine limits.
  const chunk = 4096;
  const codes = new Uint16Array(Math.min(bytes.length, chunk));
  for (let start = 0; start < bytes.length; start += chunk) {
    const end = Math.min(bytes.length, start + chunk);
    for (let i = start; i < end; i++) codes[i - start] = BYTE_TO_CODE_POINT[bytes[i]];
    out += String.fromCharCode.apply(null, Array.from(codes.subarray(0, end - start)));
  }
  return out;
}

const utf8Encoder = new TextEncoder();

/** Encodes text as UTF-8 (lone surrogates become U+FFFD) and maps the bytes to the byte-level alphabet. */
export function textToByteLevel(text: string): string {
  return bytesToByteLevel(utf8Encoder.encode(text));
}

/**
 * Maps a byte-level string back to bytes. Returns null if some character is not a byte character
 * (Hugging Face's ByteLevel decoder then uses the token's own UTF-8 bytes instead).
 */
export function byteLevelToBytes(byteLevel: string): Uint8Array | null {
  const out = new Uint8Array(byteLevel.length);
  for (let i = 0; i < byteLevel.length; i++) {
    const byte = byteOfCharCode(byteLevel.charCodeAt(i));
    if (byte < 0) return null;
    out[i] = byte;
  }
  return out;
}
