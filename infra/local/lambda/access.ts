/** What IAM checks for a Lambda request arriving at the edge: `lambda:InvokeFunction` on the function's ARN. */
import type { AccessRequest } from '../iam/access.ts';

/** The ARN of a function given by name, partial ARN or ARN (a qualifier is kept: IAM authorizes it too). */
export function functionArnOf(nameOrArn: string, region: string, accountId: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  return `arn:aws:lambda:${region}:${accountId}:function:${nameOrArn}`;
}

/** The access of an Invoke request (`POST /2015-03-31/functions/{name}/invocations`). */
export function invokeAccess(
  functionName: string,
  where: { readonly region: string; readonly accountId: string },
): AccessRequest[] {
  return [
    { action: 'lambda:InvokeFunction', resource: functionArnOf(functionName, where.region, where.accountId) },
  ];
}
