import { errorAnswer } from '../http/error-response';
import { scaleOutAnswerBody } from '../http/scale-out-answer';
import type { HttpAnswer, WebhookRequest } from '../http/webhook-request';
import type { ScaleOutRequest } from '../core/scale-out-request';
import type { ReleaseRequest } from '../core/release';
import type { IgnoredAlert } from '../rules/plan';
import type { ReleaseOutcome, ScaleOutOutcome } from './webhook-source';

/**
 * The answer for the alarm senders of Alertmanager's pipeline (Alertmanager, Grafana): see
 * docs/DESIGN.md, "Answers per sender". Both re-send a group whose notification failed (any
 * non-2xx) at its next group_interval, since a failed send is not written to the notification log
 * (prometheus/alertmanager notify/notify.go); within one flush Alertmanager also retries a 5xx with
 * backoff (notify/webhook: "5xx response codes are assumed to be recoverable"), Grafana never does.
 *  - nothing to do (resolved, or no rule matched): 200, status "ignored": never sent again;
 *  - any scale-out failed in a way a retry may fix: its 5xx (the scale-outs that did succeed
 *    replay on the re-send, the failed ones run again with the same ClientToken);
 *  - otherwise 200 if anything was created or replayed, else the first refusal's 4xx (throttled
 *    429, in flight 409, ...): no retry within the flush; the group comes back at group_interval
 *    and is judged afresh (a cooldown over by then lets it through; an in-flight event replays).
 */
export function alertDeliveryAnswer(outcomes: readonly ScaleOutOutcome[], ignored: readonly IgnoredAlert[], _context?: unknown, releases: readonly ReleaseOutcome[] = []): HttpAnswer {
  const results = [
    ...outcomes.map((o) => (o.ok ? scaleOutAnswerBody(o.status, o.answer, o.preview) : { eventId: o.request.eventId, ...(errorAnswer(o.error).body as object) })),
    // A scale-in rule's ask: queued for the pass (or what a dry run would do), or why not.
    ...releases.map((r) => (r.ok ? { eventId: r.request.eventId, action: 'scale-in', status: r.status, cluster: r.request.cluster, count: r.request.count, ...(r.status === 'dry-run' && r.plan) } : { eventId: r.request.eventId, action: 'scale-in', ...(errorAnswer(r.error).body as object) })),
  ];
  if (outcomes.length === 0 && releases.length === 0) return { status: 200, body: { status: 'ignored', ignored } };

  // A scale-in refused for a reason a retry may fix (the store) counts like a scale-out's.
  const failures = [...outcomes.filter((o): o is Extract<ScaleOutOutcome, { ok: false }> => !o.ok), ...releases.filter((r): r is Extract<ReleaseOutcome, { ok: false }> => !r.ok)];
  const retryable = failures.filter((f) => f.error.status >= 500).sort((a, b) => b.error.status - a.error.status)[0];
  const decisive = retryable ?? (outcomes.some((o) => o.ok) || releases.some((r) => r.ok) ? undefined : failures[0]);
  const status = decisive === undefined ? 200 : decisive.error.status;
  const headers: Record<string, string> = {};
  if (decisive?.error.retryAfterSeconds !== undefined) headers['retry-after'] = String(decisive.error.retryAfterSeconds);
  const summary = decisive === undefined ? (failures.length === 0 ? 'ok' : 'partial') : decisive.error.code;
  return { status, headers, body: { status: summary, results, ...(ignored.length > 0 && { ignored }) } };
}

/**
 * `?dryRun=true` on an alarm sender's URL: the delivery is planned as usual (rules, counts, steps,
 * repeat periods) and every scale-out is resolved and rendered without being sent or recorded,
 * so an operator can replay a sample payload and see which step a value takes.
 */
export function dryRunIfAsked<P extends { readonly requests: readonly ScaleOutRequest[]; readonly releases?: readonly ReleaseRequest[] }>(request: WebhookRequest, plan: P): P {
  const asked = request.query.dryRun ?? request.query.dryrun;
  if (asked !== 'true' && asked !== '1') return plan;
  return { ...plan, requests: plan.requests.map((r) => ({ ...r, dryRun: true })), ...(plan.releases !== undefined && { releases: plan.releases.map((r) => ({ ...r, dryRun: true })) }) };
}
