import type { Output } from './ui/output.ts';
import type { Prompter } from './ui/prompts.ts';

/** Global options of every command (design §6). */
export interface GlobalOptions {
  /** `local` or `aws`; default: the target last deployed, else local. */
  readonly target?: string;
  /** AWS profile for the aws target. */
  readonly profile?: string;
  /** AWS region for the aws target. */
  readonly region?: string;
  /** Machine output: one JSON document per line. */
  readonly json: boolean;
  /** Colours on (off with --no-color or NO_COLOR). */
  readonly color: boolean;
  /** Answer yes to confirmations. */
  readonly yes: boolean;
}

/** What every command gets: where to write, where it runs, how to ask. */
export interface CommandContext {
  readonly out: Output;
  /** The project folder: `.saga/` and `cdk.out/` live here. */
  readonly projectDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly globals: GlobalOptions;
  readonly prompter: Prompter;
  /** Aborted on Ctrl-C: long waits stop early. */
  readonly signal: AbortSignal;
}
