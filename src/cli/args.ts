import { parseArgs, type ParseArgsConfig } from "node:util";
import { SwallowError } from "../errors.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes. */
export const commonOptions = {
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} satisfies OptionSpec;

type Parsed<T extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T & typeof commonOptions; strict: true; allowPositionals: boolean }>
>;

/**
 * Parses a command's flags strictly (unknown flags and missing values are errors) and turns
 * node:util's errors into one-line SwallowErrors that name the command. A negative number after a
 * value-taking flag (`--seed -1`) is its value, not an option.
 */
export function parseCommandArgs<T extends OptionSpec>(command: string, argv: string[], options: T, allowPositionals = false): Parsed<T> {
  try {
    return parseArgs({
      args: joinNegativeValues(argv, options),
      options: { ...commonOptions, ...options },
      strict: true,
      allowPositionals,
    });
  } catch (error) {
    // node:util explains some errors over several lines; the first sentence says what was wrong.
    const message = (error as Error).message.split("\n")[0].replace(/\. To specify .*$/, "");
    const unknown = /^Unknown option '--([^']+)'/.exec(message)?.[1];
    const hint = unknown !== undefined ? VLLM_FLAG_HINTS[unknown] : undefined;
    if (hint) throw new SwallowError(`--${unknown} (a vLLM flag): ${hint}`);
    throw new SwallowError(`${message}; see \`swallow ${command} --help\``);
  }
}

/**
 * vLLM flags that people copy into `swallow serve` commands, with what to do instead: an unknown-option error alone
 * would leave a vLLM user guessing whether the feature exists.
 */
export const VLLM_FLAG_HINTS: Readonly<Record<string, string>> = {
  "gpu-memory-utilization":
    "WebGPU cannot report how much memory the GPU has, so no fraction of it can be taken; give the KV cache's size with --kv-cache-memory-bytes (e.g. 40GB)",
  "tensor-parallel-size": "a server runs the model on one GPU (WebGPU has no multi-GPU collectives); drop the flag",
  "pipeline-parallel-size": "a server runs the model on one GPU (WebGPU has no multi-GPU collectives); drop the flag",
  dtype: "weights run in the precision the checkpoint stores (BF16 for Llama-3.1-Swallow); drop the flag",
  "enable-prefix-caching": "prefix caching is always on; drop the flag",
  "trust-remote-code": "Llama checkpoints need no remote code; drop the flag",
  "enforce-eager": "there is no graph capture to turn off; drop the flag",
};

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Reads a size in bytes: a whole number, or a number with a unit — K/M/G/T and KB/MB/GB/TB are powers of 1000,
 * KiB/MiB/GiB/TiB powers of 1024 (any case): "40GB", "37.25GiB", "4e10".
 */
export function byteSizeFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? BYTE_UNITS[match[2].toLowerCase()] : undefined;
  const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new SwallowError(`--${name} must be a size in bytes such as 40000000000, 40GB or 37.25GiB, got "${value}"`);
  }
  return bytes;
}

/** Reads a numeric flag, checking it is a finite number (and an integer when asked). */
export function numberFlag(name: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new SwallowError(`--${name} must be ${integer ? "an integer" : "a number"}, got "${value}"`);
  }
  return n;
}

/** Rewrites `--flag -1.5` as `--flag=-1.5` for string-valued flags, which node:util would read as an option. */
function joinNegativeValues(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].startsWith("--") ? argv[i].slice(2) : null;
    const next = argv[i + 1];
    if (flag !== null && options[flag]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}
