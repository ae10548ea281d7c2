import { createHmac } from 'node:crypto';
import { createFeishuSink, FEISHU_BODY_LIMIT_BYTES } from '../../../../src/notify/sinks/feishu';
import { deliver, hostileMessage, hugeMessage, LINK_URL, MESSAGE, NOW, PlatformServer, SECRET, settings, type PlatformReply, type ReceivedRequest } from './fixtures';

// Feishu custom bot (自定义机器人): https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
// and its Chinese twin https://open.larkoffice.com/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN.md

const TOKEN = 'b2c3d4e5-0000-4000-8000-feishutoken99';

/**
 * Feishu's check of 签名校验, as the doc gives it: "把 timestamp + "\n" + 密钥 当做签名字符串，使用
 * HmacSHA256 算法计算签名，再进行 Base64 编码" - the doc's Python sample:
 *   hmac.new(f'{timestamp}\n{secret}'.encode('utf-8'), b'', digestmod=sha256).digest()
 * i.e. the string is the KEY and the message is empty. timestamp: seconds, within an hour.
 */
function feishuAccepts(body: { timestamp?: unknown; sign?: unknown }, secret: string, nowMs: number): boolean {
  if (typeof body.timestamp !== 'string' || typeof body.sign !== 'string') return false;
  if (Math.abs(nowMs / 1000 - Number(body.timestamp)) > 3600) return false;
  const expected = createHmac('sha256', Buffer.from(`${body.timestamp}\n${secret}`, 'utf8')).update(Buffer.alloc(0)).digest('base64');
  return expected === body.sign;
}

describe('createFeishuSink', () => {
  let reply: (req: ReceivedRequest) => PlatformReply;
  const server = new PlatformServer((req) => reply(req));
  let url: string;

  /** Plays Feishu: checks the sign when the bot has a secret, answers 19021 when it does not match. */
  const feishu =
    (secret: string | undefined) =>
    (req: ReceivedRequest): PlatformReply => {
      const body = JSON.parse(req.body);
      if (secret !== undefined && !feishuAccepts(body, secret, NOW)) return { body: { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time', data: {} } };
      return { body: { StatusCode: 0, StatusMessage: 'success', code: 0, data: {}, msg: 'success' } };
    };

  beforeAll(async () => {
    url = `${await server.start()}/open-apis/bot/v2/hook/${TOKEN}`;
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    reply = feishu(undefined);
  });

  const sinkSettings = (secret?: string) => settings({ url, urlEnv: 'FEISHU_URL', ...(secret === undefined ? {} : { secret, secretEnv: 'FEISHU_SECRET' }) });
  const paragraphs = (body: any): any[][] => body.content.post.zh_cn.content;

  it('posts a rich-text post: title, a line per fact, the labels, the link as an a element', async () => {
    expect(await deliver(createFeishuSink, sinkSettings())).toEqual({ ok: true });
    expect(server.requests.at(-1)!.url).toBe(`/open-apis/bot/v2/hook/${TOKEN}`);
    const body = server.lastJson();
    expect(body.msg_type).toBe('post');
    expect(body).not.toHaveProperty('sign');
    expect(body.content.post.zh_cn.title).toBe(MESSAGE.title);
    expect(paragraphs(body)).toEqual([
      ...MESSAGE.facts.map((f) => [{ tag: 'text', text: `${f.name}: ${f.value}` }]),
      [{ tag: 'text', text: 'alertname=HighCPU, namespace=shop' }],
      [{ tag: 'a', text: 'Node list', href: LINK_URL }],
    ]);
  });

  it('signs with timestamp (seconds) and sign in the body, as Feishu checks them', async () => {
    reply = feishu(SECRET);
    expect(await deliver(createFeishuSink, sinkSettings(SECRET))).toEqual({ ok: true });
    const body = server.lastJson();
    expect(body.timestamp).toBe(String(Math.floor(NOW / 1000)));
    expect(feishuAccepts(body, SECRET, NOW)).toBe(true);
  });

  it('is refused for good on a sign mismatch (19021), naming neither token nor secret', async () => {
    reply = feishu(SECRET);
    const delivery = await deliver(createFeishuSink, sinkSettings(`${SECRET}-rotated`));
    expect(delivery).toMatchObject({ ok: false, retry: false });
    if (!delivery.ok) {
      expect(delivery.reason).toContain('code 19021');
      expect(delivery.reason).not.toContain(TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
    }
  });

  it('cuts a huge label set to 20 KB of body, saying how many labels were left out', async () => {
    reply = feishu(SECRET);
    expect(await deliver(createFeishuSink, sinkSettings(SECRET), hugeMessage(3000))).toEqual({ ok: true });
    const raw = server.requests.at(-1)!.body;
    expect(Buffer.byteLength(raw, 'utf8')).toBeLessThanOrEqual(FEISHU_BODY_LIMIT_BYTES);
    expect(Buffer.byteLength(raw, 'utf8')).toBeGreaterThan(FEISHU_BODY_LIMIT_BYTES - 200);
    const lines = paragraphs(JSON.parse(raw));
    const shown = lines[MESSAGE.facts.length]![0].text.split(', ').length;
    expect(lines[MESSAGE.facts.length + 1]).toEqual([{ tag: 'text', text: `(${3000 - shown} more labels not shown)` }]);
    expect(lines.at(-1)).toEqual([{ tag: 'a', text: 'Node list', href: LINK_URL }]);
  });

  it('keeps hostile label values as text elements: no at, no link but the node list', async () => {
    expect(await deliver(createFeishuSink, sinkSettings(), hostileMessage())).toEqual({ ok: true });
    const body = server.lastJson();
    const elements = paragraphs(body).flat();
    expect(elements.filter((e) => e.tag !== 'text')).toEqual([{ tag: 'a', text: 'Node list', href: LINK_URL }]);
    for (const e of elements) expect(e.text).not.toMatch(/<\s*\/?\s*at\b/i);
    expect(body.content.post.zh_cn.title).not.toMatch(/<\s*at\b/i);
    expect(JSON.stringify(body)).not.toContain('"tag":"at"');
  });

  it.each([
    ['11232 (too fast)', { body: { code: 11232, msg: 'frequency limited psm[lark.oapi.app_platform_runtime]appID[1]' } }, true, 60_000],
    ['19024 (keyword)', { body: { code: 19024, msg: 'Key Words Not Found' } }, false, undefined],
    ['19022 (IP)', { body: { code: 19022, msg: 'Ip Not Allowed' } }, false, undefined],
    ['9499 on HTTP 400', { status: 400, body: { code: 9499, msg: 'Bad Request', data: {} } }, false, undefined],
    ['HTTP 500', { status: 500, body: 'upstream error' }, true, undefined],
    ['HTTP 429 with x-ogw-ratelimit-reset', { status: 429, body: { code: 99991400, msg: 'request trigger frequency limit' }, headers: { 'x-ogw-ratelimit-reset': '5' } }, true, 5000],
    ['an older StatusCode answer', { body: { StatusCode: 19024, StatusMessage: 'Key Words Not Found' } }, false, undefined],
  ] as const)('reads %s', async (_name, answer, retry, retryAfterMs) => {
    reply = () => answer as PlatformReply;
    const delivery = await deliver(createFeishuSink, sinkSettings(SECRET));
    expect(delivery).toMatchObject({ ok: false, retry });
    if (!delivery.ok) {
      expect(delivery.retryAfterMs).toBe(retryAfterMs);
      expect(delivery.reason).not.toContain(TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
    }
  });

  it('takes the older success answer (StatusCode 0) as delivered', async () => {
    reply = () => ({ body: { StatusCode: 0, StatusMessage: 'success' } });
    expect(await deliver(createFeishuSink, sinkSettings())).toEqual({ ok: true });
  });

  it('retries when Feishu never answers before the time budget runs out', async () => {
    reply = () => 'hang';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const delivery = await deliver(createFeishuSink, sinkSettings(SECRET), MESSAGE, controller.signal);
    expect(delivery).toMatchObject({ ok: false, retry: true });
    if (!delivery.ok) {
      expect(delivery.reason).not.toContain(TOKEN);
      expect(delivery.reason).not.toContain(SECRET);
    }
  });

  it('retries when the env var is unset, naming it', async () => {
    expect(await deliver(createFeishuSink, settings({ url: undefined, urlEnv: 'FEISHU_URL' }))).toEqual({ ok: false, retry: true, reason: 'the feishu sink "team": env var FEISHU_URL is not set' });
  });

  it('allows 50 posts a pass (100 a minute, 5 a second per bot)', () => {
    expect(createFeishuSink(sinkSettings()).perPass).toBe(50);
  });
});
