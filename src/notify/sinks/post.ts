import type { Delivery, SinkSettings, SinkType } from './sink';
import type { Message } from '../message';

/**
 * What every sink shares: the bounded POST (the caller's time budget, no redirects, a capped read
 * of the answer), the failures as `Delivery` values with reasons that never hold the URL or the
 * secret, and the small pieces of text layout the chat platforms have in common. A platform's own
 * format, limits, signing and error answers live in its own file (slack.ts, feishu.ts, ...);
 * docs/NOTIFY-PLATFORMS.md says where each fact comes from.
 */

/** Bytes of an answer read: enough for every platform's error body, never a whole page. */
export const ANSWER_READ_BYTES = 2048;

/** Characters of an answer quoted in a reason. */
const ANSWER_QUOTE_CHARS = 200;

export type FailedDelivery = Extract<Delivery, { ok: false }>;

export interface Answer {
  readonly status: number;
  /** The first ANSWER_READ_BYTES bytes of the body, as UTF-8. */
  readonly text: string;
  /** Retry-After, when the platform sent one, from `now`. */
  readonly retryAfterMs?: number;
  readonly headers: Headers;
}

export type Posted = { readonly answered: Answer } | { readonly failed: FailedDelivery };

/** How a sink names itself in a reason: `the slack sink "team"`. Never its URL. */
export function sinkLabel(type: SinkType, name: string): string {
  return `the ${type} sink ${JSON.stringify(name)}`;
}

export function retryLater(label: string, what: string, retryAfterMs?: number): FailedDelivery {
  return retryAfterMs === undefined ? { ok: false, retry: true, reason: `${label}: ${what}` } : { ok: false, retry: true, reason: `${label}: ${what}`, retryAfterMs };
}

export function refused(label: string, what: string): FailedDelivery {
  return { ok: false, retry: false, reason: `${label}: ${what}` };
}

/**
 * The URL a sink posts to, or why there is none. Unset: retried (an operator may set the env var),
 * naming the env var. Not https (or http to this machine, for the tests and `npm start`): refused,
 * naming the env var, never the value. Hosts are not restricted: Lark answers on
 * open.larksuite.com, and private deployments of each platform exist.
 */
export function sinkUrl(settings: SinkSettings, label: string): URL | FailedDelivery {
  if (settings.url === undefined || settings.url.trim() === '') return retryLater(label, `env var ${settings.urlEnv} is not set`);
  let url: URL;
  try {
    url = new URL(settings.url.trim());
  } catch {
    return refused(label, `env var ${settings.urlEnv} is not a URL`);
  }
  const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    return refused(label, `env var ${settings.urlEnv} is not an https URL (http is accepted for localhost only)`);
  }
  if (url.username !== '' || url.password !== '') return refused(label, `env var ${settings.urlEnv} holds a user name or password: put the credential where the platform expects it`);
  return url;
}

/**
 * The strings a reason must never hold: the URL, each query value and each path segment that looks
 * like a token (Slack's and Feishu's tokens are path segments; DingTalk's and WeCom's are query
 * values), and the secret. Path words such as `webhook` or `services` are left: an error message
 * saying "invalid webhook url" should still read so.
 */
export function secretsOf(settings: SinkSettings): string[] {
  const secrets: string[] = [];
  // A secret of a few characters is not redacted: it would cut every word that holds it, and a
  // platform has no reason to echo it.
  if (settings.secret !== undefined && settings.secret.length >= 4) secrets.push(settings.secret);
  if (settings.url === undefined) return secrets;
  secrets.push(settings.url.trim());
  try {
    const url = new URL(settings.url.trim());
    secrets.push(url.href);
    for (const segment of url.pathname.split('/')) if (looksLikeToken(segment)) secrets.push(segment, decodeURIComponentSafe(segment));
    for (const value of url.searchParams.values()) if (value.length >= 6) secrets.push(value, encodeURIComponent(value));
  } catch {
    // Not a URL: only the whole string is known.
  }
  // Longest first, so a segment does not leave half of the URL behind.
  return [...new Set(secrets)].sort((a, b) => b.length - a.length);
}

/** Takes every secret and anything URL-shaped out of a text meant for a log line. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret !== '') out = out.split(secret).join('[redacted]');
  return out.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, '[url]');
}

export interface PostRequest {
  readonly url: URL;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
  readonly fetch: typeof fetch;
  /** `sinkLabel(...)`. */
  readonly label: string;
  /** `secretsOf(settings)`, plus anything the sink added (a signed query). */
  readonly secrets: readonly string[];
  readonly now: number;
}

/**
 * One POST of a JSON body, bounded by the caller's signal (the pass's time budget), never followed
 * through a redirect (an incoming webhook that redirects is misconfigured, and a redirect would
 * carry the body, signed, somewhere else), reading at most ANSWER_READ_BYTES of the answer. Never
 * throws: a failure to get an answer is a `FailedDelivery` whose reason holds no URL and no secret
 * (undici's "fetch failed" carries its cause, and some causes quote the URL).
 */
export async function postJson(request: PostRequest): Promise<Posted> {
  let response: Response;
  try {
    response = await request.fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...request.headers },
      body: request.body,
      signal: request.signal,
      redirect: 'error',
    });
  } catch (error) {
    return { failed: fetchFailure(error, request) };
  }
  let text: string;
  try {
    text = await readCapped(response, ANSWER_READ_BYTES);
  } catch (error) {
    return { failed: fetchFailure(error, request) };
  }
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), request.now);
  const answered: Answer = { status: response.status, text, headers: response.headers };
  return { answered: retryAfterMs === undefined ? answered : { ...answered, retryAfterMs } };
}

function fetchFailure(error: unknown, request: PostRequest): FailedDelivery {
  if (request.signal.aborted) return retryLater(request.label, 'no answer before the time budget ran out');
  const cause = describeCause(error);
  // undici refuses a 3xx under redirect: 'error' with "unexpected redirect": the URL is wrong, and
  // trying it again changes nothing.
  if (/redirect/i.test(cause)) return refused(request.label, `answered with a redirect, which is not followed: check the URL (${redact(cause, request.secrets)})`);
  return retryLater(request.label, `could not be reached: ${redact(cause, request.secrets)}`);
}

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:9" from undici's error and its cause chain. */
function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    // Duck-typed, not instanceof Error: undici's errors may come from another realm (jest's vm).
    if (typeof current === 'object' && typeof (current as { message?: unknown }).message === 'string') {
      const { message, code, cause } = current as { message: string; code?: unknown; cause?: unknown };
      parts.push(typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message);
      current = cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.filter((p) => p !== '').join(': ') || 'unknown error';
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // The rest is not read: cancelling frees the connection without waiting for it.
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The answer's body as one short line for a reason, without secrets or URLs. */
export function quote(text: string, secrets: readonly string[]): string {
  const line = redact(text, secrets).replace(/\s+/g, ' ').trim();
  return line.length > ANSWER_QUOTE_CHARS ? `${line.slice(0, ANSWER_QUOTE_CHARS - 1)}…` : line;
}

/**
 * The HTTP-level reading every platform shares before its own body codes: 429 retried (with the
 * platform's Retry-After), 5xx retried, 408 retried (the request timed out on the way), the rest of
 * 4xx and 3xx refused. Undefined for 2xx: the caller reads the body.
 */
export function httpFailure(answer: Answer, label: string, secrets: readonly string[]): FailedDelivery | undefined {
  const { status } = answer;
  if (status >= 200 && status < 300) return undefined;
  const what = `answered HTTP ${status}${answer.text.trim() === '' ? '' : ` ${quote(answer.text, secrets)}`}`;
  if (status === 429 || status === 408 || status >= 500) return retryLater(label, what, answer.retryAfterMs);
  return refused(label, what);
}

/** A platform's body codes: which are worth another try, what each means, how long to wait. Unlisted non-zero codes are refused. */
export type CodeTable = Readonly<Record<number, { readonly retry: boolean; readonly what: string; readonly waitMs?: number }>>;

export interface CodedAnswerReading {
  readonly label: string;
  readonly secrets: readonly string[];
  readonly codes: CodeTable;
  /** `errcode`, `code`: how the platform names its result code, and its message. */
  readonly code: (json: Record<string, unknown>) => number | undefined;
  readonly message: (json: Record<string, unknown>) => string;
  /** `errcode`, `code`: the word for the code in a reason. */
  readonly codeName: string;
}

/**
 * The answer of a platform that says how it went in a JSON code (DingTalk and WeCom `errcode`,
 * Feishu `code`): 429 and 5xx retried; 2xx with code 0 delivered; a non-zero code read from the
 * table (on a 2xx or a 4xx: some platforms answer a refusal with a 4xx); no code: the HTTP status
 * decides (httpFailure), and a 2xx without a code is refused (not the platform, or not its answer).
 */
export function readCodedAnswer(answer: Answer, reading: CodedAnswerReading): Delivery {
  const { label, secrets } = reading;
  // 429 and 5xx are worth another try whatever the body says.
  if (answer.status === 429 || answer.status >= 500) return httpFailure(answer, label, secrets) ?? retryLater(label, `answered HTTP ${answer.status}`);
  const json = parseJsonObject(answer.text);
  const code = json === undefined ? undefined : reading.code(json);
  if (answer.status >= 200 && answer.status < 300 && code === 0) return { ok: true };
  if (json === undefined || code === undefined || code === 0) {
    return httpFailure(answer, label, secrets) ?? refused(label, `answered HTTP ${answer.status} without ${reading.codeName}: ${quote(answer.text, secrets)}`);
  }
  const message = reading.message(json);
  const known = reading.codes[code];
  const what = `answered ${reading.codeName} ${code}${known === undefined ? '' : ` (${known.what})`}${message === '' ? '' : `: ${quote(message, secrets)}`}`;
  if (known?.retry === true) return retryLater(label, what, known.waitMs ?? answer.retryAfterMs);
  return refused(label, what);
}

export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a sink's delivery; an exception (a bug, not an answer) becomes a refused delivery with its message redacted. */
export async function deliverSafely(label: string, secrets: readonly string[], deliver: () => Promise<Delivery>): Promise<Delivery> {
  try {
    return await deliver();
  } catch (error) {
    return refused(label, `could not be delivered: ${redact(describeCause(error), secrets)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Text layout shared by the chat platforms.




/** Zero-width space: invisible, and it breaks a markup token in two without changing what is read. */
export const ZWSP = '\u200b';

/**
 * Text from outside (an alert's labels, values, an alert name in the title) made inert in the
 * Markdown dialects of DingTalk and WeCom, which have no documented escape character: whitespace
 * runs (newlines included) become one space, so nothing starts a line (no heading, quote, list or
 * link reference definition); a zero-width space after `<` stops tags, autolinks and WeCom's
 * `<@userid>` mention; one between `]` and `(` stops an inline link, one between `!` and `[` an
 * image. The text reads the same; nothing in it becomes a link or a mention.
 */
export function inertMarkdown(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/</g, `<${ZWSP}`)
    .replace(/\]\s*\(/g, `]${ZWSP}(`)
    .replace(/!\[/g, `!${ZWSP}[`);
}

/** A URL as a Markdown link target: no space or parenthesis left to end it early. */
export function markdownUrl(url: string): string {
  return url.replace(/ /g, '%20').replace(/\(/g, '%28').replace(/\)/g, '%29');
}

/** Long, or mixing digits into a word: T0AAAAAAA, B0BBBBBBB, a 24-character Slack token, a UUID. */
function looksLikeToken(segment: string): boolean {
  return segment.length >= 16 || (segment.length >= 8 && /\d/.test(segment));
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
