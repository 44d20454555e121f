/**
 * Test helper (not bundled into any function): Step Functions' StartExecution / DescribeExecution naming rules
 * on an `aws-sdk-client-mock` stub, for the unit tests of the publisher and the sweeper. Step Functions cannot
 * run in a unit test; this keeps its documented answers: a second StartExecution with the same name and input
 * while the execution runs returns the same execution, any other repeat is `ExecutionAlreadyExists`, and
 * DescribeExecution of an unknown name is `ExecutionDoesNotExist`.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/** An execution the fake holds. */
export interface FakeExecution {
  readonly executionArn: string;
  readonly input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
}

/** Wires the fake onto a stub (after `reset()`); returns its executions by name, to seed or inspect. */
export function fakeStepFunctions(sfn: AwsClientStub<SFNClient>): Map<string, FakeExecution> {
  const executions = new Map<string, FakeExecution>();
  sfn
    .on(StartExecutionCommand)
    .callsFake((input: { stateMachineArn: string; name: string; input: string }) => {
      const existing = executions.get(input.name);
      if (existing) {
        if (existing.status === 'RUNNING' && existing.input === input.input) {
          return { executionArn: existing.executionArn, startDate: new Date() };
        }
        throw new ExecutionAlreadyExists({
          message: `Execution Already Exists: '${existing.executionArn}'`,
          $metadata: {},
        });
      }
      const executionArn = `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`;
      executions.set(input.name, { executionArn, input: input.input, status: 'RUNNING' });
      return { executionArn, startDate: new Date() };
    });
  sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => {
    const found = [...executions.values()].find((e) => e.executionArn === input.executionArn);
    if (!found) {
      throw new ExecutionDoesNotExist({
        message: `Execution Does Not Exist: '${input.executionArn}'`,
        $metadata: {},
      });
    }
    return { ...found, startDate: new Date() };
  });
  return executions;
}
