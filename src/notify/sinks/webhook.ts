import { createHmac } from 'node:crypto';
import { fitMessage, plainText, type Message } from '../message';
import type { Notice } from '../../core/notice';
import type { Delivery, Sink, SinkFactory, SinkSettings } from './sink';
import { deliverSafely, httpFailure, postJson, refused, secretsOf, sinkLabel, sinkUrl, type FailedDelivery } from './post';

/**
 * A generic webhook following Standard Webhooks (standard-webhooks/standard-webhooks,
 * spec/standard-webhooks.md, v1.0.0; docs/NOTIFY-PLATFORMS.md "Generic webhook"): POST
 *
 *   {"type": "tke-scaleout.<kind>", "timestamp": "<when it happened, ISO 8601>", "data": <the Notice>, "text": "<the message, plain>"}
 *
 * with `webhook-id` (the notice's ID: the same on every retry, the receiver's idempotency key),
 * `webhook-timestamp` (this attempt, Unix seconds) and, with a secret, `webhook-signature`:
 * `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)) over the exact bytes sent.
 *
 * `data` is the notice as it is (the data the team's tools read); `text` is the rendered message
 * for a human reading the payload or a tool that just shows it (the spec allows more top-level
 * metadata). The config requires a secret for this sink (`secretEnv`), and one declared but unset
 * never reaches here (sinks/index.ts); the unsigned path is for a caller that builds the sink itself.
 */

/** Not a rate the receiver sets: one pass's share of a generous budget. */
const WEBHOOK_PER_PASS = 60;

/** `text` kept short: the spec recommends payloads under 20 kB, and `data` is not cut. */
const WEBHOOK_TEXT_LIMIT_CHARS = 4000;

/** Symmetric secrets: "Random. At least 24 bytes (192 bits, 512 maximum)" - read as 24 to 64 bytes (512 bits). */
export const WEBHOOK_SECRET_BYTES = { min: 24, max: 64 } as const;

/**
 * Statuses worth another try: the spec lists 429 and 502/504 as "throttle", and treats every non-2xx
 * as a failure to retry on its schedule; here a 4xx is final (a receiver that refused this signed
 * body will refuse it again) except 408 (timed out), 409 (a receiver still busy with the same
 * webhook-id) and 425/429. 410 Gone is final by the spec ("disable the endpoint").
 */
const RETRY_4XX = new Set([408, 409, 425, 429]);

export const createWebhookSink: SinkFactory = (settings) => {
  const label = sinkLabel('webhook', settings.name);
  const secrets = secretsOf(settings);
  return {
    name: settings.name,
    type: 'webhook',
    language: settings.language,
    perPass: WEBHOOK_PER_PASS,
    deliver: (notice: Notice, message: Message, signal: AbortSignal, now: number): Promise<Delivery> =>
      deliverSafely(label, secrets, async () => {
        const url = sinkUrl(settings, label);
        if (!(url instanceof URL)) return url;
        const key = signingKey(settings, label);
        if (key !== undefined && !(key instanceof Uint8Array)) return key;
        const body = webhookBody(notice, message, settings);
        const id = webhookId(notice.id);
        const timestamp = String(Math.floor(now / 1000));
        const headers: Record<string, string> = { 'webhook-id': id, 'webhook-timestamp': timestamp };
        if (key !== undefined) headers['webhook-signature'] = standardWebhookSignature(key, id, timestamp, body);
        const posted = await postJson({ url, body, headers, signal, fetch: settings.fetch, label, secrets, now });
        if ('failed' in posted) return posted.failed;
        const answer = posted.answered;
        if (answer.status >= 200 && answer.status < 300) return { ok: true };
        const failed = httpFailure(answer, label, secrets) ?? refused(label, `answered HTTP ${answer.status}`);
        return RETRY_4XX.has(answer.status) ? { ...failed, retry: true } : failed;
      }),
  } satisfies Sink;
};

export function webhookBody(notice: Notice, message: Message, settings: Pick<SinkSettings, 'language'>): string {
  const text = plainText(fitMessage(message, WEBHOOK_TEXT_LIMIT_CHARS, (m) => plainText(m).length, settings.language));
  return JSON.stringify({ type: `tke-scaleout.${notice.kind}`, timestamp: new Date(notice.at).toISOString(), data: notice, text });
}

/**
 * The notice's ID as `webhook-id`. The spec: the ID must not hold `.` (the signed content is
 * dot-delimited); notice IDs are `bought:p-…` and the like, but any character outside
 * `[A-Za-z0-9:_-]` is percent-encoded so that none ever can, and the header stays a token.
 */
export function webhookId(noticeId: string): string {
  return noticeId.replace(/[^A-Za-z0-9:_-]/g, (c) => Array.from(Buffer.from(c, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/** `v1,` + base64 HMAC-SHA256 of `${id}.${timestamp}.${body}` (spec, "Signature scheme"). */
export function standardWebhookSignature(key: Uint8Array, id: string, timestampSeconds: string, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/**
 * The HMAC key from the secret: `whsec_` stripped, the rest base64-decoded (the spec's
 * serialization). A secret without the prefix is read as base64 too, as the reference library
 * does (libraries/javascript/src/index.ts decodes both; its test "verification works with and
 * without signature prefix"), so a receiver using that library verifies what we sign. A secret
 * that is not strict base64, or decodes to fewer than 24 or more than 64 bytes, is refused: a
 * signature from a weak or mangled key would look fine and protect nothing. The reason names the
 * env var, never the value. No secret: undefined (unsigned).
 */
export function signingKey(settings: Pick<SinkSettings, 'secret' | 'secretEnv'>, label: string): Uint8Array | FailedDelivery | undefined {
  const secret = settings.secret?.trim();
  if (secret === undefined || secret === '') return undefined;
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const env = settings.secretEnv === undefined ? 'the secret env var' : `env var ${settings.secretEnv}`;
  const key = strictBase64(encoded);
  if (key === undefined) return refused(label, `${env} is not a Standard Webhooks secret: expected whsec_ and base64`);
  if (key.length < WEBHOOK_SECRET_BYTES.min || key.length > WEBHOOK_SECRET_BYTES.max) {
    return refused(label, `${env} decodes to ${key.length} bytes; a Standard Webhooks secret is ${WEBHOOK_SECRET_BYTES.min} to ${WEBHOOK_SECRET_BYTES.max} random bytes`);
  }
  return key;
}

/** Base64 (standard alphabet, padding optional) or undefined: Buffer.from(…, 'base64') skips what it cannot read. */
function strictBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) return undefined;
  return new Uint8Array(Buffer.from(text, 'base64'));
}
