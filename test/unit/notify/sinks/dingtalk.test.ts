import { createHmac } from 'node:crypto';
import { createDingtalkSink, DINGTALK_BODY_LIMIT_BYTES } from '../../../../src/notify/sinks/dingtalk';
import { ZWSP } from '../../../../src/notify/sinks/post';
import { deliver, hostileMessage, hugeMessage, LINK_URL, MESSAGE, NOW, PlatformServer, SECRET, settings, type PlatformReply, type ReceivedRequest } from './fixtures';

// DingTalk custom robot (自定义机器人): https://open.dingtalk.com/document/robots/custom-robot-access;
// its security settings (加签): https://help.dingtalk.io/open/dingstart/customize-robot-security-settings
// (the English page read; the Chinese one is https://open.dingtalk.com/document/robots/customize-robot-security-settings).

const TOKEN = 'dingtalkaccesstoken0123456789abcdef';

/**
 * DingTalk's check of 加签, as the security-settings doc gives it: "把timestamp+"\n"+密钥当做签名
 * 字符串，使用HmacSHA256算法计算签名，然后进行Base64 encode，最后再把签名参数再进行urlEncode" - the
 * doc's Python sample: hmac.new(secret_enc, string_to_sign_enc, digestmod=hashlib.sha256), i.e.
 * the KEY is the secret and the message is `timestamp\nsecret`; timestamp in ms, within an hour;
 * both added to the webhook URL's query.
 */
function dingtalkAccepts(requestUrl: string, secret: string, nowMs: number): boolean {
  const query = new URL(requestUrl, 'http://robot.local').searchParams;
  const timestamp = query.get('timestamp');
  const sign = query.get('sign');
  if (timestamp === null || sign === null || Math.abs(nowMs - Number(timestamp)) > 3_600_000) return false;
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}\n${secret}`, 'utf8').digest('base64') === sign;
}

describe('createDingtalkSink', () => {
  let reply: (req: ReceivedRequest) => PlatformReply;
  const server = new PlatformServer((req) => reply(req));
  let url: string;

  /** Plays DingTalk: the access_token must be there; with a secret, the sign must match, else 310000. */
  const dingtalk =
    (secret: string | undefined) =>
    (req: ReceivedRequest): PlatformReply => {
      if (new URL(req.url, 'http://robot.local').searchParams.get('access_token') !== TOKEN) return { body: { errcode: 300001, errmsg: 'token is not exist' } };
      if (secret !== undefined && !dingtalkAccepts(req.url, secret, NOW)) return { body: { errcode: 310000, errmsg: 'sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]' } };
      return { body: { errcode: 0, errmsg: 'ok' } };
    };

  beforeAll(async () => {
    url = `${await server.start()}/robot/send?access_token=${TOKEN}`;
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    reply = dingtalk(undefined);
  });

  const sinkSettings = (secret?: string, sinkUrl = url) => settings({ url: sinkUrl, urlEnv: 'DINGTALK_URL', ...(secret === undefined ? {} : { secret, secretEnv: 'DINGTALK_SECRET' }) });

  it('posts a markdown message: the title, a paragraph per fact, the labels, the link; no at field', async () => {
    expect(await deliver(createDingtalkSink, sinkSettings())).toEqual({ ok: true });
    expect(server.requests.at(-1)!.url).toBe(`/robot/send?access_token=${TOKEN}`);
    const body = server.lastJson();
    expect(Object.keys(body)).toEqual(['msgtype', 'markdown']);
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.title).toBe(MESSAGE.title);
    expect(body.markdown.text.split('\n\n')).toEqual([
      `#### ${MESSAGE.title}`,
      ...MESSAGE.facts.map((f) => `**${f.name}**: ${f.value}`),
      'alertname=HighCPU, namespace=shop',
      `[Node list](${LINK_URL})`,
    ]);
  });

  it('signs in the query (timestamp in ms, sign urlencoded) as DingTalk checks it, keeping the URL\'s own query', async () => {
    reply = dingtalk(SECRET);
    expect(await deliver(createDingtalkSink, sinkSettings(SECRET, `${url}&keep=me`))).toEqual({ ok: true });
    const requestUrl = server.requests.at(-1)!.url;
    expect(dingtalkAccepts(requestUrl, SECRET, NOW)).toBe(true);
    const query = new URL(requestUrl, 'http://robot.local').searchParams;
    expect(query.get('access_token')).toBe(TOKEN);
    expect(query.get('keep')).toBe('me');
    expect(query.get('timestamp')).toBe(String(NOW));
    // urlEncode of the base64: no raw + / = left in the query string.
    expect(requestUrl.split('sign=')[1]).not.toMatch(/[+/=]/);
  });

  it('is refused for good on a sign mismatch (310000), naming neither the token, the secret nor the sign', async () => {
    reply = dingtalk(SECRET);
    const delivery = await deliver(createDingtalkSink, sinkSettings(`${SECRET}x`));
    expect(delivery).toMatchObject({ ok: false, retry: false });
    if (!delivery.ok) {
      expect(delivery.reason).toContain('errcode 310000');
      expect(delivery.reason).not.toContain(TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
      expect(delivery.reason).not.toContain(new URL(server.requests.at(-1)!.url, 'http://x').searchParams.get('sign')!);
    }
  });

  it('cuts a huge label set to 20000 bytes of body, saying how many labels were left out', async () => {
    expect(await deliver(createDingtalkSink, sinkSettings(), hugeMessage(3000))).toEqual({ ok: true });
    const raw = server.requests.at(-1)!.body;
    expect(Buffer.byteLength(raw, 'utf8')).toBeLessThanOrEqual(DINGTALK_BODY_LIMIT_BYTES);
    expect(Buffer.byteLength(raw, 'utf8')).toBeGreaterThan(DINGTALK_BODY_LIMIT_BYTES - 200);
    const paragraphs: string[] = JSON.parse(raw).markdown.text.split('\n\n');
    const shown = paragraphs[1 + MESSAGE.facts.length]!.split(', ').length;
    expect(paragraphs[2 + MESSAGE.facts.length]).toBe(`> ${3000 - shown} more labels not shown`);
    expect(paragraphs.at(-1)).toBe(`[Node list](${LINK_URL})`);
  });

  it('makes hostile label values inert: no link but the node list, no tag, nothing starting a line', async () => {
    expect(await deliver(createDingtalkSink, sinkSettings(), hostileMessage())).toEqual({ ok: true });
    const body = server.lastJson();
    expect(body).not.toHaveProperty('at');
    const text: string = body.markdown.text;
    // The only inline link is ours; no image, tag, autolink or mention markup survives.
    expect(text.match(/\]\(/g)).toEqual(['](']);
    expect(text).toContain(`[Node list](${LINK_URL})`);
    expect(text).not.toMatch(/!\[/);
    expect(text).not.toMatch(new RegExp(`<(?!${ZWSP})`));
    // A newline in a value does not start a heading, a quote or a link reference definition.
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines.filter((l) => l.startsWith('#'))).toEqual([expect.stringMatching(/^#### Bought 2 nodes/)]);
    expect(lines.filter((l) => /^\[[^\]]*\]:/.test(l) || l.startsWith('>'))).toEqual([]);
    // Plain @all is text: DingTalk mentions only through the at field (never sent).
    expect(text).toContain('at_all=@all');
  });

  it.each([
    ['130101 (too fast)', { body: { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' } }, true, 600_000],
    ['310000 (keyword)', { body: { errcode: 310000, errmsg: 'keywords not in content' } }, false, undefined],
    ['300001 (token)', { body: { errcode: 300001, errmsg: 'token is not exist' } }, false, undefined],
    ['-1 (busy)', { body: { errcode: -1, errmsg: '系统繁忙' } }, true, undefined],
    ['HTTP 502', { status: 502, body: 'Bad Gateway' }, true, undefined],
    ['an unknown errcode', { body: { errcode: 400013, errmsg: 'group frozen' } }, false, undefined],
  ] as const)('reads %s', async (_name, answer, retry, retryAfterMs) => {
    reply = () => answer as PlatformReply;
    const delivery = await deliver(createDingtalkSink, sinkSettings(SECRET));
    expect(delivery).toMatchObject({ ok: false, retry });
    if (!delivery.ok) {
      expect(delivery.retryAfterMs).toBe(retryAfterMs);
      expect(delivery.reason).not.toContain(TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
    }
  });

  it('retries when DingTalk never answers before the time budget runs out', async () => {
    reply = () => 'hang';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const delivery = await deliver(createDingtalkSink, sinkSettings(SECRET), MESSAGE, controller.signal);
    expect(delivery).toMatchObject({ ok: false, retry: true });
    if (!delivery.ok) {
      expect(delivery.reason).not.toContain(TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
    }
  });

  it('retries when the env var is unset, naming it', async () => {
    expect(await deliver(createDingtalkSink, settings({ url: undefined, urlEnv: 'DINGTALK_URL' }))).toEqual({ ok: false, retry: true, reason: 'the dingtalk sink "team": env var DINGTALK_URL is not set' });
  });

  it('allows 15 posts a pass (20 a minute per robot)', () => {
    expect(createDingtalkSink(sinkSettings()).perPass).toBe(15);
  });
});
