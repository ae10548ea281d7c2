import middy from '@middy/core';
import type { Logger } from './log/logger';
import { toScfResponse, type ScfHttpEvent, type ScfHttpResponse } from './http/scf-event';
import { decisionLog } from './middleware/decision-log';
import { httpErrorResponse } from './middleware/http-error-response';
import type { InvocationContext } from './middleware/invocation-context';
import { scfHttpRequest } from './middleware/scf-http-request';
import type { ScaleOutApp } from './scale-out-app';

export type ScfHandler = (event: ScfHttpEvent, context: object) => Promise<ScfHttpResponse>;

/**
 * The SCF entry point around the app, as a middy chain. Order matters: `after` and `onError` run in
 * reverse, so the decision log (first) sees the status the error middleware (second) chose, and the
 * event reader (third) runs before the handler and turns an unreadable event into a 400.
 */
export function createHandler(app: ScaleOutApp, logger: Logger): ScfHandler {
  const handler = middy<ScfHttpEvent, ScfHttpResponse, Error, InvocationContext>()
    .use(decisionLog(logger, app.now))
    .use(httpErrorResponse())
    .use(
      scfHttpRequest({
        maxBodyBytes: app.config.limits.maxBodyBytes,
        now: app.now,
        fallbackDeadlineMs: app.config.tke.fallbackDeadlineMs,
      }),
    )
    .handler(async function scaleOutHandler(_event, context) {
      const handled = await app.handle(context.webhook, { deadline: context.deadline, timeoutAt: context.timeoutAt });
      context.decision = handled.decision;
      return toScfResponse(handled.reply);
    });
  return handler as unknown as ScfHandler;
}
