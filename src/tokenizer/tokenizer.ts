/**
 * The tokenizer of a Hugging Face checkpoint (`tokenizer.json`), byte-level BPE as used by Llama 3,
 * with exact id parity to Hugging Face `tokenizers`:
 *
 *   text → added/special tokens cut out (raw text) → normalizer → added tokens marked `normalized`
 *        → pre-tokenizer (regex split) → UTF-8 bytes → BPE → ids   [+ BOS from the post-processor]
 *   ids  → byte-level strings → bytes → UTF-8 (invalid sequences → U+FFFD)
 *
 * Browser-safe: no `node:*` imports; files come through the FileTree interface.
 */

import { SwallowError } from "../errors.js";
import type { FileTree } from "../model/byte-source.js";
import { AddedTokenMatcher, type AddedTokenSpec, type Segment } from "./added-tokens.js";
import { BpeConfigError, BpeModel } from "./bpe.js";
import { byteOfCharCode } from "./byte-level.js";
import { PreTokenizer, PreTokenizerConfigError } from "./pretokenize.js";

export interface EncodeOptions {
  /** Prepend the post-processor's leading special token(s) (`<|begin_of_text|>`). Default false. */
  addBos?: boolean;
  /**
   * Map added/special token strings in the text to their ids (default true). When false, special
   * tokens are encoded as ordinary text (HF `encode_special_tokens`); non-special added tokens still match.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Leave out tokens marked `special` (default false). */
  skipSpecialTokens?: boolean;
}

type Normalize = (text: string) => string;

function buildNormalizer(config: unknown, where: string): Normalize | null {
  if (config === null || config === undefined) return null;
  const obj = config as Record<string, unknown>;
  switch (obj.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = obj.type;
      return (text) => text.normalize(form);
    }
    case "Lowercase":
      return (text) => text.toLowerCase();
    case "Sequence": {
      if (!Array.isArray(obj.normalizers))
        throw new SwallowError(`${where}: normalizer Sequence without a "normalizers" list; the file is malformed`);
      const parts = obj.normalizers.map((n) => buildNormalizer(n, where)).filter((n): n is Normalize => n !== null);
      return (text) => parts.reduce((t, n) => n(t), text);
    }
    default:
      throw new SwallowError(
        `${where}: normalizer ${JSON.stringify(obj.type)} is not supported (only none, NFC/NFD/NFKC/NFKD, Lowercase, Sequence); this tokenizer is not a Llama-3-style byte-level BPE`,
      );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks that the decoder is ByteLevel (directly or as the only kind inside a Sequence). */
function checkDecoder(config: unknown, where: string): void {
  if (!isRecord(config)) {
    throw new SwallowError(`${where}: "decoder" is missing; a byte-level BPE tokenizer.json needs {"type": "ByteLevel"}`);
  }
  if (config.type === "ByteLevel") return;
  if (config.type === "Sequence" && Array.isArray(config.decoders) && config.decoders.length > 0) {
    for (const d of config.decoders) checkDecoder(d, where);
    return;
  }
  throw new SwallowError(
    `${where}: decoder ${JSON.stringify(config.type)} is not supported; only ByteLevel (byte-level BPE such as Llama 3)`,
  );
}

/** The leading special-token ids of a TemplateProcessing `single` template (found inside a Sequence too). */
function leadingSpecialIds(config: unknown, where: string): number[] {
  if (!isRecord(config)) return [];
  if (config.type === "Sequence" && Array.isArray(config.processors)) {
    for (const p of config.processors) {
      const ids = leadingSpecialIds(p, where);
      if (ids.length > 0) return ids;
    }
    return [];
  }
  if (config.type !== "TemplateProcessing") return [];
  const single = config.single;
  const specials = config.special_tokens;
  if (!Array.isArray(single) || !isRecord(specials)) {
    throw new SwallowError(`${where}: post_processor TemplateProcessing needs "single" and "special_tokens"; the file is malformed`);
  }
  const ids: number[] = [];
  for (const piece of single) {
    if (!isRecord(piece) || !isRecord(piece.SpecialToken)) break; // stop at the sequence ($A)
    const name = piece.SpecialToken.id;
    const entry = typeof name === "string" ? specials[name] : undefined;
    if (!isRecord(entry) || !Array.isArray(entry.ids) || !entry.ids.every((id) => Number.isInteger(id) && id >= 0)) {
      throw new SwallowError(
        `${where}: post_processor special token ${JSON.stringify(name)} has no ids in "special_tokens"; the file is malformed`,
      );
    }
    ids.push(...(entry.ids as number[]));
  }
  return ids;
}

function parseMerges(merges: unknown, where: string): Array<[string, string]> {
  if (!Array.isArray(merges))
    throw new SwallowError(`${where}: model.merges is missing or not a list; re-export the tokenizer with Hugging Face tokenizers`);
  const out: Array<[string, string]> = new Array(merges.length);
  for (let k = 0; k < merges.length; k++) {
    const merge = merges[k];
    if (typeof merge === "string") {
      const space = merge.indexOf(" ");
      if (space <= 0 || space === merge.length - 1 || merge.indexOf(" ", space + 1) >= 0) {
        throw new SwallowError(
          `${where}: model.merges[${k}] ${JSON.stringify(merge)} is not two tokens separated by one space; the file is malformed`,
        );
      }
      out[k] = [merge.slice(0, space), merge.slice(space + 1)];
    } else if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === "string" && typeof merge[1] === "string") {
      out[k] = merge as [string, string];
    } else {
      throw new SwallowError(`${where}: model.merges[${k}] is neither "a b" nor ["a", "b"]; the file is malformed`);
    }
  }
  return out;
}

export class Tokenizer {
  /** max id + 1, counting added tokens. */
  readonly vocabSize: number;
  /** The first special token the post-processor puts before the text (Llama 3: 128000), or null. */
  readonly bosTokenId: number | null;
  readonly specialTokenIds: ReadonlySet<number>;

  private readonly model: BpeModel;
  private readonly normalize: Normalize | null;
  private readonly preTokenizer: PreTokenizer;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  private readonly bosIds: readonly number[];
  private readonly idToTokenTable: (string | undefined)[];
  private readonly addedByContent: ReadonlyMap<string, number>;
  /** Decoding bytes of every id, filled on first use: `bytePool[byteStart[id] .. byteStart[id+1])`. */
  private bytePool: Uint8Array | null = null;
  private byteStart: Int32Array | null = null;

  private constructor(parts: {
    model: BpeModel;
    normalize: Normalize | null;
    preTokenizer: PreTokenizer;
    added: AddedTokenSpec[];
    bosIds: number[];
    idToToken: (string | undefined)[];
  }) {
    this.model = parts.model;
    this.normalize = parts.normalize;
    this.preTokenizer = parts.preTokenizer;
    this.bosIds = parts.bosIds;
    this.idToTokenTable = parts.idToToken;
    this.vocabSize = parts.idToToken.length;
    this.bosTokenId = parts.bosIds.length > 0 ? parts.bosIds[0] : null;
    this.specialTokenIds = new Set(parts.added.filter((t) => t.special).map((t) => t.id));
    this.addedByContent = new Map(parts.added.map((t) => [t.content, t.id]));
    const raw = parts.added.filter((t) => !t.normalized);
    const normalized = parts.added.filter((t) => t.normalized);
    this.rawMatcher = new AddedTokenMatcher(
      raw,
      raw.map((t) => t.content),
    );
    this.normalizedMatcher = new AddedTokenMatcher(
      normalized,
      normalized.map((t) => (this.normalize ? this.normalize(t.content) : t.content)),
    );
  }

  /**
   * Builds a tokenizer from the text (or parsed object) of a Hugging Face tokenizer.json.
   * @param source where it came from, for error messages
   */
  static fromJson(json: string | object, source = "tokenizer.json"): Tokenizer {
    let root: unknown = json;
    if (typeof json === "string") {
      try {
        root = JSON.parse(json);
      } catch (error) {
        throw new SwallowError(`${source}: not valid JSON (${(error as Error).message}); download tokenizer.json again`);
      }
    }
    if (!isRecord(root)) throw new SwallowError(`${source}: not a JSON object; expected a Hugging Face tokenizer.json`);
    const model = root.model;
    if (!isRecord(model)) throw new SwallowError(`${source}: has no "model" object; expected a Hugging Face tokenizer.json`);
    if (model.type !== undefined && model.type !== "BPE") {
      throw new SwallowError(
        `${source}: model.type is ${JSON.stringify(model.type)}; only BPE tokenizers (Llama 3, GPT-2 style byte-level BPE) are supported`,
      );
    }
    if (!isRecord(model.vocab) || Object.keys(model.vocab).length === 0) {
      throw new SwallowError(`${source}: model.vocab is missing or empty; the file is truncated or not a BPE tokenizer.json`);
    }
    for (const key of ["continuing_subword_prefix", "end_of_word_suffix"]) {
      if (model[key] !== null && model[key] !== undefined && model[key] !== "") {
        throw new SwallowError(`${source}: model.${key} is set; only byte-level BPE without subword prefixes/suffixes is supported`);
      }
    }
    if (model.byte_fallback === true) {
      throw new SwallowError(`${source}: model.byte_fallback is true (a SentencePiece-style BPE); only byte-level BPE is supported`);
    }
    if (typeof model.dropout === "number" && model.dropout > 0) {
      throw new SwallowError(`${source}: model.dropout is ${model.dropout}; BPE dropout is for training only, set it to null`);
    }

    const vocab = new Map<string, number>();
    let maxId = -1;
    const vocabObject = model.vocab;
    for (const token in vocabObject) {
      const id = vocabObject[token];
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
        throw new SwallowError(
          `${source}: model.vocab[${JSON.stringify(token)}] is ${JSON.stringify(id)}, not a token id; the file is malformed`,
        );
      }
      vocab.set(token, id);
      if (id > maxId) maxId = id;
    }
    const merges = parseMerges(model.merges, source);

    let unkId: number | null = null;
    if (typeof model.unk_token === "string") {
      const id = vocab.get(model.unk_token);
      if (id === undefined)
        throw new SwallowError(`${source}: model.unk_token ${JSON.stringify(model.unk_token)} is not in the vocab; the file is malformed`);
      unkId = id;
    }

    let bpe: BpeModel;
    try {
      bpe = new BpeModel(vocab, merges, { ignoreMerges: model.ignore_merges === true, unkId, fuseUnk: model.fuse_unk === true });
    } catch (error) {
      if (error instanceof BpeConfigError) throw new SwallowError(`${source}: bad model.merges: ${error.message}; the file is malformed`);
      throw error;
    }

    const normalize = buildNormalizer(root.normalizer, source);
    let preTokenizer: PreTokenizer;
    try {
      preTokenizer = PreTokenizer.fromConfig(root.pre_tokenizer);
    } catch (error) {
      if (error instanceof PreTokenizerConfigError) throw new SwallowError(`${source}: ${error.message}`);
      throw error;
    }
    checkDecoder(root.decoder, source);

    // Added tokens get ids as HF's AddedVocabulary::add_tokens assigns them: the id of the same content
    // if it is already known, else the next free id after the model vocabulary.
    const addedList = root.added_tokens ?? [];
    if (!Array.isArray(addedList)) throw new SwallowError(`${source}: "added_tokens" is not a list; the file is malformed`);
    const added = new Map<string, AddedTokenSpec>();
    const modelVocabCount = vocab.size;
    let maxAdded = -1;
    addedList.forEach((entry: unknown, k: number) => {
      if (!isRecord(entry) || typeof entry.content !== "string") {
        throw new SwallowError(`${source}: added_tokens[${k}] has no "content" string; the file is malformed`);
      }
      const content = entry.content;
      if (content.length === 0) return;
      const special = entry.special === true;
      let id = added.get(content)?.id ?? vocab.get(content);
      if (id === undefined) id = maxAdded < 0 ? modelVocabCount : maxAdded >= modelVocabCount ? maxAdded + 1 : modelVocabCount;
      added.set(content, {
        id,
        content,
        special,
        singleWord: entry.single_word === true,
        lstrip: entry.lstrip === true,
        rstrip: entry.rstrip === true,
        normalized: entry.normalized === undefined ? !special : entry.normalized === true,
      });
      if (id > maxAdded) maxAdded = id;
      if (id > maxId) maxId = id;
    });

    const idToToken: (string | undefined)[] = new Array(maxId + 1).fill(undefined);
    for (const [token, id] of vocab) idToToken[id] = token;
    for (const t of added.values()) idToToken[t.id] = t.content;

    const bosIds = leadingSpecialIds(root.post_processor, source);
    for (const id of bosIds) {
      if (id > maxId)
        throw new SwallowError(`${source}: post_processor uses token id ${id}, which is not in the vocab; the file is malformed`);
    }

    return new Tokenizer({ model: bpe, normalize, preTokenizer, added: [...added.values()], bosIds, idToToken });
  }

  /** Text → ids. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = options.addBos ? [...this.bosIds] : [];
    const parseSpecial = options.parseSpecial ?? true;
    const segments: Segment[] = [];
    this.rawMatcher.split(text, parseSpecial, segments);
    const pieces: string[] = [];
    const normalizedSegments: Segment[] = [];
    for (const segment of segments) {
      if (segment.id >= 0) {
        out.push(segment.id);
        continue;
      }
      const normalized = this.normalize ? this.normalize(segment.text) : segment.text;
      normalizedSegments.length = 0;
      this.normalizedMatcher.split(normalized, parseSpecial, normalizedSegments);
      for (const part of normalizedSegments) {
        if (part.id >= 0) {
          out.push(part.id);
          continue;
        }
        pieces.length = 0;
        this.preTokenizer.split(part.text, pieces);
        for (let k = 0; k < pieces.length; k++) this.model.encodePiece(pieces[k], out);
      }
    }
    return out;
  }

  /** Forgets the per-piece BPE results remembered so far (for benchmarks and memory). */
  clearCache(): void {
    this.model.clearCache();
  }

  /** Ids → text. Throws SwallowError for an id the vocabulary does not have. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(this.decodeBytes(ids, options));
  }

  /** Ids → the raw bytes they stand for (possibly invalid UTF-8). */
  decodeBytes(ids: readonly number[], options: DecodeOptions = {}): Uint8Array {
    const skip = options.skipSpecialTokens === true;
    const { pool, start } = this.byteTables();
    let total = 0;
    for (const id of ids) {
      this.checkId(id);
      if (skip && this.specialTokenIds.has(id)) continue;
      total += start[id + 1] - start[id];
    }
    const out = new Uint8Array(total);
    let n = 0;
    for (const id of ids) {
      if (skip && this.specialTokenIds.has(id)) continue;
      const s = start[id];
      const e = start[id + 1];
      out.set(pool.subarray(s, e), n);
      n += e - s;
    }
    return out;
  }

  /** The bytes one id decodes to (a view; do not modify). */
  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    const { pool, start } = this.byteTables();
    return pool.subarray(start[id], start[id + 1]);
  }

  /** The token's string as stored in tokenizer.json (byte-level form, e.g. "Ġworld"), or undefined. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.idToTokenTable[id] : undefined;
  }

  /** The id of a token string (an added token's content, or a byte-level vocab entry), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.model.vocab.get(token);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.idToTokenTable[id] === undefined) {
      throw new SwallowError(`token id ${id} is not in the tokenizer's vocabulary (0..${this.vocabSize - 1})`);
    }
  }

  /**
   * HF's ByteLevel decoder: a token whose characters are all byte characters stands for those bytes;
   * any other token (an added token with other characters) stands for its own UTF-8.
   */
  private byteTables(): { pool: Uint8Array; start: Int32Array } {
    if (this.bytePool && this.byteStart) return { pool: this.bytePool, start: this.byteStart };
    const table = this.idToTokenTable;
    const encoder = new TextEncoder();
    const start = new Int32Array(table.length + 1);
    let total = 0;
    for (let id = 0; id < table.length; id++) {
      start[id] = total;
      total += table[id]?.length ?? 0; // upper bound first (byte characters are one unit each)
    }
    let pool = new Uint8Array(total * 3 + 16);
    let n = 0;
    for (let id = 0; id < table.length; id++) {
      start[id] = n;
      const token = table[id];
      if (token === undefined) continue;
      let allBytes = true;
      for (let i = 0; i < token.length; i++) {
        const b = byteOfCharCode(token.charCodeAt(i));
        if (b < 0) {
          allBytes = false;
          break;
        }
        pool[n + i] = b;
      }
      if (allBytes) {
        n += token.length;
      } else {
        const utf8 = encoder.encode(token);
        pool.set(utf8, n);
        n += utf8.length;
      }
    }
    start[table.length] = n;
    pool = pool.slice(0, n);
    this.bytePool = pool;
    this.byteStart = start;
    return { pool, start };
  }
}

/** Reads `tokenizer.json` from a checkpoint directory. */
export async function loadTokenizer(files: FileTree): Promise<Tokenizer> {
  const path = `${files.location}/tokenizer.json`;
  if (!(await files.exists("tokenizer.json"))) {
    throw new SwallowError(`${path} not found: a Hugging Face tokenizer.json is required`);
  }
  return Tokenizer.fromJson(await files.readText("tokenizer.json"), path);
}
