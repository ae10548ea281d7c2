import type { Config } from '../config/load-config';
import { createAlertmanagerSource } from './alertmanager';
import { createGenericSource } from './generic';
import { createGrafanaSource } from './grafana';
import { createTencentMonitorSource } from './tencent-monitor';
import type { WebhookSource } from './webhook-source';

/** Every sender the config enables, by the `<source>` of `/hooks/<source>`. Built once at cold start. */
export function createSources(config: Config, env: NodeJS.ProcessEnv): ReadonlyMap<string, WebhookSource> {
  const sources = new Map<string, WebhookSource>();
  if (config.sources.generic !== undefined) sources.set('generic', createGenericSource(config.sources.generic, env));
  if (config.sources.alertmanager !== undefined) sources.set('alertmanager', createAlertmanagerSource(config.sources.alertmanager, config.rules, env));
  if (config.sources.grafana !== undefined) sources.set('grafana', createGrafanaSource(config.sources.grafana, config.rules, env));
  const tencentMonitor = config.sources['tencent-monitor'];
  if (tencentMonitor !== undefined) sources.set('tencent-monitor', createTencentMonitorSource(tencentMonitor, config.rules, env));
  return sources;
}
