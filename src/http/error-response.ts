import { MethodNotAllowedError, ScaleOutError } from '../errors';
import type { HttpAnswer } from './webhook-request';

/**
 * The one place an error becomes an HTTP answer: `{ error: { code, message, ... } }` with the
 * error's status. Anything that is not a ScaleOutError is a bug of ours: a 500 with a generic body
 * (the log line has the details), never a stack or an internal message.
 */
export function errorAnswer(error: unknown): HttpAnswer {
  if (error instanceof ScaleOutError) {
    const headers: Record<string, string> = {};
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
    if (error instanceof MethodNotAllowedError) headers.allow = error.allow.join(', ');
    return {
      status: error.status,
      headers,
      body: {
        error: {
          code: error.code,
          message: error.expose ? error.message : 'the function could not handle this request',
          ...(error.retryAfterSeconds !== undefined && { retryAfterSeconds: error.retryAfterSeconds }),
          ...error.details,
        },
      },
    };
  }
  if (error instanceof Error && error.name === 'TimeoutError') {
    // middy's own guard, just before SCF would kill the invocation: our deadline should have
    // answered first, but if not, this is a timeout, not a bug.
    return { status: 504, body: { error: { code: 'FunctionTimeout', message: 'the function ran out of time' } } };
  }
  return { status: 500, body: { error: { code: 'InternalError', message: 'the function failed; see its log' } } };
}
