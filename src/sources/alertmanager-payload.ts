import * as z from '../config/zod';
import { builtOnFirstUse } from '../config/zod';
import { parseJsonBody } from '../http/json-body';
import type { WebhookRequest } from '../http/webhook-request';
import type { Alert } from '../rules/alert';
import type { RuleConfig } from '../config/load-config';
import type { AlertSourceName } from '../config/schema';
import { planScaleOuts } from '../rules/plan';
import { dryRunIfAsked } from './alert-answer';
import { alertDeliveryAnswer } from './alert-answer';
import { invalidPayload } from './payload-error';
import type { WebhookSource } from './webhook-source';

/**
 * The Alertmanager webhook payload (version "4"), which Grafana's webhook contact point also sends,
 * with fields of its own on top. Only what we use is required; other fields are ignored so that a
 * newer Alertmanager or Grafana adding fields keeps working.
 * Source: prometheus/alertmanager notify/webhook (Message) and template.Data.
 */
// Built on first use (config/zod.ts): an instance builds only the schemas of the senders it hears from.
const alertmanagerPayloadSchema = builtOnFirstUse(() => {
  const labelSet = z.record(z.string(), z.string());
  const alert = z.object({
    status: z.enum(['firing', 'resolved'], { error: 'must be "firing" or "resolved"' }),
    labels: labelSet,
    annotations: z._default(labelSet, {}),
    // Grafana only: each query's value by refId (grafana/alerting: ExtendedAlert.Values).
    values: z.catch(z.optional(z.record(z.string(), z.union([z.number(), z.null()]))), undefined),
    startsAt: z.string().check(z.refine((v) => !Number.isNaN(Date.parse(v)), 'must be an RFC 3339 time')),
    fingerprint: z.string().check(z.regex(/^[0-9a-f]{1,32}$/i, 'must be the alert fingerprint (hex)')),
  });
  return z.object({
    version: z.optional(z.string()),
    status: z.optional(z.enum(['firing', 'resolved'])),
    receiver: z.optional(z.string()),
    groupKey: z.optional(z.string()),
    // No cap on the number: Alertmanager's max_alerts defaults to 0, no limit (notify/webhook:
    // truncateAlerts only when maxAlerts != 0); the body limit bounds it, and parsing is linear.
    alerts: z.array(alert, { error: 'is required: the list of alerts' }),
  });
});

/** Parses the body as an Alertmanager-format payload into rule-ready alerts; 400 naming what is missing. */
export function alertsFromAlertmanagerPayload(request: WebhookRequest, sender: string): { alerts: Alert[] } {
  const parsed = alertmanagerPayloadSchema().safeParse(parseJsonBody(request));
  if (!parsed.success) throw invalidPayload(`the ${sender} webhook payload`, parsed.error);
  const alerts = parsed.data.alerts.map((a): Alert => {
    const startedAt = Date.parse(a.startsAt);
    return {
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      // fingerprint + startsAt: stable across Alertmanager's retries and repeats, new when the same
      // alert fires again (a new startsAt).
      episode: `${a.fingerprint.toLowerCase()}/${Math.floor(startedAt / 1000)}`,
      startedAt,
      ...(a.values != null && { values: numbersOf(a.values) }),
    };
  });
  return { alerts };
}

/**
 * A sender of Alertmanager-format groups (Alertmanager itself, Grafana): parse, plan with the
 * rules, answer by their shared retry rules (alert-answer.ts). Each sender adds its own auth and
 * whatever else differs.
 */
export function alarmGroupSource(
  name: AlertSourceName,
  label: string,
  rules: readonly RuleConfig[],
  own: Pick<WebhookSource, 'authenticate'> & Partial<Pick<WebhookSource, 'maxTkeAttempts'>>,
): WebhookSource {
  return {
    name,
    ...own,
    interpret(request, now) {
      const { alerts } = alertsFromAlertmanagerPayload(request, label);
      return { kind: 'scale-out', ...dryRunIfAsked(request, planScaleOuts(rules, name, alerts, now)) };
    },
    answer: alertDeliveryAnswer,
  };
}

/** Only finite numbers: Grafana writes null for a query with no value. */
function numbersOf(values: Readonly<Record<string, number | null>>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));
}
