import type { Config } from '../config/load-config';
import { createGenericSource } from './generic';
import type { WebhookSource } from './webhook-source';

/** Every sender the config enables, by the `<source>` of `/hooks/<source>`. Built once at cold start. */
export function createSources(config: Config, env: NodeJS.ProcessEnv): ReadonlyMap<string, WebhookSource> {
  const sources = new Map<string, WebhookSource>();
  if (config.sources.generic !== undefined) sources.set('generic', createGenericSource(config.sources.generic, env));
  return sources;
}
