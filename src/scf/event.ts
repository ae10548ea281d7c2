import { BadRequestError, PayloadTooLargeError } from '../errors';
import type { HttpAnswer, WebhookRequest } from '../http/webhook-request';
import { isJsonObject } from '../http/json-body';

/**
 * SCF delivers HTTP in two shapes (docs/PLATFORM.md): the Function URL event (the way forward)
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
  return isHttpEvent(event) && isJsonObject((event as { requestContext?: unknown }).requestContext);
}

function isHttpEvent(event: unknown): event is FunctionUrlEvent {
  if (!isJsonObject(event)) return false;
  const e = event as Partial<FunctionUrlEvent>;
  return typeof e.httpMethod === 'string' && typeof e.path === 'string';
}

/**
 * Reads either event shape into one WebhookRequest. Every field is checked for its type before it
 * is used, so input it cannot read (a `null` where an object belongs, a number where a string
 * belongs) is a 400 naming the field, never a crash and a 500 (which a sender would retry forever).
 */
export function toWebhookRequest(event: unknown, maxBodyBytes: number | ((path: string) => number)): WebhookRequest {
  if (!isHttpEvent(event)) {
    throw new BadRequestError('NotAnHttpEvent', 'the function was invoked without an SCF HTTP event (httpMethod and path are required strings)');
  }
  const raw = event as unknown as Record<string, unknown>;
  if (raw.requestContext !== undefined && !isJsonObject(raw.requestContext)) {
    throw invalidEvent('requestContext', 'an object');
  }
  if (raw.isBase64Encoded !== undefined && raw.isBase64Encoded !== null && typeof raw.isBase64Encoded !== 'boolean') {
    throw invalidEvent('isBase64Encoded', 'true or false');
  }
  const headers = lowerCaseHeaders(objectField(raw, 'headers'));
  // The limit may depend on the sender (alarm groups are larger than chat commands): by the path.
  const limit = typeof maxBodyBytes === 'number' ? maxBodyBytes : maxBodyBytes(event.path);
  const rawBody = decodeBody(raw.body, raw.isBase64Encoded === true, limit);
  if (isApiGatewayEvent(event)) {
    const sourceIp = (event.requestContext as Record<string, unknown>).sourceIp;
    return {
      method: event.httpMethod.toUpperCase(),
      path: event.path,
      headers,
      query: flattenQuery(objectField(raw, 'queryString') ?? objectField(raw, 'queryStringParameters'), 'queryString'),
      rawBody,
      ...(typeof sourceIp === 'string' && { sourceIp }),
    };
  }
  const remoteAddr = headers['x-scf-remote-addr'];
  return {
    method: event.httpMethod.toUpperCase(),
    path: event.path,
    headers,
    query: flattenQuery(objectField(raw, 'queryString'), 'queryString'),
    rawBody,
    ...(remoteAddr !== undefined && { sourceIp: remoteAddr }),
  };
}

export function toScfResponse(answer: HttpAnswer): ScfHttpResponse {
  return {
    isBase64Encoded: false,
    statusCode: answer.status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...answer.headers },
    body: JSON.stringify(answer.body),
  };
}

function invalidEvent(field: string, expected: string): BadRequestError {
  return new BadRequestError('InvalidEvent', `the SCF event's ${field} must be ${expected}`);
}

/** An optional object field of the event: absent or null reads as absent; anything else but an object is a 400. */
function objectField(event: Record<string, unknown>, field: string): Record<string, unknown> | undefined {
  const value = event[field];
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) throw invalidEvent(field, 'an object');
  return value;
}

function lowerCaseHeaders(raw: Record<string, unknown> | undefined): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' || typeof value === 'number') headers[name.toLowerCase()] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) headers[name.toLowerCase()] = value.join(', ');
    else throw invalidEvent(`headers.${name.slice(0, 64)}`, 'a string or a list of strings');
  }
  return headers;
}

/** API Gateway's queryString values may be a string, an array, or `true` for a bare `?flag`. */
function flattenQuery(raw: Record<string, unknown> | undefined, field: string): Record<string, string> {
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (value === undefined || value === null) continue;
    if (value === true) query[name] = '';
    else if (typeof value === 'string' || typeof value === 'number') query[name] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) query[name] = value[0] ?? '';
    else throw invalidEvent(`${field}.${name.slice(0, 64)}`, 'a string or a list of strings');
  }
  return query;
}

function decodeBody(body: unknown, isBase64: boolean, maxBodyBytes: number): Buffer {
  if (body === undefined || body === null || body === '') return Buffer.alloc(0);
  if (typeof body !== 'string') throw invalidEvent('body', 'a string');
  // Size is checked before decoding too: a huge body is refused without allocating its copy.
  const approxBytes = isBase64 ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body, 'utf8');
  if (approxBytes > maxBodyBytes + 3) throw new PayloadTooLargeError(approxBytes, maxBodyBytes);
  let bytes: Buffer;
  if (isBase64) {
    if (!isBase64Text(body)) throw new BadRequestError('InvalidBody', 'isBase64Encoded is true but the body is not base64');
    bytes = Buffer.from(body, 'base64');
  } else {
    bytes = Buffer.from(body, 'utf8');
  }
  if (bytes.length > maxBodyBytes) throw new PayloadTooLargeError(bytes.length, maxBodyBytes);
  return bytes;
}

/**
 * Base64 (standard alphabet, line breaks allowed, at most two `=` at the end, then only
 * whitespace), checked in one pass. A regular expression for this (`[A-Za-z0-9+/\r\n]*={0,2}\s*$`)
 * backtracks quadratically on a long run of line breaks that ends badly, and this runs before auth.
 */
export function isBase64Text(text: string): boolean {
  let i = 0;
  const n = text.length;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    const alphabet = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 10 || c === 13;
    if (!alphabet) break;
  }
  let padding = 0;
  while (i < n && text.charCodeAt(i) === 61 && padding < 2) {
    i++;
    padding++;
  }
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (!(c === 32 || (c >= 9 && c <= 13))) return false;
  }
  return true;
}
