import { AbortError, UserError } from '../errors.ts';

/** Questions the CLI may ask. Tests pass their own; an unexpected prompt should fail the test. */
export interface Prompter {
  confirm(message: string, options: { readonly default: boolean }): Promise<boolean>;
  select<T extends string>(
    message: string,
    choices: readonly { readonly name: string; readonly value: T; readonly description?: string }[],
  ): Promise<T>;
}

/**
 * The terminal prompter (@inquirer/prompts, loaded on first use). Off a TTY or under --json it never asks:
 * `confirm` fails with a message naming the flag that answers it, `select` fails asking for the argument.
 */
export function terminalPrompter(interactive: boolean): Prompter {
  return {
    async confirm(message, options) {
      if (!interactive) {
        throw new UserError(`${message} — no terminal to ask on. Pass --yes to confirm.`);
      }
      const { confirm } = await import('@inquirer/prompts');
      return await guard(() => confirm({ message, default: options.default }));
    },
    async select(message, choices) {
      if (!interactive) throw new UserError(`${message} — no terminal to ask on. Pass it as an argument.`);
      if (choices.length === 0) throw new UserError(`${message} — there is nothing to choose from.`);
      const { select } = await import('@inquirer/prompts');
      return await guard(() => select({ message, choices: choices.map((c) => ({ ...c })) }));
    },
  };
}

async function guard<T>(ask: () => Promise<T>): Promise<T> {
  try {
    return await ask();
  } catch (error) {
    // @inquirer throws ExitPromptError on Ctrl-C.
    if (error instanceof Error && error.name === 'ExitPromptError')
      throw new AbortError('Aborted.', { cause: error });
    throw error;
  }
}
