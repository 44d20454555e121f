/**
 * AWS::Lambda::Permission → a statement of the function's resource policy, as Lambda's AddPermission writes it:
 * `Principal` (`{Service}` for a service principal, `{AWS}` otherwise; an account id becomes its root ARN),
 * `Action`, `Resource` (the function ARN) and the conditions `ArnLike aws:SourceArn`,
 * `StringEquals aws:SourceAccount` (and `aws:PrincipalOrgID`, `lambda:FunctionUrlAuthType`) when set.
 */
import { shortPhysicalId } from '../cloudformation/model.ts';
import type { ResourceProvider } from './provider.ts';
import { iamOutcome, lambdaFunctionArn } from './support.ts';

export const lambdaPermission: ResourceProvider = {
  type: 'AWS::Lambda::Permission',
  ref: (c) => shortPhysicalId(c.stackName, c.logicalId),
  deploy(ctx) {
    const physicalId = ctx.stack.ref(ctx.logicalId);
    if (!ctx.iam) return iamOutcome(physicalId, false);
    const p = ctx.properties();
    const functionArn = lambdaFunctionArn(String(p.FunctionName), ctx.region, ctx.accountId);
    ctx.iam.putResourceStatements(functionArn, ctx.logicalId, [
      permissionStatement(ctx.logicalId, functionArn, p),
    ]);
    return iamOutcome(physicalId, true);
  },
};

/** The resource-policy statement a Lambda permission (its resolved properties) stands for. */
export function permissionStatement(
  sid: string,
  functionArn: string,
  p: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const statement: Record<string, unknown> = {
    Sid: sid,
    Effect: 'Allow',
    Principal: principalOf(String(p.Principal)),
    Action: p.Action,
    Resource: functionArn,
  };
  const condition: Record<string, Record<string, string>> = {};
  const equals: Record<string, string> = {};
  if (p.SourceArn !== undefined) condition.ArnLike = { 'aws:SourceArn': String(p.SourceArn) };
  if (p.SourceAccount !== undefined) equals['aws:SourceAccount'] = String(p.SourceAccount);
  if (p.PrincipalOrgID !== undefined) equals['aws:PrincipalOrgID'] = String(p.PrincipalOrgID);
  if (p.FunctionUrlAuthType !== undefined)
    equals['lambda:FunctionUrlAuthType'] = String(p.FunctionUrlAuthType);
  if (Object.keys(equals).length > 0) condition.StringEquals = equals;
  if (Object.keys(condition).length > 0) statement.Condition = condition;
  return statement;
}

function principalOf(principal: string): Record<string, string> {
  if (/^\d{12}$/.test(principal)) return { AWS: `arn:aws:iam::${principal}:root` };
  if (principal === '*' || principal.startsWith('arn:')) return { AWS: principal };
  // `events.amazonaws.com`, `apigateway.amazonaws.com`…
  if (principal.includes('.')) return { Service: principal };
  return { AWS: principal };
}
