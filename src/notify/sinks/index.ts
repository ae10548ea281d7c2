import type { Config } from '../../config/config';
import type { SinkConfig } from '../../config/schema';
import type { StateStore } from '../../store/state-store';
import { createConversationSink, CONVERSATION_SINK, type ConversationPoster } from './conversation';
import type { Sink, SinkFactory, SinkType } from './sink';

/** One factory per platform, by the config's `type`; their module is required only when the config names a sink (notify/on-demand.ts). */
const onDemand = () => require('../on-demand') as typeof import('../on-demand');
const FACTORIES: Record<SinkType, () => SinkFactory> = {
  slack: () => onDemand().createSlackSink,
  feishu: () => onDemand().createFeishuSink,
  dingtalk: () => onDemand().createDingtalkSink,
  wecom: () => onDemand().createWecomSink,
  webhook: () => onDemand().createWebhookSink,
};

/**
 * The sinks `notify.sinks` names, with their URLs and secrets read from the env once (an unset URL
 * is said by every delivery to it, retried: an operator may set it and redeploy while the outbox
 * keeps the notices), and the conversation sink when a chat sender can post later.
 */
export function createSinks(
  config: Config,
  env: NodeJS.ProcessEnv,
  options: { readonly fetch: typeof fetch; readonly store: StateStore; readonly conversationPoster?: (source: string) => ConversationPoster | undefined; readonly chatSenders: boolean },
): ReadonlyMap<string, Sink> {
  const sinks = new Map<string, Sink>();
  const notify = config.notify;
  const value = (name: string | undefined) => (name === undefined || env[name] === '' ? undefined : env[name]);
  for (const [name, sink] of Object.entries(notify?.sinks ?? {}) as Array<[string, SinkConfig]>) {
    const secretEnv = 'secretEnv' in sink ? sink.secretEnv : undefined;
    const secret = value(secretEnv);
    const language = sink.language ?? notify!.language;
    if (secretEnv !== undefined && secret === undefined) {
      // Declared signed: never posted unsigned. Retried, since an operator may set it and redeploy.
      sinks.set(name, { name, type: sink.type, language, perPass: 1, deliver: async () => ({ ok: false, retry: true, reason: `the ${sink.type} sink "${name}": env var ${secretEnv} is not set` }) });
      continue;
    }
    sinks.set(
      name,
      FACTORIES[sink.type]()({
        name,
        language,
        url: value(sink.urlEnv),
        urlEnv: sink.urlEnv,
        ...(secret !== undefined && { secret }),
        ...(secretEnv !== undefined && { secretEnv }),
        fetch: options.fetch,
      }),
    );
  }
  if (options.chatSenders && options.conversationPoster !== undefined) {
    sinks.set(CONVERSATION_SINK, createConversationSink(options.store, options.conversationPoster, notify?.language ?? 'en'));
  }
  return sinks;
}
