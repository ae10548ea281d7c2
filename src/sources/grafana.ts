import { bearerAuthentication, noAuthentication, withSecret, type Authenticate } from '../auth/authenticators';
import { verifyGrafanaSignature } from '../auth/grafana-hmac';
import type { RuleConfig } from '../config/load-config';
import type { GrafanaSourceConfig } from '../config/schema';
import { alarmGroupSource } from './alertmanager-payload';
import type { WebhookSource } from './webhook-source';

/**
 * Grafana alerting's webhook contact point. Its payload is Alertmanager's (version "1", with
 * orgId, state, title, message and per-alert values/dashboardURL on top) and it also carries each
 * alert's fingerprint and startsAt, so rules and event IDs work exactly as for Alertmanager.
 *
 * Unlike Alertmanager, Grafana never retries a failed webhook within a flush (grafana/alerting
 * receivers/webhook/v1/webhook.go: every send error returns retry=false); like Alertmanager, a
 * failed notification is not logged, so the group comes again at the next group_interval. So the
 * function's own TKE retries are the only quick ones: `tkeMaxAttempts` (default 8, against
 * tke.maxAttempts' 4 for senders that retry), always within the function's time. The answer's
 * status is the same as Alertmanager's: a 5xx shows the contact point failing in Grafana.
 */
export function createGrafanaSource(config: GrafanaSourceConfig, rules: readonly RuleConfig[], env: NodeJS.ProcessEnv): WebhookSource {
  return alarmGroupSource('grafana', 'Grafana', rules, { authenticate: grafanaAuthenticator(config, env), maxTkeAttempts: config.tkeMaxAttempts });
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
