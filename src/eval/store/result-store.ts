/**
 * The evaluation's result store (SQLite through better-sqlite3): every backend answer, keyed by
 * (backend id, task name@version, canonical request JSON), and every item outcome per (run, task, item), so an
 * interrupted run resumes without redoing a request. WAL mode; each write is one transaction, so a crash
 * leaves either the whole row or none of it.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { SwallowError } from "../../errors.js";
import type { ItemOutcome } from "../types.js";

/** A finished run's summary as the report reads it. */
export interface RunRecord {
  runId: string;
  backendId: string;
  /** ISO time of the last update. */
  updatedAt: string;
  /** Task scores on the 0–1 scale, by task name. */
  scores: Record<string, number>;
  /** Free-form settings worth showing (tasks, limit, endpoint, …). */
  meta: Record<string, unknown>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS responses (
  backend TEXT NOT NULL, task TEXT NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (backend, task, request)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outcomes (
  run TEXT NOT NULL, task TEXT NOT NULL, item_id TEXT NOT NULL, outcome TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (run, task, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  run TEXT PRIMARY KEY, backend TEXT NOT NULL, updated_at TEXT NOT NULL, scores TEXT NOT NULL, meta TEXT NOT NULL
);
`;

export class ResultStore {
  private readonly db: Database.Database;
  private readonly getResponse: Database.Statement<[string, string, string], { response: string }>;
  private readonly putResponse: Database.Statement<[string, string, string, string, string]>;
  private readonly getOutcomes: Database.Statement<[string, string], { item_id: string; outcome: string }>;
  private readonly putOutcome: Database.Statement<[string, string, string, string, string]>;

  /** Opens (creating when absent) the store at `file`; ":memory:" for tests. */
  constructor(readonly file: string) {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    try {
      this.db = new Database(file);
      this.db.pragma("journal_mode = WAL");
      // NORMAL is durable across application crashes in WAL mode (only a power loss can drop the last commits).
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("busy_timeout = 5000");
      this.db.exec(SCHEMA);
    } catch (error) {
      throw new SwallowError(`cannot open the result store ${file}: ${(error as Error).message}; delete it or choose another --output`, {
        cause: error,
      });
    }
    this.getResponse = this.db.prepare("SELECT response FROM responses WHERE backend = ? AND task = ? AND request = ?");
    this.putResponse = this.db.prepare(
      "INSERT OR REPLACE INTO responses (backend, task, request, response, created_at) VALUES (?, ?, ?, ?, ?)",
    );
    this.getOutcomes = this.db.prepare("SELECT item_id, outcome FROM outcomes WHERE run = ? AND task = ?");
    this.putOutcome = this.db.prepare("INSERT OR REPLACE INTO outcomes (run, task, item_id, outcome, created_at) VALUES (?, ?, ?, ?, ?)");
  }

  /** The stored answer to a request (JSON-decoded), or undefined. */
  response(backend: string, task: string, requestKey: string): unknown {
    const row = this.getResponse.get(backend, task, requestKey);
    return row === undefined ? undefined : JSON.parse(row.response);
  }

  saveResponse(backend: string, task: string, requestKey: string, response: unknown): void {
    this.putResponse.run(backend, task, requestKey, JSON.stringify(response), new Date().toISOString());
  }

  /** The outcomes already stored for a run's task, by item id. */
  outcomes(run: string, task: string): Map<string, ItemOutcome> {
    const out = new Map<string, ItemOutcome>();
    for (const row of this.getOutcomes.all(run, task)) out.set(row.item_id, JSON.parse(row.outcome) as ItemOutcome);
    return out;
  }

  saveOutcome(run: string, task: string, outcome: ItemOutcome): void {
    this.putOutcome.run(run, task, outcome.itemId, JSON.stringify(outcome), new Date().toISOString());
  }

  /** Records (or updates) a run's scores; merges with scores stored earlier for tasks not in this call. */
  saveRun(record: Omit<RunRecord, "updatedAt">): RunRecord {
    const save = this.db.transaction(() => {
      const previous = this.run(record.runId);
      const merged: RunRecord = {
        ...record,
        scores: { ...(previous?.scores ?? {}), ...record.scores },
        meta: { ...(previous?.meta ?? {}), ...record.meta },
        updatedAt: new Date().toISOString(),
      };
      this.db
        .prepare("INSERT OR REPLACE INTO runs (run, backend, updated_at, scores, meta) VALUES (?, ?, ?, ?, ?)")
        .run(merged.runId, merged.backendId, merged.updatedAt, JSON.stringify(merged.scores), JSON.stringify(merged.meta));
      return merged;
    });
    return save();
  }

  run(runId: string): RunRecord | undefined {
    const row = this.db.prepare("SELECT * FROM runs WHERE run = ?").get(runId) as RunRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /** Every run in the store, oldest update first (the chart's order). */
  runs(): RunRecord[] {
    return (this.db.prepare("SELECT * FROM runs ORDER BY updated_at, run").all() as RunRow[]).map(fromRow);
  }

  /** Number of stored responses (for tests and the end-of-run summary). */
  responseCount(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM responses").get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}

interface RunRow {
  run: string;
  backend: string;
  updated_at: string;
  scores: string;
  meta: string;
}

function fromRow(row: RunRow): RunRecord {
  return { runId: row.run, backendId: row.backend, updatedAt: row.updated_at, scores: JSON.parse(row.scores), meta: JSON.parse(row.meta) };
}
