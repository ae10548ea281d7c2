import { BadRequestError, UnsupportedMediaTypeError } from '../errors';
import type { WebhookRequest } from './webhook-request';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses a JSON body for any sender. Refuses keys that could reach an object's prototype
 * (`__proto__`, `constructor`, `prototype`) at any depth, naming where: nothing downstream should
 * have to think about them.
 */
export function parseJsonBody(request: WebhookRequest): unknown {
  const contentType = request.headers['content-type'];
  if (contentType === undefined || !/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new UnsupportedMediaTypeError(contentType, 'application/json');
  }
  if (request.rawBody.length === 0) throw new BadRequestError('EmptyBody', 'body is empty; expected a JSON object');
  return parseJsonText(request.rawBody.toString('utf8'));
}

/** A JSON object: neither null nor an array (what every payload, event and job is at its top). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How deep a webhook payload may nest. Real ones are a few levels (an Alertmanager group: 4; a
 * Tencent Cloud Monitor event alarm's objDetail: 5); anything deeper is refused before parsing, so
 * no recursive step after it (the prototype-key walk, the sender's schema, a digest of the
 * dimensions) can run out of stack on input.
 */
export const MAX_JSON_DEPTH = 64;

/** The same rules for JSON that arrives inside a body (a decrypted event). */
export function parseJsonText(text: string): unknown {
  if (nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new BadRequestError('InvalidJson', `body is nested deeper than ${MAX_JSON_DEPTH} levels, more than any webhook payload`);
  }
  try {
    return JSON.parse(text, function rejectPrototypeKeys(key: string, value: unknown) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new BadRequestError('ForbiddenKey', `key ${JSON.stringify(key)} is not allowed anywhere in the body`);
      }
      return value;
    });
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    // The prototype-key check walks the parsed value recursively: a body nested deeper than the
    // stack allows ends here, as bad input, not as a crash.
    if (error instanceof RangeError) throw new BadRequestError('InvalidJson', 'body is nested too deeply to be a webhook payload');
    throw new BadRequestError('InvalidJson', `body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The deepest nesting of objects and arrays in a JSON text, in one pass (strings skipped). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > deepest) deepest = depth;
      if (deepest > MAX_JSON_DEPTH) return deepest; // enough to refuse
    } else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}
