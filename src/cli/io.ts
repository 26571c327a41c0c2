import { createInterface } from "node:readline";

/** Informational lines go to stderr so stdout stays machine-readable. */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Yields stdin lines (without the newline), skipping blank ones, with 1-based line numbers. */
export async function* stdinLines(): AsyncGenerator<{ line: string; lineNumber: number }> {
  const reader = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of reader) {
    lineNumber++;
    if (line.trim() !== "") yield { line, lineNumber };
  }
}

/** Writes a line to stdout, waiting when the pipe is full. */
export async function writeLine(text: string): Promise<void> {
  if (!process.stdout.write(`${text}\n`)) await new Promise((resolve) => process.stdout.once("drain", resolve));
}
