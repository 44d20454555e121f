/**
 * Local cloud figures (issue "local cloud"): cold start, order → terminal-state latency on the happy path,
 * sustained orders/s with 10 concurrent clients, and DynamoDB Local's own single-item write rate on the same
 * machine (the floor: an order costs a dozen or more writes), so orders/s can be read as a share of it.
 *
 *   node bench/local-cloud.ts [--orders 200] [--warm-orders 50] [--latency-orders 30] [--time-scale 0.1]
 *                             [--iam-rounds 3] [--iam-orders 100] [--only-iam]
 *
 * Then the cost of IAM enforcement, side by side in one run: two fresh local clouds, `--iam off` and `--iam enforce`
 * (the default), both warmed, then rounds of the same load on each in turn (off, enforce, enforce, off, …: drift of
 * the machine falls on both), CPU per order of every process summed per mode.
 *
 * Runs in a temporary project folder with its own local cloud; prints figures, asserts nothing. "Sustained" is
 * read after a warm-up at the same concurrency (every sandbox the load needs already started), and comes with
 * the CPU each process spent per order (Linux), since on two cores the figure is bounded by CPU.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  findEatMyData,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startLocalCloudDetached,
  stopLocalCloud,
} from '@saga/local-cloud';
import { run } from '../cli/run.ts';
import { CDK_OUT, synthesisIsStale, synthesize } from '../cli/target/project.ts';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '200' },
    'warm-orders': { type: 'string', default: '50' },
    'latency-orders': { type: 'string', default: '30' },
    'time-scale': { type: 'string', default: '0.1' },
    'iam-rounds': { type: 'string', default: '3' },
    'only-iam': { type: 'boolean', default: false },
    'iam-orders': { type: 'string', default: '100' },
  },
});

async function cli(cwd: string, argv: string[]): Promise<Record<string, unknown>[]> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const stderr = new PassThrough();
  const errors: Buffer[] = [];
  stderr.on('data', (c: Buffer) => errors.push(c));
  const code = await run([...argv, '--json'], { cwd, stdout, stderr, env: { ...process.env, CI: 'true' } });
  if (code !== 0)
    throw new Error(
      `saga ${argv.join(' ')} exited ${code}: ${Buffer.concat(chunks).toString()}${Buffer.concat(errors).toString()}`,
    );
  return Buffer.concat(chunks)
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function writeRate(endpoint: string, seconds: number, clients: number): Promise<number> {
  const ddb = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const table = `bench-writes-${Date.now()}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
  const end = Date.now() + seconds * 1000;
  let writes = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        await ddb.send(
          new PutItemCommand({ TableName: table, Item: { pk: { S: `${c}-${i}` }, v: { N: `${i}` } } }),
        );
        writes++;
      }
    }),
  );
  return writes / seconds;
}

/**
 * Write requests a happy-path order makes to DynamoDB Local (counted with strace on its socket reads): 5 PutItem
 * (4 idempotency records in progress, the charge, the shipment), 4 UpdateItem (3 idempotency records completed,
 * the saga's MarkOrderCompleted), 2 TransactWriteItems (order + outbox, the reservation). Reads: 4 BatchGetItem
 * (failure flags), and the stream's GetRecords.
 */
const WRITES_PER_ORDER = 11;

/** CPU seconds (user + system, all threads) a process has used so far; undefined where /proc is missing. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** The pids of a process's children (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((name) => {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      })
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds of a local cloud: its process and DynamoDB Local's JVM (its child). */
function cloudCpu(pid: number): { cloud: number; jvm: number } {
  const jvm = childrenOf(pid)[0];
  return { cloud: cpuSeconds(pid) ?? Number.NaN, jvm: jvm ? (cpuSeconds(jvm) ?? Number.NaN) : Number.NaN };
}

/**
 * IAM on and off side by side: two clouds, the same load on each in turn, CPU per order per mode (cloud process,
 * JVM, bench client), and the ratio.
 */
async function iamCost(): Promise<void> {
  // Two fresh clouds (the first one's stock went to the figures above), started and warmed alike.
  const dirs = {
    off: await mkdtemp(join(tmpdir(), 'saga-bench-iam-off-')),
    enforce: await mkdtemp(join(tmpdir(), 'saga-bench-iam-enforce-')),
  };
  try {
    const pids = { off: 0, enforce: 0 };
    for (const mode of ['off', 'enforce'] as const) {
      const state = await startLocalCloudDetached({
        projectDir: dirs[mode],
        cdkOut: CDK_OUT,
        timeScale: Number(values['time-scale']),
        iam: mode,
      });
      pids[mode] = state.pid;
      await cli(dirs[mode], ['bench', '--orders', values['warm-orders'], '--concurrency', '10']);
    }
    const orders = Number(values['iam-orders']);
    const totals = {
      off: { cloud: 0, jvm: 0, client: 0, orders: 0 },
      enforce: { cloud: 0, jvm: 0, client: 0, orders: 0 },
    };
    const round = async (mode: 'off' | 'enforce') => {
      const projectDir = dirs[mode];
      const pid = pids[mode];
      const before = cloudCpu(pid);
      const client = process.cpuUsage();
      await cli(projectDir, ['bench', '--orders', String(orders), '--concurrency', '10']);
      const used = process.cpuUsage(client);
      const after = cloudCpu(pid);
      totals[mode].cloud += after.cloud - before.cloud;
      totals[mode].jvm += after.jvm - before.jvm;
      totals[mode].client += (used.user + used.system) / 1e6;
      totals[mode].orders += orders;
    };
    for (let i = 0; i < Number(values['iam-rounds']); i++) {
      // ABBA order: a machine that slows down or speeds up during the run weighs on both modes alike.
      for (const mode of i % 2 === 0 ? (['off', 'enforce'] as const) : (['enforce', 'off'] as const)) {
        await round(mode);
      }
    }
    const ms = (seconds: number, n: number) => (1000 * seconds) / n;
    const line = (mode: 'off' | 'enforce') => {
      const t = totals[mode];
      const total = ms(t.cloud + t.jvm + t.client, t.orders);
      return {
        total,
        text:
          `IAM ${mode.padEnd(7)}: ${total.toFixed(1)} ms CPU per order (local cloud ${ms(t.cloud, t.orders).toFixed(1)}, ` +
          `DynamoDB Local ${ms(t.jvm, t.orders).toFixed(1)}, bench client ${ms(t.client, t.orders).toFixed(1)}) over ${t.orders} orders`,
      };
    };
    const a = line('off');
    const b = line('enforce');
    console.log(a.text);
    console.log(b.text);
    console.log(
      `IAM enforcement costs ${(((b.total - a.total) / a.total) * 100).toFixed(1)}% CPU per order ` +
        `(${(b.total - a.total).toFixed(1)} ms; target < 5%), measured side by side in this run`,
    );
  } finally {
    for (const dir of Object.values(dirs)) {
      await stopLocalCloud({ projectDir: dir, removeData: true });
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Cold start, latency, sustained rate and CPU per order on one cloud (IAM enforced), and the write floor. */
async function figures(): Promise<void> {
  const projectDir = await mkdtemp(join(tmpdir(), 'saga-bench-'));
  try {
    if (synthesisIsStale()) await synthesize();
    const coldStart = Date.now();
    const state = await startLocalCloudDetached({
      projectDir,
      cdkOut: CDK_OUT,
      timeScale: Number(values['time-scale']),
    });
    const coldMs = Date.now() - coldStart;
    console.log(`cold start of the local cloud: ${(coldMs / 1000).toFixed(1)} s (target < 15 s)`);
    const eatMyData = findEatMyData();
    console.log(
      `DynamoDB Local fsync: ${
        process.env.SAGA_DYNAMODB_FSYNC === '1'
          ? 'on (SAGA_DYNAMODB_FSYNC=1)'
          : eatMyData
            ? `skipped (${eatMyData})`
            : 'on (libeatmydata not found)'
      }`,
    );

    // Warm the Lambda sandboxes at the load's concurrency, then sequential happy-path orders for latency.
    await cli(projectDir, ['bench', '--orders', values['warm-orders'], '--concurrency', '10']);
    const latency = (
      await cli(projectDir, ['bench', '--orders', values['latency-orders'], '--concurrency', '1'])
    ).find((l) => l.type === 'bench') as { latencyMs: { p50: number; p99: number } };
    console.log(
      `happy path, order → terminal state, 1 client: p50 ${latency.latencyMs.p50} ms, p99 ${latency.latencyMs.p99} ms (target p50 < 300 ms)`,
    );
    const jvm = childrenOf(state.pid)[0];
    const before = { cloud: cpuSeconds(state.pid), jvm: jvm && cpuSeconds(jvm), client: process.cpuUsage() };
    const load = (await cli(projectDir, ['bench', '--orders', values.orders, '--concurrency', '10'])).find(
      (l) => l.type === 'bench',
    ) as { ordersPerSecond: number; latencyMs: { p50: number; p99: number }; violations: number };
    const client = process.cpuUsage(before.client);
    console.log(
      `sustained, 10 clients, ${values.orders} orders: ${load.ordersPerSecond.toFixed(1)} orders/s ` +
        `(p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms; invariant violations ${load.violations}) (target ≥ 20/s)`,
    );
    const perOrder = (start: number | undefined, end: number | undefined) =>
      start === undefined || end === undefined
        ? 'n/a'
        : `${((1000 * (end - start)) / Number(values.orders)).toFixed(0)} ms`;
    console.log(
      `CPU per order (load and invariant check): local cloud ${perOrder(before.cloud, cpuSeconds(state.pid))}, ` +
        `DynamoDB Local ${perOrder(before.jvm || undefined, jvm ? cpuSeconds(jvm) : undefined)}, ` +
        `bench client ${perOrder(0, (client.user + client.system) / 1e6)}`,
    );
    const rate = await writeRate(state.dynamodbEndpoint, 5, 20);
    console.log(`DynamoDB Local single-item PutItem (stream on), 20 clients: ${rate.toFixed(0)} writes/s`);
    console.log(
      `orders/s as a share of the write floor: ${load.ordersPerSecond.toFixed(1)} orders/s ≈ ${(load.ordersPerSecond * WRITES_PER_ORDER).toFixed(0)} write requests/s at ${WRITES_PER_ORDER} per order = ${((load.ordersPerSecond * WRITES_PER_ORDER * 100) / rate).toFixed(0)}% of ${rate.toFixed(0)}`,
    );
  } finally {
    await stopLocalCloud({ projectDir, removeData: true });
    await rm(projectDir, { recursive: true, force: true });
  }
}

if (!values['only-iam']) await figures();
if (Number(values['iam-rounds']) > 0) await iamCost();
