/**
 * Every platform's sink, in one module that the packaged function ships as a file of its own
 * (notify-sinks.js, build/bundle.mjs), required when the config names a sink (sinks/index.ts):
 * a deployment that tells no channel neither parses nor caches them. The platforms' code is pure
 * (fetch, crypto, the message), so two files split no module's identity.
 */
export { createSlackSink } from './slack';
export { createFeishuSink } from './feishu';
export { createDingtalkSink } from './dingtalk';
export { createWecomSink } from './wecom';
export { createWebhookSink } from './webhook';
