import { createHash } from 'node:crypto';
import * as z from '../config/zod';
import { builtOnFirstUse } from '../config/zod';
import { basicAuthentication, noAuthentication, withSecret, type Authenticate } from '../auth/authenticators';
import { verifyQueryToken } from '../auth/query-token';
import type { RuleConfig } from '../config/load-config';
import type { TencentMonitorSourceConfig } from '../config/schema';
import { errorAnswer } from '../http/error-response';
import { parseJsonBody } from '../http/json-body';
import { scaleOutAnswerBody } from '../http/scale-out-answer';
import type { HttpAnswer, WebhookRequest } from '../http/webhook-request';
import type { Alert } from '../rules/alert';
import { planScaleOuts, type IgnoredAlert } from '../rules/plan';
import { dryRunIfAsked } from './alert-answer';
import { parseNumber } from '../rules/sizing';
import { invalidPayload } from './payload-error';
import type { ReleaseOutcome, ScaleOutOutcome, WebhookSource } from './webhook-source';

/**
 * Tencent Cloud Monitor's alarm callback (cloud.tencent.com/document/product/248/38209, "告警回调说明").
 * One alarm a request, JSON, unsigned; sent when a policy fires, when it recovers, and again on
 * repeats. Each push times out after 5 s and is tried at most 3 times; after the callback URL is
 * saved the console checks it once, wanting a 200 within 5 s (the check's shape is not documented).
 *
 * Two kinds: metric alarms (`alarmType: "metric"`: conditions name a metric) and event alarms
 * (`"event"`: conditions name a product and an event, and a dimension may hold a nested object,
 * `objDetail`). `alarmStatus` comes as "1"/"0" or 1/0; captured callbacks may lack
 * `alarmPolicyInfo.policyId` and `alarmObjInfo.namespace`.
 *
 * Event ID: `<rule>/<policyId or event or metric>/<object>/<firstOccurTime>`, the object being a
 * short digest of the alarm's dimensions (nested ones included, keys sorted). The docs call
 * sessionId a "session ID" without saying whether a repeat keeps it, so it is echoed in the answer
 * but not relied on; policy, object and first-occur time are the same on every repeat of one alarm
 * episode and differ for the next.
 */
// Built on first use (config/zod.ts): an instance builds only the schemas of the senders it hears from.
const callbackSchema = builtOnFirstUse(() => {
  const scalar = z.union([z.string(), z.number(), z.boolean()]);
  const dimensionValue = z.union([scalar, z.record(z.string(), z.unknown()), z.array(z.unknown()), z.null()]);
  const conditions = z.object({
    metricName: z.optional(z.string()),
    productName: z.optional(z.string()),
    eventName: z.optional(z.string()),
    currentValue: z.optional(scalar),
    calcValue: z.optional(scalar),
    calcType: z.optional(z.string()),
  });
  return z.object({
    sessionId: z.optional(z.string()),
    alarmStatus: z.union([z.literal('1'), z.literal('0'), z.literal(1), z.literal(0)], { error: 'must be 1 (alarm) or 0 (recovered), as a string or a number' }),
    alarmType: z.optional(z.string()),
    alarmObjInfo: z.object({
      region: z.optional(z.string()),
      namespace: z.optional(z.string()),
      dimensions: z._default(z.record(z.string(), dimensionValue), {}),
    }),
    alarmPolicyInfo: z.object({
      policyId: z.optional(z.string().check(z.minLength(1))),
      policyName: z.optional(z.string()),
      // An object in the documented samples; a list is taken too (its first entry), for policies
      // with several conditions.
      conditions: z._default(z.union([conditions, z.array(conditions)]), {}),
    }),
    // Seconds the alarm has lasted (a string for most metrics, a number in some samples); read if it can be.
    durationTime: z.optional(scalar),
    firstOccurTime: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/, 'must be a time such as 2026-11-25 07:00:00')),
  });
});

/** Well within Tencent Cloud Monitor's 5 s per push: TKE calls are cut here, as for chat. */
export const TENCENT_MONITOR_ANSWER_WITHIN_MS = 4000;

export function createTencentMonitorSource(config: TencentMonitorSourceConfig, rules: readonly RuleConfig[], env: NodeJS.ProcessEnv): WebhookSource {
  return {
    name: 'tencent-monitor',
    // The console's one-off check of a saved URL is undocumented: a GET is answered too.
    methods: ['POST', 'GET', 'HEAD'],
    answerWithinMs: TENCENT_MONITOR_ANSWER_WITHIN_MS,
    authenticate: tencentMonitorAuthenticator(config, env),
    interpret(request, now) {
      if (isUrlCheck(request)) return { kind: 'answer', answer: { status: 200, body: { retCode: 0, status: 'verified' } }, note: 'callback URL check' };
      const parsed = callbackSchema().safeParse(parseJsonBody(request));
      if (!parsed.success) throw invalidPayload('a Tencent Cloud Monitor alarm callback', parsed.error);
      return {
        kind: 'scale-out',
        ...dryRunIfAsked(request, planScaleOuts(rules, 'tencent-monitor', [alertOf(parsed.data)], now)),
        ...(parsed.data.sessionId !== undefined && { answerContext: { sessionId: parsed.data.sessionId } }),
      };
    },
    answer: tencentMonitorAnswer,
  };
}

/**
 * The console's check of a saved callback URL: authenticated already (the token is in the URL), and
 * carrying no alarm: a GET, an empty body, or JSON with none of an alarm's fields.
 */
function isUrlCheck(request: WebhookRequest): boolean {
  if (request.method !== 'POST') return true;
  if (request.rawBody.length === 0) return true;
  const body = request.rawBody.toString('utf8').trim();
  if (body === '' || body === '{}') return true;
  return false;
}

function alertOf(callback: z.infer<ReturnType<typeof callbackSchema>>): Alert {
  const { alarmObjInfo, alarmPolicyInfo } = callback;
  const conditions = Array.isArray(alarmPolicyInfo.conditions) ? (alarmPolicyInfo.conditions[0] ?? {}) : alarmPolicyInfo.conditions;
  // Scalar dimensions double as labels, so rules can match an instance or a cluster; nested ones
  // (an event's objDetail) count towards the object's identity only.
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(alarmObjInfo.dimensions)) if (typeof v !== 'object' || v === null) labels[k] = String(v);
  const object = createHash('sha256').update(stableJson(alarmObjInfo.dimensions)).digest('hex').slice(0, 12);
  const firstOccur = callback.firstOccurTime.replace(/\D/g, '').slice(0, 14);
  const policy = alarmPolicyInfo.policyId ?? conditions.eventName ?? conditions.metricName ?? 'no-policy';
  const lasted = seconds(callback.durationTime);
  const threshold = numeric(conditions.calcValue);
  const direction = directionOf(conditions.calcType);
  return {
    status: String(callback.alarmStatus) === '1' ? 'firing' : 'resolved',
    labels: { ...labels, ...(alarmPolicyInfo.policyName !== undefined && { policyName: alarmPolicyInfo.policyName }) },
    annotations: {},
    ...(alarmPolicyInfo.policyId !== undefined && { policyId: alarmPolicyInfo.policyId }),
    ...(conditions.metricName !== undefined && { metric: conditions.metricName }),
    ...(conditions.eventName !== undefined && { eventName: conditions.eventName }),
    ...(conditions.productName !== undefined && { product: conditions.productName }),
    ...(alarmObjInfo.namespace !== undefined && { namespace: alarmObjInfo.namespace }),
    episode: `${policy}/${object}/${firstOccur}`,
    startedAt: chinaTime(callback.firstOccurTime),
    ...(lasted !== undefined && { elapsedMs: lasted * 1000 }),
    ...(conditions.currentValue !== undefined && typeof conditions.currentValue !== 'boolean' && { values: { currentValue: conditions.currentValue } }),
    ...(threshold !== undefined && { threshold }),
    ...(direction !== undefined && { direction }),
  };
}

/**
 * firstOccurTime carries no zone ("2026-11-25 15:30:00"); Tencent Cloud Monitor's console and
 * samples show China Standard Time (UTC+8), which is how it is read. Only repeat periods of an
 * alarm without a readable durationTime depend on it.
 */
function chinaTime(text: string): number {
  const [date, time] = [text.slice(0, 10), text.slice(11, 19)];
  const ms = Date.parse(`${date}T${time}+08:00`);
  return Number.isNaN(ms) ? 0 : ms;
}

function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return typeof value === 'string' ? parseNumber(value) : undefined;
}

/** durationTime, in whole seconds of 0 or more. */
function seconds(value: unknown): number | undefined {
  const n = numeric(value);
  return n !== undefined && n >= 0 ? n : undefined;
}

/** calcType ">", ">=": the alarm fires above its threshold; "<", "<=": below it. */
function directionOf(calcType: string | undefined): 'above' | 'below' | undefined {
  if (calcType === '>' || calcType === '>=') return 'above';
  if (calcType === '<' || calcType === '<=') return 'below';
  return undefined;
}

/** JSON with object keys sorted at every depth: the same dimensions always digest the same. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * By its retry rule (docs/DESIGN.md): 3 tries, 5 s each. Only a failure a retry may fix gets a
 * 5xx; throttled, in flight, refused and ignored all get 200 with the outcome in the body, since
 * retrying them within 15 s cannot help. The log line is the record. A 200 carries
 * `{ sessionId, retCode: 0 }`, which an older version of the callback doc asks for.
 */
function tencentMonitorAnswer(outcomes: readonly ScaleOutOutcome[], ignored: readonly IgnoredAlert[], context?: Readonly<Record<string, unknown>>, releases: readonly ReleaseOutcome[] = []): HttpAnswer {
  const ok = { ...(typeof context?.sessionId === 'string' && { sessionId: context.sessionId }), retCode: 0 };
  // A scale-in rule's ask (a low alarm): queued, or why not; only a store failure is worth a retry.
  const release = releases[0];
  if (outcomes.length === 0 && release !== undefined) {
    if (!release.ok && release.error.status >= 500) return { status: release.error.status, body: { status: release.error.code } };
    return { status: 200, body: { ...ok, action: 'scale-in', status: release.ok ? release.status : release.error.code } };
  }
  if (outcomes.length === 0) return { status: 200, body: { ...ok, status: 'ignored', ignored } };
  const results = outcomes.map((o) => (o.ok ? scaleOutAnswerBody(o.status, o.answer, o.preview) : { eventId: o.request.eventId, ...(errorAnswer(o.error).body as object) }));
  const retryable = outcomes.find((o): o is Extract<ScaleOutOutcome, { ok: false }> => !o.ok && o.error.status >= 500);
  if (retryable !== undefined) return { status: retryable.error.status, body: { status: retryable.error.code, results } };
  const first = outcomes[0]!;
  return { status: 200, body: { ...ok, status: first.ok ? first.status : first.error.code === 'Throttled' ? 'throttled' : first.error.code, results } };
}

function tencentMonitorAuthenticator(config: TencentMonitorSourceConfig, env: NodeJS.ProcessEnv): Authenticate {
  const auth = config.auth;
  if (auth === 'none') return noAuthentication;
  if (auth.basic !== undefined) return basicAuthentication('tencent-monitor', auth.basic, env);
  const { tokenEnv, param } = auth.queryToken!;
  return withSecret('tencent-monitor', tokenEnv, env, (request, _now, token) => verifyQueryToken(request.query, param, token));
}
