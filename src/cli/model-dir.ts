import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SwallowError } from "../errors.js";
import { RepoCache } from "../hub/cache.js";
import { parseRepoReference } from "../hub/repo-id.js";
import { hubCacheDir } from "../hub/settings.js";
import { NodeFileTree } from "../node/file-tree.js";
import { info } from "./io.js";

/**
 * Resolves `--model` to a checkpoint directory, with a one-line error that says what to pass.
 * The value is a directory, or a repository id in the Hugging Face cache (`ORG/NAME` or `ORG/NAME@REV`);
 * an existing directory always wins over a repo id of the same spelling.
 */
export async function modelDirectory(value: string | undefined): Promise<NodeFileTree> {
  return new NodeFileTree(value === undefined ? await defaultModelDirectory() : await resolveModelArgument(value));
}

/** The demo checkpoint shipped with the project (models/demo; this file is dist/src/cli/model-dir.js). */
export const DEMO_MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "models", "demo");
export const REAL_MODEL_ID = "tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.3";

/** Without `--model`, commands run the bundled demo model and say so in one line on stderr. */
async function defaultModelDirectory(): Promise<string> {
  const present = await stat(join(DEMO_MODEL_DIR, "config.json")).catch(() => null);
  if (!present) {
    throw new SwallowError("--model DIR is required: a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json)");
  }
  info(
    `no --model given: using the bundled demo model (a few-MB toy trained on man pages); for Swallow run: swallow pull ${REAL_MODEL_ID}`,
  );
  return DEMO_MODEL_DIR;
}

async function resolveModelArgument(value: string): Promise<string> {
  const info = await stat(value).catch(() => null);
  if (info?.isDirectory()) return value;
  if (info) throw new SwallowError(`${value} is not a directory; --model takes the checkpoint's directory, not a file`);
  const reference = parseRepoReference(value, { requireOrg: true });
  if (!reference) throw new SwallowError(`model directory ${value} not found; pass --model with a Hugging Face checkpoint directory`);
  return cachedSnapshot(value, reference.repoId, reference.revision ?? "main");
}

/** refs/{revision} → snapshots/{commit} in the shared cache, or the error that says how to get it. */
async function cachedSnapshot(value: string, repoId: string, revision: string): Promise<string> {
  const cacheDir = hubCacheDir(process.env);
  const snapshot = await new RepoCache(cacheDir, repoId).findSnapshot(revision);
  if (snapshot) return snapshot;
  throw new SwallowError(
    `model ${value} is not a local directory nor in the Hugging Face cache (${cacheDir}); check the path, or run: swallow pull ${value}`,
  );
}
