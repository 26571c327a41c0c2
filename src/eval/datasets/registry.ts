/**
 * Where evaluation data lives locally and which datasets exist: the data directory (`--data-dir`, else
 * `$SWALLOW_DATA_DIR`, else `~/.cache/swallow/eval-data`), one subdirectory per dataset named by its registry key.
 */
import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { SwallowError } from "../../errors.js";
import { allDatasets } from "../tasks/index.js";
import type { DatasetAccess, DatasetSpec } from "../types.js";

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SWALLOW_DATA_DIR;
  return fromEnv && fromEnv.trim() !== "" ? path.resolve(fromEnv) : path.join(homedir(), ".cache", "swallow", "eval-data");
}

/** Every dataset the tasks declare. */
export function datasetRegistry(): DatasetSpec[] {
  return allDatasets();
}

/** Resolves `swallow eval data download NAMES|all`; unknown names are an error that lists the known ones. */
export function selectDatasets(names: readonly string[], registry: DatasetSpec[] = datasetRegistry()): DatasetSpec[] {
  if (names.length === 0 || names.includes("all")) return registry;
  return names.map((name) => {
    const spec = registry.find((d) => d.name === name);
    if (!spec) throw new SwallowError(`unknown dataset "${name}"; choose from: all, ${registry.map((d) => d.name).join(", ")}`);
    return spec;
  });
}

/** The datasets the given tasks read (deduplicated, registry order). */
export function datasetsForTasks(tasks: readonly { datasets: string[] }[], registry: DatasetSpec[] = datasetRegistry()): DatasetSpec[] {
  const wanted = new Set(tasks.flatMap((t) => t.datasets));
  return registry.filter((d) => wanted.has(d.name));
}

/** DatasetAccess over a local data directory. */
export class LocalDatasets implements DatasetAccess {
  constructor(readonly root: string) {}

  dir(datasetName: string): string {
    const dir = path.join(this.root, datasetName);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new SwallowError(
        `dataset "${datasetName}" is not in ${this.root}; run \`swallow eval data download ${datasetName}${this.root === defaultDataDir() ? "" : ` --data-dir ${this.root}`}\``,
      );
    }
    return dir;
  }
}
