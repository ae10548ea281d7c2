import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, startLocalApiServer, type LocalApiServer } from './api3-server';

/**
 * A local stand-in for the five places a notice can go, for `npm start` and the tests: it plays
 * each platform's incoming webhook on its own path, answers in that platform's success format (or
 * its own error when the request would be refused there: a sign that does not match, a body over
 * its limit), records every message with a plain-text rendering of what a reader would see, and
 * can be told to fail (a rate limit, a 5xx, a hang) so retries can be watched. The platforms'
 * facts it plays are in docs/NOTIFY-PLATFORMS.md.
 *
 *   POST /slack/<anything>                             Slack incoming webhook: 200 "ok"
 *   POST /feishu/open-apis/bot/v2/hook/<token>         Feishu/Lark custom bot: {"code":0,...}
 *   POST /dingtalk/robot/send?access_token=<token>     DingTalk custom robot: {"errcode":0,"errmsg":"ok"}
 *   POST /wecom/cgi-bin/webhook/send?key=<key>         WeCom group robot: {"errcode":0,"errmsg":"ok"}
 *   POST /webhook/<anything>                           a Standard Webhooks receiver: 204
 *   GET  /__capture/received                           every message so far, as JSON
 *   POST /__capture/faults                             {"platform": ..., "times": n, "status"?, "body"?, "headers"?, "delayMs"?}
 */
export const CAPTURE_PLATFORMS = ['slack', 'feishu', 'dingtalk', 'wecom', 'webhook'] as const;
export type CapturePlatform = (typeof CAPTURE_PLATFORMS)[number];

export interface CapturedMessage {
  readonly platform: CapturePlatform;
  /** Path and query as received (the sandbox's own tokens: nothing secret). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The body as JSON, or as text when it is not JSON. */
  readonly body: unknown;
  /** What a reader of the channel would see, as plain lines. */
  readonly text: string;
  readonly at: number;
  /** The HTTP status answered, and whether the platform took the message (a refusal is recorded too). */
  readonly status: number;
  readonly accepted: boolean;
}

/**
 * What the next `times` messages to a platform are answered with instead: `status` (default 200),
 * `body` (a string as is, anything else as JSON), `headers` (Retry-After...), after `delayMs`.
 * A delayMs that is not a finite number below 2^31 ms (Infinity) is a hang: no answer ever.
 */
export interface CaptureFault {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly times: number;
  readonly delayMs?: number;
}

export interface NotifyCaptureOptions {
  /** With a secret, a platform's signature is checked as the platform checks it; without, anything is taken. */
  readonly secrets?: { readonly feishu?: string; readonly dingtalk?: string; readonly webhook?: string };
  /** Called with a readable multi-line rendering of each message received (npm start prints them). */
  readonly print?: (line: string) => void;
  readonly now?: () => number;
}

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Limits the platforms refuse past (docs/NOTIFY-PLATFORMS.md). */
const LIMITS = { feishuBodyBytes: 20_000, dingtalkBodyBytes: 20_000, wecomContentBytes: 4096, slackBlocks: 50, slackHeader: 150, slackText: 3000, slackFields: 10, slackField: 2000 };
/** Feishu and DingTalk refuse a sign timestamp more than an hour away; Standard Webhooks' reference library, 5 minutes. */
const SIGN_WINDOW_MS = { feishu: 3_600_000, dingtalk: 3_600_000, webhook: 300_000 };
const MAX_TIMER_MS = 2 ** 31 - 1;

export class NotifyCapture {
  private server: LocalApiServer | undefined;
  private readonly messages: CapturedMessage[] = [];
  private readonly faults = new Map<CapturePlatform, { fault: CaptureFault; left: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly now: () => number;

  constructor(private readonly options: NotifyCaptureOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async start(port = 0): Promise<string> {
    this.server = await startLocalApiServer((req, res) => this.serve(req, res), port);
    return this.server.url;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.server?.stop();
    this.server = undefined;
  }

  received(): readonly CapturedMessage[] {
    return [...this.messages];
  }

  clear(): void {
    this.messages.length = 0;
  }

  /** The next `fault.times` messages to `platform` get the fault's answer; then the platform answers normally again. */
  fail(platform: CapturePlatform, fault: CaptureFault): void {
    if (!CAPTURE_PLATFORMS.includes(platform)) throw new Error(`no platform ${JSON.stringify(platform)}; one of ${CAPTURE_PLATFORMS.join(', ')}`);
    if (!Number.isInteger(fault.times) || fault.times < 1) throw new Error('times must be a whole number of 1 or more');
    this.faults.set(platform, { fault, left: fault.times });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://capture.local');
    const raw = await readBody(req);
    if (url.pathname === '/__capture/received' && req.method === 'GET') return answer(res, { status: 200, body: this.received() });
    if (url.pathname === '/__capture/received' && req.method === 'DELETE') {
      this.clear();
      return answer(res, { status: 204 });
    }
    if (url.pathname === '/__capture/faults' && req.method === 'POST') return answer(res, this.faultFromHttp(raw));
    const platform = platformOf(url);
    if (platform === undefined || req.method !== 'POST') return answer(res, { status: 404, body: 'not a capture path: /slack/, /feishu/open-apis/bot/v2/hook/<token>, /dingtalk/robot/send, /wecom/cgi-bin/webhook/send, /webhook/' });

    const text = raw.toString('utf8');
    const body = parseJson(text) ?? text;
    const fault = this.takeFault(platform);
    const reply = fault?.reply ?? this.platformReply(platform, url, req, raw, body);
    const accepted = fault === undefined && reply.status >= 200 && reply.status < 300 && acceptedBody(platform, reply.body);
    const message: CapturedMessage = { platform, path: `${url.pathname}${url.search}`, headers: flatHeaders(req), body, text: readerText(platform, body), at: this.now(), status: reply.status, accepted };
    this.messages.push(message);
    this.options.print?.(printable(message, reply));
    if (fault !== undefined && fault.delayMs !== undefined && fault.delayMs > 0) {
      // A hang: the connection stays open until the client gives up or the capture stops.
      if (!Number.isFinite(fault.delayMs) || fault.delayMs > MAX_TIMER_MS) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, fault.delayMs);
        this.timers.add(timer);
      });
    }
    answer(res, reply);
  }

  private takeFault(platform: CapturePlatform): { reply: Reply; delayMs?: number } | undefined {
    const pending = this.faults.get(platform);
    if (pending === undefined) return undefined;
    pending.left -= 1;
    if (pending.left <= 0) this.faults.delete(platform);
    const { fault } = pending;
    const reply: Reply = { status: fault.status ?? 200, body: fault.body, ...(fault.headers === undefined ? {} : { headers: fault.headers }) };
    return fault.delayMs === undefined ? { reply } : { reply, delayMs: fault.delayMs };
  }

  private faultFromHttp(raw: Buffer): Reply {
    const json = parseJson(raw.toString('utf8'));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return { status: 400, body: { error: 'a fault is a JSON object: {"platform": "slack", "times": 1, "status": 429, "headers": {"retry-after": "3"}}' } };
    const { platform, ...fault } = json as Record<string, unknown>;
    try {
      this.fail(platform as CapturePlatform, fault as unknown as CaptureFault);
    } catch (error) {
      return { status: 400, body: { error: (error as Error).message } };
    }
    return { status: 204 };
  }

  /** The platform's own answer: its sign and limit checks, then its success. */
  private platformReply(platform: CapturePlatform, url: URL, req: IncomingMessage, raw: Buffer, body: unknown): Reply {
    const secrets = this.options.secrets ?? {};
    const now = this.now();
    switch (platform) {
      case 'slack':
        return slackReply(body);
      case 'feishu':
        return feishuReply(body, raw, secrets.feishu, now);
      case 'dingtalk':
        return dingtalkReply(body, raw, url, secrets.dingtalk, now);
      case 'wecom':
        return wecomReply(body, url);
      case 'webhook':
        return webhookReply(req, raw, secrets.webhook, now);
    }
  }
}

function platformOf(url: URL): CapturePlatform | undefined {
  const path = url.pathname;
  if (path.startsWith('/slack/')) return 'slack';
  if (/^\/feishu\/open-apis\/bot\/v2\/hook\/[^/]+$/.test(path)) return 'feishu';
  if (path === '/dingtalk/robot/send') return 'dingtalk';
  if (path === '/wecom/cgi-bin/webhook/send') return 'wecom';
  if (path.startsWith('/webhook/') || path === '/webhook') return 'webhook';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Each platform's checks and answers.

function slackReply(body: unknown): Reply {
  // Slack answers plain-text error strings with a 4xx (invalid_payload, no_text). For blocks past
  // their limits the capture answers invalid_blocks, chat.postMessage's error: what an incoming
  // webhook answers then is unconfirmed.
  if (!isObject(body)) return { status: 400, body: 'invalid_payload' };
  if (typeof body.text !== 'string' && !Array.isArray(body.blocks)) return { status: 400, body: 'no_text' };
  if (Array.isArray(body.blocks) && !slackBlocksFit(body.blocks)) return { status: 400, body: 'invalid_blocks' };
  return { status: 200, body: 'ok' };
}

function slackBlocksFit(blocks: unknown[]): boolean {
  if (blocks.length > LIMITS.slackBlocks) return false;
  for (const block of blocks) {
    if (!isObject(block)) return false;
    const texts: unknown[] = [];
    if (block.type === 'header') {
      if (!isObject(block.text) || typeof block.text.text !== 'string' || block.text.text.length > LIMITS.slackHeader) return false;
      continue;
    }
    if (Array.isArray(block.fields)) {
      if (block.fields.length > LIMITS.slackFields) return false;
      for (const field of block.fields) if (!isObject(field) || typeof field.text !== 'string' || field.text.length > LIMITS.slackField) return false;
    }
    if (isObject(block.text)) texts.push(block.text.text);
    if (Array.isArray(block.elements)) for (const e of block.elements) texts.push(isObject(e) ? e.text : undefined);
    for (const t of texts) if (typeof t !== 'string' || t.length === 0 || t.length > LIMITS.slackText) return false;
  }
  return true;
}

const FEISHU_OK = { StatusCode: 0, StatusMessage: 'success', code: 0, data: {}, msg: 'success' };

function feishuReply(body: unknown, raw: Buffer, secret: string | undefined, now: number): Reply {
  if (!isObject(body) || typeof body.msg_type !== 'string' || raw.length > LIMITS.feishuBodyBytes) return { status: 400, body: { code: 9499, msg: 'Bad Request', data: {} } };
  if (secret !== undefined) {
    // add-custom-bot: HMAC-SHA256 keyed by `timestamp + "\n" + secret`, over an empty message, base64; timestamp in seconds.
    const timestamp = typeof body.timestamp === 'number' ? String(body.timestamp) : body.timestamp;
    const fresh = typeof timestamp === 'string' && Math.abs(now - Number(timestamp) * 1000) <= SIGN_WINDOW_MS.feishu;
    const expected = typeof timestamp === 'string' ? createHmac('sha256', `${timestamp}\n${secret}`).update('').digest('base64') : undefined;
    if (!fresh || typeof body.sign !== 'string' || expected === undefined || !sameText(body.sign, expected)) {
      return { status: 200, body: { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time', data: {} } };
    }
  }
  return { status: 200, body: FEISHU_OK };
}

function dingtalkReply(body: unknown, raw: Buffer, url: URL, secret: string | undefined, now: number): Reply {
  if (!url.searchParams.get('access_token')) return { status: 200, body: { errcode: 300001, errmsg: 'token is not exist' } };
  if (secret !== undefined) {
    // 加签: HMAC-SHA256 keyed by the secret over `timestamp + "\n" + secret`, base64, urlencoded in the query; timestamp in ms.
    const timestamp = url.searchParams.get('timestamp');
    const sign = url.searchParams.get('sign');
    const fresh = timestamp !== null && Math.abs(now - Number(timestamp)) <= SIGN_WINDOW_MS.dingtalk;
    const expected = timestamp === null ? undefined : createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
    if (!fresh || sign === null || expected === undefined || !sameText(sign, expected)) return { status: 200, body: { errcode: 310000, errmsg: 'sign not match' } };
  }
  if (raw.length > LIMITS.dingtalkBodyBytes) return { status: 200, body: { errcode: 460101, errmsg: `message too long, exceed ${LIMITS.dingtalkBodyBytes} bytes` } };
  // The capture's own code for a body that is not a message (DingTalk's is not documented).
  if (!isObject(body) || typeof body.msgtype !== 'string') return { status: 400, body: { errcode: 400, errmsg: 'the capture could not read a DingTalk message from the body' } };
  return { status: 200, body: { errcode: 0, errmsg: 'ok' } };
}

function wecomReply(body: unknown, url: URL): Reply {
  if (!url.searchParams.get('key')) return { status: 200, body: { errcode: 93000, errmsg: 'invalid webhook url' } };
  if (!isObject(body) || !['text', 'markdown', 'image', 'news', 'file', 'voice', 'template_card'].includes(String(body.msgtype))) return { status: 200, body: { errcode: 40008, errmsg: 'invalid message type' } };
  const part = body[String(body.msgtype)];
  const content = isObject(part) ? part.content : undefined;
  if (body.msgtype === 'markdown' || body.msgtype === 'text') {
    if (typeof content !== 'string' || content === '') return { status: 200, body: { errcode: 44004, errmsg: 'empty content' } };
    const limit = body.msgtype === 'markdown' ? LIMITS.wecomContentBytes : 2048;
    if (Buffer.byteLength(content, 'utf8') > limit) return { status: 200, body: { errcode: 40058, errmsg: `${body.msgtype}.content exceed max length ${limit}` } };
  }
  return { status: 200, body: { errcode: 0, errmsg: 'ok' } };
}

function webhookReply(req: IncomingMessage, raw: Buffer, secret: string | undefined, now: number): Reply {
  if (secret === undefined) return { status: 204 };
  // Standard Webhooks: v1 = base64 HMAC-SHA256 with the base64-decoded secret (after whsec_) over `${id}.${timestamp}.${body}`.
  const id = headerOf(req, 'webhook-id');
  const timestamp = headerOf(req, 'webhook-timestamp');
  const signatures = headerOf(req, 'webhook-signature');
  if (id === undefined || timestamp === undefined || signatures === undefined) return { status: 400, body: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp) * 1000) > SIGN_WINDOW_MS.webhook) return { status: 400, body: 'webhook-timestamp is too old or too new' };
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(raw).digest('base64');
  const ok = signatures.split(' ').some((s) => s.startsWith('v1,') && sameText(s.slice(3), expected));
  return ok ? { status: 204 } : { status: 401, body: 'invalid signature' };
}

function acceptedBody(platform: CapturePlatform, body: unknown): boolean {
  if (platform === 'feishu') return isObject(body) && body.code === 0;
  if (platform === 'dingtalk' || platform === 'wecom') return isObject(body) && body.errcode === 0;
  return true;
}

// ---------------------------------------------------------------------------------------------
// What a reader would see.

/** A message as a reader of the channel would read it, as plain lines. */
export function readerText(platform: CapturePlatform, body: unknown): string {
  if (!isObject(body)) return String(body);
  const lines = (() => {
    switch (platform) {
      case 'slack':
        return slackText(body);
      case 'feishu':
        return feishuText(body);
      case 'dingtalk':
        return isObject(body.markdown) ? markdownText(String(body.markdown.text ?? '')) : isObject(body.text) ? [String(body.text.content ?? '')] : [];
      case 'wecom':
        return isObject(body.markdown) ? markdownText(String(body.markdown.content ?? '')) : isObject(body.text) ? [String(body.text.content ?? '')] : [];
      case 'webhook':
        return typeof body.text === 'string' ? [body.text] : [`${String(body.type ?? 'webhook')}: ${JSON.stringify(body.data ?? body)}`];
    }
  })();
  return lines.join('\n').replace(/\u200b/g, '');
}

function slackText(body: Record<string, unknown>): string[] {
  if (!Array.isArray(body.blocks)) return [unmrkdwn(String(body.text ?? ''))];
  const lines: string[] = [];
  for (const block of body.blocks) {
    if (!isObject(block)) continue;
    if (block.type === 'header' && isObject(block.text)) lines.push(String(block.text.text));
    if (Array.isArray(block.fields)) for (const f of block.fields) if (isObject(f)) lines.push(unmrkdwn(String(f.text).replace(/^\*([^*\n]+)\*\n/, '$1: ')));
    if (block.type === 'section' && isObject(block.text)) lines.push(unmrkdwn(String(block.text.text)));
    if (block.type === 'context' && Array.isArray(block.elements)) for (const e of block.elements) if (isObject(e)) lines.push(unmrkdwn(String(e.text).replace(/^_(.*)_$/s, '($1)')));
  }
  return lines;
}

/** Slack mrkdwn as read: `<url|text>` is "text (url)", entities decoded. */
function unmrkdwn(text: string): string {
  return text
    .replace(/<([^<>|]+)\|([^<>]+)>/g, '$2 ($1)')
    .replace(/<([^<>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function feishuText(body: Record<string, unknown>): string[] {
  const content = isObject(body.content) ? body.content : {};
  if (!isObject(content.post)) return [String(content.text ?? JSON.stringify(body.card ?? content))];
  const post = Object.values(content.post)[0];
  if (!isObject(post)) return [];
  const lines = [String(post.title ?? '')];
  for (const paragraph of Array.isArray(post.content) ? post.content : []) {
    if (!Array.isArray(paragraph)) continue;
    lines.push(
      paragraph
        .map((e: unknown) => (!isObject(e) ? '' : e.tag === 'a' ? `${String(e.text)} (${String(e.href)})` : e.tag === 'at' ? `@${String(e.user_name ?? e.user_id)}` : String(e.text ?? '')))
        .join(''),
    );
  }
  return lines;
}

/** DingTalk's and WeCom's Markdown as read: headings, bold, quotes and colour tags dropped, `[t](u)` as "t (u)". */
function markdownText(text: string): string[] {
  return text
    .split(/\n+/)
    .map((line) =>
      line
        .replace(/^#{1,6}\s+/, '')
        .replace(/^>\s?/, '')
        .replace(/<font[^>]*>|<\/font>/g, '')
        .replace(/\*\*([^*]+)\*\*/g, '$1')
        .replace(/\[([^\]]*)\]\(([^)\s]+)\)/g, '$1 ($2)'),
    )
    .filter((line) => line !== '');
}

function printable(message: CapturedMessage, reply: Reply): string {
  const verdict = message.accepted ? '' : ` (answered ${reply.status}${reply.body === undefined ? '' : ` ${typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body)}`})`;
  return [`[notify-capture] ${message.platform}${verdict}`, ...message.text.split('\n').map((l) => `  ${l}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------

function answer(res: ServerResponse, reply: Reply): void {
  if (res.writableEnded || res.destroyed) return;
  const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  const type = reply.body === undefined || typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  res.writeHead(reply.status, { 'content-type': type, ...reply.headers }).end(body);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
