import { describe, expect, it } from 'vitest';
import { decodePageToken, encodePageToken, offsetPageToken, pageOffset, readPageToken } from './paging.ts';

const invalid = (token: string) => new Error(`Invalid Token: '${token}'`);

describe('paging tokens', () => {
  it('round-trip a cursor; anything else decodes to undefined', () => {
    const token = encodePageToken({ a: 'arn', c: 7 });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token)).toMatchObject({ a: 'arn', c: 7 });
    for (const bad of [
      'garbage',
      '',
      Buffer.from('[1]').toString('base64url'),
      Buffer.from('{"c":1}').toString('base64url'),
    ]) {
      expect(decodePageToken(bad)).toBeUndefined();
    }
  });

  it('readPageToken throws the service error for a bad token or a cursor that does not fit', () => {
    const token = encodePageToken({ s: 'machine-a', t: 3 });
    const read = (s: string) => (c: Record<string, unknown>) => (c.s === s ? (c.t as number) : undefined);
    expect(readPageToken(token, read('machine-a'), invalid)).toBe(3);
    expect(() => readPageToken(token, read('machine-b'), invalid)).toThrow(`Invalid Token: '${token}'`);
    expect(() => readPageToken('garbage', read('machine-a'), invalid)).toThrow("Invalid Token: 'garbage'");
  });

  it('offset paging', () => {
    expect(pageOffset(undefined, invalid)).toBe(0);
    expect(pageOffset(offsetPageToken(50), invalid)).toBe(50);
    expect(() => pageOffset(encodePageToken({ o: -1 }), invalid)).toThrow('Invalid Token');
    expect(() => pageOffset(encodePageToken({ name: 'x' }), invalid)).toThrow('Invalid Token');
  });
});
