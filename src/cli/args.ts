import { parseArgs, type ParseArgsConfig } from "node:util";
import { SwallowError } from "../errors.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Options every command takes. */
export const commonOptions = {
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} satisfies OptionSpec;

/**
 * Parses a command's flags strictly (unknown flags and missing values are errors) and turns
 * node:util's errors into one-line SwallowErrors that name the command.
 */
type Parsed<T extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T & typeof commonOptions; strict: true; allowPositionals: boolean }>
>;

export function parseCommandArgs<T extends OptionSpec>(command: string, argv: string[], options: T, allowPositionals = false): Parsed<T> {
  try {
    return parseArgs({ args: argv, options: { ...commonOptions, ...options }, strict: true, allowPositionals });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, "");
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
