/**
 * A progress bar with ETA on stderr. On a TTY one line is redrawn in place; otherwise (CI logs, pipes) a plain
 * line is printed at most every `lineIntervalMs` and at the end, so logs stay short.
 */

/** Where progress goes: process.stderr, or a fake in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Milliseconds clock (injectable for tests). */
  now?: () => number;
  /** Minimum time between plain (non-TTY) lines. Default 10 000 ms. */
  lineIntervalMs?: number;
}

/** "1h02m", "3m05s", "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

export class ProgressBar {
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly started: number;
  private lastLine = -Infinity;
  private done = 0;

  /** `total` items, of which `skipped` were already done (resumed) and do not count toward the rate. */
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly skipped = 0,
    private readonly options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? Date.now;
    this.started = this.now();
    this.done = skipped;
    this.render(false);
  }

  /** One more item finished. */
  tick(): void {
    this.done++;
    this.render(false);
  }

  /** Ends the bar (a newline on a TTY; a final line otherwise). */
  finish(): void {
    this.render(true);
    if (this.stream.isTTY) this.stream.write("\n");
  }

  /** The line as it would be shown now (exported for tests). */
  line(): string {
    const elapsed = (this.now() - this.started) / 1000;
    const fresh = this.done - this.skipped;
    const remaining = this.total - this.done;
    const eta = fresh > 0 ? (elapsed / fresh) * remaining : NaN;
    const pct = this.total === 0 ? 100 : Math.floor((100 * this.done) / this.total);
    const width = 24;
    const filled = this.total === 0 ? width : Math.round((width * this.done) / this.total);
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const resumed = this.skipped > 0 ? ` (${this.skipped} resumed)` : "";
    const timing = remaining === 0 ? `done in ${formatDuration(elapsed)}` : `ETA ${fresh > 0 ? formatDuration(eta) : "?"}`;
    return `${this.label} ${bar} ${this.done}/${this.total} ${pct}%${resumed} ${timing}`;
  }

  private render(final: boolean): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${this.line()}`);
      return;
    }
    const now = this.now();
    if (final || now - this.lastLine >= (this.options.lineIntervalMs ?? 10_000)) {
      this.lastLine = now;
      this.stream.write(`${this.line()}\n`);
    }
  }
}
