import { createHash } from 'node:crypto';
import * as z from 'zod';
import { basicAuthentication, noAuthentication, withSecret, type Authenticate } from '../auth/authenticators';
import { verifyQueryToken } from '../auth/query-token';
import type { RuleConfig } from '../config/load-config';
import type { TencentMonitorSourceConfig } from '../config/schema';
import { errorReply } from '../http/error-response';
import { parseJsonBody } from '../http/json-body';
import { scaleOutAnswerBody } from '../http/scale-out-answer';
import type { HttpReply } from '../http/webhook-request';
import type { Alert } from '../rules/alert';
import { planScaleOuts, type IgnoredAlert } from '../rules/plan';
import { invalidPayload } from './payload-error';
import type { ScaleOutOutcome, WebhookSource } from './webhook-source';

/**
 * Tencent Cloud Monitor's alarm callback (cloud.tencent.com/document/product/248/9066). One alarm a
 * request, JSON, unsigned; sent when a policy fires, when it recovers, and again on repeats. It
 * retries a failed or slow (> 5 s) callback up to 3 times.
 *
 * Event ID: `<rule>/<policyId>/<object>/<firstOccurTime>`, the object being a short digest of the
 * alarm's dimensions. The docs call sessionId a "session ID" without saying whether a repeat of the
 * same alarm keeps it, so it is logged but not relied on; policy, object and first-occur time are
 * the same on every repeat of one alarm episode and differ for the next.
 */
const scalar = z.union([z.string(), z.number()]);

const callbackSchema = z.object({
  sessionId: z.string().optional(),
  alarmStatus: z.union([z.literal('1'), z.literal('0'), z.literal(1), z.literal(0)], { error: 'must be 1 (alarm) or 0 (recovered)' }),
  alarmType: z.string().optional(),
  alarmObjInfo: z.object({
    region: z.string().optional(),
    namespace: z.string().optional(),
    dimensions: z.record(z.string(), scalar).default({}),
  }),
  alarmPolicyInfo: z.object({
    policyId: z.string().min(1),
    policyName: z.string().optional(),
    conditions: z
      .object({ metricName: z.string().optional(), eventName: z.string().optional(), currentValue: scalar.optional() })
      .default({}),
  }),
  firstOccurTime: z.string().regex(/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/, 'must be a time such as 2026-11-25 07:00:00'),
});

export function createTencentMonitorSource(config: TencentMonitorSourceConfig, rules: readonly RuleConfig[], env: NodeJS.ProcessEnv): WebhookSource {
  return {
    name: 'tencent-monitor',
    authenticate: tencentMonitorAuthenticator(config, env),
    interpret(request) {
      const parsed = callbackSchema.safeParse(parseJsonBody(request));
      if (!parsed.success) throw invalidPayload('a Tencent Cloud Monitor alarm callback', parsed.error);
      return { kind: 'scale-out', ...planScaleOuts(rules, 'tencent-monitor', [alertOf(parsed.data)]) };
    },
    reply: tencentMonitorReply,
  };
}

function alertOf(callback: z.infer<typeof callbackSchema>): Alert {
  const { alarmObjInfo, alarmPolicyInfo } = callback;
  const dimensions = Object.fromEntries(Object.entries(alarmObjInfo.dimensions).map(([k, v]) => [k, String(v)]));
  const object = createHash('sha256').update(JSON.stringify(Object.entries(dimensions).sort())).digest('hex').slice(0, 12);
  const firstOccur = callback.firstOccurTime.replace(/\D/g, '').slice(0, 14);
  const metric = alarmPolicyInfo.conditions.metricName ?? alarmPolicyInfo.conditions.eventName;
  return {
    status: String(callback.alarmStatus) === '1' ? 'firing' : 'resolved',
    // Dimensions double as labels, so rules can match an instance or a cluster.
    labels: { ...dimensions, ...(alarmPolicyInfo.policyName !== undefined && { policyName: alarmPolicyInfo.policyName }) },
    annotations: {},
    policyId: alarmPolicyInfo.policyId,
    ...(metric !== undefined && { metric }),
    ...(alarmObjInfo.namespace !== undefined && { namespace: alarmObjInfo.namespace }),
    episode: `${alarmPolicyInfo.policyId}/${object}/${firstOccur}`,
    startedAt: Number(firstOccur) || 0,
  };
}

/**
 * By its retry rule (docs/DESIGN.md): 3 tries, 5 s apart. Only a failure a retry may fix gets a
 * 5xx; throttled, in flight, refused and ignored all get 200 with the outcome in the body, since
 * retrying them within 15 s cannot help. The log line is the record.
 */
function tencentMonitorReply(outcomes: readonly ScaleOutOutcome[], ignored: readonly IgnoredAlert[]): HttpReply {
  if (outcomes.length === 0) return { status: 200, body: { status: 'ignored', ignored } };
  const results = outcomes.map((o) => (o.ok ? scaleOutAnswerBody(o.status, o.answer, o.preview) : { eventId: o.request.eventId, ...(errorReply(o.error).body as object) }));
  const retryable = outcomes.find((o): o is Extract<ScaleOutOutcome, { ok: false }> => !o.ok && o.error.status >= 500);
  if (retryable !== undefined) return { status: retryable.error.status, body: { status: retryable.error.code, results } };
  const first = outcomes[0]!;
  return { status: 200, body: { status: first.ok ? first.status : first.error.code === 'Throttled' ? 'throttled' : first.error.code, results } };
}

function tencentMonitorAuthenticator(config: TencentMonitorSourceConfig, env: NodeJS.ProcessEnv): Authenticate {
  const auth = config.auth;
  if (auth === 'none') return noAuthentication;
  if (auth.basic !== undefined) return basicAuthentication('tencent-monitor', auth.basic, env);
  const { tokenEnv, param } = auth.queryToken!;
  return withSecret('tencent-monitor', tokenEnv, env, (request, _now, token) => verifyQueryToken(request.query, param, token));
}
