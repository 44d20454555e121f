/**
 * The registry of resource providers: CloudFormation type → the provider that plays it.
 *
 * Adding a resource type is a one-file change plus its entry here: write `resources/<type>.ts` (e.g.
 * `aws-sns-topic.ts` for AWS::SNS::Topic) exporting a {@link ResourceProvider} — its naming, Ref, GetAtt and
 * deploy — then import it below and list it in PROVIDERS. Nothing in `cloudformation/` changes: a type with no
 * provider is listed as unsupported ("no local equivalent"); one with a provider is named, resolved and deployed
 * by it.
 */
import type { CfnResource } from '../cloudformation/model.ts';
import { apiGatewayV2Api } from './aws-apigatewayv2-api.ts';
import { apiGatewayV2Integration } from './aws-apigatewayv2-integration.ts';
import { apiGatewayV2Route } from './aws-apigatewayv2-route.ts';
import { apiGatewayV2Stage } from './aws-apigatewayv2-stage.ts';
import { cdkMetadata } from './aws-cdk-metadata.ts';
import { dynamodbTable } from './aws-dynamodb-table.ts';
import { eventsArchive } from './aws-events-archive.ts';
import { eventsEventBus } from './aws-events-eventbus.ts';
import { eventsEventBusPolicy } from './aws-events-eventbuspolicy.ts';
import { eventsRule } from './aws-events-rule.ts';
import { iamManagedPolicy } from './aws-iam-managedpolicy.ts';
import { iamPolicy } from './aws-iam-policy.ts';
import { iamRole } from './aws-iam-role.ts';
import { lambdaEventSourceMapping } from './aws-lambda-eventsourcemapping.ts';
import { lambdaFunction } from './aws-lambda-function.ts';
import { lambdaPermission } from './aws-lambda-permission.ts';
import { logsLogGroup } from './aws-logs-loggroup.ts';
import { logsResourcePolicy } from './aws-logs-resourcepolicy.ts';
import { sqsQueue } from './aws-sqs-queue.ts';
import { sqsQueuePolicy } from './aws-sqs-queuepolicy.ts';
import { stepFunctionsStateMachine } from './aws-stepfunctions-statemachine.ts';
import { customAwsCustomResource } from './custom-awscustomresource.ts';
import { customLogRetention } from './custom-logretention.ts';
import type { ResourceProvider } from './provider.ts';

/** Every provider; one per type. */
export const PROVIDERS: readonly ResourceProvider[] = [
  dynamodbTable,
  lambdaFunction,
  lambdaEventSourceMapping,
  lambdaPermission,
  sqsQueue,
  sqsQueuePolicy,
  eventsEventBus,
  eventsRule,
  eventsArchive,
  eventsEventBusPolicy,
  logsLogGroup,
  logsResourcePolicy,
  customLogRetention,
  customAwsCustomResource,
  stepFunctionsStateMachine,
  apiGatewayV2Api,
  apiGatewayV2Integration,
  apiGatewayV2Route,
  apiGatewayV2Stage,
  iamRole,
  iamPolicy,
  iamManagedPolicy,
  cdkMetadata,
];

const BY_TYPE: ReadonlyMap<string, ResourceProvider> = new Map(PROVIDERS.map((p) => [p.type, p]));
if (BY_TYPE.size !== PROVIDERS.length) throw new Error('resources/index.ts: two providers for one type');

/** The provider of a type, for what depends on the type alone (generated names). */
export function providerForType(type: string): ResourceProvider | undefined {
  return BY_TYPE.get(type);
}

/**
 * The provider that plays a resource: the one of its type (if that one takes it), else a custom-resource provider
 * that recognizes it; `undefined` when the local cloud cannot play it.
 */
export function providerFor(resource: CfnResource): ResourceProvider | undefined {
  const byType = BY_TYPE.get(resource.Type);
  if (byType && (!byType.matches || byType.matches(resource))) return byType;
  return PROVIDERS.find((p) => p !== byType && p.matches?.(resource) === true);
}

export type { ResourceProvider } from './provider.ts';
