/**
 * Paging tokens (`nextToken` / `NextToken`) for the local services: opaque to clients, a versioned cursor inside
 * (base64url JSON). A service puts what it needs to resume in the cursor (an offset, the last key handed out,
 * the filter the listing was asked with) and checks it when the token comes back.
 */

const VERSION = 1;

/** Encodes `cursor` as a token. */
export function encodePageToken(cursor: Readonly<Record<string, unknown>>): string {
  return Buffer.from(JSON.stringify({ ...cursor, v: VERSION })).toString('base64url');
}

/** The cursor inside a token {@link encodePageToken} made; undefined for anything else. */
export function decodePageToken(token: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      (value as { v?: unknown }).v === VERSION
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes `token` and reads its cursor with `read` (which returns undefined when the cursor does not fit: another
 * operation's, another filter's); throws `invalid(token)` — the service's own error — when either fails.
 */
export function readPageToken<T>(
  token: string,
  read: (cursor: Record<string, unknown>) => T | undefined,
  invalid: (token: string) => Error,
): T {
  const cursor = decodePageToken(token);
  const value = cursor === undefined ? undefined : read(cursor);
  if (value === undefined) throw invalid(token);
  return value;
}

/** A token for offset paging: the next page starts at `offset`. */
export function offsetPageToken(offset: number): string {
  return encodePageToken({ o: offset });
}

/** The offset an {@link offsetPageToken} carries; 0 without a token; `invalid(token)` for a bad one. */
export function pageOffset(token: string | undefined, invalid: (token: string) => Error): number {
  if (token === undefined) return 0;
  return readPageToken(
    token,
    (cursor) =>
      Number.isSafeInteger(cursor.o) && (cursor.o as number) >= 0 ? (cursor.o as number) : undefined,
    invalid,
  );
}
