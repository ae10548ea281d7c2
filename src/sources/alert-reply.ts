import { errorReply } from '../http/error-response';
import { scaleOutAnswerBody } from '../http/scale-out-answer';
import type { HttpReply } from '../http/webhook-request';
import type { IgnoredAlert } from '../rules/plan';
import type { ScaleOutOutcome } from './webhook-source';

/**
 * The answer for senders that retry only on 5xx (Alertmanager, Grafana): see docs/DESIGN.md,
 * "Answers per sender".
 *  - nothing to do (resolved, or no rule matched): 200, status "ignored": never a retry;
 *  - any scale-out failed in a way a retry may fix: its 5xx, so the sender retries the group (the
 *    scale-outs that did succeed replay, the failed ones run again with the same ClientToken);
 *  - otherwise 200 if anything was created or replayed, else the first refusal's 4xx (throttled 429,
 *    in flight 409, ...), which the sender takes as final: no retry loop, and the log line stays.
 */
export function alertDeliveryReply(outcomes: readonly ScaleOutOutcome[], ignored: readonly IgnoredAlert[]): HttpReply {
  const results = outcomes.map((o) => (o.ok ? scaleOutAnswerBody(o.status, o.answer, o.preview) : { eventId: o.request.eventId, ...(errorReply(o.error).body as object) }));
  if (outcomes.length === 0) return { status: 200, body: { status: 'ignored', ignored } };

  const failures = outcomes.filter((o): o is Extract<ScaleOutOutcome, { ok: false }> => !o.ok);
  const retryable = failures.filter((f) => f.error.status >= 500).sort((a, b) => b.error.status - a.error.status)[0];
  const decisive = retryable ?? (outcomes.some((o) => o.ok) ? undefined : failures[0]);
  const status = decisive === undefined ? 200 : decisive.error.status;
  const headers: Record<string, string> = {};
  if (decisive?.error.retryAfterSeconds !== undefined) headers['retry-after'] = String(decisive.error.retryAfterSeconds);
  const summary = decisive === undefined ? (failures.length === 0 ? 'ok' : 'partial') : decisive.error.code;
  return { status, headers, body: { status: summary, results, ...(ignored.length > 0 && { ignored }) } };
}
