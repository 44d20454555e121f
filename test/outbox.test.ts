/**
 * The transactional outbox under faults (issue "prove it under faults"), on the shared local cloud: a GLOBAL
 * `publisher` flag makes a share of the publisher's invocations fail while 200 orders are placed, and every committed
 * order must still start exactly one execution (Step Functions dedupes by the execution name = order id). A record
 * whose retries run out goes to the mapping's on-failure queue; that message names the stream records, which are
 * re-delivered through the outbox (as `saga replay --via outbox` does) and then start their execution, once.
 * A record delivered twice starts no second execution.
 *
 * PutEvents partial failures (an entry EventBridge reports failed) cannot be caused through the real pipeline: the
 * publisher always sends a well-formed entry to the stack's own bus. services/outbox-publisher/publisher.test.ts
 * ('a failed PutEvents entry is retried') covers that retry.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { type ExecutionStatus, SFNClient } from '@aws-sdk/client-sfn';
import {
  DeleteMessageCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { listAllExecutions } from '../cli/target/executions.ts';
import { callApi } from '../cli/target/http.ts';
import { readLedger } from '../cli/target/ledger.ts';
import { readOrderLogs } from '../cli/target/logs.ts';
import { type ResolvedTarget, resolveTarget } from '../cli/target/target.ts';
import { deleteFailureFlag, GLOBAL_SCOPE, writeFailureFlag } from '../services/shared/failure-flags.ts';
import { runCli } from './support/cli.ts';
import { warmUp } from './support/warm-up.ts';

const cwd = inject('sagaProjectDir');

/** Orders placed under the fault, and how many at once. */
const ORDERS = 200;
const CONCURRENCY = 10;
/** The share of publisher invocations the GLOBAL flag fails (transient: a TransientError before PutEvents). */
const FAULT_RATE = 0.3;
/** The flag's budget of failures (the most `transient` allows). */
const FAULT_TIMES = 100;
/** paper-filters has 1000 units; 200 orders of one leave plenty for the other files. */
const ITEMS = [{ sku: 'paper-filters', qty: 1 }];
/** POST attempts per order: a 5xx (a cold sandbox outliving the scaled 1 s timeout) is retried with the same orderId. */
const POST_ATTEMPTS = 8;
const TERMINAL: readonly ExecutionStatus[] = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
const TERMINAL_ORDER = ['COMPLETED', 'CANCELLED', 'FAILED', 'COMPENSATION_FAILED'];

let target: ResolvedTarget;
let ddb: DynamoDBClient;
let sfn: SFNClient;
let sqs: SQSClient;
let streams: DynamoDBStreamsClient;
let dlqUrl: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Executions per name (only the names asked for) and the status of the newest. */
async function executionsNamed(
  names: ReadonlySet<string>,
): Promise<Map<string, { count: number; status: string }>> {
  const found = new Map<string, { count: number; status: string }>();
  for (const e of await listAllExecutions(sfn, target.outputs.StateMachineArn)) {
    if (!e.name || !names.has(e.name)) continue;
    const seen = found.get(e.name);
    found.set(e.name, { count: (seen?.count ?? 0) + 1, status: seen?.status ?? e.status ?? '' });
  }
  return found;
}

/** Which of these order ids have an order row (the truth about "committed", whatever the API answered). */
async function committedOf(orderIds: readonly string[]): Promise<Set<string>> {
  const committed = new Set<string>();
  for (let i = 0; i < orderIds.length; i += 100) {
    let keys: Record<string, AttributeValue>[] | undefined = orderIds
      .slice(i, i + 100)
      .map((id) => ({ pk: { S: `ORDER#${id}` }, sk: { S: 'ORDER' } }));
    while (keys && keys.length > 0) {
      const table = target.outputs.OrdersTableName;
      const page: BatchGetItemCommandOutput = await ddb.send(
        new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of page.Responses?.[table] ?? [])
        committed.add((item.pk?.S ?? '').replace(/^ORDER#/, ''));
      keys = page.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return committed;
}

/** What placing the orders took. */
interface Placement {
  readonly orderIds: string[];
  /** 5xx answers retried (the order function outliving its scaled timeout on a loaded machine). */
  readonly retried5xx: number;
  /** 409 answers to a retry: the attempt that got a 5xx had committed after all. */
  readonly committedDespite5xx: number;
  readonly ms: number;
}

/** POSTs the orders, CONCURRENCY at a time; a 5xx is retried with the same orderId (409 = it was committed). */
async function placeOrders(count: number): Promise<Placement> {
  const orderIds = Array.from({ length: count }, () => ulid());
  let next = 0;
  let retried5xx = 0;
  let committedDespite5xx = 0;
  const started = Date.now();
  const worker = async (): Promise<void> => {
    while (next < orderIds.length) {
      const orderId = orderIds[next++] as string;
      for (let attempt = 1; attempt <= POST_ATTEMPTS; attempt++) {
        const response = await callApi(target, 'POST', '/orders', {
          body: { orderId, customerId: 'cust-outbox', items: ITEMS, currency: 'EUR' },
        });
        if (response.status === 202) break;
        if (response.status === 409 && attempt > 1) {
          committedDespite5xx++;
          break;
        }
        expect(response.status, `POST /orders ${orderId}: ${response.text}`).toBeGreaterThanOrEqual(500);
        retried5xx++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { orderIds, retried5xx, committedDespite5xx, ms: Date.now() - started };
}

/** A message of the mapping's on-failure queue (Lambda's stream on-failure record). */
interface DiscardedBatch {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly condition: string;
  readonly orderIds: string[];
}

/** The order ids of the OUTBOX# inserts between two sequence numbers of a shard, read from the stream itself. */
async function outboxOrdersIn(info: {
  streamArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
}): Promise<string[]> {
  const end = BigInt(info.endSequenceNumber);
  const orderIds: string[] = [];
  let { ShardIterator } = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: info.streamArn,
      ShardId: info.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: info.startSequenceNumber,
    }),
  );
  while (ShardIterator) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
    for (const record of page.Records ?? []) {
      if (BigInt(record.dynamodb?.SequenceNumber ?? '0') > end) return orderIds;
      const pk = record.dynamodb?.Keys?.pk?.S ?? '';
      if (record.eventName === 'INSERT' && pk.startsWith('OUTBOX#'))
        orderIds.push(pk.slice('OUTBOX#'.length));
    }
    if (!page.Records?.length) return orderIds;
    ShardIterator = page.NextShardIterator;
  }
  return orderIds;
}

/** Drains the on-failure queue (messages stay hidden for a while, so each is read once per test). */
async function receiveDiscardedBatches(into: Map<string, DiscardedBatch>): Promise<void> {
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
    );
    if (Messages.length === 0) return;
    for (const message of Messages) {
      const body = JSON.parse(message.Body ?? '{}') as {
        requestContext?: { condition?: string };
        DDBStreamBatchInfo?: Parameters<typeof outboxOrdersIn>[0];
      };
      into.set(message.MessageId ?? '', {
        messageId: message.MessageId ?? '',
        receiptHandle: message.ReceiptHandle ?? '',
        condition: body.requestContext?.condition ?? '',
        orderIds: body.DDBStreamBatchInfo ? await outboxOrdersIn(body.DDBStreamBatchInfo) : [],
      });
    }
  }
}

/** Writes the order's OUTBOX row again (delete + put of the same item): the stream carries a new INSERT. */
async function redeliver(orderId: string): Promise<void> {
  const table = target.outputs.OrdersTableName;
  const { Items = [] } = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: `OUTBOX#${orderId}` } },
      ConsistentRead: true,
    }),
  );
  const item = Items[0];
  expect(item, `the OUTBOX row of ${orderId}`).toBeDefined();
  if (!item) return;
  await ddb.send(
    new DeleteItemCommand({
      TableName: table,
      Key: { pk: item.pk as AttributeValue, sk: item.sk as AttributeValue },
    }),
  );
  await ddb.send(new PutItemCommand({ TableName: table, Item: item }));
}

async function orderStatus(orderId: string): Promise<string | undefined> {
  const { Item } = await ddb.send(
    new GetItemCommand({
      TableName: target.outputs.OrdersTableName,
      Key: { pk: { S: `ORDER#${orderId}` }, sk: { S: 'ORDER' } },
      ConsistentRead: true,
    }),
  );
  return Item?.status?.S;
}

let finishedOrderId: string | undefined;

beforeAll(async () => {
  target = await resolveTarget(cwd, {});
  const config = target.clientConfig();
  ddb = new DynamoDBClient(config);
  sfn = new SFNClient(config);
  sqs = new SQSClient(config);
  streams = new DynamoDBStreamsClient(config);
  const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({}));
  const url = QueueUrls.find((u) => u.includes('OutboxPublisherDlq'));
  if (!url) throw new Error(`No OutboxPublisherDlq queue among ${QueueUrls.join(', ')}`);
  dlqUrl = url;
  // Warm sandboxes for the order function and the saga, so that the 5xx retried below stay few.
  await warmUp(target, CONCURRENCY);
}, 300_000);

afterAll(async () => {
  if (!target) return;
  // Other files share the cloud: never leave the GLOBAL flag behind, whatever happened.
  await deleteFailureFlag(ddb, target.outputs.FailureFlagsTableName, GLOBAL_SCOPE, 'publisher');
});

describe('the outbox under a GLOBAL publisher fault', () => {
  test(`${ORDERS} orders with ${FAULT_RATE * 100}% of publisher invocations failing: one execution per committed order`, async () => {
    const flags = target.outputs.FailureFlagsTableName;
    let placement: Placement;
    let committed: Set<string>;
    const discarded = new Map<string, DiscardedBatch>();
    let injected = 0;
    let settledAfterMs = 0;
    try {
      await writeFailureFlag(ddb, flags, GLOBAL_SCOPE, {
        step: 'publisher',
        mode: 'transient',
        times: FAULT_TIMES,
        rate: FAULT_RATE,
      });
      placement = await placeOrders(ORDERS);
      const placedAt = Date.now();
      committed = await committedOf(placement.orderIds);
      // Until every committed order has a finished execution or sits in a discarded batch.
      const deadline = Date.now() + 600_000;
      for (;;) {
        await receiveDiscardedBatches(discarded);
        const inQueue = new Set([...discarded.values()].flatMap((b) => b.orderIds));
        const executions = await executionsNamed(committed);
        const open = [...committed].filter((id) => {
          const e = executions.get(id);
          return e ? !TERMINAL.includes(e.status as ExecutionStatus) : !inQueue.has(id);
        });
        if (open.length === 0) break;
        if (Date.now() > deadline)
          throw new Error(
            `${open.length} orders neither finished nor discarded: ${open.slice(0, 5).join(', ')}`,
          );
        await sleep(2_000);
      }
      settledAfterMs = Date.now() - placedAt;
      const { Item } = await ddb.send(
        new GetItemCommand({
          TableName: flags,
          Key: { pk: { S: GLOBAL_SCOPE }, sk: { S: 'publisher' } },
          ConsistentRead: true,
        }),
      );
      injected = FAULT_TIMES - Number(Item?.remaining?.N ?? FAULT_TIMES);
    } finally {
      await deleteFailureFlag(ddb, flags, GLOBAL_SCOPE, 'publisher');
    }

    // The fault was active, and the orders went in despite the order function's own timeouts.
    expect(injected).toBeGreaterThan(0);
    // (A POST that got 5xx on every attempt may or may not have committed; the table decides, and only a few may.)
    expect(committed.size).toBeGreaterThanOrEqual(ORDERS * 0.9);

    const executions = await executionsNamed(committed);
    // Never more than one execution per order, however often a record was delivered.
    expect([...executions.entries()].filter(([, e]) => e.count > 1)).toEqual([]);
    // Every committed order without an execution is accounted for: its record is named by a discarded batch.
    const inQueue = new Set([...discarded.values()].flatMap((b) => b.orderIds));
    const missing = [...committed].filter((id) => !executions.has(id));
    expect(missing.filter((id) => !inQueue.has(id))).toEqual([]);
    expect(
      [...discarded.values()]
        .filter((b) => b.orderIds.some((id) => committed.has(id)))
        .every((b) => b.condition === 'RetryAttemptsExhausted'),
    ).toBe(true);

    // Re-drive the discarded orders through the outbox (the flag is gone now); each starts exactly one execution.
    for (const orderId of missing) await redeliver(orderId);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const now = await executionsNamed(committed);
      const open = [...committed].filter((id) => !TERMINAL.includes(now.get(id)?.status as ExecutionStatus));
      if (open.length === 0) break;
      if (Date.now() > deadline)
        throw new Error(`${open.length} orders have no finished execution: ${open.slice(0, 5).join(', ')}`);
      await sleep(2_000);
    }
    const final = await executionsNamed(committed);
    expect([...committed].filter((id) => final.get(id)?.count !== 1)).toEqual([]);
    const statuses = await Promise.all([...committed].map(orderStatus));
    expect(statuses.filter((s) => !TERMINAL_ORDER.includes(s ?? ''))).toEqual([]);

    // The batches handled here are done with; others' messages (if any) become visible again later.
    for (const batch of discarded.values()) {
      if (batch.orderIds.length > 0 && batch.orderIds.every((id) => committed.has(id))) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: batch.receiptHandle }));
      }
    }
    finishedOrderId = [...committed].find((id) => final.get(id)?.status === 'SUCCEEDED');
    const byStatus: Record<string, number> = {};
    for (const s of statuses) byStatus[s ?? 'MISSING'] = (byStatus[s ?? 'MISSING'] ?? 0) + 1;
    console.info(
      `[outbox] ${committed.size}/${ORDERS} committed in ${placement.ms} ms (${placement.retried5xx} 5xx retried, ` +
        `${placement.committedDespite5xx} of them had committed); ${injected} publisher failures injected; ` +
        `${missing.length} orders in ${[...discarded.values()].filter((b) => b.orderIds.some((id) => committed.has(id))).length} ` +
        `discarded batches, re-driven; settled ${settledAfterMs} ms after placing; orders ${JSON.stringify(byStatus)}`,
    );
  }, 1_200_000);

  test('a stream record delivered twice (OUTBOX row re-written, `saga replay --via outbox --times 2`) starts no second execution', async () => {
    expect(finishedOrderId).toBeDefined();
    const orderId = finishedOrderId as string;
    const before = await readLedger(target, orderId, ddb);
    const startedAt = Date.now();
    const result = await runCli(['replay', orderId, '--via', 'outbox', '--times', '2', '--json'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout.trim().split('\n')[0] ?? '{}');
    expect(doc).toMatchObject({ orderId, via: 'outbox', newSideEffects: 0, verdict: 'idempotent' });
    expect(doc.executions).toHaveLength(1);
    // Both re-deliveries reached the publisher, and Step Functions refused both (ExecutionAlreadyExists).
    const deadline = Date.now() + 60_000;
    let dedupes = 0;
    while (Date.now() < deadline) {
      const lines = await readOrderLogs(target, orderId, { startTime: startedAt });
      dedupes = lines.filter(
        (l) => l.message === 'Event published; saga already started' && l.timestamp >= startedAt,
      ).length;
      if (dedupes >= 2) break;
      await sleep(500);
    }
    expect(dedupes).toBe(2);
    expect((await executionsNamed(new Set([orderId]))).get(orderId)?.count).toBe(1);
    expect(await readLedger(target, orderId, ddb)).toEqual(before);
  }, 120_000);
});
