import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsError, type JsonService } from '../wire/aws-error.ts';
import { sqsQueryErrorHeader } from './query-protocol.ts';
import { SqsService } from './service.ts';

/** A minimal awsJson1_0 front door (what the edge does) so the real SQS client talks to the service. */
async function serveJson(service: JsonService): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.slice(target.indexOf('.') + 1);
      const input = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      service.handle(operation, input).then(
        (output) => {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify(output));
        },
        (error: unknown) => {
          const e = error instanceof AwsError ? error : new AwsError('InternalFailure', String(error), 500);
          res.writeHead(e.statusCode, {
            'content-type': 'application/x-amz-json-1.0',
            'x-amzn-query-error': sqsQueryErrorHeader(e.type, e.statusCode),
          });
          res.end(JSON.stringify({ __type: e.type, message: e.message }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('SqsService', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-sqs-'));
  let endpoint = '';
  let server: Server;
  let service: SqsService;
  let sqs: SQSClient;

  beforeAll(async () => {
    service = new SqsService({ dataDir, queueUrlBase: () => `${endpoint}/000000000000` });
    ({ server, endpoint } = await serveJson(service));
    sqs = new SQSClient({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
  });

  afterAll(async () => {
    sqs.destroy();
    await new Promise((resolve) => server.close(resolve));
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends, receives with a visibility timeout, and deletes through the real SQS client', async () => {
    // Prepare
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'orders-dlq' }));
    expect(QueueUrl).toBe(`${endpoint}/000000000000/orders-dlq`);

    // Act: the SDK checks MD5OfMessageBody on send and MD5OfBody on receive, so wrong digests fail here.
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: '{"orderId":"01J"}',
        MessageAttributes: { RULE_ARN: { DataType: 'String', StringValue: 'arn:aws:events:rule' } },
      }),
    );
    const first = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        VisibilityTimeout: 1,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const hidden = await sqs.send(new ReceiveMessageCommand({ QueueUrl }));
    const counts = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));

    // Assess
    expect(sent.MD5OfMessageBody).toBe(createHash('md5').update('{"orderId":"01J"}').digest('hex'));
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    const message = first.Messages?.[0];
    expect(message?.MessageId).toBe(sent.MessageId);
    expect(message?.Body).toBe('{"orderId":"01J"}');
    expect(message?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(message?.MessageAttributes?.RULE_ARN?.StringValue).toBe('arn:aws:events:rule');
    expect(message?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(hidden.Messages).toBeUndefined();
    expect(counts.Attributes?.ApproximateNumberOfMessages).toBe('0');
    expect(counts.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('1');
    expect(counts.Attributes?.QueueArn).toBe('arn:aws:sqs:us-east-1:000000000000:orders-dlq');
    expect(again.Messages?.[0]?.MessageId).toBe(sent.MessageId);
    expect(again.Messages?.[0]?.ReceiptHandle).not.toBe(message?.ReceiptHandle);

    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: again.Messages?.[0]?.ReceiptHandle }));
    const after = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(after.Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('answers an unknown queue with the QueueDoesNotExist error the SDK models', async () => {
    const error = await sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueueDoesNotExist);
    expect((error as QueueDoesNotExist).message).toBe('The specified queue does not exist.');
    expect((error as { Code?: string }).Code).toBe('AWS.SimpleQueueService.NonExistentQueue');
  });

  it('long-polls until a message arrives, changes visibility, purges and lists', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'poll-me' }));
    const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    setTimeout(() => service.send('arn:aws:sqs:us-east-1:000000000000:poll-me', 'late'), 150);
    const received = await waiting;
    expect(received.Messages?.[0]?.Body).toBe('late');

    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: received.Messages?.[0]?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const visibleAgain = await sqs.send(new ReceiveMessageCommand({ QueueUrl }));
    expect(visibleAgain.Messages?.[0]?.Body).toBe('late');

    await sqs.send(new PurgeQueueCommand({ QueueUrl }));
    const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    expect(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('0');

    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'poll' }));
    expect(listed.QueueUrls).toEqual([`${endpoint}/000000000000/poll-me`]);
  });

  it('rejects bad input with the parameter, the value and the allowed range', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'strict' }));
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 }))).rejects.toThrow(
      /MaxNumberOfMessages is invalid.*between 1 and 10/,
    );
    await expect(service.handle('DeleteMessage', { QueueUrl, ReceiptHandle: 'garbage' })).rejects.toThrow(
      /not a valid receipt handle/,
    );
    await expect(service.handle('SendMessage', { QueueUrl })).rejects.toThrow(/MessageBody/);
    await expect(service.handle('CreateQueue', { QueueName: 'bad name!' })).rejects.toThrow(/alphanumeric/);
  });

  it('moves a message to the dead-letter queue after maxReceiveCount receives (RedrivePolicy)', async () => {
    const dlq = service.createQueue({
      name: 'redrive-dlq',
      arn: 'arn:aws:sqs:us-east-1:000000000000:redrive-dlq',
    });
    const main = service.createQueue({
      name: 'redrive-main',
      arn: 'arn:aws:sqs:us-east-1:000000000000:redrive-main',
      attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }) },
    });
    service.send(main.url, 'poison');
    const once = (await service.handle('ReceiveMessage', { QueueUrl: main.url, VisibilityTimeout: 0 })) as {
      Messages?: unknown[];
    };
    const twice = (await service.handle('ReceiveMessage', { QueueUrl: main.url })) as {
      Messages?: unknown[];
    };
    const inDlq = (await service.handle('ReceiveMessage', { QueueUrl: dlq.url })) as {
      Messages?: { Body: string }[];
    };
    expect(once.Messages).toHaveLength(1);
    expect(twice.Messages).toBeUndefined();
    expect(inDlq.Messages?.[0]?.Body).toBe('poison');
  });

  it('keeps queues and messages across a restart (dataDir/sqs)', async () => {
    // Prepare: a data folder of its own, so the suite's service does not write to it meanwhile.
    const ownDir = join(dataDir, 'restart');
    const before = new SqsService({ dataDir: ownDir, queueUrlBase: () => 'http://127.0.0.1:1/000000000000' });
    before.createQueue({ name: 'durable', arn: 'arn:aws:sqs:us-east-1:000000000000:durable' });
    before.send('arn:aws:sqs:us-east-1:000000000000:durable', 'kept');
    await before.close();

    // Act
    const after = new SqsService({ dataDir: ownDir, queueUrlBase: () => 'http://127.0.0.1:2/000000000000' });
    const received = (await after.handle('ReceiveMessage', {
      QueueUrl: 'http://127.0.0.1:2/000000000000/durable',
    })) as { Messages?: { Body: string }[] };
    await after.close();

    // Assess
    expect(received.Messages?.[0]?.Body).toBe('kept');
  });
});
