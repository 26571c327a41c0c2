/**
 * Added/special tokens (Hugging Face `AddedVocabulary`): their strings are found in the raw text before
 * pre-tokenization and map straight to their ids.
 *
 * Matching is leftmost-longest and non-overlapping over all tokens of one set (HF's Aho-Corasick with
 * MatchKind::LeftmostLongest). A match is then dropped if it is special and special parsing is off, or if
 * the token is `single_word` and a word character (Unicode `\w`) touches it; `lstrip`/`rstrip` widen it
 * over adjacent Unicode white space.
 */

export interface AddedTokenSpec {
  id: number;
  content: string;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Index into the token list of the token ending here, or -1. */
  token: number;
}

const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;
const WHITE_SPACE = /\p{White_Space}/u;

function isWordCharBefore(text: string, index: number): boolean {
  if (index === 0) return false;
  let start = index - 1;
  const c = text.charCodeAt(start);
  if (c >= 0xdc00 && c <= 0xdfff && start > 0) start--;
  return WORD_CHAR.test(text.slice(start, index));
}

function isWordCharAt(text: string, index: number): boolean {
  if (index >= text.length) return false;
  const cp = text.codePointAt(index)!;
  return WORD_CHAR.test(String.fromCodePoint(cp));
}

/** A piece of text: either plain text (`id` = -1) or an added token. */
export interface Segment {
  text: string;
  id: number;
}

export class AddedTokenMatcher {
  private readonly root: TrieNode = { children: new Map(), token: -1 };
  /** Bitmap over UTF-16 code units that start some token. */
  private readonly firstUnit = new Uint8Array(65536);
  readonly isEmpty: boolean;

  /** `patterns[k]` is the string to find for `tokens[k]` (its content, normalized if the token is). */
  constructor(
    private readonly tokens: readonly AddedTokenSpec[],
    patterns: readonly string[],
  ) {
    patterns.forEach((pattern, k) => {
      if (pattern.length === 0) return;
      let node = this.root;
      for (let i = 0; i < pattern.length; i++) {
        const unit = pattern.charCodeAt(i);
        let child = node.children.get(unit);
        if (!child) {
          child = { children: new Map(), token: -1 };
          node.children.set(unit, child);
        }
        node = child;
      }
      if (node.token < 0) node.token = k;
      this.firstUnit[pattern.charCodeAt(0)] = 1;
    });
    this.isEmpty = this.root.children.size === 0;
  }

  /**
   * Splits `text` into plain-text and added-token segments (appending to `out`). Tokens with
   * `special` are skipped when `parseSpecial` is false.
   */
  split(text: string, parseSpecial: boolean, out: Segment[]): void {
    if (this.isEmpty) {
      if (text.length > 0) out.push({ text, id: -1 });
      return;
    }
    const firstUnit = this.firstUnit;
    const len = text.length;
    let emitted = 0; // end of what has been pushed to out
    let i = 0;
    while (i < len) {
      if (firstUnit[text.charCodeAt(i)] === 0) {
        i++;
        continue;
      }
      // Longest token starting at i.
      let node: TrieNode | undefined = this.root;
      let best = -1;
      let bestEnd = -1;
      for (let j = i; j < len; j++) {
        node = node.children.get(text.charCodeAt(j));
        if (!node) break;
        if (node.token >= 0) {
          best = node.token;
          bestEnd = j + 1;
        }
      }
      if (best < 0) {
        i++;
        continue;
      }
      let start = i;
      let stop = bestEnd;
      i = bestEnd; // matches never overlap, kept or not
      const token = this.tokens[best];
      if (token.special && !parseSpecial) continue;
      if (token.singleWord && (isWordCharBefore(text, start) || isWordCharAt(text, stop))) continue;
      if (token.lstrip) {
        let s = start;
        while (s > emitted && WHITE_SPACE.test(charBefore(text, s))) s -= charBefore(text, s).length;
        start = s;
      }
      if (token.rstrip) {
        while (stop < len && WHITE_SPACE.test(charAt(text, stop))) stop += charAt(text, stop).length;
      }
      if (start > emitted) out.push({ text: text.slice(emitted, start), id: -1 });
      out.push({ text: text.slice(start, stop), id: token.id });
      emitted = stop;
      if (i < stop) i = stop;
    }
    if (emitted < len) out.push({ text: text.slice(emitted), id: -1 });
  }
}

function charBefore(text: string, index: number): string {
  const c = text.charCodeAt(index - 1);
  if (c >= 0xdc00 && c <= 0xdfff && index >= 2) {
    const h = text.charCodeAt(index - 2);
    if (h >= 0xd800 && h <= 0xdbff) return text.slice(index - 2, index);
  }
  return text[index - 1];
}

function charAt(text: string, index: number): string {
  return String.fromCodePoint(text.codePointAt(index)!);
}
