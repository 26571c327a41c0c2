import type { DownloadProgress } from "./download.js";

/** What a pull is about to do, reported once before downloads start. */
export interface PullPlan {
  repoId: string;
  revision: string;
  commit: string;
  /** Files in the snapshot (after --include/--exclude). */
  fileCount: number;
  totalBytes: number;
  /** Blobs to download (the rest are already in the cache). */
  downloads: { label: string; sizeBytes?: number }[];
}

export interface FileProgress extends DownloadProgress {
  done(): void;
}

/** Receives a pull's progress. The CLI draws bars on stderr; the library default draws nothing. */
export interface PullReporter {
  begin(plan: PullPlan): void;
  file(label: string, sizeBytes: number | undefined): FileProgress;
  /** A line worth showing while the pull goes on (a retry, a resumed connection). */
  warn(line: string): void;
  end(): void;
}

export const silentReporter: PullReporter = {
  begin() {},
  file: () => ({ start() {}, advance() {}, restart() {}, done() {} }),
  warn() {},
  end() {},
};

/** The part of a stream the reporter needs (process.stderr in the CLI, a recorder in tests). */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface TerminalReporterOptions {
  /** Milliseconds since some origin; injectable for tests. */
  now?: () => number;
  /** Redraw interval on a terminal. */
  ttyIntervalMs?: number;
  /** Interval between plain progress lines when stderr is not a terminal (logs, CI). */
  plainIntervalMs?: number;
}

interface ActiveFile {
  label: string;
  sizeBytes?: number;
  bytes: number;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 9.95) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function files(count: number): string {
  return `${count} ${count === 1 ? "file" : "files"}`;
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

function percent(done: number, total: number): string {
  return total > 0 ? `${Math.floor((100 * Math.min(done, total)) / total)}%` : "";
}

/**
 * Progress on stderr. On a terminal: one redrawn line per file being downloaded plus an overall line,
 * at most every `ttyIntervalMs`. Otherwise: a line when the pull starts, one every `plainIntervalMs`
 * while bytes flow, and one at the end, so logs never flood.
 */
export class TerminalReporter implements PullReporter {
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly tty: boolean;
  private plan?: PullPlan;
  private readonly active = new Set<ActiveFile>();
  private totalDownloadBytes = 0;
  /** Bytes on disk among the blobs to download (resumed partials included). */
  private doneBytes = 0;
  /** Bytes received by this run, for the speed. */
  private receivedBytes = 0;
  private completed = 0;
  private startedAt = 0;
  private lastDrawAt = -Infinity;
  private drawnLines = 0;

  constructor(
    private readonly sink: TextSink,
    options: TerminalReporterOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.tty = sink.isTTY === true;
    this.intervalMs = this.tty ? (options.ttyIntervalMs ?? 100) : (options.plainIntervalMs ?? 10_000);
  }

  begin(plan: PullPlan): void {
    this.plan = plan;
    this.startedAt = this.now();
    this.lastDrawAt = this.startedAt;
    this.totalDownloadBytes = plan.downloads.reduce((sum, d) => sum + (d.sizeBytes ?? 0), 0);
    const head = `pulling ${plan.repoId} (${plan.revision} → ${plan.commit.slice(0, 12)}): ${files(plan.fileCount)}, ${formatBytes(plan.totalBytes)}`;
    const todo =
      plan.downloads.length === 0 ? "all in the cache" : `${plan.downloads.length} to download (${formatBytes(this.totalDownloadBytes)})`;
    this.sink.write(`${head}; ${todo}\n`);
  }

  file(label: string, sizeBytes: number | undefined): FileProgress {
    const file: ActiveFile = { label, sizeBytes, bytes: 0 };
    this.active.add(file);
    return {
      start: (bytes) => {
        file.bytes = bytes;
        this.doneBytes += bytes;
        this.maybeDraw();
      },
      advance: (bytes) => {
        file.bytes += bytes;
        this.doneBytes += bytes;
        this.receivedBytes += bytes;
        this.maybeDraw();
      },
      restart: () => {
        this.doneBytes -= file.bytes;
        file.bytes = 0;
      },
      done: () => {
        this.active.delete(file);
        this.completed++;
        this.maybeDraw();
      },
    };
  }

  warn(line: string): void {
    // On a terminal the bars are drawn again below the message at the next redraw.
    this.clearBlock();
    this.sink.write(`${line}\n`);
  }

  end(): void {
    if (!this.plan) return;
    this.clearBlock();
    const seconds = (this.now() - this.startedAt) / 1000;
    const what =
      this.plan.downloads.length === 0
        ? "nothing to download"
        : `downloaded ${formatBytes(this.receivedBytes)} in ${formatDuration(seconds)}${seconds > 0 ? ` (${formatBytes(this.receivedBytes / seconds)}/s)` : ""}`;
    this.sink.write(`pulled ${this.plan.repoId}: ${files(this.plan.fileCount)}, ${what}\n`);
  }

  private maybeDraw(): void {
    const now = this.now();
    if (!this.plan || now - this.lastDrawAt < this.intervalMs) return;
    this.lastDrawAt = now;
    if (this.tty) this.drawBlock(now);
    else this.sink.write(`${this.overallLine(now)}\n`);
  }

  private overallLine(now: number): string {
    const plan = this.plan!;
    const seconds = (now - this.startedAt) / 1000;
    const speed = seconds > 0 ? this.receivedBytes / seconds : 0;
    const left = Math.max(0, this.totalDownloadBytes - this.doneBytes);
    const eta = speed > 0 ? ` ETA ${formatDuration(left / speed)}` : "";
    return `${plan.repoId}: ${percent(this.doneBytes, this.totalDownloadBytes)} ${formatBytes(this.doneBytes)}/${formatBytes(this.totalDownloadBytes)}, ${formatBytes(speed)}/s${eta}, ${this.completed}/${plan.downloads.length} files`;
  }

  private drawBlock(now: number): void {
    const width = Math.max(40, (this.sink.columns ?? 80) - 1);
    const fit = (line: string) => (line.length > width ? `${line.slice(0, width - 1)}…` : line);
    const lines: string[] = [];
    for (const file of this.active) {
      const size = file.sizeBytes ?? 0;
      const label = file.label.length > 36 ? `…${file.label.slice(-35)}` : file.label.padEnd(36);
      lines.push(
        fit(
          `  ${label} ${bar(size > 0 ? file.bytes / size : 0, 20)} ${percent(file.bytes, size).padStart(4)} ${formatBytes(file.bytes)}/${formatBytes(size)}`,
        ),
      );
    }
    const overall = this.overallLine(now);
    lines.push(fit(`${bar(this.totalDownloadBytes > 0 ? this.doneBytes / this.totalDownloadBytes : 0, 20)} ${overall}`));
    this.sink.write(`${this.moveUp()}${lines.join("\n")}\n`);
    this.drawnLines = lines.length;
  }

  /** Cursor to the start of the block drawn last, and clear from there down. */
  private moveUp(): string {
    return this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[J` : "";
  }

  private clearBlock(): void {
    if (this.tty && this.drawnLines > 0) this.sink.write(this.moveUp());
    this.drawnLines = 0;
  }
}
