/** AWS::StepFunctions::StateMachine → a state machine of the Step Functions service, substitutions applied. */
import { DeployError, MIXED, pseudoRandom, resourceSeed } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';
import { stringify } from './support.ts';

export const stepFunctionsStateMachine: ResourceProvider = {
  type: 'AWS::StepFunctions::StateMachine',
  name: {
    property: 'StateMachineName',
    limit: 80,
    // `<LogicalId>-<Random12>`, not prefixed by the stack name.
    generate: (c) =>
      `${c.logicalId.slice(0, 80 - 13)}-${pseudoRandom(resourceSeed(c.stackName, c.logicalId), 12, MIXED)}`,
  },
  ref: (c) => `arn:aws:states:${c.region}:${c.accountId}:stateMachine:${c.physicalName()}`,
  attributes: {
    Arn: (c) => c.ref(),
    Name: (c) => c.physicalName(),
  },
  deploy(ctx) {
    const { logicalId, type } = ctx;
    const p = ctx.properties();
    if (p.DefinitionS3Location !== undefined) {
      throw new DeployError(logicalId, type, 'DefinitionS3Location is not supported: inline the definition.');
    }
    const raw = p.DefinitionString ?? (p.Definition === undefined ? undefined : JSON.stringify(p.Definition));
    if (typeof raw !== 'string')
      throw new DeployError(logicalId, type, 'it has no DefinitionString or Definition.');
    const definition = applySubstitutions(raw, (p.DefinitionSubstitutions ?? {}) as Record<string, unknown>);
    const name = ctx.stack.physicalName(logicalId);
    ctx.parts.stepfunctions.createStateMachine({
      name,
      arn: ctx.stack.ref(logicalId),
      definition,
      roleArn: String(p.RoleArn ?? ''),
      type: p.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
      loggingConfiguration: p.LoggingConfiguration,
      tracingConfiguration: p.TracingConfiguration,
    });
    return { status: 'created', physicalId: ctx.stack.ref(logicalId) };
  },
};

/** Replaces `${Name}` placeholders of a state machine definition, as CloudFormation's DefinitionSubstitutions. */
export function applySubstitutions(
  definition: string,
  substitutions: Readonly<Record<string, unknown>>,
): string {
  return definition.replace(/\$\{([^}]+)\}/g, (match, name: string) =>
    Object.hasOwn(substitutions, name) ? stringify(substitutions[name]) : match,
  );
}
