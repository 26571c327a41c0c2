import { stat } from "node:fs/promises";
import { SwallowError } from "../errors.js";
import { NodeFileTree } from "../node/file-tree.js";

/** Resolves `--model` to a checkpoint directory, with a one-line error that says what to pass. */
export async function modelDirectory(value: string | undefined): Promise<NodeFileTree> {
  if (value === undefined) {
    throw new SwallowError("--model DIR is required: a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json)");
  }
  const info = await stat(value).catch(() => null);
  if (!info) throw new SwallowError(`model directory ${value} not found; pass --model with a Hugging Face checkpoint directory`);
  if (!info.isDirectory()) throw new SwallowError(`${value} is not a directory; --model takes the checkpoint's directory, not a file`);
  return new NodeFileTree(value);
}
