import { fitMessage, labelPairs, safeLink, utf8Bytes, type Message } from '../message';
import type { Notice } from '../../core/notice';
import type { Delivery, Sink, SinkFactory } from './sink';
import { deliverSafely, inertMarkdown, markdownUrl, postJson, readCodedAnswer, secretsOf, sinkLabel, sinkUrl, type Answer, type CodeTable } from './post';

/**
 * WeCom group robot (群机器人, docs/NOTIFY-PLATFORMS.md "WeCom"): POST
 * `{msgtype: markdown, markdown: {content}}` to `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`.
 * No signing: the key in the URL is the credential. Answers HTTP 200 `{"errcode":0,"errmsg":"ok"}`
 * or an errcode saying why not.
 *
 * Mentions: markdown content mentions with `<@userid>` (群机器人配置说明, doc 91770); inertMarkdown
 * puts a zero-width space after every `<` from outside, so none is ever formed.
 */

/** "markdown内容，最长不超过4096个字节，必须是utf8编码" (https://developer.work.weixin.qq.com/document/path/91770); over it: errcode 40058. */
export const WECOM_CONTENT_LIMIT_BYTES = 4096;

/** 20 messages a minute per robot (doc 91770, 消息发送频率限制). */
const WECOM_PER_PASS = 15;
const WECOM_TOO_FAST_WAIT_MS = 60_000;

/** errcodes (sources in docs/NOTIFY-PLATFORMS.md). Anything else non-zero is refused. */
const WECOM_CODES: CodeTable = {
  [-1]: { retry: true, what: 'system busy' },
  45009: { retry: true, what: 'sending too fast (over 20 a minute)', waitMs: WECOM_TOO_FAST_WAIT_MS },
  93000: { retry: false, what: 'the webhook URL is not valid (a wrong or revoked key)' },
  40008: { retry: false, what: 'invalid message type' },
  44004: { retry: false, what: 'the content is empty' },
  40058: { retry: false, what: 'the content is over 4096 bytes' },
};

export const createWecomSink: SinkFactory = (settings) => {
  const label = sinkLabel('wecom', settings.name);
  const secrets = secretsOf(settings);
  return {
    name: settings.name,
    type: 'wecom',
    language: settings.language,
    perPass: WECOM_PER_PASS,
    deliver: (_notice: Notice, message: Message, signal: AbortSignal, now: number): Promise<Delivery> =>
      deliverSafely(label, secrets, async () => {
        const url = sinkUrl(settings, label);
        if (!(url instanceof URL)) return url;
        // The limit is on markdown.content, not the body.
        const content = wecomMarkdown(fitMessage(message, WECOM_CONTENT_LIMIT_BYTES, (m) => utf8Bytes(wecomMarkdown(m)), settings.language));
        const body = JSON.stringify({ msgtype: 'markdown', markdown: { content } });
        const posted = await postJson({ url, body, signal, fetch: settings.fetch, label, secrets, now });
        if ('failed' in posted) return posted.failed;
        return readWecomAnswer(posted.answered, label, secrets);
      }),
  } satisfies Sink;
};

/**
 * The markdown content: the title as a heading, one line per fact (`**name**: value`), the labels,
 * the cut note in WeCom's grey (`<font color="comment">`, one of the three colours the doc lists),
 * the link. Text from outside goes through inertMarkdown.
 */
export function wecomMarkdown(message: Message): string {
  const lines = [`### ${inertMarkdown(message.title)}`, ...message.facts.map((f) => `**${inertMarkdown(f.name)}**: ${inertMarkdown(f.value)}`)];
  const labels = labelPairs(message);
  if (labels.length > 0) lines.push(inertMarkdown(labels.join(', ')));
  if (message.cut !== undefined) lines.push(`<font color="comment">${inertMarkdown(message.cut)}</font>`);
  const link = safeLink(message);
  if (link !== undefined) lines.push(`[${inertMarkdown(link.text).replace(/[[\]]/g, '')}](${markdownUrl(link.url)})`);
  return lines.join('\n');
}

function readWecomAnswer(answer: Answer, label: string, secrets: readonly string[]): Delivery {
  return readCodedAnswer(answer, {
    label,
    secrets,
    codes: WECOM_CODES,
    codeName: 'errcode',
    code: (json) => (typeof json.errcode === 'number' ? json.errcode : undefined),
    message: (json) => (typeof json.errmsg === 'string' ? json.errmsg : ''),
  });
}
