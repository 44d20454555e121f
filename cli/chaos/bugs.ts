/**
 * Known bugs to put back into a running saga (its state machine, through Step Functions' UpdateStateMachine), so
 * that the test suite and the benchmark can show `saga chaos` finding them: a checker that cannot fail proves
 * nothing. Each bug is a pure edit of the ASL; {@link putBugBack} applies one and returns how to undo it.
 */
import { DescribeStateMachineCommand, type SFNClient, UpdateStateMachineCommand } from '@aws-sdk/client-sfn';

/** An ASL definition as JSON. */
type Definition = { States: Record<string, Record<string, unknown>> } & Record<string, unknown>;

/** The bugs this module knows. */
export const KNOWN_BUGS = {
  /**
   * The settled-order replay bug: the saga no longer leaves a settled order alone. `RouteOrder` sends every status
   * but PENDING to the compensations (its `Default` is `ReleaseInventory`; `AlreadySettled` is gone), and
   * `MarkOrderCancelled` is unconditional, as the saga's Mark* updates were before the edges issue. A replay of a
   * COMPLETED order then refunds it, releases its stock and marks it CANCELLED with its shipment still there.
   */
  'settled-replay': (asl: Definition): Definition => {
    const states = structuredClone(asl.States);
    const route = states.RouteOrder as { Default?: string };
    route.Default = 'ReleaseInventory';
    // Nothing reaches it any more (Step Functions refuses unreachable states).
    delete states.AlreadySettled;
    states.MarkOrderCancelled = unconditional(states.MarkOrderCancelled);
    return { ...asl, States: states };
  },
  /**
   * No settled check: `StartAt` skips `CheckOrder` (a replay goes straight to `ChargePayment`) and
   * `MarkOrderCompleted` is unconditional. The steps' own ledgers still answer, so nothing is charged or shipped
   * twice, but a replay of a COMPLETED order writes its status again (I5: a settled status is rewritten).
   */
  'no-check-order': (asl: Definition): Definition => {
    const states = structuredClone(asl.States);
    states.MarkOrderCompleted = unconditional(states.MarkOrderCompleted);
    return { ...asl, StartAt: 'ChargePayment', States: states };
  },
} as const;

/** A `dynamodb:updateItem` Task state without its ConditionExpression (and the values only the condition used). */
function unconditional(state: Record<string, unknown> | undefined): Record<string, unknown> {
  const task = state as { Parameters: Record<string, unknown> };
  const { ConditionExpression: _condition, ...parameters } = task.Parameters;
  const used = String(parameters.UpdateExpression ?? '');
  // DynamoDB refuses names and values the expressions do not use.
  for (const key of ['ExpressionAttributeValues', 'ExpressionAttributeNames']) {
    const entries = parameters[key] as Record<string, unknown> | undefined;
    if (entries)
      parameters[key] = Object.fromEntries(Object.entries(entries).filter(([name]) => used.includes(name)));
  }
  return { ...task, Parameters: parameters };
}

/** One of {@link KNOWN_BUGS}. */
export type KnownBug = keyof typeof KNOWN_BUGS;

/** Puts a known bug into the running state machine; resolves to a function that restores the definition. */
export async function putBugBack(
  sfn: SFNClient,
  stateMachineArn: string,
  bug: KnownBug,
): Promise<() => Promise<void>> {
  const { definition = '' } = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  const buggy = KNOWN_BUGS[bug](JSON.parse(definition) as Definition);
  await sfn.send(new UpdateStateMachineCommand({ stateMachineArn, definition: JSON.stringify(buggy) }));
  return async () => {
    await sfn.send(new UpdateStateMachineCommand({ stateMachineArn, definition }));
  };
}
