import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseHistoryFile } from '../timeline/history.ts';
import { AslError, parseDefinition, parseDefinitionText, stateDetail } from './asl.ts';
import { buildGraph, type GraphModel } from './model.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const SAGA_ASL = read('state-machines/order-saga.asl.json');
const AWS_DIR = fileURLToPath(new URL('test/fixtures/aws-history/', ROOT));
const AWS_FILES = readdirSync(AWS_DIR).filter((f) => f.endsWith('.json'));

type RawState = {
  Type: string;
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  Catch?: { Next: string; ErrorEquals: string[] }[];
};

/** The top-level states a history entered, in order (events with a parent Map/Parallel excluded by depth). */
function enteredTopLevel(events: ReturnType<typeof parseHistoryFile>): string[] {
  // In these histories (no Map/Parallel) every *StateEntered is top level.
  return events
    .filter((e) => e.type?.endsWith('StateEntered'))
    .map((e) => String((e.stateEnteredEventDetails as { name: string }).name));
}

const edgeSet = (model: GraphModel) => model.edges.map((e) => `${e.from} -${e.kind}-> ${e.to}`);

describe('the order saga definition', () => {
  const raw = JSON.parse(SAGA_ASL) as { StartAt: string; States: Record<string, RawState> };
  const model = buildGraph(parseDefinitionText(SAGA_ASL));

  test('every state is a node, with its type, StartAt marked', () => {
    expect(model.nodes.map((n) => n.id).sort()).toEqual(Object.keys(raw.States).sort());
    for (const [name, state] of Object.entries(raw.States)) {
      expect(model.nodes.find((n) => n.id === name)?.type).toBe(state.Type);
    }
    expect(model.startAt).toBe(raw.StartAt);
    expect(model.nodes.filter((n) => n.start).map((n) => n.id)).toEqual([raw.StartAt]);
    expect(model.execution).toBeUndefined();
    expect(model.source).toBe('definition');
  });

  test('every Next, Choice rule, Default and Catch is an edge, and nothing else', () => {
    const expected: string[] = [];
    for (const [name, state] of Object.entries(raw.States)) {
      for (const rule of state.Choices ?? []) expected.push(`${name} -choice-> ${rule.Next}`);
      if (state.Default) expected.push(`${name} -default-> ${state.Default}`);
      if (state.Next) expected.push(`${name} -next-> ${state.Next}`);
      for (const c of state.Catch ?? []) expected.push(`${name} -catch-> ${c.Next}`);
    }
    expect(edgeSet(model).sort()).toEqual(expected.sort());
    const catchEdge = model.edges.find((e) => e.from === 'ChargePayment' && e.to === 'MarkOrderFailed');
    expect(catchEdge).toMatchObject({
      kind: 'catch',
      errorEquals: ['PaymentDeclined'],
      label: 'catch PaymentDeclined',
    });
    expect(model.edges.find((e) => e.from === 'RouteOrder' && e.to === 'ChargePayment')?.label).toBe(
      '$.check.Item.status.S == "PENDING"',
    );
  });

  test('retriers are kept on their state', () => {
    const charge = model.nodes.find((n) => n.id === 'ChargePayment');
    expect(charge?.retry.map((r) => r.maxAttempts)).toEqual([0, 6, 4]);
    expect(charge?.retry[2]?.errorEquals).toEqual(['States.ALL']);
  });
});

describe('the recorded AWS histories', () => {
  test.each(AWS_FILES)('%s: the path is the states it entered', (file) => {
    const text = readFileSync(`${AWS_DIR}${file}`, 'utf8');
    const document = JSON.parse(text) as { _definition?: unknown };
    const events = parseHistoryFile(text);
    const definition = document._definition === undefined ? undefined : parseDefinition(document._definition);
    const model = buildGraph(definition, events);
    const entered = enteredTopLevel(events);
    expect(model.execution?.path).toEqual(entered);
    expect(model.source).toBe(definition ? 'definition' : 'history');
    expect(model.warnings).toEqual([]);
    for (const name of entered) expect(model.nodes.find((n) => n.id === name)?.visited, name).toBe(true);
    // Each step of the path walked an edge between the two states.
    for (let i = 1; i < entered.length; i++) {
      const walked = model.edges.filter((e) => e.from === entered[i - 1] && e.to === entered[i] && e.visited);
      expect(walked, `${entered[i - 1]} -> ${entered[i]}`).toHaveLength(1);
    }
    const walkedCount = model.edges.filter((e) => e.visited).reduce((n, e) => n + e.traversals, 0);
    expect(walkedCount).toBe(entered.length - 1);
    // States the definition has but the execution never entered stay unvisited.
    for (const node of model.nodes) expect(node.visited).toBe(entered.includes(node.name));
  });

  test('02: four attempts, then the Catch to HandleError (no definition: drawn from the history)', () => {
    const events = parseHistoryFile(read('test/fixtures/aws-history/02-lambda-invoke-retry-then-catch.json'));
    const model = buildGraph(undefined, events);
    expect(model.nodes.find((n) => n.id === 'InvokeLambdaWithRetry')).toMatchObject({
      attempts: 4,
      retries: 3,
      caught: true,
      error: 'Exception',
      start: true,
    });
    expect(model.edges).toEqual([
      expect.objectContaining({
        from: 'InvokeLambdaWithRetry',
        to: 'HandleError',
        kind: 'observed',
        label: 'caught Exception',
        visited: true,
      }),
    ]);
    expect(model.nodes.find((n) => n.id === 'HandleError')).toMatchObject({
      compensation: true,
      ended: true,
    });
  });

  test('05: the Choice rule walked is marked, the other rules and the Default are not', () => {
    const text = read('test/fixtures/aws-history/05-choice-then-pass.json');
    const model = buildGraph(parseDefinition(JSON.parse(text)._definition), parseHistoryFile(text));
    const fromChoice = model.edges.filter((e) => e.from === 'Choice State');
    expect(fromChoice.map((e) => [e.kind, e.to, e.visited])).toEqual([
      ['choice', 'NEXT_STATE_ONE', true],
      ['choice', 'NEXT_STATE_TWO', false],
      ['choice', 'NEXT_STATE_TWO', false],
      ['default', 'DEFAULT_STATE', false],
    ]);
    expect(fromChoice[0]?.label).toBe('not $.type == "Private"');
    expect(model.nodes.filter((n) => n.visited).map((n) => n.id)).toEqual(['Choice State', 'NEXT_STATE_ONE']);
  });

  test('07: the Choice led to the Fail state, where the execution failed', () => {
    const text = read('test/fixtures/aws-history/07-task-choice-fail-state.json');
    const model = buildGraph(parseDefinition(JSON.parse(text)._definition), parseHistoryFile(text));
    expect(model.execution).toMatchObject({ status: 'FAILED', failState: 'Failure' });
    expect(model.nodes.find((n) => n.id === 'Failure')).toMatchObject({ failed: true, visited: true });
    expect(model.nodes.find((n) => n.id === 'Success')?.visited).toBe(false);
    expect(model.edges.find((e) => e.to === 'Failure')).toMatchObject({ kind: 'choice', visited: true });
    expect(model.edges.find((e) => e.to === 'Success')).toMatchObject({ kind: 'default', visited: false });
  });

  test('paired with a definition that does not match, the mismatch is said', () => {
    const text = read('test/fixtures/aws-history/01-lambda-invoke-success.json');
    const model = buildGraph(parseDefinitionText(SAGA_ASL), parseHistoryFile(text));
    expect(model.warnings.join('\n')).toMatch(/entered state "Start", which the definition does not have/);
    expect(model.nodes.find((n) => n.id === 'Start')?.inDefinition).toBe(false);
  });
});

describe('saga histories on the saga definition', () => {
  const definition = parseDefinitionText(SAGA_ASL);
  const v2 = readdirSync(new URL('cli/timeline/fixtures/', ROOT)).filter((f) => f.startsWith('saga-v2-'));

  test.each(v2)('%s: every transition walked is in the definition', (file) => {
    const model = buildGraph(definition, parseHistoryFile(read(`cli/timeline/fixtures/${file}`)));
    expect(model.warnings).toEqual([]);
    expect(model.edges.every((e) => e.inDefinition)).toBe(true);
  });

  test('shipping fails: the catch to CancelOrder, then the compensations, to OrderCancelled', () => {
    const model = buildGraph(
      definition,
      parseHistoryFile(read('cli/timeline/fixtures/saga-v2-shipping-fails.json')),
    );
    expect(model.execution?.path).toEqual([
      'CheckOrder',
      'RouteOrder',
      'ChargePayment',
      'ReserveInventory',
      'ShipOrder',
      'CancelOrder',
      'ReleaseInventory',
      'RefundPayment',
      'CompensationsDone',
      'MarkOrderCancelled',
      'OrderCancelled',
    ]);
    const ship = model.edges.filter((e) => e.from === 'ShipOrder' && e.visited);
    expect(ship).toEqual([
      expect.objectContaining({ kind: 'catch', to: 'CancelOrder', errorEquals: ['States.ALL'] }),
    ]);
    expect(model.nodes.filter((n) => n.compensation).map((n) => n.id)).toEqual(
      expect.arrayContaining(['ReleaseInventory', 'RefundPayment']),
    );
    expect(model.nodes.find((n) => n.id === 'OrderCancelled')?.failed).toBe(true);
  });

  test('a COMPENSATION_FAILED execution redriven (recorded on the local cloud): the redrive is not a transition', () => {
    const model = buildGraph(
      definition,
      parseHistoryFile(read('cli/timeline/fixtures/saga-v2-compensation-redriven.json')),
    );
    expect(model.warnings).toEqual([]);
    expect(model.execution?.path.slice(-5)).toEqual([
      'RetryCompensations',
      'RetryRefundPayment',
      'RetryRefundPayment',
      'MarkOrderCancelled',
      'OrderCancelled',
    ]);
    expect(model.edges.some((e) => e.from === 'RetryRefundPayment' && e.to === 'RetryRefundPayment')).toBe(
      false,
    );
    const again = model.nodes.find((n) => n.id === 'RetryRefundPayment');
    expect(again).toMatchObject({ visits: 2, failed: true, compensation: true });
  });

  test('a transient payment failure: the attempts are on the node', () => {
    const model = buildGraph(
      definition,
      parseHistoryFile(read('cli/timeline/fixtures/saga-payment-transient.json')),
    );
    const charge = model.nodes.find((n) => n.id === 'ChargePayment');
    expect(charge?.attempts).toBeGreaterThan(1);
    expect(charge?.retries).toBe((charge?.attempts ?? 0) - 1);
  });
});

describe('Parallel and Map', () => {
  const definition = parseDefinitionText(read('cli/graph/fixtures/map-parallel.asl.json'));

  test('containers hold their inner states; branches start from the container', () => {
    const model = buildGraph(definition);
    const parents = Object.fromEntries(model.nodes.map((n) => [n.id, [n.parent ?? null, n.branch ?? null]]));
    expect(parents).toEqual({
      ProcessItems: [null, null],
      Normalize: ['ProcessItems', 0],
      Throttle: ['ProcessItems', 0],
      FanOut: [null, null],
      NotifyWarehouse: ['FanOut', 0],
      LogNotifyFailure: ['FanOut', 0],
      Audit: ['FanOut', 1],
      AuditDone: ['FanOut', 1],
      FanOutFailed: [null, null],
    });
    expect(edgeSet(model).sort()).toEqual(
      [
        'ProcessItems -branch-> Normalize',
        'ProcessItems -next-> FanOut',
        'Normalize -next-> Throttle',
        'FanOut -branch-> NotifyWarehouse',
        'FanOut -branch-> Audit',
        'FanOut -catch-> FanOutFailed',
        'NotifyWarehouse -catch-> LogNotifyFailure',
        'Audit -next-> AuditDone',
      ].sort(),
    );
  });

  test('the path through the iterations and branches', () => {
    const model = buildGraph(
      definition,
      parseHistoryFile(read('cli/timeline/fixtures/nested-map-parallel.json')),
    );
    expect(model.warnings).toEqual([]);
    expect(model.execution?.path).toEqual(['ProcessItems', 'FanOut']);
    const edge = (from: string, to: string) => model.edges.find((e) => e.from === from && e.to === to);
    expect(edge('ProcessItems', 'Normalize')).toMatchObject({ visited: true, traversals: 2 });
    expect(edge('Normalize', 'Throttle')).toMatchObject({ visited: true, traversals: 2 });
    expect(edge('NotifyWarehouse', 'LogNotifyFailure')).toMatchObject({ kind: 'catch', visited: true });
    expect(edge('FanOut', 'FanOutFailed')?.visited).toBe(false);
    expect(model.nodes.find((n) => n.id === 'Normalize')?.visits).toBe(2);
    expect(model.nodes.find((n) => n.id === 'NotifyWarehouse')).toMatchObject({ caught: true, ended: false });
    expect(model.nodes.find((n) => n.id === 'AuditDone')?.ended).toBe(true);
  });

  test('a state name used in two branches gets a scoped id', () => {
    const model = buildGraph(
      parseDefinition({
        StartAt: 'P',
        States: {
          P: {
            Type: 'Parallel',
            End: true,
            Branches: [
              { StartAt: 'Step', States: { Step: { Type: 'Pass', End: true } } },
              { StartAt: 'Step', States: { Step: { Type: 'Pass', End: true } } },
            ],
          },
        },
      }),
    );
    expect(model.nodes.map((n) => n.id)).toEqual(['P', 'P/0/Step', 'P/1/Step']);
    expect(edgeSet(model)).toEqual(['P -branch-> P/0/Step', 'P -branch-> P/1/Step']);
  });
});

describe('definitions that are not ASL', () => {
  test.each([
    ['not JSON', '{', /Not JSON/],
    ['no StartAt', '{"States":{"A":{"Type":"Pass","End":true}}}', /has no StartAt/],
    ['a history', '{"events":[]}', /has no StartAt.*received an object with keys events/],
    [
      'an unknown type',
      '{"StartAt":"A","States":{"A":{"Type":"Lambda"}}}',
      /Type "Lambda", which is not one of/,
    ],
    [
      'a dangling Next',
      '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}',
      /the Next of state "A" names no state.*received "B"/,
    ],
    [
      'a dangling Catch',
      '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"x","End":true,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Nope"}]}}}',
      /Catch\[0\]\.Next of state "A"/,
    ],
    [
      'a Parallel without branches',
      '{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true}}}',
      /has no Branches/,
    ],
  ])('%s', (_, text, message) => {
    expect(() => parseDefinitionText(text)).toThrow(AslError);
    expect(() => parseDefinitionText(text)).toThrow(message);
  });

  test('a describe-state-machine response is read through its definition string', () => {
    const model = buildGraph(parseDefinition({ stateMachineArn: 'arn:x', definition: SAGA_ASL }));
    expect(model.nodes).toHaveLength(Object.keys(JSON.parse(SAGA_ASL).States).length);
  });
});

test('a Wait state in brief: its seconds through the one duration formatter, a path or a timestamp as written', () => {
  expect(stateDetail({ Type: 'Wait', Seconds: 10 })).toBe('wait 10s');
  expect(stateDetail({ Type: 'Wait', Seconds: 90 })).toBe('wait 1m 30s');
  expect(stateDetail({ Type: 'Wait', Seconds: 0.5 })).toBe('wait 500ms');
  expect(stateDetail({ Type: 'Wait', SecondsPath: '$.delay' })).toBe('wait $.delay s');
  expect(stateDetail({ Type: 'Wait', Timestamp: '2026-12-03T16:00:00Z' })).toBe('until 2026-12-03T16:00:00Z');
});
