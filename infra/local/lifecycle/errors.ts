/**
 * The local cloud's lifecycle errors. Each carries a `reason` code and neutral text (what happened, what was
 * received); a client (the saga CLI) adds its own advice per reason.
 */

/**
 * Why the local cloud did not start:
 * - `address-in-use` — the edge port asked for is taken by another program ({@link LocalCloudStartError.port});
 * - `java-missing` — DynamoDB Local needs Java 17+;
 * - `node-too-old` — the background process needs Node ≥ 24 and none was found;
 * - `bad-assembly` — the cloud assembly cannot be run: a folder, manifest, template or asset is missing or unreadable;
 * - `unresolved-imports` — function bundles import packages Lambda provides (the AWS SDK) that no `node_modules`
 *   above the assembly holds;
 * - `locked` — another start has held the start lock for too long;
 * - `failed` — anything else (the message carries the last lines of cloud.log).
 */
export type LocalCloudStartReason =
  | 'address-in-use'
  | 'java-missing'
  | 'node-too-old'
  | 'bad-assembly'
  | 'unresolved-imports'
  | 'locked'
  | 'failed';

/** Options of {@link LocalCloudStartError}. */
export interface LocalCloudStartErrorOptions extends ErrorOptions {
  readonly reason?: LocalCloudStartReason;
  readonly port?: number;
  readonly assemblyDir?: string;
}

/** Raised when the local cloud cannot be started; `reason` says why, the message what happened. */
export class LocalCloudStartError extends Error {
  readonly reason: LocalCloudStartReason;
  /** `address-in-use`: the port that was taken. */
  readonly port?: number;
  /** `bad-assembly`, `unresolved-imports`: the assembly folder. */
  readonly assemblyDir?: string;
  constructor(message: string, options?: LocalCloudStartErrorOptions) {
    super(message, options);
    this.name = 'LocalCloudStartError';
    this.reason = options?.reason ?? 'failed';
    this.port = options?.port;
    this.assemblyDir = options?.assemblyDir;
  }
}

/** Why a state file cannot be used: `corrupt` (it is not a state). */
export type LocalCloudStateReason = 'corrupt';

/** Raised when `state.json` exists but cannot be read as a state. A new start replaces it, keeping the data. */
export class LocalCloudStateError extends Error {
  readonly reason: LocalCloudStateReason;
  constructor(message: string, options?: ErrorOptions & { reason?: LocalCloudStateReason }) {
    super(message, options);
    this.name = 'LocalCloudStateError';
    this.reason = options?.reason ?? 'corrupt';
  }
}
