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

/** The same rules for JSON that arrives inside a body (a decrypted event). */
export function parseJsonText(text: string): unknown {
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
