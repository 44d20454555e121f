import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.ts';

/** Where a stack was deployed, as `.saga/context.json` records it. */
export type TargetKind = 'local' | 'aws';

/** The stack outputs the CLI uses (design §6 `deploy` JSON contract). */
export interface StackOutputs {
  readonly ApiUrl: string;
  readonly StateMachineArn: string;
  readonly OrdersTableName: string;
  readonly PaymentsTableName: string;
  readonly InventoryTableName: string;
  readonly ShipmentsTableName: string;
  readonly IdempotencyTableName: string;
  readonly FailureFlagsTableName: string;
  readonly [name: string]: string;
}

/** The contents of `.saga/context.json`. */
export interface SagaContext {
  /** The target last deployed. */
  readonly target: TargetKind;
  readonly region?: string;
  readonly profile?: string;
  /** Outputs of the aws deployment (the local cloud keeps its own in `.saga/local/state.json`). */
  readonly awsOutputs?: StackOutputs;
  readonly deployedAt?: string;
}

export function contextPath(projectDir: string): string {
  return join(projectDir, '.saga', 'context.json');
}

/**
 * Reads `.saga/context.json`; none → undefined; corrupt → an EnvironmentError (exit 3: the file is part of the
 * environment, not the command line) that says how to fix it.
 */
export async function readContext(projectDir: string): Promise<SagaContext | undefined> {
  const path = contextPath(projectDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EnvironmentError(
      `${path} is not valid JSON (it starts with ${JSON.stringify(text.slice(0, 40))}). ` +
        `Delete it (\`rm ${path}\`) and run \`saga deploy\` again, or pass --target local|aws.`,
      { cause: error },
    );
  }
  const target = (parsed as { target?: unknown } | null)?.target;
  if (typeof parsed !== 'object' || parsed === null || (target !== 'local' && target !== 'aws')) {
    throw new EnvironmentError(
      `${path} does not name a target ("target" is ${JSON.stringify(target)}; expected "local" or "aws"). ` +
        `Delete it (\`rm ${path}\`) and run \`saga deploy\` again, or pass --target local|aws.`,
    );
  }
  return parsed as SagaContext;
}

/** Writes `.saga/context.json` atomically. */
export async function writeContext(projectDir: string, context: SagaContext): Promise<void> {
  const path = contextPath(projectDir);
  await mkdir(join(projectDir, '.saga'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(context, null, 2)}\n`);
  await rename(tmp, path);
}
