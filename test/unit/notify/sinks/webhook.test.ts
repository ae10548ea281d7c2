import { createHmac, timingSafeEqual } from 'node:crypto';
import { createWebhookSink, signingKey, standardWebhookSignature, webhookId } from '../../../../src/notify/sinks/webhook';
import { plainText } from '../../../../src/notify/message';
import { deliver, hostileMessage, hugeMessage, MESSAGE, NOTICE, NOW, PlatformServer, settings, type PlatformReply, type ReceivedRequest } from './fixtures';

// Standard Webhooks v1.0.0: standard-webhooks/standard-webhooks, spec/standard-webhooks.md.

/** A Standard Webhooks secret as the spec serializes one: whsec_ + base64 of 32 random bytes. */
const KEY_BYTES = Buffer.from('4f1c2a9e8b7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b', 'hex');
const SECRET = `whsec_${KEY_BYTES.toString('base64')}`;
const PATH_TOKEN = 'hookpathtoken-0123456789';

/**
 * The receiver's check, as spec/standard-webhooks.md gives it ("Signature scheme", "Verifying
 * signatures"): the signed content is `${webhook-id}.${webhook-timestamp}.${raw body}`, HMAC-SHA256
 * with the base64-decoded secret (after `whsec_`), base64; `webhook-signature` is a space-delimited
 * list of `v1,<sig>`; compare in constant time; the timestamp within a tolerance (5 minutes in the
 * reference library, libraries/javascript/src/index.ts).
 */
function receiverAccepts(req: ReceivedRequest, secret: string, nowMs: number): boolean {
  const id = req.headers['webhook-id'];
  const timestamp = req.headers['webhook-timestamp'];
  const signatures = req.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.${req.body}`).digest('base64'));
  return signatures.split(' ').some((s) => {
    const [version, signature] = s.split(',');
    const given = Buffer.from(signature ?? '');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

describe('createWebhookSink', () => {
  let reply: (req: ReceivedRequest) => PlatformReply;
  const server = new PlatformServer((req) => reply(req));
  let url: string;

  /** Plays a receiver: 401 when the signature does not verify, else 204. */
  const receiver =
    (secret: string | undefined) =>
    (req: ReceivedRequest): PlatformReply =>
      secret !== undefined && !receiverAccepts(req, secret, NOW) ? { status: 401, body: 'invalid signature' } : { status: 204 };

  beforeAll(async () => {
    url = `${await server.start()}/hooks/${PATH_TOKEN}`;
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    reply = receiver(SECRET);
  });

  /** null: no secret. */
  const sinkSettings = (secret: string | null = SECRET) => settings({ url, urlEnv: 'HOOK_URL', ...(secret === null ? {} : { secret, secretEnv: 'HOOK_SECRET' }) });

  it('reproduces the reference library\'s published signature (libraries/javascript/src/webhook.test.ts, "sign function works")', () => {
    const key = signingKey({ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }, 'the webhook sink "t"');
    expect(key).toBeInstanceOf(Uint8Array);
    expect(standardWebhookSignature(key as Uint8Array, 'msg_p5jXN8AQM9LWM0D4loKWxJek', '1614265330', '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('posts {type, timestamp, data: the notice, text} with webhook-id, webhook-timestamp and a signature the receiver verifies', async () => {
    expect(await deliver(createWebhookSink, sinkSettings())).toEqual({ ok: true });
    const request = server.requests.at(-1)!;
    expect(receiverAccepts(request, SECRET, NOW)).toBe(true);
    expect(request.headers['webhook-id']).toBe(NOTICE.id);
    expect(request.headers['webhook-timestamp']).toBe(String(Math.floor(NOW / 1000)));
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(JSON.parse(request.body)).toEqual({ type: 'tke-scaleout.bought', timestamp: new Date(NOTICE.at).toISOString(), data: NOTICE, text: plainText(MESSAGE) });
    expect(Object.keys(JSON.parse(request.body))).toEqual(['type', 'timestamp', 'data', 'text']);
  });

  it('reads a secret without whsec_ as base64, as the reference library does', async () => {
    expect(await deliver(createWebhookSink, sinkSettings(KEY_BYTES.toString('base64')))).toEqual({ ok: true });
    expect(receiverAccepts(server.requests.at(-1)!, SECRET, NOW)).toBe(true);
  });

  it('posts unsigned when there is no secret', async () => {
    reply = receiver(undefined);
    expect(await deliver(createWebhookSink, sinkSettings(null))).toEqual({ ok: true });
    expect(server.requests.at(-1)!.headers['webhook-signature']).toBeUndefined();
  });

  it.each([
    ['not base64', 'correct horse battery staple!', /HOOK_SECRET is not a Standard Webhooks secret/],
    ['16 bytes', `whsec_${Buffer.alloc(16, 7).toString('base64')}`, /HOOK_SECRET decodes to 16 bytes; a Standard Webhooks secret is 24 to 64/],
    ['65 bytes', `whsec_${Buffer.alloc(65, 7).toString('base64')}`, /decodes to 65 bytes/],
  ])('refuses to sign with a secret that is %s, naming the env var and not the value', async (_name, secret, reason) => {
    const before = server.requests.length;
    const delivery = await deliver(createWebhookSink, sinkSettings(secret));
    expect(delivery).toMatchObject({ ok: false, retry: false, reason: expect.stringMatching(reason) });
    if (!delivery.ok) expect(delivery.reason).not.toContain(secret);
    expect(server.requests.length).toBe(before);
  });

  it('is refused for good when the receiver rejects the signature (401), naming neither secret nor URL', async () => {
    reply = receiver(`whsec_${Buffer.alloc(32, 1).toString('base64')}`);
    const delivery = await deliver(createWebhookSink, sinkSettings());
    expect(delivery).toMatchObject({ ok: false, retry: false, reason: 'the webhook sink "team": answered HTTP 401 invalid signature' });
    if (!delivery.ok) {
      expect(delivery.reason).not.toContain(PATH_TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
    }
  });

  it('cuts the text of a huge label set, keeping the notice whole in data', async () => {
    expect(await deliver(createWebhookSink, sinkSettings(), hugeMessage(3000))).toEqual({ ok: true });
    const body = JSON.parse(server.requests.at(-1)!.body);
    expect(body.data).toEqual(NOTICE);
    expect(body.text.length).toBeLessThanOrEqual(4000);
    const lines: string[] = body.text.split('\n');
    const shown = lines[1 + MESSAGE.facts.length]!.split(', ').length;
    expect(lines[2 + MESSAGE.facts.length]).toBe(`(${3000 - shown} more labels not shown)`);
  });

  it('sends hostile label values as plain JSON text, in a body the receiver still verifies', async () => {
    expect(await deliver(createWebhookSink, sinkSettings(), hostileMessage())).toEqual({ ok: true });
    const request = server.requests.at(-1)!;
    expect(receiverAccepts(request, SECRET, NOW)).toBe(true);
    expect(JSON.parse(request.body).text).toBe(plainText(hostileMessage()));
  });

  it('keeps a webhook-id free of dots and anything not a header token', () => {
    expect(webhookId('held-back:web:node-budget:1700000000000')).toBe('held-back:web:node-budget:1700000000000');
    expect(webhookId('x.y z\n')).toBe('x%2Ey%20z%0A');
  });

  it.each([
    ['429 with Retry-After', { status: 429, headers: { 'retry-after': '12' } }, true, 12_000],
    ['503', { status: 503 }, true, undefined],
    ['502', { status: 502 }, true, undefined],
    ['408', { status: 408 }, true, undefined],
    ['409', { status: 409 }, true, undefined],
    ['410 Gone', { status: 410 }, false, undefined],
    ['400', { status: 400, body: 'bad' }, false, undefined],
    ['404', { status: 404 }, false, undefined],
  ] as const)('reads %s', async (_name, answer, retry, retryAfterMs) => {
    reply = () => answer as PlatformReply;
    const delivery = await deliver(createWebhookSink, sinkSettings());
    expect(delivery).toMatchObject({ ok: false, retry });
    if (!delivery.ok) {
      expect(delivery.retryAfterMs).toBe(retryAfterMs);
      expect(delivery.reason).not.toContain(PATH_TOKEN);
    }
  });

  it('retries when the receiver never answers before the time budget runs out', async () => {
    reply = () => 'hang';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const delivery = await deliver(createWebhookSink, sinkSettings(), MESSAGE, controller.signal);
    expect(delivery).toMatchObject({ ok: false, retry: true });
    if (!delivery.ok) {
      expect(delivery.reason).not.toContain(PATH_TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
    }
  });

  it('retries when the env var is unset, naming it', async () => {
    expect(await deliver(createWebhookSink, settings({ url: undefined, urlEnv: 'HOOK_URL' }))).toEqual({ ok: false, retry: true, reason: 'the webhook sink "team": env var HOOK_URL is not set' });
  });
});
