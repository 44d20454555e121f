import { fileURLToPath } from 'node:url';
import { App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { SagaStack, type SagaStackProps } from './stack.ts';

/** The stack's id and CloudFormation name (a contract: the CLI and the local cloud look for `Saga`). */
export const STACK_NAME = 'Saga';

/** Where the app synthesizes by default: `cdk.out` at the project root (bundles resolve @aws-sdk/* from there). */
export const DEFAULT_OUTDIR = fileURLToPath(new URL('../cdk.out', import.meta.url));

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /**
   * Folder the cloud assembly is written to.
   * @default `<project>/cdk.out`
   */
  readonly outdir?: string;
  /**
   * Account and region of the stack.
   * @default unresolved: the template stays environment-agnostic (AWS::AccountId / AWS::Region)
   */
  readonly env?: Environment;
  /**
   * Properties of the stack (log retention, removal policy, log level, API throttling).
   * @default the SagaStack defaults
   */
  readonly stackProps?: Omit<SagaStackProps, 'env'>;
  /**
   * Run the cdk-nag AwsSolutions and Serverless packs as validation plugins; a finding that is not
   * acknowledged fails synthesis.
   * @default true
   */
  readonly nag?: boolean;
  /**
   * Extra CDK context (for example `{ 'aws:cdk:bundling-stacks': [] }` to construct the stack without bundling).
   * @default none
   */
  readonly context?: Readonly<Record<string, unknown>>;
}

/** Builds the CDK app: the `Saga` stack, with cdk-nag's AwsSolutions and Serverless packs as validation plugins. */
export function buildApp(options: BuildAppOptions = {}): App {
  const app = new App({ outdir: options.outdir ?? DEFAULT_OUTDIR, context: { ...options.context } });
  new SagaStack(app, STACK_NAME, {
    ...options.stackProps,
    env: options.env,
    description:
      'saga: order fulfilment with a transactional outbox, idempotent tasks and a Step Functions saga',
  });
  if (options.nag ?? true) addNagPlugins(app);
  return app;
}

/**
 * Registers cdk-nag's AwsSolutions and Serverless packs on an app. cdk-nag 3 packs are policy-validation
 * plugins (the 2.x Aspect form fails with "aspect.visit is not a function"): a finding that is not acknowledged
 * with `Validations.of(construct).acknowledge({ id, reason })` fails `app.synth()`.
 */
export function addNagPlugins(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
}

/** The `Saga` stack of an app built by {@link buildApp}. */
export function sagaStackOf(app: App): SagaStack {
  const stack = app.node.tryFindChild(STACK_NAME);
  if (!(stack instanceof SagaStack)) {
    throw new Error(`The app has no ${STACK_NAME} stack: build it with buildApp() (found ${String(stack)}).`);
  }
  return stack;
}
