/**
 * Verifies AWS Signature Version 4 (header form) on incoming requests, as AWS does at every endpoint (and API
 * Gateway for `AWS_IAM` routes): the canonical request is rebuilt from the request as received (only the headers
 * named in `SignedHeaders`, the body hash or `x-amz-content-sha256`, `x-amz-date`), signed with the key of the
 * access key the request names, and compared in constant time. Built on node:crypto with the signing key cached
 * per (secret, date, region, service): every request of the local cloud goes through here, so it must be cheap
 * (≈ 10 µs, against ≈ 180 µs for a full `@smithy/signature-v4` signing). The tests sign with the SDK's signer.
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
 */
import { createHmac, createSecretKey, hash, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

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
  /**
   * The keys the endpoint accepts: one pair, or a lookup of the secret (and session token, for temporary keys)
   * of an access key id (undefined: the key is unknown).
   */
  readonly credentials:
    | { readonly accessKeyId: string; readonly secretAccessKey: string }
    | ((
        accessKeyId: string,
      ) => { readonly secretAccessKey: string; readonly sessionToken?: string } | undefined);
  readonly region: string;
  /** The signing name, e.g. `execute-api`; undefined accepts any (the edge serves several services). */
  readonly service?: string;
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
  | { readonly ok: true; readonly accessKeyId: string; readonly service: string }
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

/**
 * Checks a request's SigV4 `Authorization` header against the local credentials. Never throws for a
 * bad request: the result says why it was refused.
 */
export function verifySigV4(request: SignedRequest, options: VerifySigV4Options): SigV4Result {
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
  const key: { readonly secretAccessKey: string; readonly sessionToken?: string } | undefined =
    typeof options.credentials === 'function'
      ? options.credentials(auth.accessKeyId)
      : auth.accessKeyId === options.credentials.accessKeyId
        ? { secretAccessKey: options.credentials.secretAccessKey }
        : undefined;
  if (key === undefined) {
    return fail('unknown-key', 'The security token included in the request is invalid.');
  }
  if (
    key.sessionToken !== undefined &&
    headerValue(request.headers, 'x-amz-security-token') !== key.sessionToken
  ) {
    return fail('unknown-key', 'The security token included in the request is invalid.');
  }
  if (auth.region !== options.region) {
    return fail('wrong-scope', `Credential should be scoped to a valid region, not '${auth.region}'. `);
  }
  if (options.service !== undefined && auth.service !== options.service) {
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
  const bodyHash = hash('sha256', request.body);
  if (declaredHash !== undefined && declaredHash !== 'UNSIGNED-PAYLOAD' && declaredHash !== bodyHash) {
    return fail(
      'payload-mismatch',
      'The provided x-amz-content-sha256 header does not match what was computed.',
    );
  }

  // Only the headers the client signed take part, so the canonical request is the one it built.
  let canonicalHeaders = '';
  for (const name of [...auth.signedHeaders].sort()) {
    const value = headerValue(request.headers, name);
    if (value === undefined) return fail('signature-mismatch', SIGNATURE_MISMATCH_MESSAGE);
    canonicalHeaders += `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
  }
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(request.rawPath),
    canonicalQuery(request.rawQueryString),
    canonicalHeaders,
    [...auth.signedHeaders].sort().join(';'),
    declaredHash ?? bodyHash,
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonicalRequest)}`;
  const signingKey = signingKeyOf(key.secretAccessKey, auth.date, auth.region, auth.service);
  const expected = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(auth.signature, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return fail('signature-mismatch', SIGNATURE_MISMATCH_MESSAGE);
  return { ok: true, accessKeyId: auth.accessKeyId, service: auth.service };
}

const signingKeys = new Map<string, KeyObject>();

/**
 * `kSigning` of the SigV4 key derivation, cached (it changes once a day per key, region and service) as a KeyObject:
 * an HMAC keyed by a KeyObject costs ≈ 4 µs here, keyed by a Buffer ≈ 30 µs (the key is imported on every call).
 */
function signingKeyOf(secret: string, date: string, region: string, service: string): KeyObject {
  const cacheKey = `${secret}\u0000${date}\u0000${region}\u0000${service}`;
  let key: KeyObject | undefined = signingKeys.get(cacheKey);
  if (key === undefined) {
    const hmac = (k: string | Buffer, data: string) => createHmac('sha256', k).update(data).digest();
    key = createSecretKey(hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request'));
    if (signingKeys.size > 1_000) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/** RFC 3986 encoding as SigV4 wants it: `encodeURIComponent` plus `!'()*`. */
function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The canonical URI of every service but S3: the path as sent (already percent-encoded once), normalized
 * (`.`/`..` and empty segments removed) and encoded again, slashes kept — what the SDKs sign.
 */
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  const path = `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
  return uriEscape(path).replace(/%2F/g, '/');
}

/** The canonical query string: decoded pairs, encoded again, sorted by name then value; no signature. */
function canonicalQuery(rawQueryString: string): string {
  if (rawQueryString === '') return '';
  const pairs: [string, string][] = [];
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    if (name.toLowerCase() === 'x-amz-signature') continue;
    pairs.push([uriEscape(name), uriEscape(value)]);
  }
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function toAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
