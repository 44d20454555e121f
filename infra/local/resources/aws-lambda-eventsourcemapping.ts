/**
 * AWS::Lambda::EventSourceMapping → a DynamoDB stream poller (created here, started by the caller). Creating it
 * checks what CreateEventSourceMapping checks (with IAM wired: the function's role may read the stream and send to
 * the on-failure destination); a refusal fails the deploy with AWS's error.
 */
import { join } from 'node:path';
import { DeployError, deterministicUuid, resourceSeed } from '../cloudformation/model.ts';
import { AwsError } from '../wire/aws-error.ts';
import { functionRoles } from './aws-lambda-function.ts';
import type { ResourceProvider, StreamMappingOptions } from './provider.ts';
import { optionalNumber } from './support.ts';

export const lambdaEventSourceMapping: ResourceProvider = {
  type: 'AWS::Lambda::EventSourceMapping',
  ref: (c) => deterministicUuid(resourceSeed(c.stackName, c.logicalId)),
  attributes: { Id: (c) => c.ref() },
  deploy(ctx) {
    const p = ctx.properties();
    const uuid = ctx.stack.ref(ctx.logicalId);
    const source = String(p.EventSourceArn ?? '');
    if (!/^arn:aws:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\//.test(source)) {
      return {
        status: 'unsupported',
        physicalId: uuid,
        note: `event source ${source || '(none)'}: only DynamoDB streams are polled locally`,
      };
    }
    const fn = String(p.FunctionName);
    const functionArn = fn.startsWith('arn:') ? fn : ctx.arn('lambda', `function:${fn}`);
    if (p.Enabled === false) {
      return { status: 'created', physicalId: uuid, note: 'disabled (Enabled: false): not polled' };
    }
    const onFailure = (p.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)?.OnFailure
      ?.Destination;
    let mapping: ReturnType<typeof ctx.parts.createStreamMapping>;
    try {
      mapping = ctx.parts.createStreamMapping({
        uuid,
        functionArn,
        functionRoleArn: functionRoles(ctx).get(functionArn),
        invoker: ctx.parts.lambda,
        dispatcher: ctx.parts.dispatcher,
        streamArn: source,
        streams: ctx.parts.streams,
        batchSize: Number(p.BatchSize ?? 100),
        maximumBatchingWindowInSeconds: optionalNumber(p.MaximumBatchingWindowInSeconds),
        filterCriteria: p.FilterCriteria as StreamMappingOptions['filterCriteria'],
        bisectBatchOnFunctionError: p.BisectBatchOnFunctionError === true,
        maximumRetryAttempts: optionalNumber(p.MaximumRetryAttempts),
        maximumRecordAgeInSeconds: optionalNumber(p.MaximumRecordAgeInSeconds),
        onFailureDestinationArn: onFailure,
        startingPosition: p.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
        functionResponseTypes: p.FunctionResponseTypes as string[] | undefined,
        checkpointFile: join(ctx.dataDir, 'esm', `${uuid}.json`),
        pollIntervalMs: ctx.pollIntervalMs,
        region: ctx.region,
      });
    } catch (error) {
      // What CreateEventSourceMapping answers (an invalid BatchSize or filter, a role that may not read the
      // stream or send to the on-failure destination), under AWS's error name.
      if (error instanceof AwsError) {
        throw new DeployError(ctx.logicalId, ctx.type, `${error.type}: ${error.message}`, { cause: error });
      }
      throw error;
    }
    ctx.addMapping(mapping);
    return { status: 'created', physicalId: uuid };
  },
};
