import { dingtalkSign } from '../../src/auth/dingtalk-sign';
import { encryptFeishu, feishuSignature } from '../../src/auth/feishu-crypto';
import { signSlackRequest } from '../../src/auth/slack-signature';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnauthorizedError } from '../../src/errors';
import { toWebhookRequest, type FunctionUrlEvent } from '../../src/scf/event';
import { createSources } from '../../src/sources';
import { exampleConfig, REPO_ROOT } from '../support/fixtures';
import { startFeishuApiStandIn, type FeishuApiStandIn } from '../support/feishu-api-standin';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';
import { startReplyStandIn, type ReplyStandIn } from '../support/reply-standin';

/** The chat senders through the real handler: payload shapes from each platform's docs, signed as they sign. */
const SLACK_SECRET = 'slack-signing-secret';
const FEISHU_TOKEN = 'feishu-verification-token';
const FEISHU_KEY = 'feishu-encrypt-key';
const DINGTALK_SECRET = 'SECdingtalk-app-secret';
const ALLOWED = 'U2CERLKJA,ou_7d8a6e6df7621556ce0d21922b676706ccs,manager1234';

const env = {
  // These payloads name the platforms' real reply hosts; posting later replies there is tested in
  // chat-follow-up.test.ts against a local stand-in. Here the function has no follow-ups.
  SCALEOUT_FUNCTION_NAME: '',
  SLACK_SIGNING_SECRET: SLACK_SECRET,
  FEISHU_VERIFICATION_TOKEN: FEISHU_TOKEN,
  FEISHU_ENCRYPT_KEY: FEISHU_KEY,
  DINGTALK_APP_SECRET: DINGTALK_SECRET,
  SCALEOUT_CHAT_ALLOW: ALLOWED,
};

const post = (h: Harness, source: string, body: string, headers: Record<string, string>) =>
  h.invoke({ httpMethod: 'POST', path: `/hooks/${source}`, headers, body } satisfies FunctionUrlEvent);

let triggerCounter = 0;
const slackForm = (text: string, overrides: Record<string, string> = {}) =>
  new URLSearchParams({
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    team_id: 'T0001',
    team_domain: 'example',
    channel_id: 'C2147483705',
    channel_name: 'sre',
    user_id: 'U2CERLKJA',
    user_name: 'roadrunner',
    command: '/scaleout',
    text,
    api_app_id: 'A123456',
    response_url: 'https://hooks.slack.com/commands/1234/5678',
    trigger_id: `13345224609.738474920.${(++triggerCounter).toString(16).padStart(32, '0')}`,
    ...overrides,
  }).toString();

const slackHeaders = (body: string, secret = SLACK_SECRET, ts = String(Math.floor(Date.now() / 1000))) => ({
  'content-type': 'application/x-www-form-urlencoded',
  'x-slack-request-timestamp': ts,
  'x-slack-signature': signSlackRequest(secret, ts, body),
});

describe('Slack slash command, with the example\'s cooldown', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env, config: (doc) => (doc.throttle = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 }) });
  });
  afterEach(() => h.close());

  // The user sees "may be in progress" and types the command again (a new
  // trigger_id, a new event). The unknown outcome started the cooldown: the retyped command is held
  // back, and the nodes are bought once. (Before: 4 nodes for a 2-node request.)
  it('holds back a retyped command after an unknown outcome: one purchase', async () => {
    h.sandbox.injectFault({ kind: 'delay', ms: 4000, action: 'CreateClusterInstances' });
    const first = slackForm('demo 2');
    expect((await post(h, 'slack', first, slackHeaders(first))).json.text).toMatch(/^Sent to TKE/);
    const retyped = slackForm('demo 2');
    const held = await post(h, 'slack', retyped, slackHeaders(retyped));
    expect(held.json.text).toMatch(/^Held back: cooldown/);
    const nodes = h.sandbox.createdCalls.reduce((n, c) => n + (c.instanceIds?.length ?? 0), 0);
    expect(nodes).toBe(2);
  });
});

describe('Slack slash command', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env });
  });
  afterEach(() => h.close());

  const command = (text: string, overrides?: Record<string, string>) => {
    const body = slackForm(text, overrides);
    return post(h, 'slack', body, slackHeaders(body));
  };

  it('scales for an allowed user and says so in the channel', async () => {
    const reply = await command('demo 2 small');
    expect(reply.statusCode).toBe(200);
    expect(reply.json.response_type).toBe('in_channel');
    expect(reply.json.text).toMatch(/^Requested 2 nodes on cls-e55paxnt with template small: ins-[0-9a-f]{8}, ins-[0-9a-f]{8} \(TKE RequestId [0-9a-f-]{36}\)\.$/);
    expect(h.sandbox.createdCalls).toHaveLength(1);
    // The purchase records who asked, and where (Slack's user_id and channel_id).
    const listed = await h.invoke({ httpMethod: 'GET', path: '/purchases', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent);
    expect(listed.json.purchases[0].askedBy).toMatchObject({ source: 'slack', origin: { kind: 'chat', user: 'U2CERLKJA', conversation: 'C2147483705' } });
  });

  it('replays a repeated delivery of the same command (same trigger_id)', async () => {
    const body = slackForm('demo 1');
    const first = await post(h, 'slack', body, slackHeaders(body));
    const again = await post(h, 'slack', body, slackHeaders(body));
    expect(first.json.text).toMatch(/^Requested 1 node/);
    expect(again.json.text).toMatch(/^Already done for this command/);
    expect(h.sandbox.createdCalls).toHaveLength(1);
  });

  it('shows a dry run only to the caller and sends nothing', async () => {
    const reply = await command('demo-bj 2 multi-disk --dry-run');
    expect(reply.json.response_type).toBe('ephemeral');
    expect(reply.json.text).toContain('Dry run, nothing sent. Would add 2 nodes on cls-nfjdk3n0 with template multi-disk');
    expect(reply.json.text).toContain('\\"InstanceCount\\":2');
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('answers help, bad syntax and unknown clusters with a message, never an error page', async () => {
    const help = await command('help');
    expect(help.statusCode).toBe(200);
    expect(help.json).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('Usage: /scaleout <cluster> <count> [template] [--dry-run]') });
    const bad = await command('demo lots');
    expect(bad.json.text).toContain('Not understood: count must be a whole number, got "lots"');
    const unknown = await command('prod 2');
    expect(unknown.statusCode).toBe(200);
    expect(unknown.json.text).toContain('Not scaled: cluster "prod" is not in the config');
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('refuses a user not on the allow-list, politely and privately', async () => {
    const reply = await command('demo 2', { user_id: 'U999' });
    expect(reply.json).toEqual({ response_type: 'ephemeral', text: expect.stringContaining('You may not scale clusters from here (user U999)') });
    expect(h.sandbox.calls).toHaveLength(0);
  });

  // The sandbox's `delay` creates the nodes and then answers late, as a slow TKE
  // does: the call is cut at the chat deadline while the nodes exist. (Before: "Not scaled ... try
  // again in a minute", and the retyped command bought again.)
  it('answers within its deadline, saying the request was sent and may be in progress, when TKE is slow', async () => {
    h.sandbox.injectFault({ kind: 'delay', ms: 5000, action: 'CreateClusterInstances' });
    const reply = await command('demo 1');
    expect(reply.statusCode).toBe(200);
    expect(reply.json.text).toMatch(/^Sent to TKE, but no answer came in time \(TkeTimeout\): the nodes may be being created now\. Check the node list of cluster demo/);
    expect(reply.json.text).toMatch(/event 13345224609\.738474920\.[0-9a-f]{32}, ClientToken so2-[0-9a-f]{40}/);
    expect(reply.json.text).not.toMatch(/Not scaled|try again/);
    expect(h.logLines.at(-1)).toMatchObject({ outcome: 'failed', settlement: 'unknown', status: 200 });
  });

  it.each([
    ['a one-byte change', (body: string) => ({ body: body.replace('demo', 'demp'), headers: slackHeaders(body) })],
    ['another secret', (body: string) => ({ body, headers: slackHeaders(body, 'other') })],
    ['a stale timestamp', (body: string) => ({ body, headers: slackHeaders(body, SLACK_SECRET, String(Math.floor(Date.now() / 1000) - 301)) })],
    ['no signature', (body: string) => ({ body, headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
  ])('refuses %s with 401', async (_name, tamper) => {
    const { body, headers } = tamper(slackForm('demo 2'));
    expect((await post(h, 'slack', body, headers)).statusCode).toBe(401);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('names what is missing from a form that is not a slash command', async () => {
    const body = new URLSearchParams({ text: 'demo 2', user_id: 'U2CERLKJA' }).toString();
    const reply = await post(h, 'slack', body, slackHeaders(body));
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error.message).toBe('not a Slack slash command: command is required');
  });

  it('restricts to the configured channels when the config lists them', async () => {
    await h.close();
    h = await startHarness({ env, config: (doc) => (doc.sources.slack.allow.channels = ['C_OPS']) });
    expect((await command('demo 1')).json.text).toContain('You may not scale');
    expect((await command('demo 1', { channel_id: 'C_OPS' })).json.text).toMatch(/^Requested 1 node/);
  });
});

describe('DingTalk outgoing robot', () => {
  let h: Harness;
  let replies: ReplyStandIn;
  beforeAll(async () => {
    replies = await startReplyStandIn();
  });
  afterAll(() => replies.close());
  beforeEach(async () => {
    h = await startHarness({ env, config: (doc) => (doc.sources.dingtalk.replyBase = replies.url) });
  });
  afterEach(() => h.close());

  let msgCounter = 0;
  const message = (content: string, overrides: Record<string, unknown> = {}) =>
    JSON.stringify({
      conversationId: 'cidZLqk7yYWk2WkYfS5hH5nEw==',
      atUsers: [{ dingtalkId: '$:LWCP_v1:$bot' }],
      chatbotUserId: '$:LWCP_v1:$bot',
      msgId: `msgYx2z9Hb7bKkqEwF0n3e${++msgCounter}Q==`,
      senderNick: 'Zhang San',
      isAdmin: true,
      senderStaffId: 'manager1234',
      sessionWebhookExpiredTime: Date.now() + 3_600_000,
      createAt: Date.now(),
      conversationType: '2',
      senderId: '$:LWCP_v1:$sender',
      conversationTitle: 'SRE on call',
      isInAtList: true,
      sessionWebhook: `${replies.url}/robot/sendBySession?session=abc`,
      text: { content },
      robotCode: 'dingbot',
      msgtype: 'text',
      ...overrides,
    });
  // A fresh timestamp per message, as DingTalk signs each call: a (timestamp, sign) pair is valid for
  // the one message it first came with (test/integration/dingtalk-replay.test.ts), so two messages
  // signed in the same millisecond must not share one here.
  let lastTs = 0;
  const freshTs = () => String((lastTs = Math.max(Date.now(), lastTs + 1)));
  const signed = (ts = freshTs(), secret = DINGTALK_SECRET) => ({ 'content-type': 'application/json', timestamp: ts, sign: dingtalkSign(secret, ts) });

  // DingTalk's documented reply path for a robot is the message's sessionWebhook
  // (open.dingtalk.com, robot "接收消息": sessionWebhook, valid until sessionWebhookExpiredTime); the
  // reply is posted there, and is the HTTP answer too.
  it('scales, posts the reply to the sessionWebhook, and answers in DingTalk’s reply format too', async () => {
    const before = replies.posts.length;
    const reply = await post(h, 'dingtalk', message(' /scaleout demo 1'), signed());
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toEqual({ msgtype: 'text', text: { content: expect.stringMatching(/^Requested 1 node on cls-e55paxnt with template small: ins-/) } });
    expect(replies.posts.slice(before)).toEqual([{ path: '/robot/sendBySession?session=abc', body: reply.json }]);
  });

  it('posts nowhere when the sessionWebhook has expired or is not under DingTalk\'s host', async () => {
    const before = replies.posts.length;
    await post(h, 'dingtalk', message('/scaleout demo 1 --dry-run', { sessionWebhookExpiredTime: Date.now() - 1000 }), signed());
    await post(h, 'dingtalk', message('/scaleout demo 1 --dry-run', { sessionWebhook: 'http://169.254.169.254/latest/meta-data' }), signed());
    expect(replies.posts.length).toBe(before);
  });

  it.each([
    ['a sign for another secret', () => signed(String(Date.now()), 'other')],
    ['a timestamp over an hour old', () => signed(String(Date.now() - 3_601_000))],
    ['a timestamp over an hour ahead', () => signed(String(Date.now() + 3_602_000))],
    ['no sign', () => ({ 'content-type': 'application/json', timestamp: String(Date.now()) })],
  ])('refuses %s with 401', async (_name, headers) => {
    expect((await post(h, 'dingtalk', message('/scaleout demo 1'), headers())).statusCode).toBe(401);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('refuses users not on the allow-list, and names a malformed message', async () => {
    expect((await post(h, 'dingtalk', message('/scaleout demo 1', { senderStaffId: 'intern42' }), signed())).json.text.content).toContain('You may not scale');
    const reply = await post(h, 'dingtalk', JSON.stringify({ msgtype: 'text', text: { content: 'x' } }), signed());
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error.message).toBe('not a DingTalk robot message: msgId: is required');
  });
});

describe('Feishu bot events', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env });
  });
  afterEach(() => h.close());

  let eventCounter = 0;
  const messageEvent = (text: string, overrides: { token?: string; openId?: string } = {}) => ({
    schema: '2.0',
    header: {
      event_id: `5e3702a84e847582be8db7fb73283c${(++eventCounter).toString().padStart(2, '0')}`,
      event_type: 'im.message.receive_v1',
      create_time: String(Date.now()),
      token: overrides.token ?? FEISHU_TOKEN,
      app_id: 'cli_9f5343c580712544',
      tenant_key: '2ca1d211f64f6438',
    },
    event: {
      sender: { sender_id: { union_id: 'on_8ed6aa67826108097d9ee143816345', user_id: 'e33ggbyz', open_id: overrides.openId ?? 'ou_7d8a6e6df7621556ce0d21922b676706ccs' }, sender_type: 'user', tenant_key: '2ca1d211f64f6438' },
      message: {
        message_id: 'om_5ce6d572455d361153b7cb51da133945',
        root_id: '',
        parent_id: '',
        create_time: String(Date.now()),
        chat_id: 'oc_5ce6d572455d361153b7xx51da133945',
        chat_type: 'group',
        message_type: 'text',
        content: JSON.stringify({ text: text }),
        mentions: [{ key: '@_user_1', id: { open_id: 'ou_bot' }, name: 'ScaleBot', tenant_key: '2ca1d211f64f6438' }],
      },
    },
  });
  /** What Feishu sends with an Encrypt Key: the encrypted body, signed. */
  const encryptedDelivery = (payload: unknown, key = FEISHU_KEY) => {
    const body = JSON.stringify({ encrypt: encryptFeishu(JSON.stringify(payload), key) });
    const ts = String(Math.floor(Date.now() / 1000));
    const nonce = 'a1b2c3';
    return { body, headers: { 'content-type': 'application/json', 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': nonce, 'x-lark-signature': feishuSignature(ts, nonce, key, body) } };
  };

  it('answers the URL challenge, encrypted and unsigned as Feishu sends it', async () => {
    const body = JSON.stringify({ encrypt: encryptFeishu(JSON.stringify({ challenge: 'ajls384kdjx98XX', token: FEISHU_TOKEN, type: 'url_verification' }), FEISHU_KEY) });
    const reply = await post(h, 'feishu', body, { 'content-type': 'application/json' });
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toEqual({ challenge: 'ajls384kdjx98XX' });
  });

  it('decrypts a signed message event and scales, replying in Feishu’s message format', async () => {
    const { body, headers } = encryptedDelivery(messageEvent('@_user_1 /scaleout demo 2'));
    const reply = await post(h, 'feishu', body, headers);
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toEqual({ msg_type: 'text', content: { text: expect.stringMatching(/^Requested 2 nodes on cls-e55paxnt/) } });
    // Feishu re-delivers an event it thinks failed: same event_id (freshly encrypted and signed), no second scale-out.
    const payload = messageEvent('@_user_1 /scaleout demo 1');
    const first = encryptedDelivery(payload);
    const second = encryptedDelivery(payload);
    expect((await post(h, 'feishu', first.body, first.headers)).json.content.text).toMatch(/^Requested 1 node/);
    expect((await post(h, 'feishu', second.body, second.headers)).json.content.text).toMatch(/^Already done/);
  });

  it.each([
    ['a wrong verification token', () => encryptedDelivery(messageEvent('/scaleout demo 1', { token: 'nope' }))],
    ['another Encrypt Key', () => encryptedDelivery(messageEvent('/scaleout demo 1'), 'other-key')],
    ['a tampered signature', () => ({ ...encryptedDelivery(messageEvent('/scaleout demo 1')), headers: { ...encryptedDelivery(messageEvent('x')).headers, 'x-lark-signature': '0'.repeat(64) } })],
    ['an unsigned message event', () => ({ body: encryptedDelivery(messageEvent('/scaleout demo 1')).body, headers: { 'content-type': 'application/json' } })],
    ['a plaintext event while an Encrypt Key is set', () => ({ body: JSON.stringify(messageEvent('/scaleout demo 1')), headers: { 'content-type': 'application/json' } })],
  ])('refuses %s with 401', async (_name, delivery) => {
    const { body, headers } = delivery();
    expect((await post(h, 'feishu', body, headers)).statusCode).toBe(401);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('acknowledges other event types with an empty 200', async () => {
    const other = messageEvent('x');
    other.header.event_type = 'im.chat.member.bot.added_v1';
    const { body, headers } = encryptedDelivery(other);
    const reply = await post(h, 'feishu', body, headers);
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toEqual({});
  });

  it('works with the verification token alone when no Encrypt Key is configured', async () => {
    await h.close();
    h = await startHarness({ env, config: (doc) => delete doc.sources.feishu.encryptKeyEnv });
    const challenge = await post(h, 'feishu', JSON.stringify({ challenge: 'c1', token: FEISHU_TOKEN, type: 'url_verification' }), { 'content-type': 'application/json' });
    expect(challenge.json).toEqual({ challenge: 'c1' });
    const wrong = await post(h, 'feishu', JSON.stringify({ challenge: 'c1', token: 'x', type: 'url_verification' }), { 'content-type': 'application/json' });
    expect(wrong.statusCode).toBe(401);
    const scaled = await post(h, 'feishu', JSON.stringify(messageEvent('/scaleout demo 1')), { 'content-type': 'application/json' });
    expect(scaled.json.content.text).toMatch(/^Requested 1 node/);
  });
});

describe('Feishu replies posted through the OpenAPI', () => {
  const app = { appId: 'cli_a1b2c3d4e5', appSecret: 'feishu-app-secret' };
  let api: FeishuApiStandIn;
  let h: Harness;
  beforeEach(async () => {
    api = await startFeishuApiStandIn(app);
    h = await startHarness({
      env: { ...env, FEISHU_APP_ID: app.appId, FEISHU_APP_SECRET: app.appSecret },
      config: (doc) => (doc.sources.feishu.apiBase = api.url),
    });
  });
  afterEach(async () => {
    await h.close();
    await api.close();
  });

  const deliver = async (text: string, messageId: string) => {
    const payload = {
      schema: '2.0',
      header: { event_id: `ev-${messageId}`, event_type: 'im.message.receive_v1', token: FEISHU_TOKEN, app_id: app.appId },
      event: {
        sender: { sender_id: { open_id: 'ou_7d8a6e6df7621556ce0d21922b676706ccs' } },
        message: { message_id: messageId, chat_id: 'oc_ops', message_type: 'text', content: JSON.stringify({ text }) },
      },
    };
    const body = JSON.stringify({ encrypt: encryptFeishu(JSON.stringify(payload), FEISHU_KEY) });
    const ts = String(Math.floor(Date.now() / 1000));
    return post(h, 'feishu', body, { 'content-type': 'application/json', 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': 'n', 'x-lark-signature': feishuSignature(ts, 'n', FEISHU_KEY, body) });
  };

  it('replies to the user message with what happened, reusing the tenant token', async () => {
    await deliver('/scaleout demo 2', 'om_first');
    await deliver('/scaleout help', 'om_second');
    expect(api.replies.map((r) => [r.messageId, r.body.msg_type])).toEqual([
      ['om_first', 'text'],
      ['om_second', 'text'],
    ]);
    expect(JSON.parse(api.replies[0]!.body.content).text).toMatch(/^Requested 2 nodes on cls-e55paxnt/);
    expect(JSON.parse(api.replies[1]!.body.content).text).toContain('Usage: /scaleout');
    expect(api.tokenRequests).toEqual([{ app_id: app.appId, app_secret: app.appSecret }]);
  });

  it('still scales when the reply cannot be posted, and logs why', async () => {
    await api.close();
    const reply = await deliver('/scaleout demo 1', 'om_third');
    expect(reply.statusCode).toBe(200);
    expect(h.sandbox.createdCalls).toHaveLength(1);
    expect(h.logLines.at(-1)).toMatchObject({ outcome: 'created', replyNote: expect.stringContaining('the reply could not be posted to Feishu') });
    expect(JSON.stringify(h.logLines.at(-1))).not.toContain(app.appSecret);
  });
});

describe('chat senders without their secrets', () => {
  it('answer 503 naming the env var', async () => {
    const h = await startHarness();
    try {
      const body = slackForm('demo 1');
      const reply = await post(h, 'slack', body, slackHeaders(body));
      expect(reply.statusCode).toBe(503);
      expect(reply.json.error.message).toBe('sender slack is not ready: its secret env var SLACK_SIGNING_SECRET is not set');
    } finally {
      await h.close();
    }
  });
});

describe('the chat samples in events/', () => {
  const signedAt = 1764057600_000; // 2025-11-25T08:00:00Z, when the samples were signed
  const devEnv = { SLACK_SIGNING_SECRET: 'dev-token', FEISHU_VERIFICATION_TOKEN: 'dev-token', FEISHU_ENCRYPT_KEY: 'dev-token', DINGTALK_APP_SECRET: 'dev-token', SCALEOUT_CHAT_ALLOW: ALLOWED };

  it.each([
    ['slack-function-url.json', 'slack', 'demo', 2],
    ['feishu-function-url.json', 'feishu', 'demo', 1],
    ['dingtalk-function-url.json', 'dingtalk', 'demo', 1],
  ])('%s verifies at its signing time and asks for its scale-out', async (file, name, cluster, count) => {
    const config = exampleConfig();
    const source = createSources(config, devEnv).get(name)!;
    const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events', file), 'utf8')) as FunctionUrlEvent;
    const request = toWebhookRequest(event, config.limits.maxBodyBytes);
    expect(() => source.authenticate(request, signedAt)).not.toThrow();
    expect(() => source.authenticate(request, signedAt + 2 * 3_600_000)).toThrow(UnauthorizedError);
    const interpretation = await source.interpret(request, signedAt);
    expect(interpretation).toMatchObject({ kind: 'scale-out', requests: [{ source: name, cluster, count }] });
  });
});
