import { fitMessage, labelPairs, safeLink, utf8Bytes, type Message } from '../message';
import type { Notice } from '../../core/notice';
import { dingtalkSign } from '../../auth/dingtalk-sign';
import type { Delivery, Sink, SinkFactory } from './sink';
import { deliverSafely, inertMarkdown, markdownUrl, postJson, readCodedAnswer, secretsOf, sinkLabel, sinkUrl, type Answer, type CodeTable } from './post';

/**
 * DingTalk custom robot (自定义机器人, docs/NOTIFY-PLATFORMS.md "DingTalk"): POST
 * `{msgtype: markdown, markdown: {title, text}}` to `https://oapi.dingtalk.com/robot/send?access_token=…`.
 * With a secret (加签), `timestamp` (ms) and `sign` are added to the URL's query. Answers HTTP 200
 * `{"errcode":0,"errmsg":"ok"}` or an errcode saying why not.
 *
 * Mentions: a robot mentions people only through the body's `at` field (atMobiles, atUserIds,
 * isAtAll) with the `@mobile` also in the text; this sink never sends `at`, so an `@all` in a label
 * value is only text.
 */

/**
 * The body limit DingTalk answers when passed: errcode 460101 "message too long, exceed 20000
 * bytes" (timonwong/prometheus-webhook-dingtalk#30) and "body 大小不合法 … 请保持大小在 20000bytes
 * 以内" (ZhuLinsen/daily_stock_analysis#61). Not on an official page found: unconfirmed.
 */
export const DINGTALK_BODY_LIMIT_BYTES = 20_000;

/** 20 messages a minute per robot, then throttled for 10 minutes (custom robot doc, 消息发送频率限制). */
const DINGTALK_PER_PASS = 15;
const DINGTALK_THROTTLE_MS = 10 * 60_000;

/** errcodes (sources in docs/NOTIFY-PLATFORMS.md). Anything else non-zero is refused. */
const DINGTALK_CODES: CodeTable = {
  [-1]: { retry: true, what: 'system busy' },
  130101: { retry: true, what: 'sending too fast (over 20 a minute): throttled for 10 minutes', waitMs: DINGTALK_THROTTLE_MS },
  410100: { retry: true, what: 'sending too fast: throttled', waitMs: DINGTALK_THROTTLE_MS },
  310000: { retry: false, what: 'the security check failed: a wrong sign or a timestamp over an hour off, no keyword in the message, or an IP not allowed' },
  300001: { retry: false, what: 'the access_token does not exist' },
  300005: { retry: false, what: 'the access_token does not exist' },
  460101: { retry: false, what: 'the message is too long' },
};

export const createDingtalkSink: SinkFactory = (settings) => {
  const label = sinkLabel('dingtalk', settings.name);
  const secrets = secretsOf(settings);
  return {
    name: settings.name,
    type: 'dingtalk',
    language: settings.language,
    perPass: DINGTALK_PER_PASS,
    deliver: (_notice: Notice, message: Message, signal: AbortSignal, now: number): Promise<Delivery> =>
      deliverSafely(label, secrets, async () => {
        const base = sinkUrl(settings, label);
        if (!(base instanceof URL)) return base;
        const url = signedDingtalkUrl(base, settings.secret, now);
        const render = (m: Message): string => JSON.stringify(dingtalkMarkdown(m));
        const body = render(fitMessage(message, DINGTALK_BODY_LIMIT_BYTES, (m) => utf8Bytes(render(m)), settings.language));
        // The signed query is as secret as the token: kept out of every reason too.
        const posted = await postJson({ url, body, signal, fetch: settings.fetch, label, secrets: [url.href, ...secrets], now });
        if ('failed' in posted) return posted.failed;
        return readDingtalkAnswer(posted.answered, label, secrets);
      }),
  } satisfies Sink;
};

/**
 * 加签: `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" +
 * secret)) set in the query, the URL's own query (access_token) kept. URLSearchParams encodes the
 * base64 (`+`, `/`, `=`) as the doc's urlEncode does. The same signature as DingTalk's outgoing
 * robot (auth/dingtalk-sign.ts). Without a secret, the URL as it is.
 */
export function signedDingtalkUrl(base: URL, secret: string | undefined, now: number): URL {
  const url = new URL(base.href);
  if (secret === undefined || secret === '') return url;
  const timestamp = String(Math.floor(now));
  url.searchParams.set('timestamp', timestamp);
  url.searchParams.set('sign', dingtalkSign(secret, timestamp));
  return url;
}

/**
 * The markdown message: `title` (what the conversation list shows; plain) and `text`: the title as
 * a heading, one paragraph per fact (`**name**: value`), the labels, the cut note as a quote, the
 * link. Paragraphs are separated by a blank line, which DingTalk's renderer turns into a line
 * break for certain. Text from outside goes through inertMarkdown.
 */
export function dingtalkMarkdown(message: Message): { readonly msgtype: 'markdown'; readonly markdown: { readonly title: string; readonly text: string } } {
  const title = inertMarkdown(message.title);
  const paragraphs = [`#### ${title}`, ...message.facts.map((f) => `**${inertMarkdown(f.name)}**: ${inertMarkdown(f.value)}`)];
  const labels = labelPairs(message);
  if (labels.length > 0) paragraphs.push(inertMarkdown(labels.join(', ')));
  if (message.cut !== undefined) paragraphs.push(`> ${inertMarkdown(message.cut)}`);
  const link = safeLink(message);
  if (link !== undefined) paragraphs.push(`[${inertMarkdown(link.text).replace(/[[\]]/g, '')}](${markdownUrl(link.url)})`);
  return { msgtype: 'markdown', markdown: { title, text: paragraphs.join('\n\n') } };
}

function readDingtalkAnswer(answer: Answer, label: string, secrets: readonly string[]): Delivery {
  return readCodedAnswer(answer, {
    label,
    secrets,
    codes: DINGTALK_CODES,
    codeName: 'errcode',
    code: (json) => (typeof json.errcode === 'number' ? json.errcode : undefined),
    message: (json) => (typeof json.errmsg === 'string' ? json.errmsg : ''),
  });
}
