/**
 * Starting an order's saga, shared by the outbox publisher and the outbox sweeper (design §4a rule 7): the
 * execution is named after the order, so Step Functions itself refuses a second one; an existing execution counts
 * as started only when its input is the one we would send.
 */
import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type SagaInput, sagaInputJson, sameSagaInput } from '../shared/saga-input.ts';

/** Where sagas are started. */
export interface SagaStarter {
  readonly sfn: SFNClient;
  /** `arn:<partition>:states:<region>:<account>:stateMachine:<name>`. */
  readonly stateMachineArn: string;
}

/** What {@link startSaga} did. */
export interface StartSagaOutcome {
  /** The order's execution (started now or found). */
  readonly executionArn: string;
  /** True when an execution with this name and the same input existed already (a redelivery or a race). */
  readonly alreadyStarted: boolean;
  /** The existing execution's status (`RUNNING`, `SUCCEEDED`, …), when it existed already. */
  readonly existingStatus?: string;
}

const STATE_MACHINE_ARN = /^(arn:[^:]+:states:[^:]*:[^:]*):stateMachine:([^:]+)$/;

/**
 * The ARN of the state machine's execution with this name (what StartExecution returns for it).
 *
 * @throws Error when `stateMachineArn` is not a state machine ARN.
 */
export function executionArnOf(stateMachineArn: string, name: string): string {
  const match = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!match) {
    throw new Error(
      `Not a state machine ARN: ${JSON.stringify(stateMachineArn)}; expected ` +
        'arn:<partition>:states:<region>:<account>:stateMachine:<name> (check STATE_MACHINE_ARN)',
    );
  }
  return `${match[1]}:execution:${match[2]}:${name}`;
}

/**
 * An execution named after the order exists with another input: the order's outbox event and the running saga
 * disagree about the order. Not a success: the record is reported failed so that someone looks at it.
 */
export class ExecutionInputMismatchError extends Error {
  readonly executionArn: string;

  constructor(executionArn: string, expected: string, found: string | undefined) {
    super(
      `Execution ${executionArn} already exists with a different input: expected ${expected}, found ` +
        `${found ?? '(no input)'}. Compare the order's ORDER row and outbox event with that execution; ` +
        'the saga was not started again',
    );
    this.name = 'ExecutionInputMismatchError';
    this.executionArn = executionArn;
  }
}

/**
 * Starts the order's saga (name = orderId). On `ExecutionAlreadyExists`, describes the existing execution: the
 * same input is a success (`alreadyStarted`), another input an {@link ExecutionInputMismatchError}.
 */
export async function startSaga(starter: SagaStarter, input: SagaInput): Promise<StartSagaOutcome> {
  const json = sagaInputJson(input);
  try {
    const { executionArn } = await starter.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: starter.stateMachineArn,
        name: input.orderId,
        input: json,
      }),
    );
    return {
      executionArn: executionArn ?? executionArnOf(starter.stateMachineArn, input.orderId),
      alreadyStarted: false,
    };
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ExecutionAlreadyExists')) throw error;
  }
  const executionArn = executionArnOf(starter.stateMachineArn, input.orderId);
  const existing = await starter.sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (!sameSagaInput(existing.input, input)) {
    throw new ExecutionInputMismatchError(executionArn, json, existing.input);
  }
  return { executionArn, alreadyStarted: true, existingStatus: existing.status };
}
