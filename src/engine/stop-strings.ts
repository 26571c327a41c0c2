import { SwallowError } from "../errors.js";

export interface StopStringOptions {
  /** Emit the stop string itself before stopping (vLLM `include_stop_str_in_output`; default false). */
  includeStopString?: boolean;
}

export interface StopStringStep {
  /** Text that is now safe to show: it cannot be part of a stop string. */
  text: string;
  /** The stop string that was just hit (generation must end), or null. */
  stop: string | null;
}

/**
 * Streaming stop-string matcher over decoded text (JavaScript strings, UTF-16 code units).
 *
 * Feed it each decoded chunk with {@link push}. It returns the text that can be shown now and holds back
 * the longest tail that is the start of some stop string, so a stop string split over several chunks is
 * still caught and never shown in part. When a stop string completes, the text before it is returned
 * (the stop string and anything after it are dropped, vLLM's default), `stop` names it, and the matcher
 * ignores further input. At the end of generation call {@link flush} for the held-back tail.
 *
 * When several stop strings occur in the same pending text, the one that starts first wins (first listed
 * on equal starts). A surrogate pair is never split between emitted and held-back text.
 *
 * @example
 * const m = new StopStringMatcher(["<|im_end|>"]);
 * m.push("答えは<|im"); // { text: "答えは", stop: null }
 * m.push("_end|>余分"); // { text: "", stop: "<|im_end|>" }
 */
export class StopStringMatcher {
  private readonly stops: string[];
  private readonly longestStop: number;
  private readonly includeStopString: boolean;
  private pending = "";
  /** Occurrences ending at or before this offset of `pending` came in unchecked chunks and do not count. */
  private uncheckedEnd = 0;
  private hit: string | null = null;

  constructor(stops: readonly string[], options: StopStringOptions = {}) {
    for (const stop of stops) {
      if (typeof stop !== "string" || stop.length === 0) throw new SwallowError("stop strings must be non-empty");
    }
    this.stops = [...new Set(stops)];
    this.longestStop = this.stops.reduce((n, s) => Math.max(n, s.length), 0);
    this.includeStopString = options.includeStopString ?? false;
  }

  /** The stop string that ended generation, or null. */
  get stopped(): string | null {
    return this.hit;
  }

  /**
   * Adds a decoded chunk. With `checkStop: false` (generation has not reached min_tokens yet) stop strings
   * that complete inside this chunk are not acted on, as in vLLM; the tail is still held back, so a stop
   * string that completes in a later, checked chunk is caught.
   */
  push(chunk: string, options: { checkStop?: boolean } = {}): StopStringStep {
    if (this.hit !== null) return { text: "", stop: null };
    this.pending += chunk;
    if (options.checkStop === false) {
      this.uncheckedEnd = this.pending.length;
    } else {
      const found = this.findStop();
      if (found) {
        this.hit = found.stop;
        const end = found.index + (this.includeStopString ? found.stop.length : 0);
        const text = this.pending.slice(0, end);
        this.pending = "";
        this.uncheckedEnd = 0;
        return { text, stop: found.stop };
      }
    }
    let keep = this.heldBackLength();
    if (keep < this.pending.length && isHighSurrogate(this.pending.charCodeAt(this.pending.length - keep - 1))) keep++;
    const emitLength = this.pending.length - keep;
    const text = this.pending.slice(0, emitLength);
    this.pending = this.pending.slice(emitLength);
    this.uncheckedEnd = Math.max(0, this.uncheckedEnd - emitLength);
    return { text, stop: null };
  }

  /** Ends the stream: returns the held-back tail (it never completed a stop string). */
  flush(): string {
    const text = this.pending;
    this.pending = "";
    this.uncheckedEnd = 0;
    return text;
  }

  /** Earliest stop string occurrence in `pending` that ends after `uncheckedEnd`. */
  private findStop(): { stop: string; index: number } | null {
    let best: { stop: string; index: number } | null = null;
    for (const stop of this.stops) {
      const from = Math.max(0, this.uncheckedEnd - stop.length + 1);
      const index = this.pending.indexOf(stop, from);
      if (index >= 0 && (best === null || index < best.index)) best = { stop, index };
    }
    return best;
  }

  /** Length of the longest suffix of `pending` that is a proper prefix of some stop string. */
  private heldBackLength(): number {
    const text = this.pending;
    for (let length = Math.min(text.length, this.longestStop - 1); length > 0; length--) {
      const tail = text.slice(text.length - length);
      if (this.stops.some((stop) => stop.length > length && stop.startsWith(tail))) return length;
    }
    return 0;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
