/**
 * The CLI's error tiers (design §6 exit codes). Anything that is not one of these, and that
 * {@link toExpectedError} does not recognise as a condition of the environment, is a bug and is printed with its
 * stack.
 */

/**
 * Marks the errors below. A registry symbol rather than `instanceof`, because the bundled entry
 * (cli/run.bundle.mjs) carries its own copy of this module while the commands load the TypeScript one.
 */
const EXPECTED = Symbol.for('saga.cli.expected-error');

/** An error the CLI expects: printed without a stack, the process exits with {@link exitCode}. */
export class ExpectedError extends Error {
  readonly exitCode: number;
  constructor(name: string, exitCode: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.exitCode = exitCode;
    Object.defineProperty(this, EXPECTED, { value: true });
  }
}

/** Bad input or usage: exit 2. Say what was wrong, what was received, what to do. */
export class UserError extends ExpectedError {
  constructor(message: string, options?: ErrorOptions) {
    super('UserError', 2, message, options);
  }
}

/** Something the command needs is missing from the environment (credentials, Java, a running stack): exit 3. */
export class EnvironmentError extends ExpectedError {
  constructor(message: string, options?: ErrorOptions) {
    super('EnvironmentError', 3, message, options);
  }
}

/** The thing checked failed (a saga failed where success was expected, a duplicate was found): exit 1. */
export class CheckFailedError extends ExpectedError {
  constructor(message: string, options?: ErrorOptions) {
    super('CheckFailedError', 1, message, options);
  }
}

/** The user declined a prompt or pressed Ctrl-C: exit 130. */
export class AbortError extends ExpectedError {
  constructor(message = 'Aborted.', options?: ErrorOptions) {
    super('AbortError', 130, message, options);
  }
}

export function isExpectedError(error: unknown): error is ExpectedError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[EXPECTED] === true &&
    typeof (error as { exitCode?: unknown }).exitCode === 'number'
  );
}

/**
 * Error names of the local cloud (@saga/local-cloud) that describe the machine or the input, not a bug. Matched by
 * name (the package's classes may be loaded twice, like this module); their `reason` picks the CLI's advice.
 */
const LOCAL_CLOUD_ERRORS = new Set(['LocalCloudStartError', 'LocalCloudStateError', 'JavaMissingError']);

/** What the user does about each reason the local cloud gives (its own messages say only what happened). */
const LOCAL_CLOUD_ADVICE: Readonly<Record<string, string>> = {
  'address-in-use': 'Pass another --edge-port, or leave it out to use a free port.',
  'node-too-old':
    'Run `npm install` in the project (it installs Node 24 as a dev dependency) or install Node 24.',
  'bad-assembly':
    "With --app, pass the folder `cdk synth` writes (cdk.out, or a copy of it); for the project's own cdk.out, " +
    'synthesize again (`npm run synth`).',
  'unresolved-imports':
    'Copy the assembly into this project (e.g. next to its cdk.out, below the node_modules that hold the AWS SDK) ' +
    'and pass the copy to --app, or deploy it to AWS with --target aws.',
  locked: 'If no `saga deploy` is running, delete that file and try again.',
  corrupt:
    '`saga deploy` restarts it (keeping its data); `saga destroy --yes` stops it and deletes its data.',
};

/** Reasons that are the input's fault (the assembly given), not the machine's: exit 2. */
const LOCAL_CLOUD_INPUT_REASONS = new Set(['bad-assembly', 'unresolved-imports']);

/** The CLI's advice for an error of the local cloud (by its `reason`), or undefined. */
export function localCloudAdvice(error: unknown): string | undefined {
  const reason = (error as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' ? LOCAL_CLOUD_ADVICE[reason] : undefined;
}

/** Network failures: nothing answered where the command looked. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);
/** AWS answers that mean the credentials are wrong, not the code. */
const AWS_CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidAccessKeyId',
]);

/**
 * The one boundary where errors raised below the CLI (the local cloud package, the AWS SDK, the CDK toolkit, Node)
 * become the CLI's tiers: conditions of the environment are exit 3 with a plain message saying what to do. Returns
 * undefined for anything else (a bug: printed with its stack).
 */
export function toExpectedError(error: unknown): ExpectedError | undefined {
  if (isExpectedError(error)) return error;
  if (!(error instanceof Error)) return undefined;
  const { name, message } = error;
  const code = (error as NodeJS.ErrnoException).code;
  if (LOCAL_CLOUD_ERRORS.has(name)) {
    const advice = localCloudAdvice(error);
    const text = advice ? `${message} ${advice}` : message;
    const reason = (error as { reason?: unknown }).reason;
    return typeof reason === 'string' && LOCAL_CLOUD_INPUT_REASONS.has(reason)
      ? new UserError(text, { cause: error })
      : new EnvironmentError(text, { cause: error });
  }
  if (code === 'EADDRINUSE') {
    const port = /:(\d+)\s*$/.exec(message)?.[1];
    return new EnvironmentError(
      `Port ${port ?? '(unknown)'} is already in use by another program. Pass another --edge-port, or leave it ` +
        'out to use a free port.',
      { cause: error },
    );
  }
  if (AWS_CREDENTIAL_ERRORS.has(name)) {
    return new EnvironmentError(
      `AWS refused the credentials (${name}: ${message}). Check them (\`aws sts get-caller-identity\`), refresh ` +
        'them (`aws configure`, `aws sso login`) or pass --profile; or use --target local.',
      { cause: error },
    );
  }
  if (/Unable to resolve AWS account to use/i.test(message)) {
    return new EnvironmentError(
      'The AWS account could not be resolved from the credentials (no network, or keys AWS does not accept). ' +
        'Check `aws sts get-caller-identity`, then deploy again; or use --target local.',
      { cause: error },
    );
  }
  const networkCode = code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code;
  if ((networkCode !== undefined && NETWORK_CODES.has(networkCode)) || name === 'TimeoutError') {
    return new EnvironmentError(
      `Could not reach the endpoint (${networkCode ?? name}: ${message}). Check the network, or run ` +
        '`saga doctor` to see whether the local cloud is up.',
      { cause: error },
    );
  }
  return undefined;
}

/** Where {@link noteForInterrupt} keeps its note: on the signal itself (see EXPECTED on why not a module map). */
const INTERRUPT_NOTE = Symbol.for('saga.cli.interrupt-note');

/**
 * Says what goes on without the command if the user presses Ctrl-C from now on (`run` prints it and exits 130):
 * "The execution goes on; `saga watch <id>` follows it." The last note set wins.
 */
export function noteForInterrupt(signal: AbortSignal, note: string): void {
  Object.defineProperty(signal, INTERRUPT_NOTE, { value: note, configurable: true, writable: true });
}

/** The note {@link noteForInterrupt} set on the signal, if any. */
export function interruptNote(signal: AbortSignal): string | undefined {
  return (signal as unknown as Record<symbol, string | undefined>)[INTERRUPT_NOTE];
}
