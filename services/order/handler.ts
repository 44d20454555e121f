/**
 * The order service behind the HTTP API (payload format 2.0):
 * - `POST /orders` validates, prices and places an order (order row + outbox row in one transaction) → 202;
 *   an `Idempotency-Key` header makes the POST idempotent (without an orderId in the body, the order id is
 *   derived from the caller and the key). A POST that repeats an existing order (same orderId, customerId,
 *   items, currency) answers it with 202 and `order-existed: true`; a different request is 409 naming the
 *   fields that differ.
 * - `GET /orders/{id}` → the order.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { documentClient, dynamoDbClient } from '../shared/clients.ts';
import { requireEnv } from '../shared/env.ts';
import { idempotencyOptions } from '../shared/idempotency.ts';
import { beginInvocation, logger, setLogOrderId } from '../shared/logger.ts';
import {
  deriveOrderId,
  type FieldIssue,
  getOrder,
  OrderAlreadyExistsError,
  type OrderRequest,
  type OrderStore,
  type PlacedOrder,
  placeOrder,
  ULID_PATTERN,
  validateOrderRequest,
} from './order.ts';

/** Bodies larger than this are refused before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Idempotency-Key values: 1 to 255 visible ASCII characters. */
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Response header set (to `true`) when a POST repeated an existing order: nothing was written. */
export const ORDER_EXISTED_HEADER = 'order-existed';
/** The caller of a request that carries no IAM identity (a route without the IAM authorizer). */
export const ANONYMOUS_CALLER = 'anonymous';

/**
 * The SigV4 caller of a request, as the HTTP API's IAM authorizer reports it: `requestContext.authorizer.iam`'s
 * `userArn` (an IAM user, or `arn:aws:sts::<account>:assumed-role/<role>/<session>` for a role session), else
 * its account and caller id, else {@link ANONYMOUS_CALLER}. Idempotency keys are scoped to it. A role
 * session's name is part of it (two people on one role stay apart), so a client must keep its session name
 * across retries of one key.
 */
export function callerOf(event: APIGatewayProxyEventV2): string {
  const { authorizer } = event.requestContext as {
    authorizer?: { iam?: { userArn?: unknown; accountId?: unknown; callerId?: unknown } };
  };
  const iam = authorizer?.iam;
  if (typeof iam?.userArn === 'string' && iam.userArn !== '') return iam.userArn;
  if (typeof iam?.callerId === 'string' && iam.callerId !== '')
    return `${String(iam.accountId)}:${iam.callerId}`;
  return ANONYMOUS_CALLER;
}

const env = requireEnv('ORDERS_TABLE', 'IDEMPOTENCY_TABLE');
const store: OrderStore = { client: documentClient, table: env.ORDERS_TABLE };

const idempotency = idempotencyOptions({
  tableName: env.IDEMPOTENCY_TABLE,
  client: dynamoDbClient,
  // The same key with another body is a client bug: validate on the whole (normalised) request.
  payloadValidationJmesPath: 'request',
  keyPrefix: 'order.place',
});

/** What the idempotent placement hashes: the header's key, and the request it validates repeats against. */
interface IdempotentPlacement {
  /** The caller and the header's key (`["<caller>","<key>"]`): one caller's key never answers another's. */
  readonly idempotency_key: string;
  readonly request: OrderRequest;
}

const placeOrderIdempotently = makeIdempotent(
  (placement: IdempotentPlacement): Promise<PlacedOrder> => placeOrder(store, placement.request),
  idempotency,
);

function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

function badRequest(message: string, errors?: readonly FieldIssue[]): APIGatewayProxyStructuredResultV2 {
  return json(400, errors ? { message, errors } : { message });
}

/** The decoded body text, or an error response. */
function readBody(
  event: APIGatewayProxyEventV2,
): { text: string } | { response: APIGatewayProxyStructuredResultV2 } {
  const raw = event.body;
  if (raw === undefined || raw === null || raw === '') {
    return {
      response: badRequest(
        'Request body is empty; send a JSON order like {"customerId":"c1","items":[{"sku":"espresso-beans","qty":1}]}',
      ),
    };
  }
  // Check the size before decoding or parsing anything: base64 is 4/3 of the bytes it carries.
  const size = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw, 'utf8');
  if (size > MAX_BODY_BYTES) {
    return { response: badRequest(`Request body is ${size} bytes; the limit is ${MAX_BODY_BYTES} bytes`) };
  }
  return { text: event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw };
}

async function handlePost(
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const body = readBody(event);
  if ('response' in body) return body.response;
  let decoded: unknown;
  try {
    decoded = JSON.parse(body.text);
  } catch (error) {
    return badRequest(
      `Request body is not valid JSON (${(error as Error).message}); send a JSON object like ` +
        '{"customerId":"c1","items":[{"sku":"espresso-beans","qty":1}]}',
    );
  }
  const validation = validateOrderRequest(decoded);
  if (!validation.ok) {
    const summary = validation.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    logger.info('Order request refused', { issues: validation.issues });
    return badRequest(`Invalid order request: ${summary}`, validation.issues);
  }
  const idempotencyKey = event.headers?.['idempotency-key'];
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    return badRequest(
      `Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces), received ${JSON.stringify(idempotencyKey.slice(0, 80))}`,
    );
  }
  // With a key and no client-chosen id, the id comes from the caller and the key: a retry after a crash that
  // followed the commit (before Powertools stored the result) finds the same order instead of placing another.
  const request =
    idempotencyKey !== undefined && validation.request.orderId === undefined
      ? { ...validation.request, orderId: deriveOrderId(callerOf(event), idempotencyKey) }
      : validation.request;
  if (request.orderId) setLogOrderId(request.orderId);

  try {
    let placed: PlacedOrder;
    if (idempotencyKey === undefined) {
      placed = await placeOrder(store, request);
    } else {
      idempotency.config.registerLambdaContext(context);
      placed = await placeOrderIdempotently({
        idempotency_key: JSON.stringify([callerOf(event), idempotencyKey]),
        request,
      });
    }
    setLogOrderId(placed.orderId);
    const answer = { orderId: placed.orderId, status: placed.status };
    if (placed.existed) {
      logger.info('Order existed already; answered it', { idempotencyKey, status: placed.status });
      return json(202, answer, { [ORDER_EXISTED_HEADER]: 'true' });
    }
    logger.info('Order accepted', { idempotencyKey });
    return json(202, answer);
  } catch (error) {
    if (error instanceof OrderAlreadyExistsError) {
      logger.info('Order id taken by a different order; refused', { differences: error.differences });
      return json(409, { message: error.message, orderId: error.orderId, differences: error.differences });
    }
    if (error instanceof IdempotencyValidationError) {
      return json(422, {
        message:
          `Idempotency-Key '${idempotencyKey}' was already used with a different request body; nothing was ` +
          'written. Resend the original body to get the original response, or use a new key for a new order',
      });
    }
    if (error instanceof IdempotencyAlreadyInProgressError) {
      return json(
        409,
        {
          message: `A request with Idempotency-Key '${idempotencyKey}' is still being processed; retry in a moment`,
        },
        { 'retry-after': '1' },
      );
    }
    throw error;
  }
}

async function handleGet(orderId: string): Promise<APIGatewayProxyStructuredResultV2> {
  if (!ULID_PATTERN.test(orderId)) {
    return badRequest(
      `Order id must be a ULID (26 upper-case Crockford base32 characters), received ${JSON.stringify(orderId.slice(0, 80))}`,
    );
  }
  setLogOrderId(orderId);
  const order = await getOrder(store, orderId);
  if (!order) return json(404, { message: `No order ${orderId}` });
  return json(200, order);
}

/** `/orders` or `/orders/<id>`, also under a stage prefix (`/prod/orders/...`). */
const ROUTE_PATTERN = /\/orders(?:\/([^/]*))?\/?$/;

/** The HTTP API handler. */
export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  beginInvocation(context);
  const method = event.requestContext?.http?.method?.toUpperCase() ?? '';
  const match = ROUTE_PATTERN.exec(event.rawPath ?? '');
  const pathId =
    event.pathParameters?.id ?? (match?.[1] === undefined ? undefined : decodeURIComponent(match[1]));
  try {
    if (match && pathId === undefined) {
      if (method === 'POST') return await handlePost(event, context);
      return json(
        405,
        { message: `${method} /orders is not supported; use POST /orders` },
        { allow: 'POST' },
      );
    }
    if (match && pathId !== undefined) {
      if (method === 'GET') return await handleGet(pathId);
      return json(405, { message: `${method} /orders/{id} is not supported; use GET` }, { allow: 'GET' });
    }
    return json(404, {
      message: `No route for ${method} ${event.rawPath}; use POST /orders or GET /orders/{id}`,
    });
  } catch (error) {
    logger.error('Order request failed', { error });
    return json(500, {
      message: 'Internal error; the request may be retried',
      requestId: context.awsRequestId,
    });
  }
};
