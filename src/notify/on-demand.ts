/**
 * What telling the team needs only when there is something to tell: the notifier and the outbox's
 * posting (notifier.ts, deliver.ts), the notice in words (render.ts) and each platform's sink
 * (Slack, Feishu, DingTalk, WeCom, the generic webhook). The packaged function ships it as a file of
 * its own (notify.js, build/bundle.mjs), required on the first notice or the first sink the config
 * names: a deployment that tells no one neither parses nor caches it. Nothing in it depends on a
 * class's identity (it reads errors by shape), so two files split no module's identity; the store
 * it is handed is the function's.
 */
export { createNotifier } from './notifier';
export { renderNotice } from './render';
export { createSlackSink } from './sinks/slack';
export { createFeishuSink } from './sinks/feishu';
export { createDingtalkSink } from './sinks/dingtalk';
export { createWecomSink } from './sinks/wecom';
export { createWebhookSink } from './sinks/webhook';
