import { createSlackSink, escapeMrkdwn, SLACK_LIMITS } from '../../../../src/notify/sinks/slack';
import { deliver, hostileMessage, hugeMessage, LINK_URL, MESSAGE, PlatformServer, settings, type PlatformReply } from './fixtures';

// Slack incoming webhooks: https://api.slack.com/messaging/webhooks (answers "ok"; errors as
// strings with a 4xx, https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks),
// Block Kit limits https://docs.slack.dev/reference/block-kit/blocks.

const TOKEN = 'T0AAAAAAA/B0BBBBBBB/XXXXXXXXslacksecret1234';

describe('createSlackSink', () => {
  let reply: (req: unknown) => PlatformReply = () => ({ body: 'ok' });
  const server = new PlatformServer((req) => reply(req));
  let url: string;

  beforeAll(async () => {
    url = `${await server.start()}/services/${TOKEN}`;
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    reply = () => ({ body: 'ok' });
  });

  const slack = () => settings({ url, urlEnv: 'SLACK_URL' });
  const mrkdwnTexts = (body: any): string[] =>
    body.blocks.flatMap((b: any) => (b.type === 'context' ? b.elements : b.type === 'section' ? (b.fields ?? [b.text]) : [])).map((t: any) => t.text as string);

  it('posts text and blocks: the title as a header, the facts as fields, the labels as context, the link as <url|text>', async () => {
    expect(await deliver(createSlackSink, slack())).toEqual({ ok: true });
    const request = server.requests.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe(`/services/${TOKEN}`);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    const body = server.lastJson();
    expect(body.text).toContain(MESSAGE.title);
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: MESSAGE.title } });
    expect(body.blocks[1].type).toBe('section');
    expect(body.blocks[1].fields).toEqual(MESSAGE.facts.map((f) => ({ type: 'mrkdwn', text: `*${f.name}*\n${escapeMrkdwn(f.value)}`, verbatim: true })));
    expect(body.blocks[2]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'alertname=HighCPU, namespace=shop', verbatim: true }] });
    // Slack asks for & < > as entities in mrkdwn, URLs included (https://api.slack.com/reference/surfaces/formatting#escaping).
    expect(body.blocks[3]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: `<${LINK_URL.replace(/&/g, '&amp;')}|Node list>` } });
  });

  it('cuts a huge label set to Slack limits, saying how many labels were left out', async () => {
    expect(await deliver(createSlackSink, slack(), hugeMessage(3000))).toEqual({ ok: true });
    const body = server.lastJson();
    expect(body.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(body.blocks[0].text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerChars);
    for (const text of mrkdwnTexts(body)) expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.textObjectChars);
    const context = body.blocks.find((b: any) => b.type === 'context');
    const shown = context.elements[0].text.split(', ').length;
    expect(shown).toBeGreaterThan(10);
    expect(shown).toBeLessThan(3000);
    expect(context.elements[1].text).toBe(`_${3000 - shown} more labels not shown_`);
  });

  it('escapes hostile label values and sets verbatim: no mention, no link but the node list', async () => {
    expect(await deliver(createSlackSink, slack(), hostileMessage())).toEqual({ ok: true });
    const body = server.lastJson();
    // The only < left in any mrkdwn text is our own link.
    const texts = mrkdwnTexts(body).map((t) => t.replace(`<${LINK_URL.replace(/&/g, '&amp;')}|Node list>`, ''));
    for (const text of texts) {
      expect(text).not.toMatch(/[<>]/);
    }
    expect(texts.join('\n')).toContain('&lt;!channel&gt;');
    expect(texts.join('\n')).toContain('&lt;https://evil.example/a|click here&gt;');
    // verbatim: Slack neither links bare URLs nor parses mentions in label text (text-object reference).
    for (const block of body.blocks.filter((b: any) => b.type === 'context')) for (const e of block.elements) expect(e.verbatim).toBe(true);
    // A newline in a label value starts no quote: labels stay on one line.
    expect(body.blocks.find((b: any) => b.type === 'context').elements[0].text).not.toContain('\n');
    // The header is plain_text, where nothing is parsed; the fallback is escaped.
    expect(body.blocks[0].text.type).toBe('plain_text');
    expect(body.text).not.toMatch(/[<>]/);
  });

  it.each([
    ['429 with Retry-After', { status: 429, body: 'rate_limited', headers: { 'retry-after': '7' } }, true, 7000],
    ['500', { status: 500, body: 'rollup_error' }, true, undefined],
    ['503', { status: 503, body: '' }, true, undefined],
    ['400 invalid_payload', { status: 400, body: 'invalid_payload' }, false, undefined],
    ['403 action_prohibited', { status: 403, body: 'action_prohibited' }, false, undefined],
    ['404 no_service', { status: 404, body: 'no_service' }, false, undefined],
    ['410 channel_is_archived', { status: 410, body: 'channel_is_archived' }, false, undefined],
    ['200 without ok', { status: 200, body: 'something else' }, false, undefined],
  ] as const)('reads %s', async (_name, answer, retry, retryAfterMs) => {
    reply = () => answer;
    const delivery = await deliver(createSlackSink, slack());
    expect(delivery).toMatchObject({ ok: false, retry });
    if (!delivery.ok) {
      expect(delivery.retryAfterMs).toBe(retryAfterMs);
      expect(delivery.reason).toContain('the slack sink "team"');
      expect(delivery.reason).not.toContain(TOKEN);
      expect(delivery.reason).not.toContain('slacksecret1234');
    }
  });

  it('retries when the platform never answers before the time budget runs out', async () => {
    reply = () => 'hang';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const delivery = await deliver(createSlackSink, slack(), MESSAGE, controller.signal);
    expect(delivery).toMatchObject({ ok: false, retry: true });
    if (!delivery.ok) expect(delivery.reason).not.toContain('slacksecret1234');
  });

  it('retries when the env var is unset, naming it', async () => {
    expect(await deliver(createSlackSink, settings({ url: undefined, urlEnv: 'SLACK_URL' }))).toEqual({ ok: false, retry: true, reason: 'the slack sink "team": env var SLACK_URL is not set' });
  });

  it('refuses a URL that is not https, without quoting it', async () => {
    const delivery = await deliver(createSlackSink, settings({ url: `http://hooks.slack.com/services/${TOKEN}`, urlEnv: 'SLACK_URL' }));
    expect(delivery).toMatchObject({ ok: false, retry: false });
    if (!delivery.ok) {
      expect(delivery.reason).toContain('SLACK_URL');
      expect(delivery.reason).not.toContain('slacksecret1234');
    }
  });

  it('retries an unreachable host without quoting the URL', async () => {
    const closed = new PlatformServer(() => ({ body: 'ok' }));
    const base = await closed.start();
    await closed.stop();
    const delivery = await deliver(createSlackSink, settings({ url: `${base}/services/${TOKEN}`, urlEnv: 'SLACK_URL' }));
    expect(delivery).toMatchObject({ ok: false, retry: true });
    if (!delivery.ok) {
      expect(delivery.reason).toMatch(/could not be reached/);
      expect(delivery.reason).not.toContain('slacksecret1234');
      expect(delivery.reason).not.toContain(base);
    }
  });

  it('does not follow a redirect, and says so', async () => {
    reply = () => ({ status: 302, headers: { location: 'https://elsewhere.example/' } });
    const delivery = await deliver(createSlackSink, slack());
    expect(delivery).toMatchObject({ ok: false, retry: false });
    if (!delivery.ok) expect(delivery.reason).toMatch(/redirect/);
  });

  it('allows 30 posts a pass (1 a second per webhook, bursts allowed)', () => {
    expect(createSlackSink(slack()).perPass).toBe(30);
  });
});
