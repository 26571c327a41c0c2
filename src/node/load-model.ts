import { LanguageModel, type LoadOptions } from "../engine/language-model.js";
import { createBackend, type BackendChoice, type BackendName } from "../gpu/select.js";
import { NodeFileTree } from "./file-tree.js";

/**
 * Loads a Hugging Face Llama-3.x checkpoint directory for generation and scoring. On WebGPU the tensor cores run
 * where the GPU has them and pass a start-up check (`tensorCores: false` keeps batch-invariant kernels, as the CLI's
 * `--batch-invariant`; `robustness: false` as `--no-robustness`).
 *
 * @example
 * const llm = await loadModel("./Llama-3.1-Swallow-8B-Instruct-v0.3", { backend: "auto" });
 * for await (const event of llm.chat([{ role: "user", content: "日本の首都は？" }])) process.stdout.write(event.text);
 */
export async function loadModel(
  directory: string,
  options: Omit<LoadOptions, "backend"> & { backend?: BackendName } & BackendChoice = {},
): Promise<LanguageModel> {
  const { tensorCores, robustness, ...load } = options;
  const backend = await createBackend(options.backend ?? "auto", () => {}, { tensorCores, robustness });
  return LanguageModel.load(new NodeFileTree(directory), { ...load, backend });
}
