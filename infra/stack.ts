import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CfnElement,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  type HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, BillingMode, StreamViewType, Table, type TableProps } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { CloudWatchLogGroup, LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  FilterCriteria,
  FilterRule,
  Runtime,
  StartingPosition,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { CATALOG } from '../services/shared/catalog.ts';

/** Construct id of the singleton Lambda function behind every AwsCustomResource of a stack (fixed by aws-cdk-lib). */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

/** The project root: services/ and state-machines/ are found from here. */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The state machine definition (ASL, JSONPath, `${Placeholder}`s filled by definitionSubstitutions). */
export const ORDER_SAGA_ASL_PATH = join(PROJECT_ROOT, 'state-machines', 'order-saga.asl.json');

/**
 * Lambda timeout of the saga task functions. The ASL's TimeoutSeconds sits above it so that a function that
 * outlives its own timeout surfaces as `Sandbox.Timedout`, not as a Step Functions `States.Timeout`.
 */
export const TASK_FUNCTION_TIMEOUT = Duration.seconds(10);

/** Lambda timeout of the outbox publisher (it calls EventBridge and Step Functions for a whole batch). */
export const PUBLISHER_FUNCTION_TIMEOUT = Duration.seconds(30);

/** Lambda timeout of the outbox sweeper (a Scan of Orders, then up to 100 orders' DescribeExecution/StartExecution). */
export const SWEEPER_FUNCTION_TIMEOUT = Duration.seconds(60);

/**
 * Gives the ESM bundle a module-scope `require`: a CommonJS dependency bundled into ESM calls `require()` for
 * Node built-ins, which an ES module lacks, and esbuild's shim would then throw "Dynamic require of … is not
 * supported" at invocation time. Today's dependencies are all ESM; this keeps a future CJS one from breaking.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __sagaCreateRequire } from 'node:module'; const require = __sagaCreateRequire(import.meta.url);";

/** Powertools log levels a function accepts in POWERTOOLS_LOG_LEVEL. */
export type PowertoolsLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** The stack's DynamoDB tables, by construct id. */
export type SagaTableId = 'Orders' | 'Payments' | 'Inventory' | 'Shipments' | 'Idempotency' | 'FailureFlags';

/** The stack's functions, by construct id. */
export type SagaFunctionId =
  | 'OrderFunction'
  | 'OutboxPublisherFunction'
  | 'OutboxSweeperFunction'
  | 'ChargePaymentFunction'
  | 'RefundPaymentFunction'
  | 'ReserveInventoryFunction'
  | 'ReleaseInventoryFunction'
  | 'ShipOrderFunction';

/** A DynamoDB action (without the `dynamodb:` prefix). */
export type DynamoDbAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'Scan'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem';

/** Powertools' DynamoDB persistence layer: get, put (conditional), update and delete of its records. */
const POWERTOOLS_IDEMPOTENCY: readonly DynamoDbAction[] = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'];
/** services/shared/failure-flags.ts: one BatchGetItem (order + GLOBAL flag), UpdateItem to take one of `remaining`. */
const FAILURE_FLAG_READER: readonly DynamoDbAction[] = ['BatchGetItem', 'UpdateItem'];
/** services/shared/injection-record.ts `recordInjection`: UpdateItem `ADD injected :spec` on the ORDER row. */
const INJECTION_RECORD: DynamoDbAction = 'UpdateItem';

/**
 * Least privilege: the DynamoDB actions each function's code calls, per table, and nothing else. IAM authorizes
 * TransactWriteItems per item (Put → PutItem, Update → UpdateItem, ConditionCheck → ConditionCheckItem) and
 * there is no TransactWriteItems action. Change a row when the code's calls change (stack.test.ts holds the
 * same table).
 */
export const TABLE_GRANTS: Readonly<
  Record<SagaFunctionId, Partial<Record<SagaTableId, readonly DynamoDbAction[]>>>
> = {
  // TransactWriteItems Put ORDER + Put OUTBOX; GetItem for GET /orders/{id} and for a repeated POST.
  OrderFunction: { Orders: ['GetItem', 'PutItem'], Idempotency: POWERTOOLS_IDEMPOTENCY },
  // Reads the Orders stream through its event source mapping (stream actions, granted by the mapping); records a
  // failure injected on it on the ORDER row (INJECTION_RECORD).
  OutboxPublisherFunction: { Orders: [INJECTION_RECORD], FailureFlags: FAILURE_FLAG_READER },
  // Scan for stale PENDING orders.
  OutboxSweeperFunction: { Orders: ['Scan'] },
  // Query the CHARGE/REFUND ledger; TransactWriteItems Put CHARGE + ConditionCheck ORDER is PENDING. Every saga
  // task also records an injected failure on the ORDER row (INJECTION_RECORD).
  ChargePaymentFunction: {
    Payments: ['Query', 'PutItem'],
    Orders: ['ConditionCheckItem', INJECTION_RECORD],
    Idempotency: POWERTOOLS_IDEMPOTENCY,
    FailureFlags: FAILURE_FLAG_READER,
  },
  // Query the ledger; PutItem REFUND (conditional).
  RefundPaymentFunction: {
    Payments: ['Query', 'PutItem'],
    Orders: [INJECTION_RECORD],
    Idempotency: POWERTOOLS_IDEMPOTENCY,
    FailureFlags: FAILURE_FLAG_READER,
  },
  // Query the order's reservations; GetItem STOCK (OutOfStock message); TransactWriteItems Update STOCK +
  // Put RESERVATION + ConditionCheck ORDER is PENDING.
  ReserveInventoryFunction: {
    Inventory: ['Query', 'GetItem', 'PutItem', 'UpdateItem'],
    Orders: ['ConditionCheckItem', INJECTION_RECORD],
    Idempotency: POWERTOOLS_IDEMPOTENCY,
    FailureFlags: FAILURE_FLAG_READER,
  },
  // Query the order's reservations and releases; TransactWriteItems Put RELEASE + Update STOCK.
  ReleaseInventoryFunction: {
    Inventory: ['Query', 'PutItem', 'UpdateItem'],
    Orders: [INJECTION_RECORD],
    Idempotency: POWERTOOLS_IDEMPOTENCY,
    FailureFlags: FAILURE_FLAG_READER,
  },
  // GetItem SHIPMENT; TransactWriteItems Put SHIPMENT + ConditionCheck ORDER is PENDING.
  ShipOrderFunction: {
    Shipments: ['GetItem', 'PutItem'],
    Orders: ['ConditionCheckItem', INJECTION_RECORD],
    Idempotency: POWERTOOLS_IDEMPOTENCY,
    FailureFlags: FAILURE_FLAG_READER,
  },
};

/** Properties of a {@link SagaFunction}: a NodejsFunction whose defaults are the project's. */
export interface SagaFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'handler'> {
  /** Absolute path of the handler module (a `.ts` file under services/). */
  readonly entry: string;
  /** Name of the handler's export (`handler`, `charge`, …); the Lambda handler string becomes `index.<name>`. */
  readonly handler: string;
  /**
   * How long the function's log group `/aws/lambda/<name>` keeps its events.
   * @default RetentionDays.ONE_WEEK
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the function's log group when the stack is deleted.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A Lambda function with the project's defaults: bundled locally by esbuild (no Docker) into a minified
 * ESM `index.mjs`, Node.js 24 on arm64, the AWS SDK left to the runtime, 10 s timeout, X-Ray active tracing,
 * and a log group `/aws/lambda/<name>` with a bounded retention.
 */
export class SagaFunction extends NodejsFunction {
  /** The function's log group, `/aws/lambda/<function name>` (the name Lambda writes to by default). */
  public readonly functionLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: SagaFunctionProps) {
    const { logRetention, logRemovalPolicy, bundling, ...rest } = props;
    super(scope, id, {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout: TASK_FUNCTION_TIMEOUT,
      tracing: Tracing.ACTIVE,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      projectRoot: PROJECT_ROOT,
      ...rest,
      bundling: {
        format: OutputFormat.ESM,
        // Prefer the ES module build of dependencies: it tree-shakes and needs no require shim.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: false,
        target: 'node24',
        // The nodejs24.x runtime ships AWS SDK v3; bundling it would only add size and cold-start time.
        externalModules: ['@aws-sdk/*'],
        banner: ESM_REQUIRE_BANNER,
        forceDockerBundling: false,
        ...bundling,
      },
    });
    // Lambda's default group `/aws/lambda/<name>` (what the CLI derives from FunctionNames), created by the
    // stack to bound its retention. Not the `logGroup` prop: the function would then depend on a group
    // whose name depends on the function.
    this.functionLogGroup = new LogGroup(this, 'LogGroup', {
      logGroupName: `/aws/lambda/${this.functionName}`,
      retention: logRetention ?? RetentionDays.ONE_WEEK,
      removalPolicy: logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
  }
}

/** Properties of the {@link SagaStack}. */
export interface SagaStackProps extends StackProps {
  /**
   * What happens to the tables, queues and log groups when the stack is deleted.
   * @default RemovalPolicy.DESTROY — the stack is a demo: `saga destroy` leaves nothing behind
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of every log group of the stack (functions, state machine, API access logs, events).
   * @default RetentionDays.ONE_WEEK
   */
  readonly logRetention?: RetentionDays;
  /**
   * POWERTOOLS_LOG_LEVEL of every function.
   * @default 'INFO'
   */
  readonly powertoolsLogLevel?: PowertoolsLogLevel;
  /**
   * Steady-state request rate limit of the HTTP API's default stage (requests per second).
   * @default 50
   */
  readonly apiRateLimit?: number;
  /**
   * Burst limit of the HTTP API's default stage.
   * @default 100
   */
  readonly apiBurstLimit?: number;
  /**
   * How long an order stays `PENDING` before the outbox sweeper starts its saga (when it has no execution).
   * Starting it early is harmless — the execution name is the order id, so the publisher's later start is a
   * no-op — but a threshold keeps the sweeper out of the publisher's way in the ordinary case.
   * @default Duration.seconds(60)
   */
  readonly sweepAfter?: Duration;
  /**
   * Folder holding one sub-folder per service (`order/handler.ts`, `payment/handler.ts`, …). Its parent is
   * the bundling project root and must hold a `package-lock.json`.
   * @default `<project>/services`
   */
  readonly servicesDir?: string;
}

/** The names of the `${Placeholder}`s in the ASL, mapped to what the stack fills them with. */
export type SagaDefinitionSubstitutions = Readonly<Record<string, string>>;

/**
 * The order-fulfilment stack: six DynamoDB tables, the order HTTP API (IAM auth), the transactional outbox
 * (Orders stream → publisher → EventBridge + Step Functions), the saga task functions and the Standard
 * state machine that orchestrates them.
 */
export class SagaStack extends Stack {
  /** Orders table (orders and their `OUTBOX#` rows), stream NEW_IMAGE. */
  public readonly ordersTable: Table;
  /** Payments table (charges and refunds). */
  public readonly paymentsTable: Table;
  /** Inventory table (stock, reservations, releases). */
  public readonly inventoryTable: Table;
  /** Shipments table. */
  public readonly shipmentsTable: Table;
  /** Powertools idempotency records. */
  public readonly idempotencyTable: Table;
  /** Failure injection flags. */
  public readonly failureFlagsTable: Table;
  /** Every function of the stack, by construct id (typed for the known ids, indexable by any string). */
  public readonly functions: Readonly<Record<SagaFunctionId, SagaFunction>> &
    Readonly<Record<string, SagaFunction | undefined>>;
  /** The order saga (Standard). */
  public readonly stateMachine: StateMachine;
  /** The substitutions passed to the state machine, by placeholder name. */
  public readonly definitionSubstitutions: SagaDefinitionSubstitutions;
  /** The sweeper's `rate(1 minute)` schedule on the default bus. */
  public readonly sweeperSchedule: Rule;
  /** The `OrderEvents` bus the publisher forwards outbox events to. */
  public readonly eventBus: EventBus;
  /** The `OrdersApi` HTTP API. */
  public readonly api: HttpApi;
  /** The API's `$default` stage. */
  public readonly apiStage: HttpStage;

  constructor(scope: Construct, id: string, props: SagaStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const retention = props.logRetention ?? RetentionDays.ONE_WEEK;
    const logLevel = props.powertoolsLogLevel ?? 'INFO';
    const apiRateLimit = props.apiRateLimit ?? 50;
    const apiBurstLimit = props.apiBurstLimit ?? 100;
    const sweepAfterSeconds = (props.sweepAfter ?? Duration.seconds(60)).toSeconds();
    if (
      !Number.isFinite(apiRateLimit) ||
      apiRateLimit <= 0 ||
      !Number.isFinite(apiBurstLimit) ||
      apiBurstLimit <= 0
    ) {
      throw new Error(
        `SagaStack: apiRateLimit and apiBurstLimit must be positive numbers; received ${apiRateLimit} and ${apiBurstLimit}.`,
      );
    }
    if (!Number.isInteger(sweepAfterSeconds) || sweepAfterSeconds < 0) {
      throw new Error(
        `SagaStack: sweepAfter must be a whole number of seconds ≥ 0; received ${sweepAfterSeconds} s.`,
      );
    }

    // ---- Tables -------------------------------------------------------------------------------------------
    const table = (tableId: string, extra: Partial<TableProps> = {}): Table =>
      new Table(this, tableId, {
        partitionKey: { name: 'pk', type: AttributeType.STRING },
        sortKey: { name: 'sk', type: AttributeType.STRING },
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy,
        ...extra,
      });
    this.ordersTable = table('Orders', { stream: StreamViewType.NEW_IMAGE, timeToLiveAttribute: 'ttl' });
    this.paymentsTable = table('Payments');
    this.inventoryTable = table('Inventory');
    this.shipmentsTable = table('Shipments');
    this.idempotencyTable = new Table(this, 'Idempotency', {
      partitionKey: { name: 'id', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiration',
      removalPolicy,
    });
    this.failureFlagsTable = table('FailureFlags', { timeToLiveAttribute: 'ttl' });

    // ---- Functions ----------------------------------------------------------------------------------------
    const servicesDir = props.servicesDir ?? join(PROJECT_ROOT, 'services');
    const projectRoot = dirname(servicesDir);
    const service = (name: string): string => join(servicesDir, name, 'handler.ts');
    const baseEnv = (serviceName: string): Record<string, string> => ({
      POWERTOOLS_SERVICE_NAME: serviceName,
      POWERTOOLS_LOG_LEVEL: logLevel,
    });
    const fn = (fnId: string, props: SagaFunctionProps): SagaFunction =>
      new SagaFunction(this, fnId, {
        logRetention: retention,
        logRemovalPolicy: removalPolicy,
        projectRoot,
        depsLockFilePath: join(projectRoot, 'package-lock.json'),
        ...props,
      });

    const taskEnv = (serviceName: string, tableVar: string, tableName: string): Record<string, string> => ({
      ...baseEnv(serviceName),
      [tableVar]: tableName,
      // The steps' commits are guarded by a ConditionCheck that the ORDER row is PENDING.
      ORDERS_TABLE: this.ordersTable.tableName,
      IDEMPOTENCY_TABLE: this.idempotencyTable.tableName,
      FAILURE_FLAGS_TABLE: this.failureFlagsTable.tableName,
    });
    const paymentsEnv = taskEnv('payment', 'PAYMENTS_TABLE', this.paymentsTable.tableName);
    const inventoryEnv = taskEnv('inventory', 'INVENTORY_TABLE', this.inventoryTable.tableName);
    const shippingEnv = taskEnv('shipping', 'SHIPMENTS_TABLE', this.shipmentsTable.tableName);

    const chargeFn = fn('ChargePaymentFunction', {
      entry: service('payment'),
      handler: 'charge',
      description: 'Saga step: charge the payment (idempotent)',
      environment: paymentsEnv,
    });
    const refundFn = fn('RefundPaymentFunction', {
      entry: service('payment'),
      handler: 'refund',
      description: 'Saga compensation: refund the payment (idempotent)',
      environment: paymentsEnv,
    });
    const reserveFn = fn('ReserveInventoryFunction', {
      entry: service('inventory'),
      handler: 'reserve',
      description: 'Saga step: reserve the stock (idempotent)',
      environment: inventoryEnv,
    });
    const releaseFn = fn('ReleaseInventoryFunction', {
      entry: service('inventory'),
      handler: 'release',
      description: 'Saga compensation: release the reserved stock (idempotent)',
      environment: inventoryEnv,
    });
    const shipFn = fn('ShipOrderFunction', {
      entry: service('shipping'),
      handler: 'ship',
      description: 'Saga step: ship the order (idempotent)',
      environment: shippingEnv,
    });
    const orderFn = fn('OrderFunction', {
      entry: service('order'),
      handler: 'handler',
      description: 'HTTP API: place an order (order + outbox row in one transaction) and read it back',
      environment: {
        ...baseEnv('order'),
        ORDERS_TABLE: this.ordersTable.tableName,
        IDEMPOTENCY_TABLE: this.idempotencyTable.tableName,
      },
    });

    // ---- State machine ------------------------------------------------------------------------------------
    this.definitionSubstitutions = {
      ChargePaymentFunctionArn: chargeFn.functionArn,
      RefundPaymentFunctionArn: refundFn.functionArn,
      ReserveInventoryFunctionArn: reserveFn.functionArn,
      ReleaseInventoryFunctionArn: releaseFn.functionArn,
      ShipOrderFunctionArn: shipFn.functionArn,
      OrdersTableName: this.ordersTable.tableName,
      PaymentsTableName: this.paymentsTable.tableName,
      ShipmentsTableName: this.shipmentsTable.tableName,
    };
    // Under /aws/vendedlogs/: Step Functions delivers logs as a vended log source, whose resource policy
    // (set on first use) must not outgrow CloudWatch Logs' limit; the AWS docs name this prefix for it.
    const stateMachineLogs = new LogGroup(this, 'OrderSagaLogs', {
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-OrderSaga`,
      retention,
      removalPolicy,
    });
    this.stateMachine = new StateMachine(this, 'OrderSaga', {
      stateMachineType: StateMachineType.STANDARD,
      // Inline DefinitionString (not an S3 asset): the local cloud reads it straight from the template.
      definitionBody: DefinitionBody.fromString(readFileSync(ORDER_SAGA_ASL_PATH, 'utf8')),
      definitionSubstitutions: this.definitionSubstitutions,
      logs: { destination: stateMachineLogs, level: LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      removalPolicy,
    });
    // Explicit statements instead of grantInvoke: the saga invokes the unqualified functions only, so the
    // `<arn>:*` (every version and alias) resources that grantInvoke adds are not needed.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [chargeFn, refundFn, reserveFn, releaseFn, shipFn].map((f) => f.functionArn),
      }),
    );
    // CheckOrder (getItem) and the Mark* updates on the ORDER row; CancelOrder*/MarkOrderFailed are
    // transactWriteItems: Update ORDER + ConditionCheck that no SHIPMENT (Shipments) / CHARGE (Payments) exists.
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.ordersTable.tableArn],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:ConditionCheckItem'],
        resources: [this.shipmentsTable.tableArn, this.paymentsTable.tableArn],
      }),
    );

    // ---- Events -------------------------------------------------------------------------------------------
    this.eventBus = new EventBus(this, 'OrderEvents');
    this.eventBus.archive('OrderEventsArchive', {
      description: 'Every saga.orders event, for replay',
      eventPattern: { source: ['saga.orders'] },
      retention: Duration.days(30),
    });
    const eventsDlq = this.deadLetterQueue('OrderPlacedTargetDlq', removalPolicy);
    const orderEventsLog = new LogGroup(this, 'OrderPlacedEventsLogs', { retention, removalPolicy });
    const orderPlacedRule = new Rule(this, 'OrderPlacedRule', {
      eventBus: this.eventBus,
      description: 'OrderPlaced events from the outbox publisher, kept in a log group',
      eventPattern: { source: ['saga.orders'], detailType: ['OrderPlaced'] },
      targets: [
        new CloudWatchLogGroup(orderEventsLog, {
          deadLetterQueue: eventsDlq,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
          // The log-group resource policy custom resource: use the SDK of the provider's runtime, not one
          // downloaded from npm during the deployment (slow, and fails without internet access).
          installLatestAwsSdk: false,
        }),
      ],
    });
    // EventBridge may send the rule's undeliverable events to its DLQ. aws-cdk-lib adds this statement for
    // Lambda/SQS/… targets but not for the CloudWatch Logs target: without it, a failed event is dropped.
    eventsDlq.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowOrderPlacedRuleDeadLetters',
        principals: [new ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [eventsDlq.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': orderPlacedRule.ruleArn } },
      }),
    );

    // ---- Outbox publisher ---------------------------------------------------------------------------------
    const publisherFn = fn('OutboxPublisherFunction', {
      entry: service('outbox-publisher'),
      handler: 'handler',
      description: 'Transactional outbox: Orders stream OUTBOX# inserts -> EventBridge + StartExecution',
      timeout: PUBLISHER_FUNCTION_TIMEOUT,
      environment: {
        ...baseEnv('outbox-publisher'),
        EVENT_BUS_NAME: this.eventBus.eventBusName,
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        FAILURE_FLAGS_TABLE: this.failureFlagsTable.tableName,
        ORDERS_TABLE: this.ordersTable.tableName,
      },
    });
    const publisherDlq = this.deadLetterQueue('OutboxPublisherDlq', removalPolicy);
    publisherFn.addEventSource(
      new DynamoEventSource(this.ordersTable, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        bisectBatchOnError: true,
        // StartExecution dedupes by name, so retrying costs nothing; the publisher reports the failed record and
        // every later one (stream order), so a batch under a steady fault rate needs several attempts to drain.
        retryAttempts: 10,
        maxRecordAge: Duration.hours(1),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(publisherDlq),
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.isEqual('INSERT'),
            dynamodb: { Keys: { pk: { S: FilterRule.beginsWith('OUTBOX#') } } },
          }),
        ],
      }),
    );
    this.stateMachine.grantStartExecution(publisherFn);
    // On ExecutionAlreadyExists, the existing execution's input decides success (design §4a rule 7).
    this.stateMachine.grantExecution(publisherFn, 'states:DescribeExecution');
    this.eventBus.grantPutEventsTo(publisherFn);

    // ---- Outbox sweeper -----------------------------------------------------------------------------------
    const sweeperFn = fn('OutboxSweeperFunction', {
      entry: service('outbox-sweeper'),
      handler: 'handler',
      description: 'Transactional outbox: starts the saga of orders PENDING too long without an execution',
      // Lambda's own retries of the asynchronous invocation are left as they are (no EventInvokeConfig): a
      // repeated sweep does no harm, and the next one runs a minute later anyway.
      timeout: SWEEPER_FUNCTION_TIMEOUT,
      environment: {
        ...baseEnv('outbox-sweeper'),
        ORDERS_TABLE: this.ordersTable.tableName,
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        SWEEP_AFTER_SECONDS: String(sweepAfterSeconds),
      },
    });
    this.sweeperSchedule = new Rule(this, 'OutboxSweeperSchedule', {
      description: 'Every minute: start the saga of orders PENDING too long without an execution',
      schedule: Schedule.rate(Duration.minutes(1)),
      // A missed sweep is harmless (the next one runs a minute later), but like every asynchronous path its
      // failures land somewhere visible.
      targets: [
        new LambdaFunction(sweeperFn, {
          retryAttempts: 0,
          maxEventAge: Duration.minutes(1),
          deadLetterQueue: this.deadLetterQueue('OutboxSweeperScheduleDlq', removalPolicy),
        }),
      ],
    });
    this.stateMachine.grantStartExecution(sweeperFn);
    this.stateMachine.grantExecution(sweeperFn, 'states:DescribeExecution');

    // ---- HTTP API -----------------------------------------------------------------------------------------
    this.api = new HttpApi(this, 'OrdersApi', {
      description: 'Orders: POST /orders, GET /orders/{id} (IAM, SigV4)',
      createDefaultStage: false,
    });
    const accessLogs = new LogGroup(this, 'OrdersApiAccessLogs', { retention, removalPolicy });
    this.apiStage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: apiRateLimit, burstLimit: apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.caller',
            requestTime: '$context.requestTime',
            httpMethod: '$context.httpMethod',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const authorizer = new HttpIamAuthorizer();
    const integration = new HttpLambdaIntegration('OrderIntegration', orderFn, {
      payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
    });
    this.api.addRoutes({ path: '/orders', methods: [HttpMethod.POST], integration, authorizer });
    this.api.addRoutes({ path: '/orders/{id}', methods: [HttpMethod.GET], integration, authorizer });

    // ---- Stock seeding ------------------------------------------------------------------------------------
    this.seedStock(removalPolicy);

    this.functions = {
      OrderFunction: orderFn,
      OutboxPublisherFunction: publisherFn,
      OutboxSweeperFunction: sweeperFn,
      ChargePaymentFunction: chargeFn,
      RefundPaymentFunction: refundFn,
      ReserveInventoryFunction: reserveFn,
      ReleaseInventoryFunction: releaseFn,
      ShipOrderFunction: shipFn,
    };

    // Least privilege on the tables: exactly TABLE_GRANTS (no Scan except the sweeper's, no batch writes, no
    // stream or control-plane actions that grantReadWriteData would add).
    const tables: Record<SagaTableId, Table> = {
      Orders: this.ordersTable,
      Payments: this.paymentsTable,
      Inventory: this.inventoryTable,
      Shipments: this.shipmentsTable,
      Idempotency: this.idempotencyTable,
      FailureFlags: this.failureFlagsTable,
    };
    for (const [fnId, grants] of Object.entries(TABLE_GRANTS) as [
      SagaFunctionId,
      (typeof TABLE_GRANTS)[SagaFunctionId],
    ][]) {
      for (const [tableId, actions] of Object.entries(grants) as [SagaTableId, readonly DynamoDbAction[]][]) {
        tables[tableId].grant(this.functions[fnId], ...actions.map((action) => `dynamodb:${action}`));
      }
    }

    // ---- Outputs ------------------------------------------------------------------------------------------
    const output = (outputId: string, value: string, description: string): void => {
      new CfnOutput(this, outputId, { value, description });
    };
    output('ApiUrl', this.apiStage.url, 'Base URL of the orders HTTP API (SigV4-signed requests)');
    output('StateMachineArn', this.stateMachine.stateMachineArn, 'The order saga (Standard)');
    output('OrdersTableName', this.ordersTable.tableName, 'Orders and their OUTBOX# rows');
    output('PaymentsTableName', this.paymentsTable.tableName, 'Charges and refunds');
    output('InventoryTableName', this.inventoryTable.tableName, 'Stock, reservations, releases');
    output('ShipmentsTableName', this.shipmentsTable.tableName, 'Shipments');
    output('IdempotencyTableName', this.idempotencyTable.tableName, 'Powertools idempotency records');
    output('FailureFlagsTableName', this.failureFlagsTable.tableName, 'Failure injection flags');
    output('EventBusName', this.eventBus.eventBusName, 'Bus the outbox publisher forwards OrderPlaced to');
    output(
      'FunctionNames',
      Fn.join(
        ',',
        Object.values(this.functions as Record<SagaFunctionId, SagaFunction>).map((f) => f.functionName),
      ),
      'Comma-separated function names (log groups /aws/lambda/<name>)',
    );

    this.acknowledgeNagFindings();
  }

  /** An encrypted, TLS-only SQS queue that collects what could not be delivered. */
  private deadLetterQueue(queueId: string, removalPolicy: RemovalPolicy): Queue {
    const queue = new Queue(this, queueId, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    Validations.of(queue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself a dead-letter queue.' },
      { id: 'Serverless-SQSRedrivePolicy', reason: 'This queue is itself a dead-letter queue.' },
    );
    return queue;
  }

  /** Writes the catalog's stock rows into the Inventory table once, when the stack is created. */
  private seedStock(removalPolicy: RemovalPolicy): void {
    // BatchWriteItem takes at most 25 items per call.
    const rows = CATALOG.map((item) => ({
      PutRequest: {
        Item: {
          pk: { S: `SKU#${item.sku}` },
          sk: { S: 'STOCK' },
          available: { N: String(item.initialStock) },
        },
      },
    }));
    for (let start = 0, part = 0; start < rows.length; start += 25, part += 1) {
      const seed = new AwsCustomResource(this, part === 0 ? 'SeedStock' : `SeedStock${part}`, {
        onCreate: {
          service: 'DynamoDB',
          action: 'batchWriteItem',
          parameters: { RequestItems: { [this.inventoryTable.tableName]: rows.slice(start, start + 25) } },
          physicalResourceId: PhysicalResourceId.of(`saga-stock-seed-${part}`),
        },
        policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.inventoryTable.tableArn] }),
        installLatestAwsSdk: false,
        removalPolicy,
      });
      seed.node.addDependency(this.inventoryTable);
    }
  }

  /** Acknowledges (with the reason) every cdk-nag finding the stack keeps on purpose. */
  private acknowledgeNagFindings(): void {
    const basicExecution =
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
    // The publisher's and the sweeper's `states:DescribeExecution` on `execution:<saga name>:*` (grantExecution).
    const sagaName = this.getLogicalId(this.stateMachine.node.defaultChild as CfnElement);
    const sagaExecutions =
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:' +
      `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${sagaName}"}]}]}:*]`;
    const dlqReasons: Record<SagaFunctionId, string> = {
      OrderFunction: 'Invoked synchronously by API Gateway, which reports errors to the caller',
      OutboxPublisherFunction:
        'Invoked by a DynamoDB stream event source mapping, whose on-failure destination is an SQS queue',
      OutboxSweeperFunction:
        'Invoked asynchronously by a rate(1 minute) schedule with no retries: a failed sweep is redone by the ' +
        'next one a minute later, and its errors are logged',
      ChargePaymentFunction: 'Invoked synchronously by Step Functions, which reports errors to the saga',
      RefundPaymentFunction: 'Invoked synchronously by Step Functions, which reports errors to the saga',
      ReserveInventoryFunction: 'Invoked synchronously by Step Functions, which reports errors to the saga',
      ReleaseInventoryFunction: 'Invoked synchronously by Step Functions, which reports errors to the saga',
      ShipOrderFunction: 'Invoked synchronously by Step Functions, which reports errors to the saga',
    };
    for (const [fnId, f] of Object.entries(this.functions) as [SagaFunctionId, SagaFunction][]) {
      Validations.of(f).acknowledge(
        {
          id: basicExecution,
          reason: 'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch Logs.',
        },
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            fnId === 'OutboxPublisherFunction'
              ? 'X-Ray PutTraceSegments/PutTelemetryRecords and dynamodb:ListStreams (added by the event source ' +
                'mapping) support no resource-level permissions.'
              : 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.',
        },
        {
          id: 'Serverless-LambdaDLQ',
          reason: `${dlqReasons[fnId]}; a function DLQ would never receive anything.`,
        },
      );
      if (fnId === 'OutboxPublisherFunction' || fnId === 'OutboxSweeperFunction') {
        Validations.of(f).acknowledge({
          id: sagaExecutions,
          reason:
            "states:DescribeExecution on the saga's own executions (execution:<saga>:*): execution names are " +
            'order ids, not known when the stack is deployed.',
        });
      }
    }
    Validations.of(this.functions.OutboxSweeperFunction).acknowledge({
      id: 'Serverless-LambdaAsyncFailureDestination',
      reason: dlqReasons.OutboxSweeperFunction,
    });
    Validations.of(this.sweeperSchedule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'The schedule only triggers a sweep: an undelivered trigger is replaced by the next one a minute later; ' +
        'the sweep itself holds no event data to keep.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions logging to CloudWatch Logs (logs:*LogDelivery, PutResourcePolicy, Describe*) and X-Ray ' +
        'tracing need these actions on "*": they support no resource-level permissions.',
    });
    // The AwsCustomResource provider: one singleton function per stack, shared by the stock seeding and the
    // EventBridge → log group resource policy. Its shape is fixed by aws-cdk-lib.
    const provider = this.node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER_ID);
    if (provider !== undefined) {
      Validations.of(provider).acknowledge(
        {
          id: basicExecution,
          reason:
            'The aws-cdk-lib AwsCustomResource provider; the managed policy only grants CloudWatch Logs writes.',
        },
        {
          id: 'Serverless-LambdaDLQ',
          reason:
            'Invoked synchronously by CloudFormation during deployment only; CloudFormation reports failures.',
        },
        {
          id: 'Serverless-LambdaDefaultMemorySize',
          reason:
            'The aws-cdk-lib AwsCustomResource provider, run once per deployment; its memory is not configurable.',
        },
        {
          id: 'Serverless-LambdaTracing',
          reason:
            'The aws-cdk-lib AwsCustomResource provider runs only during deployment; tracing it has no value.',
        },
      );
    }
    for (const child of this.node.children) {
      if (child.node.id.startsWith('EventsLogGroupPolicy')) {
        Validations.of(child).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'logs:PutResourcePolicy/DeleteResourcePolicy (lets EventBridge write to the log group) support no ' +
            'resource-level permissions.',
        });
      }
    }
  }
}
