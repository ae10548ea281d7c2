import middy from '@middy/core';
import type { Logger } from './log/logger';
import { errorAnswer } from './http/error-response';
import { toScfResponse, type ScfHttpEvent, type ScfHttpResponse } from './scf/event';
import { decisionLog } from './scf/decision-log';
import type { InvocationContext } from './scf/invocation-context';
import { remainingMs, scfHttpRequest } from './scf/http-request';
import { isFollowUpEvent, type FollowUpJob } from './sources/chat/follow-up';
import { isTimerEvent, type TimerEvent } from './scf/timer-event';
import { ALERT_SOURCES } from './config/alert-sources';
import { hookSourceOf } from './http/routes';
import type { ScaleOutApp } from './scale-out-app';

/**
 * SCF's entry point. Typed for the HTTP events a Function URL (or API Gateway) delivers; it also
 * takes the follow-up jobs this function sends itself (sources/chat/follow-up.ts), which only SCF's
 * asynchronous `Invoke` delivers.
 */
export type ScfHandler = (event: ScfHttpEvent, context: object) => Promise<ScfHttpResponse>;

/**
 * The SCF entry point around the app, as a middy chain. Order matters: `after` and `onError` run in
 * reverse, so the decision log (first) sees the status the error middleware (second) chose, and the
 * event reader (third) runs before the handler and turns an unreadable event into a 400.
 */
export function createHandler(app: ScaleOutApp, logger: Logger): ScfHandler {
  const handler = middy<ScfHttpEvent, ScfHttpResponse, Error, InvocationContext>()
    .use(decisionLog(logger, app.now))
    // Any error that reaches here becomes the answer http/error-response.ts maps it to: the one
    // place errors become HTTP.
    .use({ onError: function answerError(request) { request.response = toScfResponse(errorAnswer(request.error)); } })
    .use(
      scfHttpRequest({
        maxBodyBytes: (path) => {
          const source = hookSourceOf(path);
          return source !== undefined && (ALERT_SOURCES as readonly string[]).includes(source) ? app.config.limits.maxAlarmBodyBytes : app.config.limits.maxBodyBytes;
        },
        now: app.now,
        fallbackDeadlineMs: app.config.tke.fallbackDeadlineMs,
      }),
    )
    .handler(async function scaleOutHandler(_event, context) {
      const handled = await app.handle(context.webhook, { deadline: context.deadline, timeoutAt: context.timeoutAt });
      context.decision = handled.decision;
      return toScfResponse(handled.answer);
    });
  const httpHandler = handler as unknown as ScfHandler;

  // An asynchronous invocation of this function by itself (sources/chat/follow-up.ts) carries a job, not an
  // HTTP event: it gets the function's whole time, one log line, and nothing to answer.
  return async function mainHandler(event: ScfHttpEvent | FollowUpJob | TimerEvent, context: object) {
    // The timer trigger: one pass following what the function bought, one log line.
    if (isTimerEvent(event)) {
      const startedAt = app.now();
      const timeoutAt = startedAt + remainingMs(context as Partial<InvocationContext>, app.config.tke.fallbackDeadlineMs);
      const report = await app.followPurchases({ deadline: timeoutAt - FOLLOW_UP_MARGIN_MS, timeoutAt });
      const requestId = (context as { request_id?: unknown }).request_id;
      const line = { trigger: event.TriggerName, ...report, durationMs: app.now() - startedAt, ...(typeof requestId === 'string' && { invocationId: requestId }) };
      if (report.outcome === 'failed') logger.error(line, 'purchase pass');
      else logger.info(line, 'purchase pass');
      return { isBase64Encoded: false, statusCode: 200, headers: {}, body: JSON.stringify({ outcome: report.outcome }) };
    }
    if (!isFollowUpEvent(event)) return httpHandler(event as ScfHttpEvent, context);
    const startedAt = app.now();
    const timeoutAt = startedAt + remainingMs(context as Partial<InvocationContext>, app.config.tke.fallbackDeadlineMs);
    const decision = await app.followUp(event, { deadline: timeoutAt - FOLLOW_UP_MARGIN_MS, timeoutAt });
    const requestId = (context as { request_id?: unknown }).request_id;
    const line = { ...decision, durationMs: app.now() - startedAt, ...(typeof requestId === 'string' && { invocationId: requestId }) };
    if (decision.outcome === 'failed') logger.error(line, 'scale-out decision');
    else logger.info(line, 'scale-out decision');
    return { isBase64Encoded: false, statusCode: 200, headers: {}, body: JSON.stringify({ outcome: decision.outcome }) };
  };
}

/** Kept free at the end of a follow-up for posting the reply and writing the record. */
const FOLLOW_UP_MARGIN_MS = 3500;
