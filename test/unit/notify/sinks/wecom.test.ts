import { createWecomSink, WECOM_CONTENT_LIMIT_BYTES } from '../../../../src/notify/sinks/wecom';
import { ZWSP } from '../../../../src/notify/sinks/post';
import { deliver, hostileMessage, hugeMessage, LINK_URL, MESSAGE, PlatformServer, settings, type PlatformReply, type ReceivedRequest } from './fixtures';

// WeCom group robot (群机器人配置说明): https://developer.work.weixin.qq.com/document/path/91770
// (older address https://work.weixin.qq.com/api/doc/90000/90136/91770). No signing: the key in the
// URL is the credential.

const KEY = '693a91f6-7xxx-4bc4-97a0-0ec2wecomkey9';

describe('createWecomSink', () => {
  let reply: (req: ReceivedRequest) => PlatformReply;
  const server = new PlatformServer((req) => reply(req));
  let url: string;

  /** Plays WeCom: a key must be in the query (else 93000), markdown.content at most 4096 bytes (else 40058). */
  const wecom = (req: ReceivedRequest): PlatformReply => {
    if (new URL(req.url, 'http://qyapi.local').searchParams.get('key') !== KEY) return { body: { errcode: 93000, errmsg: 'invalid webhook url, hint: [1700000000_1_abc], from ip: 1.2.3.4, more info at https://open.work.weixin.qq.com/devtool/query?e=93000' } };
    const body = JSON.parse(req.body);
    if (Buffer.byteLength(body.markdown.content, 'utf8') > 4096) return { body: { errcode: 40058, errmsg: 'markdown.content exceed max length 4096. invalid Request Parameter' } };
    return { body: { errcode: 0, errmsg: 'ok' } };
  };

  beforeAll(async () => {
    url = `${await server.start()}/cgi-bin/webhook/send?key=${KEY}`;
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    reply = wecom;
  });

  const sinkSettings = (sinkUrl = url) => settings({ url: sinkUrl, urlEnv: 'WECOM_URL' });

  it('posts markdown content: the title as a heading, a line per fact, the labels, the link; nothing signed', async () => {
    expect(await deliver(createWecomSink, sinkSettings())).toEqual({ ok: true });
    const request = server.requests.at(-1)!;
    expect(request.url).toBe(`/cgi-bin/webhook/send?key=${KEY}`);
    const body = JSON.parse(request.body);
    expect(Object.keys(body)).toEqual(['msgtype', 'markdown']);
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.content.split('\n')).toEqual([
      `### ${MESSAGE.title}`,
      ...MESSAGE.facts.map((f) => `**${f.name}**: ${f.value}`),
      'alertname=HighCPU, namespace=shop',
      `[Node list](${LINK_URL})`,
    ]);
  });

  it('cuts a huge label set to 4096 bytes of content, saying how many labels were left out', async () => {
    expect(await deliver(createWecomSink, sinkSettings(), hugeMessage(3000))).toEqual({ ok: true });
    const content: string = server.lastJson().markdown.content;
    expect(Buffer.byteLength(content, 'utf8')).toBeLessThanOrEqual(WECOM_CONTENT_LIMIT_BYTES);
    expect(Buffer.byteLength(content, 'utf8')).toBeGreaterThan(WECOM_CONTENT_LIMIT_BYTES - 150);
    const lines = content.split('\n');
    const shown = lines[1 + MESSAGE.facts.length]!.split(', ').length;
    expect(lines[2 + MESSAGE.facts.length]).toBe(`<font color="comment">${3000 - shown} more labels not shown</font>`);
    expect(lines.at(-1)).toBe(`[Node list](${LINK_URL})`);
  });

  it('makes hostile label values inert: no <@…> mention, no link but the node list, nothing starting a line', async () => {
    expect(await deliver(createWecomSink, sinkSettings(), hostileMessage())).toEqual({ ok: true });
    const content: string = server.lastJson().markdown.content;
    // <@userid> is how WeCom markdown mentions (doc 91770): no < from outside is left whole.
    expect(content).not.toMatch(new RegExp(`<(?!${ZWSP})`));
    expect(content).toContain(`<${ZWSP}@all>`);
    expect(content.match(/\]\(/g)).toEqual(['](']);
    expect(content).not.toMatch(/!\[/);
    const lines = content.split('\n');
    expect(lines.filter((l) => l.startsWith('#') || l.startsWith('>') || /^\[[^\]]*\]:/.test(l))).toEqual([expect.stringMatching(/^### Bought 2 nodes/)]);
  });

  it.each([
    ['45009 (too fast)', { body: { errcode: 45009, errmsg: 'api freq out of limit' } }, true, 60_000],
    ['40008 (message type)', { body: { errcode: 40008, errmsg: 'invalid message type' } }, false, undefined],
    ['44004 (empty)', { body: { errcode: 44004, errmsg: 'empty content' } }, false, undefined],
    ['-1 (busy)', { body: { errcode: -1, errmsg: 'system busy' } }, true, undefined],
    ['HTTP 500', { status: 500, body: 'Internal Server Error' }, true, undefined],
    ['HTTP 429 with Retry-After', { status: 429, body: '', headers: { 'retry-after': '30' } }, true, 30_000],
  ] as const)('reads %s', async (_name, answer, retry, retryAfterMs) => {
    reply = () => answer as PlatformReply;
    const delivery = await deliver(createWecomSink, sinkSettings());
    expect(delivery).toMatchObject({ ok: false, retry });
    if (!delivery.ok) {
      expect(delivery.retryAfterMs).toBe(retryAfterMs);
      expect(delivery.reason).not.toContain(KEY);
    }
  });

  it('is refused for good on an invalid webhook URL (93000), naming neither key nor URL', async () => {
    const delivery = await deliver(createWecomSink, sinkSettings(`${server.url}/cgi-bin/webhook/send?key=revoked-${KEY}`));
    expect(delivery).toMatchObject({ ok: false, retry: false });
    if (!delivery.ok) {
      expect(delivery.reason).toContain('errcode 93000');
      expect(delivery.reason).not.toContain(KEY);
      expect(delivery.reason).not.toContain('https://open.work.weixin.qq.com');
    }
  });

  it('retries when WeCom never answers before the time budget runs out', async () => {
    reply = () => 'hang';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const delivery = await deliver(createWecomSink, sinkSettings(), MESSAGE, controller.signal);
    expect(delivery).toMatchObject({ ok: false, retry: true });
    if (!delivery.ok) expect(delivery.reason).not.toContain(KEY);
  });

  it('retries when the env var is unset, naming it', async () => {
    expect(await deliver(createWecomSink, settings({ url: undefined, urlEnv: 'WECOM_URL' }))).toEqual({ ok: false, retry: true, reason: 'the wecom sink "team": env var WECOM_URL is not set' });
  });

  it('allows 15 posts a pass (20 a minute per robot)', () => {
    expect(createWecomSink(sinkSettings()).perPass).toBe(15);
  });
});
