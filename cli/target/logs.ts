import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  type FilterLogEventsCommandOutput,
} from '@aws-sdk/client-cloudwatch-logs';
import type { ResolvedTarget } from './target.ts';

/** One log line of an order, from any of the stack's functions. */
export interface OrderLogLine {
  readonly timestamp: number;
  /** The function's name as the stack's outputs list it. */
  readonly functionName: string;
  readonly level: string;
  readonly message: string;
  /** The parsed JSON line (Powertools Logger writes JSON), if it was JSON. */
  readonly fields?: Record<string, unknown>;
}

/** The Lambda log groups of the stack, from the FunctionNames output. */
export function functionLogGroups(target: ResolvedTarget): { functionName: string; logGroupName: string }[] {
  const names = (target.outputs.FunctionNames ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return names.map((functionName) => ({ functionName, logGroupName: `/aws/lambda/${functionName}` }));
}

/**
 * The order's log lines from every function, merged by time: CloudWatch Logs FilterLogEvents with the JSON filter
 * pattern `{ $.orderId = "<id>" }` on each log group (the same call on both targets).
 */
export async function readOrderLogs(
  target: ResolvedTarget,
  orderId: string,
  options: { startTime?: number; client?: CloudWatchLogsClient } = {},
): Promise<OrderLogLine[]> {
  const client = options.client ?? new CloudWatchLogsClient(target.clientConfig());
  const groups = functionLogGroups(target);
  const perGroup = await Promise.all(
    groups.map(async ({ functionName, logGroupName }) => {
      const lines: OrderLogLine[] = [];
      let nextToken: string | undefined;
      do {
        let page: FilterLogEventsCommandOutput;
        try {
          page = await client.send(
            new FilterLogEventsCommand({
              logGroupName,
              filterPattern: `{ $.orderId = "${orderId}" }`,
              startTime: options.startTime,
              nextToken,
            }),
          );
        } catch (error) {
          // A function that never ran has no log group yet.
          if ((error as Error).name === 'ResourceNotFoundException') return lines;
          throw error;
        }
        for (const event of page.events ?? [])
          lines.push(toLine(functionName, event.timestamp ?? 0, event.message ?? ''));
        nextToken = page.nextToken;
      } while (nextToken);
      return lines;
    }),
  );
  return perGroup.flat().sort((a, b) => a.timestamp - b.timestamp);
}

function toLine(functionName: string, timestamp: number, message: string): OrderLogLine {
  try {
    const fields = JSON.parse(message) as Record<string, unknown>;
    return {
      timestamp,
      functionName,
      level: String(fields.level ?? 'INFO'),
      message: String(fields.message ?? message),
      fields,
    };
  } catch {
    return { timestamp, functionName, level: 'INFO', message: message.trimEnd() };
  }
}
