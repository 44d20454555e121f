import { JavaMissingError, LocalCloudStartError, LocalCloudStateError } from '@saga/local-cloud';
import { describe, expect, test } from 'vitest';
import {
  AbortError,
  CheckFailedError,
  EnvironmentError,
  ExpectedError,
  interruptNote,
  isExpectedError,
  noteForInterrupt,
  toExpectedError,
  UserError,
} from './errors.ts';

describe('the error tiers', () => {
  test.each([
    [new UserError('u'), 2, 'UserError'],
    [new EnvironmentError('e'), 3, 'EnvironmentError'],
    [new CheckFailedError('c'), 1, 'CheckFailedError'],
    [new AbortError(), 130, 'AbortError'],
  ])('%s: one ExpectedError base with its exit code', (error, exitCode, name) => {
    expect(error).toBeInstanceOf(ExpectedError);
    expect(error.exitCode).toBe(exitCode);
    expect(error.name).toBe(name);
    expect(isExpectedError(error)).toBe(true);
    expect(toExpectedError(error)).toBe(error);
  });
});

describe('toExpectedError: conditions of the environment become exit 3 at one boundary', () => {
  test.each([
    [
      'a local cloud start failure',
      new LocalCloudStartError('The local cloud failed to start: boom\nLast lines of cloud.log: …'),
    ],
    ['Java missing', new JavaMissingError('`java` was not found')],
    [
      'Java missing, as the start reports it',
      new LocalCloudStartError('The local cloud could not start: DynamoDB Local needs Java 17', {
        reason: 'java-missing',
      }),
    ],
  ])('%s → EnvironmentError with the same message', (_what, error) => {
    const mapped = toExpectedError(error);
    expect(mapped).toBeInstanceOf(EnvironmentError);
    expect(mapped?.exitCode).toBe(3);
    expect(mapped?.message).toBe(error.message);
    expect(mapped?.cause).toBe(error);
  });

  test.each([
    [
      'the edge port taken',
      new LocalCloudStartError('The local cloud could not listen on port 5556: another program uses it.', {
        reason: 'address-in-use',
        port: 5556,
      }),
      3,
      'Pass another --edge-port, or leave it out to use a free port.',
    ],
    [
      'a corrupt state.json',
      new LocalCloudStateError(
        '/p/.saga/local/state.json is corrupt (…), so the local cloud cannot be found.',
      ),
      3,
      '`saga deploy` restarts it (keeping its data); `saga destroy --yes` stops it and deletes its data.',
    ],
    [
      'Node too old for the background process',
      new LocalCloudStartError('The local cloud needs Node.js 24 or newer; this is v20.1.0 and …', {
        reason: 'node-too-old',
      }),
      3,
      'Run `npm install` in the project (it installs Node 24 as a dev dependency) or install Node 24.',
    ],
    [
      'another start holding the lock',
      new LocalCloudStartError(
        'Another start of the local cloud (pid 9) has held /p/start.lock for too long.',
        {
          reason: 'locked',
        },
      ),
      3,
      'If no `saga deploy` is running, delete that file and try again.',
    ],
    [
      'a cloud assembly that cannot run (the input)',
      new LocalCloudStartError(
        'The cloud assembly /p/app is missing asset b1 (asset.b1, listed in Saga.assets.json).',
        {
          reason: 'bad-assembly',
        },
      ),
      2,
      'With --app, pass the folder `cdk synth` writes (cdk.out, or a copy of it)',
    ],
    [
      'bundles whose AWS SDK imports do not resolve where the assembly is (the input)',
      new LocalCloudStartError('The functions in /tmp/app import @aws-sdk/client-sfn (…)', {
        reason: 'unresolved-imports',
      }),
      2,
      'Copy the assembly into this project',
    ],
  ])('%s → the package’s text, then the CLI’s advice for its reason', (_what, error, exitCode, advice) => {
    const mapped = toExpectedError(error);
    expect(mapped?.exitCode).toBe(exitCode);
    expect(mapped).toBeInstanceOf(exitCode === 2 ? UserError : EnvironmentError);
    expect(mapped?.message.startsWith(`${error.message} `)).toBe(true);
    expect(mapped?.message).toContain(advice);
    expect(mapped?.cause).toBe(error);
  });

  test('EADDRINUSE → the port and what to do', () => {
    const error = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:5556'), {
      code: 'EADDRINUSE',
    });
    expect(toExpectedError(error)?.message).toBe(
      'Port 5556 is already in use by another program. Pass another --edge-port, or leave it out to use a free port.',
    );
  });

  test('AWS refusing the keys, or the toolkit not resolving the account → exit 3 saying how to check', () => {
    const refused = Object.assign(new Error('The security token included in the request is invalid.'), {
      name: 'InvalidClientTokenId',
    });
    expect(toExpectedError(refused)).toMatchObject({ exitCode: 3 });
    expect(toExpectedError(refused)?.message).toContain('aws sts get-caller-identity');
    const account = new Error(
      'Unable to resolve AWS account to use. It must be either configured when you define…',
    );
    expect(toExpectedError(account)).toMatchObject({ exitCode: 3 });
    expect(toExpectedError(account)?.message).toContain('could not be resolved');
  });

  test('a refused connection → exit 3 pointing at saga doctor', () => {
    const error = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    });
    expect(toExpectedError(error)?.message).toContain('ECONNREFUSED');
    expect(toExpectedError(error)?.message).toContain('saga doctor');
  });

  test('anything else is a bug: not mapped', () => {
    expect(
      toExpectedError(new TypeError("Cannot read properties of undefined (reading 'x')")),
    ).toBeUndefined();
    expect(toExpectedError('a string')).toBeUndefined();
  });
});

test('noteForInterrupt: the last note set on a signal is what run() says on Ctrl-C', () => {
  const { signal } = new AbortController();
  expect(interruptNote(signal)).toBeUndefined();
  noteForInterrupt(signal, 'first');
  noteForInterrupt(signal, 'The execution goes on.');
  expect(interruptNote(signal)).toBe('The execution goes on.');
});
