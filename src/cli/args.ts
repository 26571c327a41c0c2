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
    throw new SwallowError(`${message}; see \`swallow ${command} --help\``);
  }
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
