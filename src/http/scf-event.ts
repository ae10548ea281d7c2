import { BadRequestError, PayloadTooLargeError } from '../errors';
import type { HttpReply, WebhookRequest } from './webhook-request';

/**
 * SCF delivers HTTP in two shapes (platform-facts.md): the Function URL event (the way forward)
 * and the API Gateway event (retired for new triggers since 2024-07-01; existing ones still send it).
 * As in hono's Lambda adapter, one reader per shape, chosen by a type guard in one place.
 */
type QueryValue = string | string[] | true | undefined;

export interface FunctionUrlEvent {
  httpMethod: string;
  path: string;
  headers?: Record<string, string | string[] | undefined>;
  queryString?: Record<string, QueryValue>;
  body?: string | null;
  isBase64Encoded?: boolean;
}

export interface ApiGatewayEvent extends FunctionUrlEvent {
  requestContext: {
    serviceId?: string;
    path?: string;
    httpMethod?: string;
    requestId?: string;
    sourceIp?: string;
    stage?: string;
    identity?: Record<string, unknown>;
  };
  queryStringParameters?: Record<string, QueryValue> | null;
  headerParameters?: Record<string, string>;
  pathParameters?: Record<string, string>;
  stageVariables?: Record<string, string>;
}

export type ScfHttpEvent = FunctionUrlEvent | ApiGatewayEvent;

/** SCF's integration response; anything else through API Gateway becomes a 403 "Invalid scf response format". */
export interface ScfHttpResponse {
  isBase64Encoded: false;
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export function isApiGatewayEvent(event: unknown): event is ApiGatewayEvent {
  return isHttpEvent(event) && typeof (event as { requestContext?: unknown }).requestContext === 'object';
}

function isHttpEvent(event: unknown): event is FunctionUrlEvent {
  if (typeof event !== 'object' || event === null) return false;
  const e = event as Partial<FunctionUrlEvent>;
  return typeof e.httpMethod === 'string' && typeof e.path === 'string';
}

/** Reads either event shape into one WebhookRequest. Input it cannot read is a 400, never a crash. */
export function toWebhookRequest(event: unknown, maxBodyBytes: number): WebhookRequest {
  if (!isHttpEvent(event)) {
    throw new BadRequestError('NotAnHttpEvent', 'the function was invoked without an SCF HTTP event (httpMethod and path are required)');
  }
  const headers = lowerCaseHeaders(event.headers);
  const rawBody = decodeBody(event.body, event.isBase64Encoded === true, maxBodyBytes);
  if (isApiGatewayEvent(event)) {
    return {
      method: event.httpMethod.toUpperCase(),
      path: event.path,
      headers,
      query: flattenQuery(event.queryString ?? event.queryStringParameters ?? undefined),
      rawBody,
      ...(event.requestContext.sourceIp !== undefined && { sourceIp: event.requestContext.sourceIp }),
    };
  }
  const remoteAddr = headers['x-scf-remote-addr'];
  return {
    method: event.httpMethod.toUpperCase(),
    path: event.path,
    headers,
    query: flattenQuery(event.queryString),
    rawBody,
    ...(remoteAddr !== undefined && { sourceIp: remoteAddr }),
  };
}

export function toScfResponse(reply: HttpReply): ScfHttpResponse {
  return {
    isBase64Encoded: false,
    statusCode: reply.status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...reply.headers },
    body: JSON.stringify(reply.body),
  };
}

function lowerCaseHeaders(raw: FunctionUrlEvent['headers']): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

/** API Gateway's queryString values may be a string, an array, or `true` for a bare `?flag`. */
function flattenQuery(raw: Record<string, QueryValue> | undefined): Record<string, string> {
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined) continue;
    query[name] = value === true ? '' : Array.isArray(value) ? (value[0] ?? '') : String(value);
  }
  return query;
}

function decodeBody(body: string | null | undefined, isBase64: boolean, maxBodyBytes: number): Buffer {
  if (body === undefined || body === null || body === '') return Buffer.alloc(0);
  if (typeof body !== 'string') throw new BadRequestError('InvalidBody', 'the event body must be a string');
  // Size is checked before decoding too: a huge body is refused without allocating its copy.
  const approxBytes = isBase64 ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body, 'utf8');
  if (approxBytes > maxBodyBytes + 3) throw new PayloadTooLargeError(approxBytes, maxBodyBytes);
  let bytes: Buffer;
  if (isBase64) {
    if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(body)) throw new BadRequestError('InvalidBody', 'isBase64Encoded is true but the body is not base64');
    bytes = Buffer.from(body, 'base64');
  } else {
    bytes = Buffer.from(body, 'utf8');
  }
  if (bytes.length > maxBodyBytes) throw new PayloadTooLargeError(bytes.length, maxBodyBytes);
  return bytes;
}
