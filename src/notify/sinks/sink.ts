import type { Notice } from '../../core/notice';
import type { Language } from '../../core/notice';
import type { Message } from '../message';

/**
 * One place a notice can go: a team channel's incoming webhook (Slack, Feishu, DingTalk, WeCom) or
 * a generic signed webhook. One file per platform in this folder, each behind this interface,
 * chosen by `type` in the config (notify/sinks/index.ts). A sink knows its platform's format, size
 * limit, signing and error answers; nothing else in the function does.
 *
 * Its URL and secret are secrets (an incoming webhook's URL is its credential): they never reach a
 * log line, a delivery's error text or a message.
 */
export type SinkType = 'slack' | 'feishu' | 'dingtalk' | 'wecom' | 'webhook';
export const SINK_TYPES = ['slack', 'feishu', 'dingtalk', 'wecom', 'webhook'] as const satisfies readonly SinkType[];

export interface Sink {
  /** The config's name for it (`notify.sinks.<name>`), in logs and the outbox. */
  readonly name: string;
  /** The platform; `conversation`: the chat a command came from (notify/sinks/conversation.ts). */
  readonly type: SinkType | 'conversation';
  readonly language: Language;
  /**
   * Posts a pass may make to it: its platform's rate limit per minute, with room (the timer runs
   * every minute). What is over waits for the next pass.
   */
  readonly perPass: number;
  /**
   * Posts the notice. `message` is the notice rendered in the sink's language; the sink fits it to
   * its platform's limit. Never throws: every failure is a `Delivery` saying whether to retry.
   */
  deliver(notice: Notice, message: Message, signal: AbortSignal, now: number): Promise<Delivery>;
}

/**
 * How a post went. `retry`: worth trying again later (a timeout, a 5xx, a rate limit, the
 * platform's "too fast"); not: the platform will never take this post (a bad URL, a bad signature,
 * a message it refuses), so it is logged as undelivered at once. `retryAfterMs`: the platform said
 * when (Retry-After).
 */
export type Delivery =
  | { readonly ok: true }
  | { readonly ok: false; readonly retry: boolean; readonly reason: string; readonly retryAfterMs?: number };

/**
 * What every sink is made from (notify/sinks/index.ts reads it from the config and the env). `url`
 * and `secret` are the env vars' values; `url` undefined: the env var is unset, and every delivery
 * fails (retried: an operator may set it) with a reason naming `urlEnv`, never the value.
 */
export interface SinkSettings {
  readonly name: string;
  readonly language: Language;
  readonly url: string | undefined;
  readonly urlEnv: string;
  readonly secret?: string;
  readonly secretEnv?: string;
  /** Injected: tests and `npm start` pass their own; the function passes the global fetch. */
  readonly fetch: typeof fetch;
}

/** Each platform's file exports one of these (createSlackSink, createFeishuSink, ...). */
export type SinkFactory = (settings: SinkSettings) => Sink;
