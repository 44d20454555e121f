import { defineConfig } from 'vitest/config';

const shared = {
  testTimeout: 60_000,
  hookTimeout: 180_000,
  exclude: ['**/node_modules/**', 'cdk.out/**', '.saga/**'],
};

export default defineConfig({
  test: {
    // Two cores: DynamoDB Local and the local cloud need one of them.
    maxWorkers: 2,
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: [
            'bin/**/*.test.ts',
            'cli/**/*.test.ts',
            'infra/**/*.test.ts',
            'services/**/*.test.ts',
            'state-machines/**/*.test.ts',
          ],
          // One in-memory DynamoDB Local for every unit test file; each file uses its own table names.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          // One local cloud (the synthesized stack) shared by the scenario files, which run one at a time
          // because some of them check global invariants such as stock conservation.
          globalSetup: ['test/support/global-setup.ts', 'test/support/local-cloud-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
        },
      },
    ],
  },
});
