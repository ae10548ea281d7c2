import { NotifyCapture, type CapturePlatform } from '../../../dev/sandbox/notify-capture';
import { createDingtalkSink } from '../../../src/notify/sinks/dingtalk';
import { createFeishuSink } from '../../../src/notify/sinks/feishu';
import type { SinkFactory, SinkSettings } from '../../../src/notify/sinks/sink';
import { createSlackSink } from '../../../src/notify/sinks/slack';
import { createWebhookSink } from '../../../src/notify/sinks/webhook';
import { createWecomSink } from '../../../src/notify/sinks/wecom';
import { deliver, hostileMessage, hugeMessage, LINK_URL, MESSAGE, NOW } from '../notify/sinks/fixtures';

const SECRETS = {
  feishu: 'feishu-capture-secret',
  dingtalk: 'SECdingtalk-capture-secret',
  webhook: `whsec_${Buffer.alloc(32, 9).toString('base64')}`,
};

const PATHS: Record<CapturePlatform, string> = {
  slack: '/slack/T000/B000/capture',
  feishu: '/feishu/open-apis/bot/v2/hook/capture-token',
  dingtalk: '/dingtalk/robot/send?access_token=capture-token',
  wecom: '/wecom/cgi-bin/webhook/send?key=capture-key',
  webhook: '/webhook/scaleout',
};

const SINKS: ReadonlyArray<readonly [CapturePlatform, SinkFactory, string | undefined]> = [
  ['slack', createSlackSink, undefined],
  ['feishu', createFeishuSink, SECRETS.feishu],
  ['dingtalk', createDingtalkSink, SECRETS.dingtalk],
  ['wecom', createWecomSink, undefined],
  ['webhook', createWebhookSink, SECRETS.webhook],
];

describe('NotifyCapture', () => {
  const printed: string[] = [];
  const capture = new NotifyCapture({ secrets: SECRETS, print: (line) => printed.push(line), now: () => NOW });
  let base: string;

  beforeAll(async () => {
    base = await capture.start(0);
  });
  afterAll(() => capture.stop());
  beforeEach(() => {
    capture.clear();
    printed.length = 0;
  });

  const sinkSettings = (platform: CapturePlatform, secret: string | undefined): SinkSettings => ({
    name: 'capture',
    language: 'en',
    url: `${base}${PATHS[platform]}`,
    urlEnv: `${platform.toUpperCase()}_URL`,
    fetch,
    ...(secret === undefined ? {} : { secret, secretEnv: `${platform.toUpperCase()}_SECRET` }),
  });

  it.each(SINKS)('takes what the %s sink sends, signed, and shows what a reader would see', async (platform, factory, secret) => {
    expect(await deliver(factory, sinkSettings(platform, secret))).toEqual({ ok: true });
    const [message] = capture.received();
    expect(message).toMatchObject({ platform, status: expect.any(Number), accepted: true, at: NOW });
    // DingTalk's sign rides in the query, after the URL's own.
    expect(message!.path.startsWith(PATHS[platform])).toBe(true);
    expect(message!.text).toContain(MESSAGE.title);
    for (const fact of MESSAGE.facts) expect(message!.text).toContain(`${fact.name}: ${fact.value}`);
    expect(message!.text).toContain('alertname=HighCPU, namespace=shop');
    if (platform !== 'webhook') expect(message!.text).toContain(`Node list (${LINK_URL})`);
    expect(printed).toHaveLength(1);
    expect(printed[0]!.split('\n')[0]).toBe(`[notify-capture] ${platform}`);
    expect(printed[0]).toContain(`  ${MESSAGE.title}`);
  });

  it.each(SINKS)('takes a huge %s message cut to the platform limit, with the note', async (platform, factory, secret) => {
    expect(await deliver(factory, sinkSettings(platform, secret), hugeMessage(3000))).toEqual({ ok: true });
    expect(capture.received()[0]!.text).toMatch(/\d+ more labels not shown/);
  });

  it.each(SINKS)('shows hostile label values from the %s sink as text', async (platform, factory, secret) => {
    expect(await deliver(factory, sinkSettings(platform, secret), hostileMessage())).toEqual({ ok: true });
    const text = capture.received()[0]!.text;
    expect(text).toContain('channel=<!channel>');
    expect(text).toContain('at_all=@all');
  });

  it.each([
    ['feishu', createFeishuSink, /code 19021/],
    ['dingtalk', createDingtalkSink, /errcode 310000/],
    ['webhook', createWebhookSink, /HTTP 401 invalid signature/],
  ] as const)('answers a %s sign that does not match with the platform\'s own error, which the sink does not retry', async (platform, factory, reason) => {
    const wrong = platform === 'webhook' ? `whsec_${Buffer.alloc(32, 1).toString('base64')}` : 'not-the-secret';
    const delivery = await deliver(factory, sinkSettings(platform, wrong));
    expect(delivery).toMatchObject({ ok: false, retry: false, reason: expect.stringMatching(reason) });
    expect(capture.received()[0]).toMatchObject({ platform, accepted: false });
  });

  it('answers a fault the given number of times, then clears it', async () => {
    capture.fail('slack', { status: 429, body: 'rate_limited', headers: { 'retry-after': '3' }, times: 2 });
    const settings = sinkSettings('slack', undefined);
    expect(await deliver(createSlackSink, settings)).toMatchObject({ ok: false, retry: true, retryAfterMs: 3000 });
    expect(await deliver(createSlackSink, settings)).toMatchObject({ ok: false, retry: true, retryAfterMs: 3000 });
    expect(await deliver(createSlackSink, settings)).toEqual({ ok: true });
    expect(capture.received().map((m) => [m.status, m.accepted])).toEqual([
      [429, false],
      [429, false],
      [200, true],
    ]);
  });

  it.each([
    ['dingtalk', createDingtalkSink, SECRETS.dingtalk, { body: { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' } }, 600_000],
    ['wecom', createWecomSink, undefined, { body: { errcode: 45009, errmsg: 'api freq out of limit' } }, 60_000],
    ['feishu', createFeishuSink, SECRETS.feishu, { status: 503, body: 'Service Unavailable' }, undefined],
  ] as const)('takes a %s fault over HTTP (POST /__capture/faults)', async (platform, factory, secret, fault, retryAfterMs) => {
    const response = await fetch(`${base}/__capture/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ platform, times: 1, ...fault }) });
    expect(response.status).toBe(204);
    const first = await deliver(factory, sinkSettings(platform, secret));
    expect(first).toMatchObject({ ok: false, retry: true });
    if (!first.ok) expect(first.retryAfterMs).toBe(retryAfterMs);
    expect(await deliver(factory, sinkSettings(platform, secret))).toEqual({ ok: true });
  });

  it('hangs on a fault with an endless delay, until the sink gives up; then answers again', async () => {
    capture.fail('webhook', { times: 1, delayMs: Infinity });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const settings = sinkSettings('webhook', SECRETS.webhook);
    expect(await deliver(createWebhookSink, settings, MESSAGE, controller.signal)).toMatchObject({ ok: false, retry: true });
    expect(await deliver(createWebhookSink, settings)).toEqual({ ok: true });
  });

  it('delays an answer by delayMs', async () => {
    capture.fail('wecom', { times: 1, delayMs: 150, body: { errcode: 0, errmsg: 'ok' } });
    const started = Date.now();
    // A fault's answer is whatever it says, even a success body: the sink reads it as WeCom's.
    expect(await deliver(createWecomSink, sinkSettings('wecom', undefined))).toEqual({ ok: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('refuses a fault for no platform', async () => {
    expect(() => capture.fail('teams' as CapturePlatform, { times: 1 })).toThrow(/no platform "teams"/);
    const response = await fetch(`${base}/__capture/faults`, { method: 'POST', body: JSON.stringify({ platform: 'slack', times: 0 }) });
    expect(response.status).toBe(400);
  });

  it('lists what it received at GET /__capture/received', async () => {
    await deliver(createWecomSink, sinkSettings('wecom', undefined));
    const response = await fetch(`${base}/__capture/received`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(capture.received())));
  });

  it('answers 404 off the platform paths', async () => {
    expect((await fetch(`${base}/teams/hook`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(capture.received()).toEqual([]);
  });
});
