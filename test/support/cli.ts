import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { onTestFinished, vi } from 'vitest';
import { run } from '../../cli/run.ts';
import type { Prompter } from '../../cli/ui/prompts.ts';

/** One answer a scripted prompter gives, in the order the CLI asks. */
export type ScriptedAnswer = { readonly confirm: boolean } | { readonly select: string };

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** The project folder the CLI runs in (`.saga/` lives there). */
  readonly cwd: string;
  /** The CLI's environment. @default {@link cleanEnv}() — no AWS variables, no CI, no NO_COLOR */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The answers to the prompts the test expects, in order; any other prompt, or an answer left unused, fails the
   * test. `'terminal'` gives the CLI no prompter, so it uses its own terminal prompter. @default [] (no prompt allowed)
   */
  readonly answers?: readonly ScriptedAnswer[] | 'terminal';
  /** stdout claims to be a terminal (colours and spinners allowed). @default false */
  readonly tty?: boolean;
}

/** What one in-process run of the CLI produced. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The messages of the prompts the CLI asked (scripted prompter only). */
  readonly prompts: readonly string[];
}

/** A stream that keeps what is written to it; `isTTY`/`columns` as a terminal would have them. */
export class CapturedStream extends Writable {
  readonly isTTY: boolean;
  readonly columns = 120;
  private readonly chunks: string[] = [];

  constructor(isTTY = false) {
    super();
    this.isTTY = isTTY;
  }

  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.chunks.push(chunk.toString());
    callback();
  }

  /** Everything written so far. */
  text(): string {
    return this.chunks.join('');
  }
}

/** The environment a test run gets by default: PATH only, so the host's AWS and CI settings do not leak in. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', ...extra };
}

/** A fresh, empty project folder, removed when the current test ends. */
export async function tempProject(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'saga-cli-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A prompter that answers from a script. Unexpected prompts are recorded (and refused) so that the caller can fail
 * the test even when the CLI handles the refusal.
 */
export function scriptedPrompter(answers: readonly ScriptedAnswer[]): Prompter & {
  readonly asked: string[];
  readonly unexpected: string[];
  readonly remaining: () => number;
} {
  const queue = [...answers];
  const asked: string[] = [];
  const unexpected: string[] = [];
  const next = (kind: 'confirm' | 'select', message: string): ScriptedAnswer => {
    asked.push(message);
    const answer = queue[0];
    if (answer === undefined || !(kind in answer)) {
      unexpected.push(`${kind}: ${message}`);
      throw new Error(`Unexpected ${kind} prompt in a test: ${message}`);
    }
    queue.shift();
    return answer;
  };
  return {
    asked,
    unexpected,
    remaining: () => queue.length,
    async confirm(message) {
      return (next('confirm', message) as { confirm: boolean }).confirm;
    },
    async select<T extends string>(message: string): Promise<T> {
      return (next('select', message) as { select: string }).select as T;
    },
  };
}

/**
 * Runs the CLI in-process (`run(argv, io)`, as wrangler's runWrangler does) and returns its exit code and output.
 * Throws when the CLI asked a prompt the test did not script, or did not ask one it did.
 */
export async function runCli(argv: readonly string[], options: RunCliOptions): Promise<CliResult> {
  const stdout = new CapturedStream(options.tty ?? false);
  const stderr = new CapturedStream();
  const prompter = options.answers === 'terminal' ? undefined : scriptedPrompter(options.answers ?? []);
  const code = await run(argv, {
    stdout,
    stderr,
    env: options.env ?? cleanEnv(),
    cwd: options.cwd,
    prompter,
    signal: new AbortController().signal,
  });
  if (prompter && prompter.unexpected.length > 0) {
    throw new Error(`saga ${argv.join(' ')} asked unexpected prompts: ${prompter.unexpected.join('; ')}`);
  }
  if (prompter && prompter.remaining() > 0) {
    throw new Error(`saga ${argv.join(' ')} did not ask ${prompter.remaining()} scripted prompt(s)`);
  }
  return { code, stdout: stdout.text(), stderr: stderr.text(), prompts: prompter?.asked ?? [] };
}

/** Matches the start of an ANSI escape sequence (colours, cursor moves). */
export const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[`);

/** The text without its ANSI colour codes. */
export function stripAnsi(text: string): string {
  return text.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '');
}

/**
 * Leaves the AWS SDK's default credential chain nothing to find in this test: no credential variables, empty config
 * and credentials files, and no instance metadata (so nothing reaches the network). The chain reads `process.env`,
 * not the CLI's `env`, hence `vi.stubEnv`; call `vi.unstubAllEnvs()` after the test.
 */
export async function stubNoAwsCredentials(): Promise<void> {
  const empty = join(await tempProject(), 'empty');
  await writeFile(empty, '');
  for (const name of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_DEFAULT_PROFILE',
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_ROLE_ARN',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  ]) {
    vi.stubEnv(name, undefined);
  }
  vi.stubEnv('AWS_CONFIG_FILE', empty);
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', empty);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
}
