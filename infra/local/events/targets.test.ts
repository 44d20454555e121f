import { describe, expect, test } from 'vitest';
import { createTargetDispatcher } from './targets.ts';

describe('createTargetDispatcher routes by ARN', () => {
  function dispatcherWith(functionError = false) {
    const seen: string[] = [];
    const dispatcher = createTargetDispatcher({
      lambda: {
        invoke: async (arn, payload) => {
          seen.push(`lambda ${arn} ${JSON.stringify(payload)}`);
          return {
            statusCode: 200,
            payload: functionError ? { errorType: 'Boom', errorMessage: 'bad' } : {},
            functionError: functionError ? 'Unhandled' : undefined,
            executedVersion: '$LATEST',
            requestId: 'r',
          };
        },
      },
      sqs: { send: (arn, body) => seen.push(`sqs ${arn} ${body}`) },
      stepfunctions: {
        handle: async (operation, input) => {
          seen.push(`states ${operation} ${JSON.stringify(input)}`);
          return {};
        },
      },
      logs: { put: (group, stream, events) => seen.push(`logs ${group} ${stream} ${events[0]?.message}`) },
    });
    return { dispatcher, seen };
  }
  const a = 'us-east-1:000000000000';

  test('lambda, sqs, states, logs', async () => {
    const { dispatcher, seen } = dispatcherWith();
    await dispatcher.deliver(`arn:aws:lambda:${a}:function:f`, { x: 1 });
    await dispatcher.deliver(`arn:aws:sqs:${a}:q`, { x: 2 });
    await dispatcher.deliver(`arn:aws:states:${a}:stateMachine:sm`, { x: 3 });
    await dispatcher.deliver(`arn:aws:logs:${a}:log-group:/saga/events:*`, { id: 'e1', x: 4 });
    expect(seen).toEqual([
      `lambda arn:aws:lambda:${a}:function:f {"x":1}`,
      `sqs arn:aws:sqs:${a}:q {"x":2}`,
      `states StartExecution {"stateMachineArn":"arn:aws:states:${a}:stateMachine:sm","input":"{\\"x\\":3}"}`,
      'logs /saga/events e1 {"id":"e1","x":4}',
    ]);
  });

  test('a function error and an unknown target reject', async () => {
    const { dispatcher } = dispatcherWith(true);
    await expect(dispatcher.deliver(`arn:aws:lambda:${a}:function:f`, {})).rejects.toThrow(/Boom: bad/);
    await expect(dispatcher.deliver(`arn:aws:sns:${a}:topic`, {})).rejects.toThrow(/no target of this kind/);
  });
});
