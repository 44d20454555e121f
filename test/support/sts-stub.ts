import { createServer } from 'node:http';
import { onTestFinished } from 'vitest';

/** How the stub STS answers `GetCallerIdentity`. */
export type StsAnswer = { readonly account: string } | { readonly refuse: string };

/**
 * A local STS endpoint (awsQuery, XML) for the CLI's credential checks, so that no test calls real AWS: it answers
 * `GetCallerIdentity` with the account, or refuses with a 403 and the error code given. Closed when the test ends.
 * Returns its URL and the actions it received.
 */
export async function stubSts(answer: StsAnswer): Promise<{ url: string; actions: string[] }> {
  const actions: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      actions.push(new URLSearchParams(body).get('Action') ?? '');
      res.setHeader('content-type', 'text/xml');
      if ('refuse' in answer) {
        res.statusCode = 403;
        res.end(
          '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>' +
            `<Code>${answer.refuse}</Code><Message>The security token included in the request is invalid.</Message>` +
            '</Error><RequestId>stub</RequestId></ErrorResponse>',
        );
        return;
      }
      res.end(
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
          `<Arn>arn:aws:iam::${answer.account}:user/dev</Arn><UserId>AIDASTUB</UserId>` +
          `<Account>${answer.account}</Account></GetCallerIdentityResult>` +
          '<ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></GetCallerIdentityResponse>',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, actions };
}

/** A URL where nothing listens: the connection is refused at once (no network). */
export async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
