/**
 * The CLI's error tiers (design §6 exit codes). Anything that is not one of these is a bug and is printed with
 * its stack.
 */

/**
 * Marks the errors below. A registry symbol rather than `instanceof`, because the bundled entry
 * (cli/run.bundle.mjs) carries its own copy of this module while the commands load the TypeScript one.
 */
const EXPECTED = Symbol.for('saga.cli.expected-error');

/** Bad input or usage: printed without a stack, exit 2. Say what was wrong, what was received, what to do. */
export class UserError extends Error {
  readonly exitCode: number = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UserError';
    Object.defineProperty(this, EXPECTED, { value: true });
  }
}

/** Something the command needs is missing from the environment (credentials, Java, a running stack): exit 3. */
export class EnvironmentError extends Error {
  readonly exitCode: number = 3;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EnvironmentError';
    Object.defineProperty(this, EXPECTED, { value: true });
  }
}

/** The thing checked failed (a saga failed where success was expected, a duplicate was found): exit 1. */
export class CheckFailedError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CheckFailedError';
    Object.defineProperty(this, EXPECTED, { value: true });
  }
}

/** The user declined a prompt or pressed Ctrl-C: exit 130. */
export class AbortError extends Error {
  readonly exitCode: number = 130;
  constructor(message = 'Aborted.', options?: ErrorOptions) {
    super(message, options);
    this.name = 'AbortError';
    Object.defineProperty(this, EXPECTED, { value: true });
  }
}

/** An error the CLI expects and prints without a stack. */
export type ExpectedError = UserError | EnvironmentError | CheckFailedError | AbortError;

export function isExpectedError(error: unknown): error is ExpectedError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[EXPECTED] === true &&
    typeof (error as { exitCode?: unknown }).exitCode === 'number'
  );
}
