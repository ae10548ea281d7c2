import { cutText, fitMessage, labelPairs, safeLink, type Message } from '../message';
import type { Notice } from '../../core/notice';
import type { Delivery, Sink, SinkFactory } from './sink';
import { deliverSafely, httpFailure, postJson, quote, refused, secretsOf, sinkLabel, sinkUrl } from './post';

/**
 * Slack incoming webhook (docs/NOTIFY-PLATFORMS.md, "Slack"): `{text, blocks}` posted to the
 * webhook URL, which is the credential. Answers 200 `ok`, or an error string with a 4xx
 * (invalid_payload, action_prohibited, channel_not_found, no_service, channel_is_archived), 429 with
 * Retry-After, or a 5xx.
 */

/**
 * Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks, section-block, header-block,
 * text-object): a header's plain text 150 chars; a section's text 3000, its fields 10 of 2000 each;
 * 50 blocks a message. `text` is truncated past 40,000 chars
 * (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
 */
export const SLACK_LIMITS = {
  headerChars: 150,
  textObjectChars: 3000,
  fieldChars: 2000,
  fieldsPerSection: 10,
  blocks: 50,
  textChars: 40_000,
} as const;

/** 1 message a second per webhook, short bursts allowed (https://docs.slack.dev/apis/web-api/rate-limits): half a minute's worth a pass. */
const SLACK_PER_PASS = 30;

export const createSlackSink: SinkFactory = (settings) => {
  const label = sinkLabel('slack', settings.name);
  const secrets = secretsOf(settings);
  return {
    name: settings.name,
    type: 'slack',
    language: settings.language,
    perPass: SLACK_PER_PASS,
    deliver: (_notice: Notice, message: Message, signal: AbortSignal, now: number): Promise<Delivery> =>
      deliverSafely(label, secrets, async () => {
        const url = sinkUrl(settings, label);
        if (!(url instanceof URL)) return url;
        const body = slackBody(fitMessage(message, SLACK_LIMITS.textObjectChars, longestSlackText, settings.language));
        const posted = await postJson({ url, body: JSON.stringify(body), signal, fetch: settings.fetch, label, secrets, now });
        if ('failed' in posted) return posted.failed;
        const answer = posted.answered;
        // Any status but 2xx is a failure whose body names it; 429 and 5xx are worth another try.
        const failed = httpFailure(answer, label, secrets);
        if (failed !== undefined) return failed;
        if (answer.text.trim() !== 'ok') return refused(label, `answered HTTP ${answer.status} without "ok": ${quote(answer.text, secrets)}`);
        return { ok: true };
      }),
  } satisfies Sink;
};

/** `&`, `<` and `>` as Slack asks for them in mrkdwn (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface MrkdwnText {
  readonly type: 'mrkdwn';
  readonly text: string;
  /** true: Slack does not link URLs or channel names nor parse mentions in it (text-object reference). */
  readonly verbatim?: boolean;
}
type SlackBlock =
  | { readonly type: 'header'; readonly text: { readonly type: 'plain_text'; readonly text: string } }
  | { readonly type: 'section'; readonly fields: readonly MrkdwnText[] }
  | { readonly type: 'section'; readonly text: MrkdwnText }
  | { readonly type: 'context'; readonly elements: readonly MrkdwnText[] };

export interface SlackBody {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

/**
 * The message as blocks: the title as a header (plain text: nothing in it is parsed), the facts as
 * section fields (`*name*` over the value, ten to a section), the labels and the cut note as a
 * context block, the link as a section `<url|text>`. Everything from outside is escaped and set
 * `verbatim`, so a label value `<!channel>` or `https://evil` stays text. Header and fields are
 * cut to their own limits here; fitMessage keeps the largest text object (the labels) under 3000.
 */
export function slackBody(message: Message): SlackBody {
  const verbatim = (text: string): MrkdwnText => ({ type: 'mrkdwn', text, verbatim: true });
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: cutText(message.title, SLACK_LIMITS.headerChars) } }];
  const fields = message.facts.map((f) => verbatim(cutText(`*${escapeMrkdwn(f.name)}*\n${escapeMrkdwn(f.value)}`, SLACK_LIMITS.fieldChars)));
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.fieldsPerSection) blocks.push({ type: 'section', fields: fields.slice(i, i + SLACK_LIMITS.fieldsPerSection) });
  const context: MrkdwnText[] = [];
  const labels = labelPairs(message);
  if (labels.length > 0) context.push(verbatim(labels.map(escapeMrkdwn).join(', ')));
  if (message.cut !== undefined) context.push(verbatim(`_${escapeMrkdwn(message.cut)}_`));
  if (context.length > 0) blocks.push({ type: 'context', elements: context });
  const link = safeLink(message);
  if (link !== undefined) {
    // Inside <url|text>, `|` and `>` would end the URL: they are percent-encoded there.
    const url = escapeMrkdwn(link.url.replace(/\|/g, '%7C'));
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${url}|${escapeMrkdwn(link.text.replace(/\|/g, '/'))}>` } });
  }
  // The fallback a notification shows: the title and the facts, escaped (top-level text is mrkdwn).
  const text = cutText(escapeMrkdwn([message.title, ...message.facts.map((f) => `${f.name}: ${f.value}`)].join('\n')), SLACK_LIMITS.textChars);
  return { text, blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}

/**
 * What fitMessage measures for Slack: the longest mrkdwn text in the body, which Slack caps at 3000
 * characters. Slack sets no limit on a body's total size below 40,000 chars of `text`; the limit a
 * growing label set meets first is its context element's.
 */
export function longestSlackText(message: Message): number {
  let longest = 0;
  for (const block of slackBody(message).blocks) {
    const texts = block.type === 'context' ? block.elements : block.type === 'section' ? ('fields' in block ? block.fields : [block.text]) : [];
    for (const t of texts) longest = Math.max(longest, t.text.length);
  }
  return longest;
}
