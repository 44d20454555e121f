import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempProject } from '../../test/support/cli.ts';
import { EnvironmentError } from '../errors.ts';
import { contextPath, readContext, type SagaContext, writeContext } from './context.ts';
import { chooseTarget } from './target.ts';

describe('.saga/context.json', () => {
  test('none → undefined, and the default target is local', async () => {
    const dir = await tempProject();
    expect(await readContext(dir)).toBeUndefined();
    expect(await chooseTarget(dir, {})).toBe('local');
  });

  test('written then read back; the last deployed target becomes the default', async () => {
    const dir = await tempProject();
    const context: SagaContext = {
      target: 'aws',
      region: 'eu-west-1',
      awsOutputs: {
        ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/',
        StateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:OrderSaga',
        OrdersTableName: 'o',
        PaymentsTableName: 'p',
        InventoryTableName: 'i',
        ShipmentsTableName: 's',
        IdempotencyTableName: 'id',
        FailureFlagsTableName: 'f',
      },
    };
    await writeContext(dir, context);
    expect(JSON.parse(await readFile(contextPath(dir), 'utf8'))).toEqual(context);
    expect(await readContext(dir)).toEqual(context);
    expect(await chooseTarget(dir, {})).toBe('aws');
    expect(await chooseTarget(dir, { target: 'local' })).toBe('local');
  });

  test('chooseTarget refuses an unknown --target', async () => {
    const dir = await tempProject();
    await expect(chooseTarget(dir, { target: 'gcp' })).rejects.toThrowError(
      '--target must be "local" or "aws"; received "gcp".',
    );
  });

  test.each([
    ['not json', /is not valid JSON \(it starts with "not json"\)/],
    ['[]', /does not name a target \("target" is undefined/],
    ['{"target":"LOCAL"}', /does not name a target \("target" is "LOCAL"/],
  ])('%j → EnvironmentError (exit 3) naming the file and the fix', async (contents, message) => {
    const dir = await tempProject();
    await mkdir(join(dir, '.saga'));
    await writeFile(contextPath(dir), contents);
    const error = await readContext(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as EnvironmentError).exitCode).toBe(3);
    expect((error as Error).message).toContain(contextPath(dir));
    expect((error as Error).message).toContain(`Delete it (\`rm ${contextPath(dir)}\`)`);
    expect((error as Error).message).toMatch(message);
  });
});
