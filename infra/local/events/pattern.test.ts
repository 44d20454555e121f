import { describe, expect, it } from 'vitest';
import { AwsError } from '../wire/aws-error.ts';
import { matchesEventPattern, validateEventPattern } from './pattern.ts';

const event = {
  version: '0',
  id: '6f3c1d1e-0000-4000-8000-000000000001',
  'detail-type': 'OrderPlaced',
  source: 'saga.orders',
  account: '000000000000',
  time: '2026-01-01T10:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:dynamodb:us-east-1:000000000000:table/Orders'],
  detail: {
    orderId: '01JORDER',
    amount: 1250,
    currency: 'EUR',
    express: true,
    coupon: null,
    note: '',
    tags: ['new', 'vip'],
    items: [
      { sku: 'A', qty: 2 },
      { sku: 'B', qty: 1 },
    ],
    ip: '10.0.0.7',
    file: 'img/photo.PNG',
    path: 'a*b',
    customer: { tier: 'gold', country: 'DE' },
  },
};

const d = (detail: Record<string, unknown>) => ({ detail });

/** [description, pattern, expected] — all against `event` above. */
const cases: [string, unknown, boolean][] = [
  ['exact string', { source: ['saga.orders'] }, true],
  ['exact string, other value', { source: ['saga.payments'] }, false],
  ['array of values is OR', { source: ['x', 'saga.orders'] }, true],
  ['fields are AND', { source: ['saga.orders'], 'detail-type': ['OrderShipped'] }, false],
  ['number compares numerically', d({ amount: [1.25e3] }), true],
  ['string never equals a number', d({ amount: ['1250'] }), false],
  ['boolean', d({ express: [true] }), true],
  ['boolean false', d({ express: [false] }), false],
  ['null matches null', d({ coupon: [null] }), true],
  ['null does not match a missing field', d({ missing: [null] }), false],
  ['empty string', d({ note: [''] }), true],
  ['missing field never matches a value', d({ missing: ['x'] }), false],
  ['prefix', { source: [{ prefix: 'saga.' }] }, true],
  ['prefix, other', { source: [{ prefix: 'aws.' }] }, false],
  ['prefix ignoring case', { source: [{ prefix: { 'equals-ignore-case': 'SAGA.' } }] }, true],
  ['suffix', d({ file: [{ suffix: '.PNG' }] }), true],
  ['suffix is case sensitive', d({ file: [{ suffix: '.png' }] }), false],
  ['suffix ignoring case', d({ file: [{ suffix: { 'equals-ignore-case': '.png' } }] }), true],
  ['equals-ignore-case', { 'detail-type': [{ 'equals-ignore-case': 'orderplaced' }] }, true],
  ['anything-but value', d({ currency: [{ 'anything-but': 'USD' }] }), true],
  ['anything-but the value itself', d({ currency: [{ 'anything-but': 'EUR' }] }), false],
  ['anything-but list', d({ currency: [{ 'anything-but': ['USD', 'EUR'] }] }), false],
  ['anything-but number', d({ amount: [{ 'anything-but': 1250 }] }), false],
  ['anything-but number, other', d({ amount: [{ 'anything-but': [1, 2] }] }), true],
  ['anything-but needs the field', d({ missing: [{ 'anything-but': 'x' }] }), false],
  ['anything-but prefix', { source: [{ 'anything-but': { prefix: 'aws.' } }] }, true],
  ['anything-but prefix, excluded', { source: [{ 'anything-but': { prefix: 'saga.' } }] }, false],
  ['anything-but suffix, excluded', d({ file: [{ 'anything-but': { suffix: '.PNG' } }] }), false],
  [
    'anything-but ignoring case',
    d({ currency: [{ 'anything-but': { 'equals-ignore-case': ['eur'] } }] }),
    false,
  ],
  ['anything-but wildcard', d({ file: [{ 'anything-but': { wildcard: 'img/*' } }] }), false],
  ['anything-but on an array: one other element is enough', d({ tags: [{ 'anything-but': 'new' }] }), true],
  [
    'anything-but on an array: every element excluded',
    d({ tags: [{ 'anything-but': ['new', 'vip'] }] }),
    false,
  ],
  ['exists true', d({ orderId: [{ exists: true }] }), true],
  ['exists true on a missing field', d({ missing: [{ exists: true }] }), false],
  ['exists false on a missing field', d({ missing: [{ exists: false }] }), true],
  ['exists false on a present field', d({ orderId: [{ exists: false }] }), false],
  ['exists true on a null value', d({ coupon: [{ exists: true }] }), true],
  ['exists works on leaves only', d({ customer: [{ exists: true }] }), false],
  ['exists false inside a missing object', { detail: { nothing: { deeper: [{ exists: false }] } } }, true],
  ['numeric range', d({ amount: [{ numeric: ['>', 1000, '<=', 1250] }] }), true],
  ['numeric range, outside', d({ amount: [{ numeric: ['>', 1250] }] }), false],
  ['numeric equals', d({ amount: [{ numeric: ['=', 1250] }] }), true],
  ['numeric ignores strings', d({ currency: [{ numeric: ['>', 0] }] }), false],
  ['wildcard', d({ file: [{ wildcard: 'img/*.PNG' }] }), true],
  ['wildcard anywhere', d({ file: [{ wildcard: '*photo*' }] }), true],
  ['wildcard, no match', d({ file: [{ wildcard: 'doc/*' }] }), false],
  ['wildcard with an escaped star', d({ path: [{ wildcard: 'a\\*b' }] }), true],
  ['escaped star is literal', d({ file: [{ wildcard: 'img\\*' }] }), false],
  ['cidr', d({ ip: [{ cidr: '10.0.0.0/24' }] }), true],
  ['cidr outside', d({ ip: [{ cidr: '10.0.1.0/24' }] }), false],
  ['nested object', d({ customer: { tier: ['gold'] } }), true],
  ['nested object, other', d({ customer: { tier: ['silver'] } }), false],
  ['event array: any element', d({ tags: ['vip'] }), true],
  ['array of objects: any element', d({ items: { sku: ['B'] } }), true],
  ['array of objects: conditions hold on one element', d({ items: { sku: ['A'], qty: [1] } }), false],
  ['array of objects: same element', d({ items: { sku: ['B'], qty: [1] } }), true],
  ['$or, second branch', { $or: [{ source: ['x'] }, d({ amount: [{ numeric: ['>=', 1000] }] })] }, true],
  ['$or, no branch', { $or: [{ source: ['x'] }, { source: ['y'] }] }, false],
  [
    '$or beside other fields',
    { source: ['saga.orders'], $or: [d({ currency: ['USD'] }), d({ express: [true] })] },
    true,
  ],
  ['JSON text pattern', '{"detail":{"currency":["EUR"]}}', true],
];

describe('matchesEventPattern', () => {
  it.each(cases)('%s', (_name, pattern, expected) => {
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });

  // The outbox mapping's filter, on records as Lambda builds them (DynamoDB JSON).
  const sagaFilter = { eventName: ['INSERT'], dynamodb: { Keys: { pk: { S: [{ prefix: 'OUTBOX#' }] } } } };
  const streamRecord = (eventName: string, pk: string) => ({
    eventID: '1',
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: 1_767_261_600,
      Keys: { pk: { S: pk }, sk: { S: 'EVENT#1' } },
      NewImage: { pk: { S: pk }, sk: { S: 'EVENT#1' }, eventType: { S: 'OrderPlaced' } },
      SequenceNumber: '100',
      SizeBytes: 40,
      StreamViewType: 'NEW_IMAGE',
    },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/Orders/stream/x',
  });

  it.each([
    ['INSERT', 'OUTBOX#01J', true],
    ['MODIFY', 'OUTBOX#01J', false],
    ['REMOVE', 'OUTBOX#01J', false],
    ['INSERT', 'ORDER#01J', false],
  ])('saga outbox filter: %s of %s → %s', (eventName, pk, expected) => {
    expect(matchesEventPattern(sagaFilter, streamRecord(eventName, pk))).toBe(expected);
  });
});

describe('validateEventPattern', () => {
  it.each<[string, unknown, RegExp]>([
    ['a string that is not JSON', '{source:', /not valid JSON/],
    ['an array', [], /must be a JSON object/],
    ['null', null, /must be a JSON object/],
    ['an empty object', {}, /empty object/],
    ['a bare value', { source: 'saga.orders' }, /array of values to match.*"source"/],
    ['an empty array', { source: [] }, /empty arrays are not allowed/],
    ['an unknown operator', { source: [{ startsWith: 'x' }] }, /unrecognized match type "startsWith"/],
    ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }, /exactly one operator/],
    ['a numeric prefix', { source: [{ prefix: 5 }] }, /"prefix" takes a string/],
    ['exists with a string', { a: [{ exists: 'yes' }] }, /"exists" takes true or false/],
    ['numeric without a number', { a: [{ numeric: ['>', 'x'] }] }, /needs a number/],
    ['numeric with an empty range', { a: [{ numeric: ['>', 10, '<', 5] }] }, /lower bound not below/],
    ['numeric "=" with another operator', { a: [{ numeric: ['=', 1, '>', 0] }] }, /cannot combine "="/],
    ['numeric unknown operator', { a: [{ numeric: ['!=', 1] }] }, /unknown operator/],
    ['consecutive wildcards', { a: [{ wildcard: 'a**b' }] }, /consecutive/],
    ['a bad wildcard escape', { a: [{ wildcard: 'a\\b' }] }, /escapes/],
    ['anything-but with mixed types', { a: [{ 'anything-but': ['x', 1] }] }, /only strings or only numbers/],
    [
      'anything-but with an unknown operator',
      { a: [{ 'anything-but': { numeric: ['>', 1] } }] },
      /anything-but/,
    ],
    ['a bad cidr', { a: [{ cidr: '10.0.0.0/33' }] }, /"cidr"/],
    ['$or with one branch', { $or: [{ a: ['x'] }] }, /at least two/],
    ['nested arrays', { a: [['x']] }, /nested arrays/],
  ])('rejects %s', (_name, pattern, message) => {
    let thrown: unknown;
    try {
      validateEventPattern(pattern);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AwsError);
    expect((thrown as AwsError).type).toBe('InvalidEventPatternException');
    expect((thrown as AwsError).message).toMatch(/^Event pattern is not valid\. Reason: /);
    expect((thrown as AwsError).message).toMatch(message);
  });

  it('names the path of a nested mistake', () => {
    expect(() => validateEventPattern({ detail: { customer: { tier: 'gold' } } })).toThrow(
      /at "detail\.customer\.tier"/,
    );
  });

  it('accepts every operator in its documented form', () => {
    expect(() =>
      validateEventPattern({
        source: ['a', 1, true, null, { prefix: 'a' }, { suffix: { 'equals-ignore-case': 'b' } }],
        detail: {
          a: [{ 'anything-but': { prefix: 'x' } }, { 'anything-but': [1, 2] }, { 'equals-ignore-case': 'q' }],
          b: [
            { numeric: ['>=', 0, '<', 10] },
            { exists: false },
            { wildcard: '*.png' },
            { cidr: '2001:db8::/32' },
          ],
        },
        $or: [{ x: ['1'] }, { y: ['2'] }],
      }),
    ).not.toThrow();
  });

  it('matchesEventPattern refuses an invalid pattern instead of guessing', () => {
    expect(() => matchesEventPattern({ source: 'x' }, event)).toThrow(AwsError);
  });
});
