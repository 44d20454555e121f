/** One thing IAM is asked to allow: an action on a resource, with the request's own condition keys. */
export interface AccessRequest {
  /** `service:Operation`, e.g. `dynamodb:PutItem`. */
  readonly action: string;
  /** The resource's ARN, or `*` for actions that take none. */
  readonly resource: string;
  /** Condition keys of this request (`aws:SourceArn`, `dynamodb:EnclosingOperation`, …). */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}
