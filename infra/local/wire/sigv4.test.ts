import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseAuthorizationHeader, type SigV4Result, verifySigV4 } from './sigv4.ts';

const run = promisify(execFile);
const credentials = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-secret' };
const options = { credentials, region: 'us-east-1', service: 'execute-api' };

// A bare server that only reports what verifySigV4 says of each request it receives.
let url = '';
const server = createServer(async (req: IncomingMessage, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const result = await verifySigV4(
    {
      method: req.method ?? 'GET',
      rawPath: q === -1 ? raw : raw.slice(0, q),
      rawQueryString: q === -1 ? '' : raw.slice(q + 1),
      headers: req.headers,
      body: Buffer.concat(chunks),
    },
    options,
  );
  res.end(JSON.stringify(result));
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('verifySigV4', () => {
  test('accepts what botocore (the AWS CLI signer, an independent implementation) signs', async () => {
    const script = `
import sys, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, secret = sys.argv[1], sys.argv[2]
req = AWSRequest(method='POST', url=url + '/orders/01J%20X/caf%C3%A9?b=2&a=1&a=0&s=x%2By', data=b'{"q": 1}',
                 headers={'Content-Type': 'application/json'})
SigV4Auth(Credentials('${credentials.accessKeyId}', secret), 'execute-api', 'us-east-1').add_auth(req)
prepared = req.prepare()
r = urllib.request.Request(prepared.url, data=prepared.body, method='POST', headers=dict(prepared.headers))
print(urllib.request.urlopen(r).read().decode())
`;
    const good = await run('python3', ['-c', script, url, credentials.secretAccessKey]);
    expect(JSON.parse(good.stdout)).toEqual({
      ok: true,
      accessKeyId: credentials.accessKeyId,
      service: 'execute-api',
    });
    const bad = await run('python3', ['-c', script, url, 'wrong']);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, reason: 'signature-mismatch' });
  });

  test('hashes the body itself when the client did not send x-amz-content-sha256', async () => {
    const signer = new SignatureV4({ ...options, sha256: Sha256, applyChecksum: false });
    const target = new URL('/orders', url);
    const signed = await signer.sign({
      method: 'PUT',
      protocol: 'http:',
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      query: {},
      headers: { host: target.host, 'content-type': 'text/plain' },
      body: 'original',
    });
    const headers = signed.headers as Record<string, string>;
    expect(headers['x-amz-content-sha256']).toBeUndefined();
    const send = async (body: string): Promise<SigV4Result> =>
      (await (await fetch(target, { method: 'PUT', headers, body })).json()) as SigV4Result;
    expect(await send('original')).toEqual({
      ok: true,
      accessKeyId: credentials.accessKeyId,
      service: 'execute-api',
    });
    expect(await send('tampered')).toMatchObject({ ok: false, reason: 'signature-mismatch' });
  });

  test('refuses a credential scoped to another region or service', async () => {
    for (const scope of [
      { region: 'eu-west-1', service: 'execute-api' },
      { region: 'us-east-1', service: 'lambda' },
    ]) {
      const signer = new SignatureV4({ credentials, ...scope, sha256: Sha256 });
      const target = new URL('/x', url);
      const signed = await signer.sign({
        method: 'GET',
        protocol: 'http:',
        hostname: target.hostname,
        port: Number(target.port),
        path: '/x',
        query: {},
        headers: { host: target.host },
      });
      const result = (await (
        await fetch(target, { headers: signed.headers as Record<string, string> })
      ).json()) as SigV4Result;
      expect(result).toMatchObject({ ok: false, reason: 'wrong-scope' });
    }
  });
});

describe('parseAuthorizationHeader', () => {
  test('reads the credential scope, signed headers and signature', () => {
    const sig = 'a'.repeat(64);
    expect(
      parseAuthorizationHeader(
        `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=Host;x-amz-date, Signature=${sig}`,
      ),
    ).toEqual({
      accessKeyId: 'AKID',
      date: '20260101',
      region: 'us-east-1',
      service: 'execute-api',
      signedHeaders: ['host', 'x-amz-date'],
      signature: sig,
    });
  });

  test('rejects other schemes and incomplete headers', () => {
    expect(parseAuthorizationHeader('Bearer abc')).toBeUndefined();
    expect(
      parseAuthorizationHeader(
        'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/execute-api/aws4_request',
      ),
    ).toBeUndefined();
    expect(
      parseAuthorizationHeader(
        `AWS4-HMAC-SHA256 Credential=AKID/x/aws4_request, SignedHeaders=host, Signature=${'a'.repeat(64)}`,
      ),
    ).toBeUndefined();
  });
});
