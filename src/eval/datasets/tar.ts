/**
 * A small reader for (gzip-compressed) tar archives — ustar, GNU long names and pax `path` records, which is
 * what tar, GNU tar and Python's tarfile write — enough to unpack dataset archives without a dependency.
 */
import { gunzipSync } from "node:zlib";
import { SwallowError } from "../../errors.js";

export interface TarEntry {
  /** Path inside the archive, '/'-separated. */
  path: string;
  type: "file" | "directory" | "other";
  data: Uint8Array;
}

const BLOCK = 512;

/** Reads every entry of a .tar.gz/.tgz buffer; `source` names the archive in errors. */
export function readTarGz(gz: Uint8Array, source: string): TarEntry[] {
  let tar: Uint8Array;
  try {
    tar = gunzipSync(gz);
  } catch (error) {
    throw new SwallowError(`${source} is not a gzip file (${(error as Error).message}); delete it and download it again`);
  }
  return readTar(tar, source);
}

export function readTar(tar: Uint8Array, source: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    if (!checksumOk(header))
      throw new SwallowError(`${source}: damaged tar header at byte ${offset}; delete the archive and download it again`);
    const size = parseOctal(header.subarray(124, 136));
    const typeflag = String.fromCharCode(header[156] || 48);
    const dataStart = offset + BLOCK;
    if (dataStart + size > tar.length) throw new SwallowError(`${source}: the archive is truncated; delete it and download it again`);
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === "L") {
      longName = cString(data);
      continue;
    }
    if (typeflag === "x") {
      paxPath = paxRecord(data, "path") ?? paxPath;
      continue;
    }
    if (typeflag === "g") continue; // global pax header: nothing we need
    const name = cString(header.subarray(0, 100));
    const magic = cString(header.subarray(257, 263));
    const prefix = magic === "ustar" ? cString(header.subarray(345, 500)) : "";
    const path = paxPath ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    longName = null;
    paxPath = null;
    const type = typeflag === "0" || typeflag === "7" ? "file" : typeflag === "5" ? "directory" : "other";
    entries.push({ path, type, data });
  }
  return entries;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function parseOctal(bytes: Uint8Array): number {
  // GNU base-256 for sizes ≥ 8 GiB: high bit of the first byte set.
  if (bytes[0] & 0x80) {
    let n = 0;
    for (let i = 1; i < bytes.length; i++) n = n * 256 + bytes[i];
    return n;
  }
  const text = cString(bytes).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOk(header: Uint8Array): boolean {
  const stored = parseOctal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  return sum === stored;
}

/** A pax extended header is records "LEN key=value\n"; returns `key`'s value. */
function paxRecord(data: Uint8Array, key: string): string | null {
  const text = new TextDecoder().decode(data);
  let value: string | null = null;
  for (const line of text.split("\n")) {
    const m = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (m && m[1] === key) value = m[2];
  }
  return value;
}
