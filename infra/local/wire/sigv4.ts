/**
 * Verifies AWS Signature Version 4 (header form) on incoming requests, the way API Gateway does for
 * `AWS_IAM` routes: the signature is recomputed with `@smithy/signature-v4` from the request as received
 * (only the headers named in `SignedHeaders`, the body hash or `x-amz-content-sha256`, `x-amz-date`) and
 * compared in constant time.
 */
import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';

/** SHA-256 (or HMAC-SHA-256 when given a secret) on node:crypto, in the shape `@smithy/signature-v4` wants. */
export class NodeSha256 implements Checksum {
  readonly #secret: SourceData | undefined;
  #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret;
    this.#hash = NodeSha256.#create(secret);
  }

  static #create(secret: SourceData | undefined): Hash | Hmac {
    return secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }

  update(data: Uint8Array): void {
    this.#hash.update(data);
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = NodeSha256.#create(this.#secret);
  }
}

function toBytes(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** A request as received, before any decoding of its path. */
export interface SignedRequest {
  readonly method: string;
  /** The path exactly as sent on the wire (still percent-encoded), without the query string. */
  readonly rawPath: string;
  /** The raw query string, without `?`. */
  readonly rawQueryString: string;
  /** Node's lower-cased headers. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
}

/** Options for {@link verifySigV4}. */
export interface VerifySigV4Options {
  /** The only credentials the local cloud accepts. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly region: string;
  /** The signing name, e.g. `execute-api`. */
  readonly service: string;
  /** The clock to check `x-amz-date` against. @default Date.now() */
  readonly now?: number;
  /** How far `x-amz-date` may be from `now`. @default 15 minutes, as AWS */
  readonly maxSkewMs?: number;
}

/** Why a request was refused; `message` is what AWS answers in that case. */
export type SigV4Failure =
  | 'missing'
  | 'malformed'
  | 'unknown-key'
  | 'wrong-scope'
  | 'expired'
  | 'payload-mismatch'
  | 'signature-mismatch';

/** The outcome of {@link verifySigV4}. */
export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string }
  | { readonly ok: false; readonly reason: SigV4Failure; readonly message: string };

/** AWS's words for a signature that does not match. */
export const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** The parts of an `Authorization: AWS4-HMAC-SHA256 …` header. */
export interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

/** Parses an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header; undefined if not that form. */
export function parseAuthorizationHeader(value: string): ParsedAuthorization | undefined {
  const match = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(value.trim());
  if (!match?.[1]) return undefined;
  const fields = new Map<string, string>();
  for (const part of match[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || credential[4] !== 'aws4_request') return undefined;
  if (!signedHeaders || !signature || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  const [accessKeyId, date, region, service] = credential as [string, string, string, string, string];
  return {
    accessKeyId,
    date,
    region,
    service,
    signedHeaders: signedHeaders.split(';').map((h) => h.toLowerCase()),
    signature,
  };
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Parses a raw query string into decoded values, the shape `@smithy/signature-v4` canonicalises. */
export function parseQuery(rawQueryString: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[key] = [existing, value];
  }
  return query;
}

/**
 * Checks a request's SigV4 `Authorization` header against the local credentials. Never throws for a
 * bad request: the result says why it was refused.
 */
export async function verifySigV4(request: SignedRequest, options: VerifySigV4Options): Promise<SigV4Result> {
  const fail = (reason: SigV4Failure, message: string): SigV4Result => ({ ok: false, reason, message });
  const authorization = headerValue(request.headers, 'authorization');
  if (!authorization) return fail('missing', 'Missing Authentication Token');
  const auth = parseAuthorizationHeader(authorization);
  if (!auth) {
    return fail(
      'malformed',
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters (AWS4-HMAC-SHA256). Authorization=${authorization.slice(0, 40)}`,
    );
  }
  if (auth.accessKeyId !== options.credentials.accessKeyId) {
    return fail('unknown-key', 'The security token included in the request is invalid.');
  }
  if (auth.region !== options.region) {
    return fail('wrong-scope', `Credential should be scoped to a valid region, not '${auth.region}'. `);
  }
  if (auth.service !== options.service) {
    return fail('wrong-scope', `Credential should be scoped to correct service: '${options.service}'. `);
  }
  const amzDate = headerValue(request.headers, 'x-amz-date');
  const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!amzDate || !signingDate) {
    return fail(
      'malformed',
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  }
  if (!amzDate.startsWith(auth.date)) {
    return fail(
      'wrong-scope',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${amzDate.slice(0, 8)}'`,
    );
  }
  const now = options.now ?? Date.now();
  const maxSkewMs = options.maxSkewMs ?? 15 * 60_000;
  if (Math.abs(now - signingDate.getTime()) > maxSkewMs) {
    const bound = new Date(now + (signingDate.getTime() < now ? -maxSkewMs : maxSkewMs));
    return fail(
      'expired',
      `Signature expired: ${amzDate} is now ${signingDate.getTime() < now ? 'earlier' : 'later'} than ${toAmzDate(bound)} (${toAmzDate(new Date(now))} ${signingDate.getTime() < now ? '-' : '+'} 15 min.)`,
    );
  }
  const declaredHash = headerValue(request.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== 'UNSIGNED-PAYLOAD') {
    const actual = createHash('sha256').update(request.body).digest('hex');
    if (actual !== declaredHash) {
      return fail(
        'payload-mismatch',
        'The provided x-amz-content-sha256 header does not match what was computed.',
      );
    }
  }

  // Only the headers the client signed take part, so the canonical request is the one it built.
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined) return fail('signature-mismatch', SIGNATURE_MISMATCH_MESSAGE);
    headers[name] = value;
  }
  const host = headerValue(request.headers, 'host') ?? '';
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: options.region,
    service: options.service,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: host.replace(/:\d+$/, ''),
      path: request.rawPath,
      query: parseQuery(request.rawQueryString),
      headers,
      body: request.body,
    },
    {
      signingDate,
      signableHeaders: new Set(auth.signedHeaders),
      // smithy always adds x-amz-date; leave it out of the canonical form if the client did not sign it.
      unsignableHeaders: auth.signedHeaders.includes('x-amz-date') ? undefined : new Set(['x-amz-date']),
    },
  );
  const expected = parseAuthorizationHeader(String(signed.headers.authorization ?? ''));
  const a = Buffer.from(expected?.signature ?? '', 'utf8');
  const b = Buffer.from(auth.signature, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return fail('signature-mismatch', SIGNATURE_MISMATCH_MESSAGE);
  return { ok: true, accessKeyId: auth.accessKeyId };
}

function toAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
