/**
 * Delivery to the targets of EventBridge rules and event source mappings (and their dead-letter queues), routed
 * by the target's ARN to the part that plays its service.
 */
import { createHash } from 'node:crypto';
import type { AccessRequest } from '../iam/access.ts';
import type { IamAuthority } from '../iam/authority.ts';
import type { RequestPrincipal } from '../iam/evaluate.ts';
import { logArn } from '../logs/access.ts';
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
  /**
   * IAM: a delivery on behalf of a rule ({@link DeliverySource}) is authorized first, as EventBridge's calls are
   * (`events.amazonaws.com` against the target's resource policy, or the target's role); a denial rejects with the
   * `AccessDeniedError`. @default no checks
   */
  readonly iam?: IamAuthority;
}

/** On whose behalf a delivery is made: a target of an EventBridge rule. */
export interface DeliverySource {
  /** The rule's ARN: `aws:SourceArn` of EventBridge's calls (its account is `aws:SourceAccount`). */
  readonly ruleArn: string;
  /**
   * The target's `RoleArn`: EventBridge assumes it to start a Step Functions execution or put events on a bus,
   * and the role's policies decide. @default none (such targets are then not checked)
   */
  readonly roleArn?: string;
}

/** The principal EventBridge delivers as. */
export const EVENTS_SERVICE_PRINCIPAL = 'events.amazonaws.com';

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
  deliver(targetArn: string, payload: unknown, source?: DeliverySource): Promise<void>;
  deliverDeadLetter(
    queueArn: string,
    body: string,
    attributes: Record<string, unknown>,
    source?: DeliverySource,
  ): Promise<void>;
} {
  const authorize = (
    source: DeliverySource | undefined,
    requests: readonly AccessRequest[],
    role = false,
  ) => {
    const iam = parts.iam;
    if (iam === undefined || source === undefined) return;
    if (role) {
      if (source.roleArn === undefined) return;
      iam.authorizeAll(rolePrincipal(iam, source.ruleArn, source.roleArn), requests);
      return;
    }
    const account = source.ruleArn.split(':')[4] || iam.accountId;
    const context = { 'aws:SourceArn': source.ruleArn, 'aws:SourceAccount': account };
    iam.authorizeAll(
      iam.servicePrincipal(EVENTS_SERVICE_PRINCIPAL),
      requests.map((request) => ({ ...request, context: { ...context, ...request.context } })),
    );
  };
  return {
    async deliverDeadLetter(
      queueArn: string,
      body: string,
      attributes: Record<string, unknown>,
      source?: DeliverySource,
    ): Promise<void> {
      authorize(source, [{ action: 'sqs:SendMessage', resource: queueArn }]);
      parts.sqs.send(queueArn, body, attributes);
    },
    async deliver(targetArn: string, payload: unknown, source?: DeliverySource): Promise<void> {
      const [, , service = '', region = '', account = '', ...rest] = targetArn.split(':');
      const resource = rest.join(':');
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
      switch (service) {
        case 'lambda': {
          authorize(source, [{ action: 'lambda:InvokeFunction', resource: targetArn }]);
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
          authorize(source, [{ action: 'sqs:SendMessage', resource: targetArn }]);
          parts.sqs.send(targetArn, body);
          return;
        case 'states':
          if (!resource.startsWith('stateMachine:')) break;
          authorize(source, [{ action: 'states:StartExecution', resource: targetArn }], true);
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
          const stream = typeof id === 'string' ? id : 'events';
          // The log group's resource policy (AWS::Logs::ResourcePolicy) must let EventBridge write the stream.
          const streamArn = logArn(region, account, name, stream);
          authorize(source, [
            { action: 'logs:CreateLogStream', resource: streamArn },
            { action: 'logs:PutLogEvents', resource: streamArn },
          ]);
          parts.logs.put(name, stream, [{ timestamp: Date.now(), message: body }]);
          return;
        }
        case 'events': {
          const events = parts.events?.();
          if (!events || !resource.startsWith('event-bus/')) break;
          authorize(source, [{ action: 'events:PutEvents', resource: targetArn }], true);
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

/**
 * The session of a target's role EventBridge delivers as. Its name is a 32-hex-digit id, as EventBridge names its
 * sessions, derived from the rule and role so that warn mode reports a denial once, not per event.
 */
function rolePrincipal(iam: IamAuthority, ruleArn: string, roleArn: string): RequestPrincipal {
  const sessionName = createHash('sha256').update(`${ruleArn}\n${roleArn}`).digest('hex').slice(0, 32);
  return iam.sessionPrincipal(roleArn, sessionName);
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
