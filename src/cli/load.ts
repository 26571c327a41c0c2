import { LanguageModel, type LoadOptions } from "../engine/language-model.js";
import { describeMemoryAccount } from "../engine/memory-account.js";
import type { Backend } from "../gpu/backend.js";
import { createBackend, parseBackendName, type BackendChoice } from "../gpu/select.js";
import { info } from "./io.js";
import { modelDirectory } from "./model-dir.js";
import { numberFlag } from "./args.js";
import { SwallowError } from "../errors.js";

/** Loads `--model` on `--backend`, reporting progress on stderr. */
export async function loadFromFlags(
  values: { model?: string; backend?: string; "max-model-len"?: string } & BackendFlags,
  serving: Pick<LoadOptions, "maxNumSeqs" | "kvCacheTokens" | "kvCacheBytes" | "maxBatchTokens" | "prefixCaching"> & {
    /** maxNumSeqs when it is not given, by the backend (the server's default depends on its kernels). */
    defaultMaxNumSeqs?: (backend: Backend) => number;
  } = {},
): Promise<LanguageModel> {
  const maxModelLen = numberFlag("max-model-len", values["max-model-len"], true);
  if (maxModelLen !== undefined && maxModelLen < 2) throw new SwallowError(`--max-model-len must be at least 2, got ${maxModelLen}`);
  const files = await modelDirectory(values.model);
  const backend = await createBackend(parseBackendName(values.backend), info, backendChoice(values));
  const { defaultMaxNumSeqs, maxNumSeqs, ...loadOptions } = serving;
  const started = Date.now();
  const model = await LanguageModel.load(files, {
    backend,
    maxModelLen,
    ...loadOptions,
    maxNumSeqs: maxNumSeqs ?? defaultMaxNumSeqs?.(backend),
    onMemoryAccount: (account) => info(describeMemoryAccount(account)),
    onNotice: info,
  });
  info(
    `loaded ${files.location} (${model.spec.numLayers} layers, hidden ${model.spec.hiddenSize}) on ${backend.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return model;
}

/** Flags shared by the commands that run the model. */
export const modelFlags = {
  model: { type: "string" },
  backend: { type: "string" },
  "max-model-len": { type: "string" },
  /** WebGPU: tensor-core matmuls without the start-up check (see BackendChoice.tensorCores; default: checked, where the GPU has them). */
  "tensor-cores": { type: "boolean" },
  /** WebGPU: batch-invariant kernels only (BackendChoice.tensorCores false). */
  "batch-invariant": { type: "boolean" },
  /** WebGPU in Node: no bounds clamping on buffer access (see BackendChoice.robustness). */
  "no-robustness": { type: "boolean" },
} as const;

/** The backend flags of modelFlags. */
export interface BackendFlags {
  "tensor-cores"?: boolean;
  "batch-invariant"?: boolean;
  "no-robustness"?: boolean;
}

/** createBackend's choice from the backend flags. */
export function backendChoice(values: BackendFlags): BackendChoice {
  if (values["tensor-cores"] && values["batch-invariant"]) {
    throw new SwallowError(
      "--tensor-cores and --batch-invariant contradict each other: pass one (tensor cores are the default where the GPU has them)",
    );
  }
  const tensorCores = values["batch-invariant"] ? false : values["tensor-cores"] ? true : undefined;
  return { tensorCores, robustness: values["no-robustness"] !== true };
}
