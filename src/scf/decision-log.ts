import type { MiddlewareObj } from '@middy/core';
import type { Logger } from '../log/logger';
import { describeError } from '../log/describe-error';
import type { ScfHttpEvent, ScfHttpResponse } from './event';
import type { InvocationContext } from './invocation-context';

/**
 * Exactly one structured log line per request, whatever happened: what was asked, what was decided,
 * what TKE said. Registered first so that it runs last, after the error middleware has set the
 * status. Fields are chosen, never dumped: no header, body or secret reaches the log.
 */
export function decisionLog(
  logger: Logger,
  now: () => number,
): MiddlewareObj<ScfHttpEvent, ScfHttpResponse, Error, InvocationContext> {
  return {
    before: function decisionLogBefore(request) {
      request.context.startedAt = now();
      request.context.decision = {};
    },
    after: function decisionLogAfter(request) {
      write(logger, request.context, request.response?.statusCode ?? 0, undefined, now);
    },
    onError: function decisionLogOnError(request) {
      write(logger, request.context, request.response?.statusCode ?? 500, request.error ?? undefined, now);
    },
  };
}

function write(logger: Logger, context: InvocationContext, status: number, error: Error | undefined, now: () => number): void {
  const decision = context.decision ?? {};
  if (decision.outcome === 'health' && error === undefined) return; // probes are not decisions
  const outcome = decision.outcome ?? (status >= 500 ? 'failed' : 'rejected');
  const line = {
    ...decision,
    outcome,
    status,
    durationMs: now() - context.startedAt,
    ...(context.request_id !== undefined && { invocationId: context.request_id }),
    ...(context.webhook !== undefined && { path: context.webhook.path, sourceIp: context.webhook.sourceIp }),
    ...(error !== undefined && { error: describeError(error, status) }),
  };
  if (status >= 500) logger.error(line, 'scale-out decision');
  else if (status >= 400) logger.warn(line, 'scale-out decision');
  else logger.info(line, 'scale-out decision');
}
