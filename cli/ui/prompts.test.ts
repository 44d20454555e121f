import { describe, expect, test } from 'vitest';
import { UserError } from '../errors.ts';
import { terminalPrompter } from './prompts.ts';

describe('terminalPrompter off a terminal', () => {
  const prompter = terminalPrompter(false);

  test('confirm never asks: a UserError naming --yes', async () => {
    const error = await prompter.confirm('Destroy everything?', { default: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      'Destroy everything? — no terminal to ask on. Pass --yes to confirm.',
    );
  });

  test('select never asks: a UserError asking for the argument', async () => {
    const error = await prompter
      .select('Which execution?', [{ name: 'a', value: 'a' }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      'Which execution? — no terminal to ask on. Pass it as an argument.',
    );
  });
});

describe('terminalPrompter on a terminal', () => {
  test('select with nothing to choose from fails before it asks', async () => {
    const error = await terminalPrompter(true)
      .select('Which execution?', [])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain('there is nothing to choose from');
  });
});
