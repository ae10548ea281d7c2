import { bearerAuthentication, noAuthentication, withSecret, type Authenticate } from '../auth/authenticators';
import { verifyGrafanaSignature } from '../auth/grafana-hmac';
import type { RuleConfig } from '../config/load-config';
import type { GrafanaSourceConfig } from '../config/schema';
import { planScaleOuts } from '../rules/plan';
import { alertDeliveryReply } from './alert-reply';
import { alertsFromAlertmanagerPayload } from './alertmanager-payload';
import type { WebhookSource } from './webhook-source';

/**
 * Grafana alerting's webhook contact point. Its payload is Alertmanager's (version "1", with
 * orgId, state, title, message and per-alert values/dashboardURL on top) and it also carries each
 * alert's fingerprint and startsAt, so rules and event IDs work exactly as for Alertmanager, and so
 * does the answer (it too retries on 5xx).
 */
export function createGrafanaSource(config: GrafanaSourceConfig, rules: readonly RuleConfig[], env: NodeJS.ProcessEnv): WebhookSource {
  return {
    name: 'grafana',
    authenticate: grafanaAuthenticator(config, env),
    interpret(request) {
      const { alerts } = alertsFromAlertmanagerPayload(request, 'Grafana');
      return { kind: 'scale-out', ...planScaleOuts(rules, 'grafana', alerts) };
    },
    reply: alertDeliveryReply,
  };
}

function grafanaAuthenticator(config: GrafanaSourceConfig, env: NodeJS.ProcessEnv): Authenticate {
  const auth = config.auth;
  if (auth === 'none') return noAuthentication;
  if (auth.bearer !== undefined) return bearerAuthentication('grafana', auth.bearer, env);
  const hmac = auth.hmac!;
  return withSecret('grafana', hmac.secretEnv, env, (request, now, secret) =>
    verifyGrafanaSignature(request.headers, request.rawBody, secret, {
      header: hmac.header,
      ...(hmac.timestampHeader !== undefined && { timestampHeader: hmac.timestampHeader }),
      toleranceSeconds: hmac.toleranceSeconds,
      nowMs: now,
    }),
  );
}
