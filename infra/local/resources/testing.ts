/** Stub running parts for provider tests: every call is recorded; nothing runs. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { EventRuleSpec } from '../events/service.ts';
import type { DeployParts, FunctionSpec, IamRegistry, StreamMappingOptions } from './provider.ts';

/** What the stub parts were asked. */
export interface StubCalls {
  readonly functions: FunctionSpec[];
  readonly queues: { name: string; arn: string }[];
  readonly rules: EventRuleSpec[];
  readonly mappings: StreamMappingOptions[];
}

/** Parts that record what deploy asks of them; their clients point nowhere (no table may be deployed). */
export function stubParts(): { parts: DeployParts; calls: StubCalls } {
  const calls: StubCalls = { functions: [], queues: [], rules: [], mappings: [] };
  const nowhere = {
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  };
  const parts: DeployParts = {
    dynamodb: new DynamoDBClient(nowhere),
    streams: new DynamoDBStreamsClient(nowhere),
    lambda: {
      register: (spec) => calls.functions.push(spec),
      invoke: async () => ({ statusCode: 200, payload: null, executedVersion: '$LATEST', requestId: 'r' }),
    },
    logs: { createLogGroup: () => undefined },
    sqs: {
      createQueue: (spec) => {
        calls.queues.push(spec);
        return { url: `http://127.0.0.1:4566/000000000000/${spec.name}`, arn: spec.arn };
      },
    },
    events: {
      createBus: () => undefined,
      putRule: (spec) => calls.rules.push(spec),
      createArchive: () => undefined,
    },
    stepfunctions: { createStateMachine: () => undefined },
    edge: { endpoint: 'http://127.0.0.1:9', serveHttpApi: async () => 'http://127.0.0.1:9/' },
    dispatcher: { deliver: async () => undefined },
    createStreamMapping: (options) => {
      calls.mappings.push(options);
      return { start: () => undefined, stop: async () => undefined, drain: async () => undefined };
    },
  };
  return { parts, calls };
}

/** An IAM registry that records what it is given. */
export function recordingIam(): {
  iam: IamRegistry;
  roles: unknown[];
  policies: unknown[];
  statements: unknown[];
} {
  const roles: unknown[] = [];
  const policies: unknown[] = [];
  const statements: unknown[] = [];
  return {
    iam: {
      putRole: (role) => roles.push(role),
      putPolicy: (policyName, document, roleNames) => policies.push({ policyName, document, roleNames }),
      putResourceStatements: (resourceArn, sourceId, list) =>
        statements.push({ resourceArn, sourceId, statements: list }),
    },
    roles,
    policies,
    statements,
  };
}
