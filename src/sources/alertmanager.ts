import { verifyBasic } from '../auth/basic';
import { verifyBearer } from '../auth/bearer';
import type { RuleConfig } from '../config/load-config';
import type { AlertmanagerSourceConfig } from '../config/schema';
import { SenderNotConfiguredError } from '../errors';
import { planScaleOuts } from '../rules/plan';
import { alertDeliveryReply } from './alert-reply';
import { alertsFromAlertmanagerPayload } from './alertmanager-payload';
import type { WebhookSource } from './webhook-source';

/**
 * Prometheus Alertmanager's webhook_config. It signs nothing; it can send a bearer token
 * (`http_config.authorization`) or basic auth (`http_config.basic_auth`). It retries only on 5xx and
 * transport errors, and re-sends a firing group every repeat_interval and on group changes; the
 * event IDs (rules/plan.ts) make all of those one scale-out per firing episode.
 */
export function createAlertmanagerSource(config: AlertmanagerSourceConfig, rules: readonly RuleConfig[], env: NodeJS.ProcessEnv): WebhookSource {
  return {
    name: 'alertmanager',
    authenticate: alertmanagerAuthenticator(config, env),
    interpret(request) {
      const { alerts } = alertsFromAlertmanagerPayload(request, 'Alertmanager');
      return { kind: 'scale-out', ...planScaleOuts(rules, 'alertmanager', alerts) };
    },
    reply: alertDeliveryReply,
  };
}

function alertmanagerAuthenticator(config: AlertmanagerSourceConfig, env: NodeJS.ProcessEnv): WebhookSource['authenticate'] {
  const auth = config.auth;
  if (auth === 'none') return () => undefined;
  if (auth.bearer !== undefined) {
    const envVar = auth.bearer.tokenEnv;
    const token = env[envVar];
    return (request) => {
      if (token === undefined || token === '') throw new SenderNotConfiguredError('alertmanager', envVar);
      verifyBearer(request.headers.authorization, token);
    };
  }
  const { username, passwordEnv } = auth.basic!;
  const password = env[passwordEnv];
  return (request) => {
    if (password === undefined || password === '') throw new SenderNotConfiguredError('alertmanager', passwordEnv);
    verifyBasic(request.headers.authorization, username, password);
  };
}
