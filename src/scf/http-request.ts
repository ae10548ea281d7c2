import type { MiddlewareObj } from '@middy/core';
import { toWebhookRequest, type ScfHttpEvent, type ScfHttpResponse } from './event';
import type { InvocationContext } from './invocation-context';

export interface ScfHttpRequestOptions {
  /** By the request's path: alarm senders send larger bodies than chat commands. */
  readonly maxBodyBytes: number | ((path: string) => number);
  readonly now: () => number;
  /** Used when the context does not say how long the function has. */
  readonly fallbackDeadlineMs: number;
  /** Kept free at the end for writing the record and answering. */
  readonly answerMarginMs?: number;
}

/**
 * Reads the SCF event (either shape) into `context.webhook` and fixes this invocation's deadline in
 * `context.deadline` / `context.timeoutAt`. Runs first, so even a malformed event reaches the error middleware as a 400.
 */
export function scfHttpRequest(options: ScfHttpRequestOptions): MiddlewareObj<ScfHttpEvent, ScfHttpResponse, Error, InvocationContext> {
  const margin = options.answerMarginMs ?? 300;
  return {
    before: function scfHttpRequestBefore(request) {
      request.context.timeoutAt = request.context.startedAt + remainingMs(request.context, options.fallbackDeadlineMs);
      request.context.deadline = request.context.timeoutAt - margin;
      request.context.webhook = toWebhookRequest(request.event, options.maxBodyBytes);
    },
  };
}

/** How long this invocation has left: what the runtime reports, else SCF's timeout, else the config's fallback. */
export function remainingMs(context: Partial<InvocationContext>, fallbackMs: number): number {
  if (typeof context.getRemainingTimeInMillis === 'function') return context.getRemainingTimeInMillis();
  if (typeof context.time_limit_in_ms === 'number' && context.time_limit_in_ms > 0) return context.time_limit_in_ms;
  return fallbackMs;
}
