import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, onTestFinished, test, vi } from 'vitest';
import { cleanEnv, runCli, stubNoAwsCredentials, tempProject } from '../../test/support/cli.ts';
import { deadEndpoint, stubSts } from '../../test/support/sts-stub.ts';

interface Check {
  readonly type: 'check';
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
  readonly fix?: string;
}

function checks(stdout: string): Map<string, Check> {
  const list = stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Check);
  return new Map(list.map((c) => [c.name, c]));
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('saga doctor', () => {
  test('in an empty folder: Node and Java ok, local cloud not running, exit 0', async () => {
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--json'], { cwd });
    expect(result.code).toBe(0);
    const found = checks(result.stdout);
    expect(found.get('Node.js')).toMatchObject({ status: 'ok', detail: process.version });
    expect(found.get('Java (DynamoDB Local)')).toMatchObject({ status: 'ok' });
    expect(found.get('Java (DynamoDB Local)')?.detail).toMatch(/^Java \d+/);
    expect(found.get('Local cloud')).toMatchObject({
      status: 'warn',
      detail: 'not running',
      fix: '`saga deploy` starts it',
    });
    expect(found.has('AWS credentials')).toBe(false);
    // On Linux: whether DynamoDB Local's fsync calls are skipped, matching what the local cloud would do.
    const writes = found.get('DynamoDB Local writes');
    if (process.platform === 'linux') {
      const { findEatMyData } = await import('@saga/local-cloud');
      const lib = findEatMyData();
      expect(writes).toMatchObject(
        lib ? { status: 'ok', detail: `fsync skipped (${lib})` } : { status: 'warn' },
      );
    } else {
      expect(writes).toBeUndefined();
    }
  });

  test.runIf(process.platform === 'linux')('SAGA_DYNAMODB_FSYNC=1: fsync kept, said so', async () => {
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--json'], { cwd, env: cleanEnv({ SAGA_DYNAMODB_FSYNC: '1' }) });
    expect(checks(result.stdout).get('DynamoDB Local writes')).toEqual({
      type: 'check',
      name: 'DynamoDB Local writes',
      status: 'ok',
      detail: 'every write waits for fsync (SAGA_DYNAMODB_FSYNC=1)',
    });
  });

  test('people output: one line per check with the fix under what is not ok', async () => {
    const cwd = await tempProject();
    const result = await runCli(['doctor'], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^✓ Node\.js\s+v24\./m);
    expect(result.stdout).toMatch(/^! Local cloud\s+not running\n\s+fix: `saga deploy` starts it$/m);
  });

  test('--aws with no region and no credentials → both fail, exit 3', async () => {
    await stubNoAwsCredentials();
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--aws', '--json'], { cwd });
    expect(result.code).toBe(3);
    const found = checks(result.stdout);
    expect(found.get('AWS region')).toMatchObject({ status: 'fail', fix: 'pass --region or set AWS_REGION' });
    expect(found.get('AWS credentials')).toMatchObject({ status: 'fail' });
    expect(found.get('AWS credentials')?.detail).toContain('No AWS credentials');
  });

  test('--aws with keys STS refuses → credentials fail (not a ✓ for keys merely found), no bootstrap look-up, exit 3', async () => {
    await stubNoAwsCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLEBAD');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'bad');
    vi.stubEnv('AWS_ENDPOINT_URL_STS', (await stubSts({ refuse: 'InvalidClientTokenId' })).url);
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--aws', '--region', 'eu-west-1', '--json'], { cwd });
    expect(result.code).toBe(3);
    const found = checks(result.stdout);
    expect(found.get('AWS credentials')).toMatchObject({ status: 'fail' });
    expect(found.get('AWS credentials')?.detail).toContain(
      'AWS refused the credentials (InvalidClientTokenId',
    );
    expect(found.has('CDK bootstrap')).toBe(false);
  });

  test('--aws when the bootstrap stack could not be checked → fail, exit 3 (not a pass)', async () => {
    await stubNoAwsCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE123');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_ENDPOINT_URL_STS', (await stubSts({ account: '123456789012' })).url);
    vi.stubEnv('AWS_ENDPOINT_URL_CLOUDFORMATION', await deadEndpoint());
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--aws', '--region', 'eu-west-1', '--json'], { cwd });
    expect(result.code).toBe(3);
    const found = checks(result.stdout);
    expect(found.get('AWS credentials')).toMatchObject({ status: 'ok' });
    expect(found.get('CDK bootstrap')).toMatchObject({ status: 'fail' });
    expect(found.get('CDK bootstrap')?.detail).toMatch(/^could not check: /);
  });

  test('--aws with a region and static credentials → both ok; the bootstrap stack is looked up', async () => {
    await stubNoAwsCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE123');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const sts = await stubSts({ account: '123456789012' });
    vi.stubEnv('AWS_ENDPOINT_URL_STS', sts.url);
    // CloudFormation itself cannot run here: a loopback stand-in answers DescribeStacks as AWS does for an
    // account that was never bootstrapped (and no request leaves the machine).
    const requests: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        requests.push(body);
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>' +
            '<Code>ValidationError</Code><Message>Stack with id CDKToolkit does not exist</Message></Error>' +
            '<RequestId>1</RequestId></ErrorResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    vi.stubEnv(
      'AWS_ENDPOINT_URL_CLOUDFORMATION',
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    );
    const cwd = await tempProject();
    const result = await runCli(['doctor', '--aws', '--region', 'eu-west-1', '--json'], { cwd });
    expect(result.code).toBe(0);
    const found = checks(result.stdout);
    expect(found.get('AWS region')).toMatchObject({ status: 'ok', detail: 'eu-west-1' });
    expect(found.get('AWS credentials')).toMatchObject({
      status: 'ok',
      detail: 'account 123456789012 (arn:aws:iam::123456789012:user/dev)',
    });
    expect(sts.actions).toEqual(['GetCallerIdentity']);
    expect(found.get('CDK bootstrap')).toMatchObject({
      status: 'warn',
      detail: 'eu-west-1 is not bootstrapped (no CDKToolkit stack)',
    });
    expect(requests.join('')).toContain('Action=DescribeStacks');
    expect(requests.join('')).toContain('StackName=CDKToolkit');
  });
});
