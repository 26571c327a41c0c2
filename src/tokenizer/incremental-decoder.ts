/**
 * Streaming detokenization: feed ids one at a time, get text as soon as it is complete.
 *
 * One character can span several tokens ('🦙' is [9468, 99, 247] in Llama 3), so bytes of an
 * unfinished UTF-8 sequence are held back until it completes; a sequence that can no longer complete
 * becomes U+FFFD exactly where a one-shot decode would put it. The concatenation of every `push` and
 * the final `flush` equals `tokenizer.decode(allIds, options)`.
 */

import type { DecodeOptions, Tokenizer } from "./tokenizer.js";

export class IncrementalDecoder {
  private decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private readonly skipSpecialTokens: boolean;

  constructor(
    private readonly tokenizer: Tokenizer,
    options: DecodeOptions = {},
  ) {
    this.skipSpecialTokens = options.skipSpecialTokens === true;
  }

  /** Adds one token; returns the text it completes (possibly ""). Throws SwallowError for an unknown id. */
  push(id: number): string {
    const bytes = this.tokenizer.tokenBytes(id);
    if (this.skipSpecialTokens && this.tokenizer.specialTokenIds.has(id)) return "";
    return this.decoder.decode(bytes, { stream: true });
  }

  /** Ends the stream: returns what was held back (U+FFFD for an unfinished sequence) and resets. */
  flush(): string {
    const rest = this.decoder.decode();
    this.decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    return rest;
  }
}
