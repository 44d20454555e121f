import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { shortFunctionName } from './logs.ts';

const TEMPLATE = new URL('../../cdk.out/Saga.template.json', import.meta.url);

/** Our functions' logical ids as CDK generates them (`ChargePaymentFunction60D226DB`), from the synthesized template. */
function functionLogicalIds(): string[] {
  if (!existsSync(TEMPLATE)) {
    // Not synthesized yet: the ids of the stack as it is committed (construct id + 8-hex path hash).
    return [
      'ChargePaymentFunction60D226DB',
      'RefundPaymentFunction8E0AE9CB',
      'ReserveInventoryFunction15B81C05',
      'ReleaseInventoryFunction945A6FD7',
      'ShipOrderFunction264D20AA',
      'OrderFunctionFABF799C',
      'OutboxPublisherFunctionA7EA23BE',
      'OutboxSweeperFunction42C3EDC8',
    ];
  }
  const template = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as {
    Resources: Record<string, { Type: string }>;
  };
  return Object.entries(template.Resources)
    .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && /Function[0-9A-F]{8}$/.test(id))
    .map(([id]) => id);
}

describe('shortFunctionName', () => {
  const ids = functionLogicalIds();

  test('the (synthesized) template has the eight functions of the contract', () => {
    expect(ids.map((id) => id.replace(/Function[0-9A-F]{8}$/, '')).sort()).toEqual([
      'ChargePayment',
      'Order',
      'OutboxPublisher',
      'OutboxSweeper',
      'RefundPayment',
      'ReleaseInventory',
      'ReserveInventory',
      'ShipOrder',
    ]);
  });

  test.each(ids)('%s as CloudFormation names it on AWS and as the local cloud names it', (logicalId) => {
    const construct = logicalId.replace(/Function[0-9A-F]{8}$/, '');
    // AWS: <stack>-<logical id>-<12 random letters and digits>.
    expect(shortFunctionName(`Saga-${logicalId}-AbCdEf1g2H3i`)).toBe(construct);
    // The local cloud: <stack>-<logical id>-<13 upper-case letters and digits>.
    expect(shortFunctionName(`Saga-${logicalId}-1A2B3C4D5E6F7`)).toBe(construct);
  });

  test('a hash made of letters only is still cut off', () => {
    expect(shortFunctionName('Saga-ShipOrderFunctionABCDEFAB-q1W2e3R4t5Y6')).toBe('ShipOrder');
  });

  test('names that are not CloudFormation-generated come back as they are', () => {
    expect(shortFunctionName('my-handwritten-function-name')).toBe('my-handwritten-function-name');
    expect(shortFunctionName('Saga-AWS679f53fac002430cb0da5b7982bd2287-AbCdEf1g2H3i')).toBe(
      'Saga-AWS679f53fac002430cb0da5b7982bd2287-AbCdEf1g2H3i',
    );
  });
});
