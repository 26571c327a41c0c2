import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** The repository root (this file compiles to dist/test/support/paths.js). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** `../shared` beside the checkout: tokenizer files and vectors every developer and CI have. */
export const sharedDir = join(repoRoot, "..", "shared");
export const fixturesDir = join(repoRoot, "fixtures");
/** The compiled tree this file belongs to (dist/, or dist-NAME/ when several builds share one checkout). */
export const distDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
