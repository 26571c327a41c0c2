/**
 * The one error type the project throws for problems a user can fix (bad files, bad flags, bad input).
 * The CLI prints `message` as one line and exits with `exitCode`; anything else is a bug and gets a stack trace.
 */
export class SwallowError extends Error {
  override readonly name = "SwallowError";
  /** Process exit code the CLI uses for this error (2 = bad input or usage). */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? 2;
  }
}

export function isSwallowError(error: unknown): error is SwallowError {
  return error instanceof SwallowError;
}
