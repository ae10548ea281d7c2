import { basicAuthentication, bearerAuthentication, noAuthentication, type Authenticate } from '../auth/authenticators';
import type { RuleConfig } from '../config/load-config';
import type { AlertmanagerSourceConfig } from '../config/schema';
import { alarmGroupSource } from './alertmanager-payload';
import type { WebhookSource } from './webhook-source';

/**
 * Prometheus Alertmanager's webhook_config. It signs nothing; it can send a bearer token
 * (`http_config.authorization`) or basic auth (`http_config.basic_auth`). Within a flush it
 * retries 5xx and transport errors; a failed group comes again at every group_interval, a
 * delivered one at repeat_interval and on group changes; the event IDs (rules/plan.ts) make all of
 * those one scale-out per firing episode.
 */
export function createAlertmanagerSource(config: AlertmanagerSourceConfig, rules: readonly RuleConfig[], env: NodeJS.ProcessEnv): WebhookSource {
  return alarmGroupSource('alertmanager', 'Alertmanager', rules, { authenticate: alertmanagerAuthenticator(config, env) });
}

function alertmanagerAuthenticator(config: AlertmanagerSourceConfig, env: NodeJS.ProcessEnv): Authenticate {
  const auth = config.auth;
  if (auth === 'none') return noAuthentication;
  return auth.bearer !== undefined ? bearerAuthentication('alertmanager', auth.bearer, env) : basicAuthentication('alertmanager', auth.basic!, env);
}
