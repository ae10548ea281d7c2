import type { FollowUpDispatcher } from './chat/follow-up';
import type { Config } from '../config/load-config';
import type { WebhookSource } from './webhook-source';

/**
 * Every sender the config enables, by the `<source>` of `/hooks/<source>`. Each is built on its first
 * use and kept: a delivery needs one sender, and a cold start answers one delivery, so building all
 * of them there (Alertmanager's rules, three chat platforms, their secrets) was work an instance
 * paid for at every cold start, and that the packaged code cache carried compiled
 * (build/make-code-cache.cjs). Each sender's module is required when it is built, so its own
 * module set-up is deferred too. A sender's constructor only reads its settings and secrets (a
 * missing secret answers 503 when it is used, docs/DESIGN.md), so building later changes no answer;
 * the environment it reads is the one of the cold start (copied here), as when they were all built then.
 *
 * `followUps`: where chat senders hand off a command TKE did not answer in time (absent: they say how to check instead).
 */
export function createSources(config: Config, env: NodeJS.ProcessEnv, followUps?: FollowUpDispatcher): ReadonlyMap<string, WebhookSource> {
  const coldStartEnv = { ...env };
  const builders = new Map<string, () => WebhookSource>();
  const { generic, alertmanager, grafana, slack, feishu, dingtalk } = config.sources;
  const tencentMonitor = config.sources['tencent-monitor'];
  if (generic !== undefined) builders.set('generic', () => (require('./generic') as typeof import('./generic')).createGenericSource(generic, coldStartEnv));
  if (alertmanager !== undefined) builders.set('alertmanager', () => (require('./alertmanager') as typeof import('./alertmanager')).createAlertmanagerSource(alertmanager, config.rules, coldStartEnv));
  if (grafana !== undefined) builders.set('grafana', () => (require('./grafana') as typeof import('./grafana')).createGrafanaSource(grafana, config.rules, coldStartEnv));
  if (tencentMonitor !== undefined) builders.set('tencent-monitor', () => (require('./tencent-monitor') as typeof import('./tencent-monitor')).createTencentMonitorSource(tencentMonitor, config.rules, coldStartEnv));
  if (slack !== undefined) builders.set('slack', () => (require('./slack') as typeof import('./slack')).createSlackSource(slack, config, coldStartEnv, followUps));
  if (feishu !== undefined) builders.set('feishu', () => (require('./feishu') as typeof import('./feishu')).createFeishuSource(feishu, config, coldStartEnv, followUps));
  if (dingtalk !== undefined) builders.set('dingtalk', () => (require('./dingtalk') as typeof import('./dingtalk')).createDingtalkSource(dingtalk, config, coldStartEnv, followUps));
  return new BuiltOnFirstUse(builders);
}

/**
 * A read-only map whose values are built on their first read, once; its keys (and so `size`, and
 * the cold-start log line's list of senders) are known from the start. Whatever reads every value
 * builds every value.
 */
class BuiltOnFirstUse<V> implements ReadonlyMap<string, V> {
  private readonly built = new Map<string, V>();
  constructor(private readonly builders: ReadonlyMap<string, () => V>) {}

  get size(): number {
    return this.builders.size;
  }
  has(key: string): boolean {
    return this.builders.has(key);
  }
  get(key: string): V | undefined {
    if (!this.built.has(key)) {
      const build = this.builders.get(key);
      if (build === undefined) return undefined;
      this.built.set(key, build());
    }
    return this.built.get(key);
  }
  keys(): MapIterator<string> {
    return this.builders.keys();
  }
  values(): MapIterator<V> {
    return this.all().values();
  }
  entries(): MapIterator<[string, V]> {
    return this.all().entries();
  }
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.all().entries();
  }
  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    this.all().forEach((value, key) => callback.call(thisArg, value, key, this));
  }
  /** Every value, built, in the order of the keys. */
  private all(): Map<string, V> {
    return new Map([...this.builders.keys()].map((key) => [key, this.get(key)!]));
  }
}
