import { createHmac } from 'node:crypto';
import { fitMessage, labelPairs, safeLink, utf8Bytes, type Message } from '../message';
import type { Notice } from '../../core/notice';
import type { Delivery, Sink, SinkFactory } from './sink';
import { deliverSafely, postJson, readCodedAnswer, secretsOf, sinkLabel, sinkUrl, ZWSP, type Answer, type CodeTable } from './post';

/**
 * Feishu / Lark custom bot (自定义机器人, docs/NOTIFY-PLATFORMS.md "Feishu"): POST to
 * `https://open.feishu.cn/open-apis/bot/v2/hook/<token>` (Lark: open.larksuite.com), a `post`
 * (rich text) message. With a secret (签名校验), `timestamp` and `sign` go in the body.
 * Answers `{"code":0,...}` (older: `{"StatusCode":0,...}`) or a code saying why not.
 *
 * Why `post` and not an `interactive` card: a post's `text` elements are shown as written (no
 * Markdown), so nothing an alert's labels hold becomes a link or a mention, while the link is a
 * real `a` element. A card's `lark_md` would need escaping Feishu does not document.
 */

/**
 * https://open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN.md (自定义机器人使用指南):
 * "请求体的数据大小不能超过 20 KB"; 100 requests a minute and 5 a second per bot, else 11232.
 * 20 KB read as 20,000 bytes (the smaller reading).
 */
export const FEISHU_BODY_LIMIT_BYTES = 20_000;
const FEISHU_PER_PASS = 50;
/** 11232 names no wait; the window it guards is a minute. */
const FEISHU_TOO_FAST_WAIT_MS = 60_000;

/** Body codes (same doc; 11232 from its rate-limit note). Anything else non-zero is refused. */
const FEISHU_CODES: CodeTable = {
  11232: { retry: true, what: 'sending too fast (over 100 a minute or 5 a second)', waitMs: FEISHU_TOO_FAST_WAIT_MS },
  19021: { retry: false, what: 'the sign does not match, or the timestamp is over an hour from Feishu\'s clock' },
  19022: { retry: false, what: 'this IP is not on the bot\'s allow-list' },
  19024: { retry: false, what: 'the message holds none of the bot\'s keywords' },
  9499: { retry: false, what: 'bad request' },
};

/**
 * 签名校验: the string `timestamp + "\n" + secret` is the HMAC-SHA256 KEY, over an empty message;
 * the digest in base64. timestamp in seconds (add-custom-bot, the doc's Python/Go/Java samples).
 * Not DingTalk's (which keys with the secret and signs the string).
 */
export function feishuSign(secret: string, timestampSeconds: string): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

export const createFeishuSink: SinkFactory = (settings) => {
  const label = sinkLabel('feishu', settings.name);
  const secrets = secretsOf(settings);
  return {
    name: settings.name,
    type: 'feishu',
    language: settings.language,
    perPass: FEISHU_PER_PASS,
    deliver: (_notice: Notice, message: Message, signal: AbortSignal, now: number): Promise<Delivery> =>
      deliverSafely(label, secrets, async () => {
        const url = sinkUrl(settings, label);
        if (!(url instanceof URL)) return url;
        const timestamp = String(Math.floor(now / 1000));
        const signed = settings.secret !== undefined && settings.secret !== '' ? { timestamp, sign: feishuSign(settings.secret, timestamp) } : undefined;
        const render = (m: Message): string => JSON.stringify({ ...signed, ...feishuPost(m) });
        const body = render(fitMessage(message, FEISHU_BODY_LIMIT_BYTES, (m) => utf8Bytes(render(m)), settings.language));
        const posted = await postJson({ url, body, signal, fetch: settings.fetch, label, secrets, now });
        if ('failed' in posted) return posted.failed;
        return readFeishuAnswer(posted.answered, label, secrets);
      }),
  } satisfies Sink;
};

type PostElement = { readonly tag: 'text'; readonly text: string } | { readonly tag: 'a'; readonly text: string; readonly href: string };

/**
 * The `post` message: title, one line per fact (`name: value`), the labels as `k=v, k=v`, the cut
 * note, the link as an `a` element. Under the `zh_cn` key whatever the language: the key names a
 * locale slot, and zh_cn is the one every example in the custom-bot doc uses (a post with only an
 * en_us slot is not shown by the doc to reach zh clients: unconfirmed).
 */
export function feishuPost(message: Message): { readonly msg_type: 'post'; readonly content: { readonly post: { readonly zh_cn: { readonly title: string; readonly content: ReadonlyArray<readonly PostElement[]> } } } } {
  const text = (t: string): PostElement => ({ tag: 'text', text: inertFeishu(t) });
  const lines: PostElement[][] = message.facts.map((f) => [text(`${f.name}: ${f.value}`)]);
  const labels = labelPairs(message);
  if (labels.length > 0) lines.push([text(labels.join(', '))]);
  if (message.cut !== undefined) lines.push([text(`(${message.cut})`)]);
  const link = safeLink(message);
  if (link !== undefined) lines.push([{ tag: 'a', text: inertFeishu(link.text), href: link.url }]);
  return { msg_type: 'post', content: { post: { zh_cn: { title: inertFeishu(message.title), content: lines } } } };
}

/**
 * A post's `text` is not Markdown, and mentions are their own `at` elements; but the `text`
 * message type does parse `<at user_id="all">` inside text, and whether a post's text elements
 * never do is not documented: a zero-width space after `<` before `at` keeps such a tag from ever
 * being one (a precaution; unconfirmed that it is needed).
 */
function inertFeishu(text: string): string {
  return text.replace(/<(\s*\/?\s*at\b)/gi, `<${ZWSP}$1`);
}

function readFeishuAnswer(answer: Answer, label: string, secrets: readonly string[]): Delivery {
  // The OpenAPI gateway's own limit answers 429 with x-ogw-ratelimit-reset, in seconds
  // (https://open.feishu.cn/document/server-docs/api-call-guide/frequency-control.md); whether
  // custom-bot webhooks go through it is unconfirmed.
  const reset = Number(answer.headers.get('x-ogw-ratelimit-reset'));
  const withReset = answer.retryAfterMs === undefined && Number.isFinite(reset) && reset > 0 ? { ...answer, retryAfterMs: reset * 1000 } : answer;
  return readCodedAnswer(withReset, {
    label,
    secrets,
    codes: FEISHU_CODES,
    codeName: 'code',
    // `StatusCode`/`StatusMessage`: the older answer, still sent beside code/msg "for compatibility".
    code: (json) => (typeof json.code === 'number' ? json.code : typeof json.StatusCode === 'number' ? json.StatusCode : undefined),
    message: (json) => (typeof json.msg === 'string' ? json.msg : typeof json.StatusMessage === 'string' ? json.StatusMessage : ''),
  });
}
