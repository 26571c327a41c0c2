/**
 * Runs selected tasks against a model (and judge): loads each task's items, skips the items whose outcome a
 * previous (interrupted) run stored, runs the rest with bounded concurrency through memoising backends, stores
 * each outcome as it finishes, and aggregates to the task's 0–1 score.
 */
import { SwallowError } from "../../errors.js";
import { CachedBackend } from "../store/cached-backend.js";
import type { ResultStore } from "../store/result-store.js";
import type { DatasetAccess, EvalModels, EvalTask, ItemOutcome } from "../types.js";
import { ProgressBar, type ProgressOptions } from "./progress.js";

export interface RunTasksOptions {
  /** Names the run in the store (rerunning with the same id resumes it). */
  runId: string;
  tasks: EvalTask[];
  models: EvalModels;
  store: ResultStore;
  data: DatasetAccess;
  /** Keep each task's first N items. */
  limit?: number;
  /** Items in flight at once (each may send several requests). Default 8. */
  concurrency?: number;
  progress?: ProgressOptions | false;
  /** Settings recorded with the run (shown in reports). */
  meta?: Record<string, unknown>;
}

export interface TaskResult {
  task: EvalTask;
  /** The task's score on the 0–1 scale. */
  score: number;
  outcomes: ItemOutcome[];
  /** Items whose outcome came from the store. */
  resumed: number;
  seconds: number;
}

/** The store's key for a task: a new version never mixes with old results. */
export function taskKey(task: EvalTask): string {
  return `${task.name}@${task.version}`;
}

export async function runTasks(options: RunTasksOptions): Promise<TaskResult[]> {
  const results: TaskResult[] = [];
  for (const task of options.tasks) {
    const result = await runTask(task, options);
    results.push(result);
    options.store.saveRun({
      runId: options.runId,
      backendId: options.models.model.id,
      scores: { [task.name]: result.score },
      meta: { ...(options.meta ?? {}), ...(options.limit !== undefined ? { limit: options.limit } : {}) },
    });
  }
  return results;
}

async function runTask(task: EvalTask, options: RunTasksOptions): Promise<TaskResult> {
  const started = Date.now();
  const key = taskKey(task);
  const items = await task.load(options.data, { limit: options.limit });
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.itemId))
      throw new SwallowError(`task ${task.name} has two items with id "${item.itemId}"; item ids must be unique`, { exitCode: 1 });
    seen.add(item.itemId);
  }
  const stored = options.store.outcomes(options.runId, key);
  const pending = items.filter((item) => !stored.has(item.itemId));
  const models: EvalModels = {
    model: new CachedBackend(options.models.model, options.store, key),
    ...(options.models.judge ? { judge: new CachedBackend(options.models.judge, options.store, key) } : {}),
  };
  const bar =
    options.progress === false ? null : new ProgressBar(task.name, items.length, items.length - pending.length, options.progress ?? {});
  const fresh = new Map<string, ItemOutcome>();
  await forEachLimited(pending, options.concurrency ?? 8, async (item) => {
    let outcome: ItemOutcome;
    try {
      outcome = await item.run(models);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new SwallowError(`task ${task.name}, item ${item.itemId}: ${message}`, {
        cause: error,
        exitCode: error instanceof SwallowError ? error.exitCode : 1,
      });
    }
    options.store.saveOutcome(options.runId, key, { ...outcome, itemId: item.itemId });
    fresh.set(item.itemId, outcome);
    bar?.tick();
  });
  bar?.finish();
  const outcomes = items.map((item) => fresh.get(item.itemId) ?? stored.get(item.itemId)!);
  return {
    task,
    score: task.aggregate(outcomes),
    outcomes,
    resumed: items.length - pending.length,
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Runs `work` over `items` with at most `limit` in flight. On the first failure no new item starts; the
 * ones in flight finish (their outcomes are stored) and the first error is thrown.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}
