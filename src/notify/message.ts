/**
 * A notice as people read it, before any platform's format: a title line, the facts in order, the
 * alert's labels (the part that may be cut to fit), and a link to the cluster's node list. Each
 * sink (notify/sinks/) lays it out in its platform's format and fits it to the platform's size
 * limit with `fitMessage`. Written by notify/render.ts in the operator's language.
 */
import type { Language } from '../core/notice';

export interface Message {
  /** One line: what happened, where. */
  readonly title: string;
  /** info: bought, ready; warning: held back; error: failed. Sinks may colour by it. */
  readonly severity: 'info' | 'warning' | 'error';
  readonly facts: ReadonlyArray<MessageFact>;
  /** The alert's labels, shown after the facts; the first thing cut when the message is too long. */
  readonly labels?: ReadonlyArray<readonly [string, string]>;
  readonly link?: { readonly text: string; readonly url: string };
  /** Set by fitMessage when something was left out: says what, in the message's language. */
  readonly cut?: string;
}

export interface MessageFact {
  readonly name: string;
  readonly value: string;
}

/** What fitMessage says when it leaves labels or text out. */
const CUT_NOTE: Record<Language, { labels: (n: number) => string; text: string }> = {
  en: { labels: (n) => `${n} more label${n === 1 ? '' : 's'} not shown`, text: 'shortened to fit the message limit' },
  zh: { labels: (n) => `另有 ${n} 个标签未显示`, text: '内容过长，已截断' },
};

/**
 * The message as large as `size` says it may be: labels are dropped from the end first (with a
 * note of how many), then the longest fact value is halved, again and again, then the title; what
 * is left is measured every time, so the result fits whatever `size` counts (bytes or characters,
 * as the sink's platform does, escaping included). Bounded: a binary search over the labels, and
 * at most a few dozen halvings, each measuring once.
 */
export function fitMessage(message: Message, limit: number, size: (m: Message) => number, language: Language): Message {
  if (size(message) <= limit) return message;
  const note = CUT_NOTE[language];
  const labels = message.labels ?? [];
  // The most labels that fit, by halving: O(log n) measurements.
  let lo = 0;
  let hi = labels.length;
  const withLabels = (n: number): Message => ({ ...message, labels: labels.slice(0, n), cut: note.labels(labels.length - n) });
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (size(withLabels(mid)) <= limit) lo = mid;
    else hi = mid - 1;
  }
  const fewer = labels.length > 0 ? withLabels(lo) : message;
  if (size(fewer) <= limit) return fewer;
  // Still too long without labels: the longest value is halved until the message fits.
  let cut: Message = { ...message, labels: [], cut: labels.length > 0 ? `${note.labels(labels.length)}; ${note.text}` : note.text };
  for (let round = 0; round < MAX_HALVINGS && size(cut) > limit; round++) {
    const facts = [...cut.facts];
    const longest = facts.reduce((at, f, i) => (f.value.length > facts[at]!.value.length ? i : at), 0);
    const fact = facts[longest];
    if (fact === undefined || fact.value.length <= MIN_VALUE) {
      // Every value is short: the title goes next, then the facts from the end.
      if (Array.from(cut.title).length > TITLE_FLOOR) cut = { ...cut, title: cutText(cut.title, Math.max(TITLE_FLOOR, Math.floor(Array.from(cut.title).length / 2))) };
      else if (facts.length > 0) cut = { ...cut, facts: facts.slice(0, -1) };
      else break;
      continue;
    }
    facts[longest] = { ...fact, value: cutText(fact.value, Math.max(MIN_VALUE, Math.floor(Array.from(fact.value).length / 2))) };
    cut = { ...cut, facts };
  }
  return cut;
}

/** Halvings fitMessage makes at most: a value of a million characters is short after 20. */
const MAX_HALVINGS = 64;
/** A value is never cut below this (an instance ID, a purchase ID stay whole). */
const MIN_VALUE = 24;
const TITLE_FLOOR = 60;

/** At most `max` characters (whole code points), with an ellipsis when cut. */
export function cutText(text: string, max: number): string {
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** Bytes of a string in UTF-8: what DingTalk, WeCom and Feishu limits count. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** `k=v` for each label, in order, each on one line: a newline in a label value starts nothing (a quote, a heading). */
export function labelPairs(message: Message): string[] {
  return (message.labels ?? []).map(([key, value]) => `${key}=${value}`.replace(/\s+/g, ' '));
}

/** The link, when it is an http(s) URL: render.ts builds it, but a link of another scheme is never sent. */
export function safeLink(message: Message): { readonly text: string; readonly url: string } | undefined {
  const link = message.link;
  if (link === undefined) return undefined;
  try {
    const url = new URL(link.url);
    return url.protocol === 'https:' || url.protocol === 'http:' ? { text: link.text, url: url.href } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The message as plain lines, as a reader sees it: title, `name: value` per fact, the labels as
 * `k=v, k=v`, the cut note, the link as `text: url`. The generic webhook's `text`, Slack's fallback,
 * and what the capture server shows.
 */
export function plainText(message: Message): string {
  const lines = [message.title, ...message.facts.map((f) => `${f.name}: ${f.value}`)];
  const labels = labelPairs(message);
  if (labels.length > 0) lines.push(labels.join(', '));
  if (message.cut !== undefined) lines.push(`(${message.cut})`);
  const link = safeLink(message);
  if (link !== undefined) lines.push(`${link.text}: ${link.url}`);
  return lines.join('\n');
}
