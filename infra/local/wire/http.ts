/**
 * node:http plumbing every server of the local cloud shares (the edge, the HTTP APIs): reading a request body
 * with a size limit, answering JSON, listening on 127.0.0.1, closing without hanging on keep-alive sockets.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request body over the limit (answered with 413). */
export class RequestTooLargeError extends Error {
  constructor(limit: number, received: number) {
    super(`The request body has ${received} bytes or more; the limit is ${limit} bytes.`);
    this.name = 'RequestTooLargeError';
  }
}

/**
 * Reads a request body up to `limit` bytes. Past the limit it keeps draining (so the client, still
 * uploading, gets to read the answer) and then rejects with a {@link RequestTooLargeError}.
 */
export async function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  // Read once: the edge reads a body to check its signature, then the protocol's handler asks for it again.
  const read = bodies.get(req);
  if (read !== undefined) return read;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () =>
      size > limit ? reject(new RequestTooLargeError(limit, size)) : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
  bodies.set(req, body);
  return body;
}

const bodies = new WeakMap<IncomingMessage, Buffer>();

/** The first value of a request header. */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Answers `body` as JSON (`{}` for undefined) with its length and the request id AWS clients read. */
export function sendJson(
  res: ServerResponse,
  statusCode: number,
  body: unknown,
  contentType: string,
  requestId: string,
  extraHeaders: Record<string, string> = {},
): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(statusCode, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    'x-amzn-RequestId': requestId,
    ...extraHeaders,
  });
  res.end(text);
}

/** Listens on 127.0.0.1 and resolves with the port. */
export async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Stops accepting, drops idle keep-alive sockets and resolves when the server is closed. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // In-flight requests get a moment to finish before their sockets are cut.
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}
