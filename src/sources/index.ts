import type { FollowUpDispatcher } from './chat/follow-up';
import type { Config } from '../config/load-config';
import { createAlertmanagerSource } from './alertmanager';
import { createDingtalkSource } from './dingtalk';
import { createFeishuSource } from './feishu';
import { createGenericSource } from './generic';
import { createGrafanaSource } from './grafana';
import { createSlackSource } from './slack';
import { createTencentMonitorSource } from './tencent-monitor';
import type { WebhookSource } from './webhook-source';

/** Every sender the config enables, by the `<source>` of `/hooks/<source>`. Built once at cold start. */
/** `followUps`: where chat senders hand off a command TKE did not answer in time (absent: they say how to check instead). */
export function createSources(config: Config, env: NodeJS.ProcessEnv, followUps?: FollowUpDispatcher): ReadonlyMap<string, WebhookSource> {
  const sources = new Map<string, WebhookSource>();
  if (config.sources.generic !== undefined) sources.set('generic', createGenericSource(config.sources.generic, env));
  if (config.sources.alertmanager !== undefined) sources.set('alertmanager', createAlertmanagerSource(config.sources.alertmanager, config.rules, env));
  if (config.sources.grafana !== undefined) sources.set('grafana', createGrafanaSource(config.sources.grafana, config.rules, env));
  const tencentMonitor = config.sources['tencent-monitor'];
  if (tencentMonitor !== undefined) sources.set('tencent-monitor', createTencentMonitorSource(tencentMonitor, config.rules, env));
  if (config.sources.slack !== undefined) sources.set('slack', createSlackSource(config.sources.slack, config, env, followUps));
  if (config.sources.feishu !== undefined) sources.set('feishu', createFeishuSource(config.sources.feishu, config, env, followUps));
  if (config.sources.dingtalk !== undefined) sources.set('dingtalk', createDingtalkSource(config.sources.dingtalk, config, env, followUps));
  return sources;
}
