import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  ANSI_ESCAPE,
  CapturedStream,
  cleanEnv,
  runCli,
  stubNoAwsCredentials,
  tempProject,
} from '../test/support/cli.ts';
import { run } from './run.ts';

const ORDER_ID = '01JD8Z6Q3M4N5P6R7S8T9V0W1X';
const NOT_RUNNING = /local cloud is not running.*saga deploy/;
const SAGA_FIXTURE = fileURLToPath(new URL('./timeline/fixtures/saga-shipping-fails.json', import.meta.url));

async function withContext(contents: string): Promise<string> {
  const dir = await tempProject();
  await mkdir(join(dir, '.saga'));
  await writeFile(join(dir, '.saga', 'context.json'), contents);
  return dir;
}

describe('help', () => {
  test('saga --help lists the commands and examples, exit 0', async () => {
    const cwd = await tempProject();
    const result = await runCli(['--help'], { cwd });
    expect(result.code).toBe(0);
    for (const command of [
      'deploy',
      'destroy',
      'order',
      'watch',
      'replay',
      'ls',
      'logs',
      'flags',
      'doctor',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    }
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toContain('$ saga order --fail inventory');
    expect(result.stderr).toBe('');
  });

  test.each([
    ['order', '$ saga order --fail payment:transient:2'],
    ['watch', 'saga watch --from-file h.json'],
    ['replay', '$ saga replay 01JD8Z6Q3M4N5P6R7S8T9V0W1X --times 10 --concurrency 5'],
    ['deploy', '$ saga deploy --target aws --profile dev'],
    ['flags', '$ saga flags set publisher:error --global --rate 0.2'],
    ['doctor', '$ saga doctor --aws --profile dev'],
  ])('saga %s --help shows its examples, exit 0', async (command, example) => {
    const cwd = await tempProject();
    const result = await runCli([command, '--help'], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: saga ${command}`);
    expect(result.stdout).toContain(example);
  });
});

describe('version and sub-command typos', () => {
  test.each([['--version'], ['-v']])('saga %s prints the package version, exit 0', async (flag) => {
    const cwd = await tempProject();
    const result = await runCli([flag], { cwd });
    const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
    expect(result.stderr).toBe('');
  });

  test('saga flags sett payment → unknown command, suggesting set (not "too many arguments for \'list\'")', async () => {
    const cwd = await tempProject();
    const result = await runCli(['flags', 'sett', 'payment'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'sett'");
    expect(result.stderr).toContain('(Did you mean set?)');
    expect(result.stderr).not.toContain('too many arguments');
  });
});

describe('Ctrl-C (the run signal aborted)', () => {
  test('an aborted signal ends the command with 130 and says what goes on, whatever the command would return', async () => {
    const cwd = await tempProject();
    const controller = new AbortController();
    controller.abort();
    const stdout = new CapturedStream();
    const stderr = new CapturedStream();
    const code = await run(['bench'], { stdout, stderr, env: cleanEnv(), cwd, signal: controller.signal });
    expect(code).toBe(130);
    expect(stderr.text()).toContain('Interrupted (Ctrl-C). Orders already placed go on in the cloud');
    expect(stderr.text()).not.toMatch(NOT_RUNNING);
  });
});

describe('usage errors: exit 2 naming what was received', () => {
  test.each([
    [['bogus'], /unknown command 'bogus'/],
    [['ls', '--bogus'], /unknown option '--bogus'/],
    [['--target', 'x', 'ls'], /argument 'x' is invalid\. Allowed choices are local, aws/],
    [['replay', ORDER_ID, '--times', '0'], /--times must be a whole number ≥ 1; received "0"/],
    [
      ['replay', ORDER_ID, '--concurrency', 'abc'],
      /--concurrency must be a whole number ≥ 1; received "abc"/,
    ],
    [
      ['replay', ORDER_ID, '--via', 'kafka'],
      /argument 'kafka' is invalid\. Allowed choices are sfn, steps, outbox/,
    ],
    [['flags', 'set', 'payment', '--global', '--rate', '2'], /--rate must be between 0 and 1; received "2"/],
    [['order', '--currency', 'JPY'], /argument 'JPY' is invalid\. Allowed choices are EUR, USD, GBP/],
    [['ls', '--limit', '-1'], /--limit must be a whole number ≥ 1; received "-1"/],
    [['deploy', '--time-scale', '0'], /--time-scale must be a number > 0; received "0"/],
    [['replay'], /missing required argument 'orderId'/],
  ])('saga %j', async (argv, message) => {
    const cwd = await tempProject();
    const result = await runCli(argv, { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('(run with --help for usage)');
    expect(result.stdout).toBe('');
  });

  test.each([
    [['ls', '--bogus', '--json'], "unknown option '--bogus'"],
    [['--json', 'bogus'], "unknown command 'bogus'"],
    [['replay', ORDER_ID, '--times', '0', '--json'], '--times must be a whole number ≥ 1; received "0"'],
  ])('saga %j: one JSON error line on stderr, nothing on stdout', async (argv, message) => {
    const cwd = await tempProject();
    const result = await runCli(argv, { cwd });
    expect(result.code).toBe(2);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({ type: 'error', message: expect.stringContaining(message) });
    expect(result.stdout).toBe('');
  });
});

describe('saga order checks its input before it needs a cloud', () => {
  const steps = 'valid steps: payment, inventory, shipping, refund, release, publisher';
  const modes =
    'valid modes: error, transient[:N], throttle[:N], timeout, crash-after-commit, die-after-commit, timeout-after-commit, latency[:MS]';

  test('--fail bogus lists the valid steps and modes', async () => {
    const cwd = await tempProject();
    const result = await runCli(['order', '--fail', 'bogus'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Invalid failure spec 'bogus': unknown step 'bogus'");
    expect(result.stderr).toContain(steps);
    expect(result.stderr).toContain(modes);
    expect(result.stderr).not.toMatch(NOT_RUNNING);
  });

  test('--fail payment:nope names the mode', async () => {
    const cwd = await tempProject();
    const result = await runCli(['order', '--fail', 'payment:nope'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown mode 'nope'");
    expect(result.stderr).toContain(modes);
  });

  test('--fail twice on one step', async () => {
    const cwd = await tempProject();
    const result = await runCli(['order', '--fail', 'payment', '--fail', 'payment:transient:2'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--fail names step payment twice');
  });

  test('--items nosuch:1 lists the known skus', async () => {
    const cwd = await tempProject();
    const result = await runCli(['order', '--items', 'nosuch:1'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown sku "nosuch" in --items');
    expect(result.stderr).toContain(
      'Known skus: espresso-beans, pour-over-kettle, ceramic-mug, burr-grinder, paper-filters, milk-frother',
    );
  });

  test('--items espresso-beans:0 says what a quantity must be', async () => {
    const cwd = await tempProject();
    const result = await runCli(['order', '--items', 'espresso-beans:0'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"espresso-beans:0" is not sku:qty with a whole quantity ≥ 1');
  });

  test('under --json the error is one JSON object on stderr, nothing on stdout', async () => {
    const cwd = await tempProject();
    const result = await runCli(['order', '--json', '--fail', 'bogus'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const error = JSON.parse(result.stderr.trim()) as { type: string; message: string };
    expect(error.type).toBe('error');
    expect(error.message).toContain("unknown step 'bogus'");
  });
});

describe('commands that need a stack, with no local cloud', () => {
  test.each([
    [['ls']],
    [['order']],
    [['order', '--fail', 'inventory', '--no-watch']],
    [['watch', ORDER_ID]],
    [['replay', ORDER_ID]],
    [['logs', ORDER_ID]],
    [['flags']],
    [['flags', 'list']],
    [['flags', 'set', 'payment:transient:2', '--global', '--rate', '0.5']],
    // A rate applies to order flags too: nothing refuses it before the stack.
    [['flags', 'set', 'payment', '--order', ORDER_ID, '--rate', '0.5']],
    [['flags', 'clear', '--all']],
  ])('saga %j → exit 3, run saga deploy', async (argv) => {
    const cwd = await tempProject();
    const result = await runCli(argv, { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(NOT_RUNNING);
    // Nothing was started or written in the project folder.
    expect(existsSync(join(cwd, '.saga'))).toBe(false);
  });

  test('replay not-a-ulid → exit 2 (the id is checked before the stack)', async () => {
    const cwd = await tempProject();
    const result = await runCli(['replay', 'not-a-ulid'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'An order id is a 26-character ULID (Crockford base 32); received "not-a-ulid"',
    );
  });

  test('logs xyz → exit 2 (the id is checked before the stack)', async () => {
    const cwd = await tempProject();
    const result = await runCli(['logs', 'xyz'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('received "xyz"');
  });

  test('watch arn:aws:bad → exit 2: the argument is checked before the stack is looked for', async () => {
    const cwd = await tempProject();
    const result = await runCli(['watch', 'arn:aws:bad'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('That is not a Step Functions execution ARN: "arn:aws:bad"');
  });

  test('watch with no argument off a terminal → exit 2 asking for one', async () => {
    const cwd = await tempProject();
    const result = await runCli(['watch'], { cwd, answers: 'terminal' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Pass an execution ARN or an order id');
  });

  test.each([
    [['flags', 'set', 'bogus', '--global'], "unknown step 'bogus'"],
    [
      ['flags', 'set', 'payment'],
      'Say which orders the flag is for: --order <orderId> (one order) or --global',
    ],
    [
      ['flags', 'set', 'payment', '--order', ORDER_ID, '--global'],
      'Pass either --order <id> or --global, not both',
    ],
    [['flags', 'set', 'payment', '--order', 'nope'], 'received "nope"'],
    [['flags', 'clear', 'nosuch', '--all'], 'Unknown step "nosuch"; valid steps: payment, inventory'],
  ])('saga %j → exit 2 before the stack', async (argv, message) => {
    const cwd = await tempProject();
    const result = await runCli(argv, { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('.saga/local/state.json', () => {
  test('corrupt → exit 3 saying it is corrupt and what to do, not "not running"', async () => {
    const cwd = await tempProject();
    await mkdir(join(cwd, '.saga', 'local'), { recursive: true });
    await writeFile(join(cwd, '.saga', 'local', 'state.json'), '{"pid": 4');
    const result = await runCli(['ls'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`${join(cwd, '.saga', 'local', 'state.json')} is corrupt`);
    expect(result.stderr).toContain('`saga deploy` restarts it (keeping its data)');
    expect(result.stderr).not.toMatch(NOT_RUNNING);
    expect(result.stderr).not.toContain('Unexpected error');
  });
});

describe('.saga/context.json', () => {
  test('not JSON → exit 3 (the environment) naming the file and the fix', async () => {
    const cwd = await withContext('{ this is not json');
    const result = await runCli(['ls'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`${join(cwd, '.saga', 'context.json')} is not valid JSON`);
    expect(result.stderr).toContain('"{ this is not json"');
    expect(result.stderr).toContain(
      `Delete it (\`rm ${join(cwd, '.saga', 'context.json')}\`) and run \`saga deploy\` again, or pass --target local|aws`,
    );
  });

  test.each([['deploy'], ['destroy', '--yes']])(
    'saga %s with a corrupt context → exit 3 saying to delete the file, not a usage error',
    async (...argv) => {
      const cwd = await withContext('{ this is not json');
      const result = await runCli(argv, { cwd });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('is not valid JSON');
      expect(result.stderr).toContain('Delete it (`rm ');
      expect(result.stderr).not.toContain('Unexpected error');
    },
  );

  test.each([
    ['{"target":"gcp"}', '"gcp"'],
    ['null', 'undefined'],
    ['{"region":"eu-west-1"}', 'undefined'],
  ])('JSON without a valid target (%s) → exit 3 naming the file', async (contents, received) => {
    const cwd = await withContext(contents);
    const result = await runCli(['order', '--no-watch'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`${join(cwd, '.saga', 'context.json')} does not name a target`);
    expect(result.stderr).toContain(`("target" is ${received}; expected "local" or "aws")`);
    expect(result.stderr).toContain('Delete it (`rm ');
    expect(result.stderr).toContain('and run `saga deploy` again');
  });

  test('--target local skips a corrupt context and reports the missing cloud', async () => {
    const cwd = await withContext('garbage');
    const result = await runCli(['ls', '--target', 'local'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(NOT_RUNNING);
  });

  test('the target last deployed is the default: context aws without outputs → exit 3', async () => {
    const cwd = await withContext('{"target":"aws","region":"eu-west-1"}');
    const result = await runCli(['ls'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('.saga/context.json has no aws outputs');
    expect(result.stderr).toContain('Run `saga deploy --target aws` first');
  });
});

describe('--target aws without a deployment', () => {
  test('with a region but no aws outputs → exit 3', async () => {
    const cwd = await tempProject();
    const result = await runCli(['ls', '--target', 'aws'], {
      cwd,
      env: cleanEnv({ AWS_REGION: 'eu-west-1' }),
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('The stack is not deployed to AWS from this folder');
  });

  test('with no region → exit 3 saying how to give one', async () => {
    const cwd = await tempProject();
    const result = await runCli(['flags', '--target', 'aws'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('No AWS region: pass --region, or set AWS_REGION');
  });

  test('--region counts as a region', async () => {
    const cwd = await tempProject();
    const result = await runCli(['ls', '--target', 'aws', '--region', 'eu-west-1'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).not.toContain('No AWS region');
    expect(result.stderr).toContain('has no aws outputs');
  });
});

describe('--target aws with a deployment recorded (no AWS call is made)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const deployed = JSON.stringify({
    target: 'aws',
    region: 'eu-west-1',
    awsOutputs: {
      ApiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/',
      StateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:OrderSaga',
      OrdersTableName: 'o',
      PaymentsTableName: 'p',
      InventoryTableName: 'i',
      ShipmentsTableName: 's',
      IdempotencyTableName: 'id',
      FailureFlagsTableName: 'f',
    },
  });

  test('watch arn:aws:bad → exit 2 once the stack resolves (static credentials, no network)', async () => {
    await stubNoAwsCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE123');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const cwd = await withContext(deployed);
    const result = await runCli(['watch', 'arn:aws:bad'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('That is not a Step Functions execution ARN: "arn:aws:bad"');
  });

  test('no credentials → exit 3 with how to configure them', async () => {
    await stubNoAwsCredentials();
    const cwd = await withContext(deployed);
    const result = await runCli(['watch', ORDER_ID], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('No AWS credentials');
    expect(result.stderr).toContain('or use --target local');
  });

  test('deploy --target aws without credentials → exit 3 before synthesis', async () => {
    await stubNoAwsCredentials();
    const cwd = await tempProject();
    const result = await runCli(['deploy', '--target', 'aws', '--region', 'eu-west-1'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('No AWS credentials');
    expect(result.stdout).not.toContain('Synthesizing');
  });

  test('deploy --target aws without a region → exit 3', async () => {
    await stubNoAwsCredentials();
    const cwd = await tempProject();
    const result = await runCli(['deploy', '--target', 'aws'], { cwd });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('No AWS region: pass --region <region> or set AWS_REGION.');
  });

  test('destroy --target aws: the confirmation names AWS; declined → 130; --yes without credentials → 3', async () => {
    await stubNoAwsCredentials();
    const cwd = await withContext(deployed);
    const declined = await runCli(['destroy', '--region', 'eu-west-1'], {
      cwd,
      answers: [{ confirm: false }],
    });
    expect(declined.code).toBe(130);
    expect(declined.prompts).toEqual([
      'Destroy the Saga stack in your AWS account (tables and their data included)?',
    ]);
    const confirmed = await runCli(['destroy', '--yes', '--region', 'eu-west-1'], { cwd });
    expect(confirmed.code).toBe(3);
    expect(confirmed.stderr).toContain('No AWS credentials');
    // The recorded deployment is kept: nothing was destroyed.
    expect(JSON.parse(await readFile(join(cwd, '.saga', 'context.json'), 'utf8'))).toEqual(
      JSON.parse(deployed),
    );
  });
});

describe('colours', () => {
  const watchFile = ['watch', '--from-file', SAGA_FIXTURE];

  test('on a terminal the timeline is coloured (the control for the tests below)', async () => {
    const cwd = await tempProject();
    const result = await runCli(watchFile, { cwd, tty: true });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(ANSI_ESCAPE);
  });

  test.each([
    ['NO_COLOR=1', watchFile, { NO_COLOR: '1' }],
    ['--no-color', [...watchFile, '--no-color'], {}],
    ['--json', [...watchFile, '--json'], {}],
    ['CI=true', watchFile, { CI: 'true' }],
  ])('%s → no ANSI escapes', async (_name, argv, extra) => {
    const cwd = await tempProject();
    const result = await runCli(argv, { cwd, tty: true, env: cleanEnv(extra) });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ShipOrder');
    expect(result.stdout).not.toMatch(ANSI_ESCAPE);
    expect(result.stderr).not.toMatch(ANSI_ESCAPE);
  });

  test('errors are not coloured under NO_COLOR either', async () => {
    const cwd = await tempProject();
    const result = await runCli(['ls'], { cwd, tty: true, env: cleanEnv({ NO_COLOR: '1' }) });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(NOT_RUNNING);
    expect(result.stderr).not.toMatch(ANSI_ESCAPE);
  });
});

describe('bin/saga', () => {
  const bin = fileURLToPath(new URL('../bin/saga', import.meta.url));

  test('under the system Node 20 → exit 3 with the message about Node 24', () => {
    const system = '/usr/bin/node';
    const version = spawnSync(system, ['--version'], { encoding: 'utf8' }).stdout.trim();
    // The check is for the machine's old Node; the brief's facts say it is 20.x.
    expect(Number(version.replace(/^v/, '').split('.')[0])).toBeLessThan(24);
    const child = spawnSync(system, [bin, '--help'], { encoding: 'utf8', env: cleanEnv() });
    expect(child.status).toBe(3);
    expect(child.stderr).toContain(`saga needs Node.js 24 or newer; this is ${version}`);
    expect(child.stderr).toContain('npx saga');
    expect(child.stdout).toBe('');
  });

  test('under the project Node 24 it runs the CLI and sets the exit code', () => {
    const child = spawnSync(process.execPath, [bin, 'replay', 'not-a-ulid'], {
      encoding: 'utf8',
      env: cleanEnv(),
    });
    expect(child.status).toBe(2);
    expect(child.stderr).toContain('received "not-a-ulid"');
  });
});
