import { type DynamoDbLocal, startDynamoDbLocal } from '@saga/local-cloud';
import type { TestProject } from 'vitest/node';

let ddb: DynamoDbLocal | undefined;

/** One in-memory DynamoDB Local for every unit test file; each file uses its own table names. */
export async function setup(project: TestProject): Promise<void> {
  ddb = await startDynamoDbLocal();
  project.provide('dynamodbEndpoint', ddb.endpoint);
}

export async function teardown(): Promise<void> {
  await ddb?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}
