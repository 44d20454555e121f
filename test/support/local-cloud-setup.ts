import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCloudDetached, stopLocalCloud } from '@saga/local-cloud';
import type { TestProject } from 'vitest/node';
import { CDK_OUT, synthesisIsStale, synthesize } from '../../cli/target/project.ts';

/** Time scale of the shared local cloud: Retry/Wait delays and Lambda timeouts ×0.1. */
export const E2E_TIME_SCALE = 0.1;

let projectDir: string | undefined;

/**
 * Starts ONE local cloud from the real synthesized stack (synthesizing first when cdk.out is stale) in a temp
 * project folder, shared by the end-to-end scenario files. Scenarios that restart or kill a cloud start their own.
 */
export async function setup(project: TestProject): Promise<void> {
  if (synthesisIsStale()) await synthesize();
  projectDir = await mkdtemp(join(tmpdir(), 'saga-e2e-'));
  const state = await startLocalCloudDetached({ projectDir, cdkOut: CDK_OUT, timeScale: E2E_TIME_SCALE });
  project.provide('sagaProjectDir', projectDir);
  project.provide('sagaEndpoint', state.endpoint);
}

export async function teardown(): Promise<void> {
  if (!projectDir) return;
  await stopLocalCloud({ projectDir, removeData: true });
  await rm(projectDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    sagaProjectDir: string;
    sagaEndpoint: string;
  }
}
