/**
 * Pre-tokenization: cutting text into the pieces that BPE then encodes one by one, as configured by
 * tokenizer.json's `pre_tokenizer` (Hugging Face `tokenizers` semantics).
 *
 * Supported: `Split` with a `{"Regex": …}` (Oniguruma syntax, translated to JavaScript) or `{"String": …}`
 * pattern and any split behavior; `ByteLevel` (as the last step; with `use_regex` it applies GPT-2's
 * pattern, with `add_prefix_space` it prepends a space to every piece that lacks one); `Sequence` of those.
 * Pieces stay ordinary text here; the byte-level mapping happens in the BPE model on UTF-8 bytes.
 *
 * Llama 3's pre_tokenizer is Sequence[Split(pattern, Isolated), ByteLevel(use_regex: false)].
 */

import { translateOnigurumaPattern, RegexTranslationError } from "./onig-regex.js";

/** GPT-2's pattern, which ByteLevel applies when `use_regex` is true. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Llama 3's pattern (Meta's `pat_str`), as it appears in its tokenizer.json. */
export const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Thrown for a pre_tokenizer config this implementation cannot reproduce exactly. */
export class PreTokenizerConfigError extends Error {
  override readonly name = "PreTokenizerConfigError";
}

export type SplitBehavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";
const BEHAVIORS: readonly SplitBehavior[] = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

/** Compiles an Oniguruma pattern (as found in tokenizer.json) to a global, Unicode JavaScript RegExp. */
export function compileOnigurumaRegex(pattern: string): RegExp {
  try {
    return new RegExp(translateOnigurumaPattern(pattern), "gu");
  } catch (error) {
    if (error instanceof RegexTranslationError) {
      throw new PreTokenizerConfigError(`pattern ${JSON.stringify(pattern)} cannot be used: ${error.message}`);
    }
    throw error;
  }
}

function escapeForRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => (c === "-" ? "\\x2d" : "\\" + c));
}

/** One step: maps one piece of text to the pieces it is cut into (appending to `out`). */
interface Step {
  apply(piece: string, out: string[]): void;
}

/** A regex split with HF's `SplitDelimiterBehavior`. */
export class RegexSplit implements Step {
  private readonly regex: RegExp;

  constructor(
    regex: RegExp,
    private readonly behavior: SplitBehavior,
    private readonly invert: boolean,
  ) {
    this.regex = regex.global && regex.unicode ? regex : new RegExp(regex.source, "gu");
  }

  apply(piece: string, out: string[]): void {
    if (piece.length === 0) return;
    if (this.behavior === "Isolated") {
      // Fast path: when the matches cover the whole piece (as with Llama 3's pattern, which matches
      // every character), the pieces are exactly the matches and no offsets are needed.
      const matches = piece.match(this.regex);
      if (matches !== null) {
        let covered = 0;
        for (let k = 0; k < matches.length; k++) covered += matches[k].length;
        if (covered === piece.length) {
          for (let k = 0; k < matches.length; k++) if (matches[k].length > 0) out.push(matches[k]);
          return;
        }
      }
    }
    this.applyGeneral(piece, out);
  }

  /** HF `Pattern::find_matches` followed by `NormalizedString::split` for the configured behavior. */
  private applyGeneral(piece: string, out: string[]): void {
    // (start, end, isDelimiter) triples covering the piece.
    const starts: number[] = [];
    const ends: number[] = [];
    const delimiter: boolean[] = [];
    const re = this.regex;
    re.lastIndex = 0;
    let previous = 0;
    for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        // Empty match: never a piece; step over one code point as both engines do.
        const code = piece.charCodeAt(end);
        re.lastIndex = end + (code >= 0xd800 && code <= 0xdbff && end + 1 < piece.length ? 2 : 1);
        if (end >= piece.length) break;
        continue;
      }
      if (start > previous) {
        starts.push(previous);
        ends.push(start);
        delimiter.push(this.invert);
      }
      starts.push(start);
      ends.push(end);
      delimiter.push(!this.invert);
      previous = end;
    }
    if (previous < piece.length) {
      starts.push(previous);
      ends.push(piece.length);
      delimiter.push(this.invert);
    }
    const n = starts.length;
    switch (this.behavior) {
      case "Isolated":
        for (let k = 0; k < n; k++) out.push(piece.slice(starts[k], ends[k]));
        return;
      case "Removed":
        for (let k = 0; k < n; k++) if (!delimiter[k]) out.push(piece.slice(starts[k], ends[k]));
        return;
      case "MergedWithPrevious": {
        const s: number[] = [];
        const e: number[] = [];
        let previousWasDelimiter = false;
        for (let k = 0; k < n; k++) {
          if (delimiter[k] && !previousWasDelimiter && s.length > 0) e[e.length - 1] = ends[k];
          else {
            s.push(starts[k]);
            e.push(ends[k]);
          }
          previousWasDelimiter = delimiter[k];
        }
        for (let k = 0; k < s.length; k++) out.push(piece.slice(s[k], e[k]));
        return;
      }
      case "MergedWithNext": {
        const s: number[] = [];
        const e: number[] = [];
        let previousWasDelimiter = false;
        for (let k = n - 1; k >= 0; k--) {
          if (delimiter[k] && !previousWasDelimiter && s.length > 0) s[s.length - 1] = starts[k];
          else {
            s.push(starts[k]);
            e.push(ends[k]);
          }
          previousWasDelimiter = delimiter[k];
        }
        for (let k = s.length - 1; k >= 0; k--) out.push(piece.slice(s[k], e[k]));
        return;
      }
      case "Contiguous": {
        const s: number[] = [];
        const e: number[] = [];
        let previousWasDelimiter = false;
        for (let k = 0; k < n; k++) {
          if (delimiter[k] === previousWasDelimiter && s.length > 0) e[e.length - 1] = ends[k];
          else {
            s.push(starts[k]);
            e.push(ends[k]);
          }
          previousWasDelimiter = delimiter[k];
        }
        for (let k = 0; k < s.length; k++) out.push(piece.slice(s[k], e[k]));
        return;
      }
    }
  }
}

class PrefixSpace implements Step {
  apply(piece: string, out: string[]): void {
    out.push(piece.length > 0 && piece.charCodeAt(0) !== 0x20 ? " " + piece : piece);
  }
}

/** The pre-tokenizer of one tokenizer.json: text in, pieces (plain text) out. */
export class PreTokenizer {
  private constructor(private readonly steps: readonly Step[]) {}

  /** Cuts `text` into pieces, appending them to `out`. */
  split(text: string, out: string[]): void {
    const steps = this.steps;
    if (steps.length === 0) {
      if (text.length > 0) out.push(text);
      return;
    }
    if (steps.length === 1) {
      steps[0].apply(text, out);
      return;
    }
    let current = [text];
    for (let s = 0; s < steps.length; s++) {
      const next: string[] = s === steps.length - 1 ? out : [];
      for (const piece of current) steps[s].apply(piece, next);
      current = next;
    }
  }

  /**
   * Builds the pre-tokenizer from tokenizer.json's `pre_tokenizer` value. It must end in ByteLevel
   * (this package implements byte-level BPE only). Throws PreTokenizerConfigError naming the problem.
   */
  static fromConfig(config: unknown): PreTokenizer {
    if (config === null || config === undefined) {
      throw new PreTokenizerConfigError("pre_tokenizer is null; a byte-level BPE tokenizer needs a ByteLevel pre_tokenizer");
    }
    const flat: Record<string, unknown>[] = [];
    const flatten = (c: unknown, path: string): void => {
      if (typeof c !== "object" || c === null || Array.isArray(c)) throw new PreTokenizerConfigError(`${path} is not an object`);
      const obj = c as Record<string, unknown>;
      if (obj.type === "Sequence") {
        if (!Array.isArray(obj.pretokenizers)) throw new PreTokenizerConfigError(`${path}.pretokenizers is not a list`);
        obj.pretokenizers.forEach((child, k) => flatten(child, `${path}.pretokenizers[${k}]`));
      } else {
        flat.push(obj);
      }
    };
    flatten(config, "pre_tokenizer");

    const steps: Step[] = [];
    let sawByteLevel = false;
    flat.forEach((obj, k) => {
      const type = obj.type;
      if (sawByteLevel) {
        throw new PreTokenizerConfigError(
          `pre_tokenizer step ${k} (${String(type)}) comes after ByteLevel; only ByteLevel as the last step is supported`,
        );
      }
      if (type === "Split") {
        steps.push(splitStep(obj, k));
      } else if (type === "ByteLevel") {
        sawByteLevel = true;
        if (obj.add_prefix_space === true) steps.push(new PrefixSpace());
        if (obj.use_regex !== false) steps.push(new RegexSplit(compileOnigurumaRegex(GPT2_PATTERN), "Isolated", false));
      } else {
        throw new PreTokenizerConfigError(
          `pre_tokenizer type ${JSON.stringify(type)} is not supported; only Split, ByteLevel and Sequence (byte-level BPE tokenizers such as Llama 3, GPT-2, Qwen2)`,
        );
      }
    });
    if (!sawByteLevel) {
      throw new PreTokenizerConfigError("pre_tokenizer has no ByteLevel step; only byte-level BPE tokenizers are supported");
    }
    return new PreTokenizer(steps);
  }

  /** A pre-tokenizer with just one regex split (Isolated), for tests and benchmarks. */
  static fromPattern(onigurumaPattern: string): PreTokenizer {
    return new PreTokenizer([new RegexSplit(compileOnigurumaRegex(onigurumaPattern), "Isolated", false)]);
  }
}

function splitStep(obj: Record<string, unknown>, k: number): Step {
  const pattern = obj.pattern as Record<string, unknown> | undefined;
  let regex: RegExp;
  if (pattern && typeof pattern.Regex === "string") {
    regex = compileOnigurumaRegex(pattern.Regex);
  } else if (pattern && typeof pattern.String === "string") {
    if (pattern.String.length === 0) throw new PreTokenizerConfigError(`pre_tokenizer step ${k}: Split with an empty String pattern`);
    regex = new RegExp(escapeForRegExp(pattern.String), "gu");
  } else {
    throw new PreTokenizerConfigError(`pre_tokenizer step ${k}: Split needs pattern {"Regex": …} or {"String": …}`);
  }
  const behavior = obj.behavior as SplitBehavior;
  if (!BEHAVIORS.includes(behavior)) {
    throw new PreTokenizerConfigError(
      `pre_tokenizer step ${k}: Split behavior ${JSON.stringify(obj.behavior)} is not one of ${BEHAVIORS.join(", ")}`,
    );
  }
  return new RegexSplit(regex, behavior, obj.invert === true);
}
