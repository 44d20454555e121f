/**
 * Delivery to the targets of EventBridge rules and event source mappings (and their dead-letter queues), routed
 * by the target's ARN to the part that plays its service.
 */
import type { InvokeResult, LambdaInvoker, LogSink, TargetDispatcher } from '../types.ts';
import { AwsError, type JsonService } from '../wire/aws-error.ts';

/** The parts a {@link TargetDispatcher} delivers to. `events` is read at delivery (it is built after). */
export interface DispatchParts {
  readonly lambda: LambdaInvoker;
  readonly sqs: {
    send(queueArnOrUrl: string, body: string, messageAttributes?: Record<string, unknown>): void;
  };
  readonly stepfunctions: JsonService;
  readonly logs: LogSink;
  readonly events?: () => JsonService | undefined;
}

/** Raised when a target rejects a delivery (a function error, an unknown ARN). */
export class TargetDeliveryError extends Error {
  readonly targetArn: string;
  constructor(targetArn: string, message: string, options?: ErrorOptions) {
    super(`Delivery to ${targetArn} failed: ${message}`, options);
    this.name = 'TargetDeliveryError';
    this.targetArn = targetArn;
  }
}

/**
 * Routes a delivery by the target's ARN: Lambda → invoke (a function error rejects, so the caller
 * retries or dead-letters), SQS → send, Step Functions state machine → StartExecution, CloudWatch Logs
 * log group → put, EventBridge bus → PutEvents.
 */
export function createTargetDispatcher(parts: DispatchParts): TargetDispatcher & {
  deliverDeadLetter(queueArn: string, body: string, attributes: Record<string, unknown>): Promise<void>;
} {
  return {
    async deliverDeadLetter(
      queueArn: string,
      body: string,
      attributes: Record<string, unknown>,
    ): Promise<void> {
      parts.sqs.send(queueArn, body, attributes);
    },
    async deliver(targetArn: string, payload: unknown): Promise<void> {
      const [, , service = '', , , ...rest] = targetArn.split(':');
      const resource = rest.join(':');
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
      switch (service) {
        case 'lambda': {
          const result: InvokeResult = await parts.lambda.invoke(targetArn, payload);
          if (result.functionError) {
            const error = result.payload as { errorType?: string; errorMessage?: string } | undefined;
            throw new TargetDeliveryError(
              targetArn,
              `${error?.errorType ?? 'Error'}: ${error?.errorMessage ?? ''}`,
            );
          }
          return;
        }
        case 'sqs':
          parts.sqs.send(targetArn, body);
          return;
        case 'states':
          if (!resource.startsWith('stateMachine:')) break;
          try {
            await parts.stepfunctions.handle('StartExecution', { stateMachineArn: targetArn, input: body });
          } catch (error) {
            throw new TargetDeliveryError(targetArn, errorText(error), { cause: error });
          }
          return;
        case 'logs': {
          const name = /^log-group:([^:]+)/.exec(resource)?.[1];
          if (!name) break;
          const id =
            typeof payload === 'object' && payload !== null ? (payload as { id?: unknown }).id : undefined;
          parts.logs.put(name, typeof id === 'string' ? id : 'events', [
            { timestamp: Date.now(), message: body },
          ]);
          return;
        }
        case 'events': {
          const events = parts.events?.();
          if (!events || !resource.startsWith('event-bus/')) break;
          const event = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<
            string,
            unknown
          >;
          await events.handle('PutEvents', {
            Entries: [
              {
                EventBusName: targetArn,
                Source: event.source,
                DetailType: event['detail-type'],
                Detail: JSON.stringify(event.detail ?? {}),
                Resources: event.resources,
              },
            ],
          });
          return;
        }
      }
      throw new TargetDeliveryError(
        targetArn,
        new AwsError('ResourceNotFoundException', 'the local cloud has no target of this kind').message,
      );
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
