import { dingtalkSign } from '../../src/auth/dingtalk-sign';
import { encryptFeishu, feishuSignature } from '../../src/auth/feishu-crypto';
import { signSlackRequest } from '../../src/auth/slack-signature';
import type { FunctionUrlEvent } from '../../src/scf/event';
import type { SandboxInstanceFault } from '../../dev/sandbox/tke-sandbox';
import { NotifyCapture } from '../../dev/sandbox/notify-capture';
import { startFeishuApiStandIn, type FeishuApiStandIn } from '../support/feishu-api-standin';
import { RELAXED_THROTTLE } from '../support/fixtures';
import { startHarness, type Harness } from '../support/harness';
import { startReplyStandIn, type ReplyStandIn } from '../support/reply-standin';

/**
 * A chat command's purchase followed to its end in the conversation that asked (notify/conversation.ts):
 * "ready" or "failed" posted where the command was typed, through what each platform allows later:
 * Slack's response_url, "up to 5 times within 30 minutes" (api.slack.com, Handling slash
 * commands); DingTalk's sessionWebhook until sessionWebhookExpiredTime (the outgoing robot's
 * message, open.dingtalk.com); Feishu's reply to the command's message (im/v1/messages/:id/reply).
 * Once the window has closed the team's sink still has it. The clock is the test's.
 */
const SLACK_SECRET = 'slack-signing-secret';
const DINGTALK_SECRET = 'SECdingtalk-app-secret';
const FEISHU_TOKEN = 'feishu-verification-token';
const FEISHU_KEY = 'feishu-encrypt-key';

let replies: ReplyStandIn;
let feishu: FeishuApiStandIn;
let capture: NotifyCapture;
let h: Harness;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const advance = (ms: number) => (offsetMs += ms);

beforeAll(async () => {
  replies = await startReplyStandIn();
  feishu = await startFeishuApiStandIn({ appId: 'cli_app', appSecret: 'app-secret' });
});
afterAll(async () => {
  await replies.close();
  await feishu.close();
});
afterEach(async () => {
  await h?.close();
  await capture?.stop();
  offsetMs = 0;
});

async function start(options: { teamSink?: boolean; instanceFaults?: SandboxInstanceFault[] } = {}): Promise<Harness> {
  capture = new NotifyCapture({ now: clock });
  const url = await capture.start();
  h = await startHarness({
    now: clock,
    sandbox: { now: clock, joinSeconds: 20, ...(options.instanceFaults !== undefined && { instanceFaults: options.instanceFaults }) },
    env: {
      SLACK_SIGNING_SECRET: SLACK_SECRET,
      DINGTALK_APP_SECRET: DINGTALK_SECRET,
      FEISHU_VERIFICATION_TOKEN: FEISHU_TOKEN,
      FEISHU_ENCRYPT_KEY: FEISHU_KEY,
      FEISHU_APP_ID: 'cli_app',
      FEISHU_APP_SECRET: 'app-secret',
      SCALEOUT_CHAT_ALLOW: 'U1,manager1234,ou_1',
      NOTIFY_SLACK_URL: `${url}/slack/services/T0/B0/team`,
    },
    config: (doc) => {
      doc.throttle = RELAXED_THROTTLE;
      doc.sources.slack.replyBase = replies.url;
      doc.sources.dingtalk.replyBase = replies.url;
      doc.sources.feishu.apiBase = feishu.url;
      if (options.teamSink !== false) doc.notify = { sinks: { team: { type: 'slack', urlEnv: 'NOTIFY_SLACK_URL' } }, default: ['team'] };
    },
  });
  return h;
}

const TIMER = { Type: 'Timer', TriggerName: 'scaleout-follow', Time: '2026-12-07T10:00:00Z', Message: '' };
const pass = () => (h.function.handler as unknown as (e: unknown, c: object) => Promise<unknown>)(TIMER, { request_id: `pass-${Math.random()}`, getRemainingTimeInMillis: () => 20_000 });
const passLines = () => h.logLines.filter((l) => l.msg === 'purchase pass');
const post = (source: string, body: string, headers: Record<string, string>) => h.invoke({ httpMethod: 'POST', path: `/hooks/${source}`, headers, body } satisfies FunctionUrlEvent);

let trigger = 0;
const slackCommand = (text: string, responsePath: string) => {
  const body = new URLSearchParams({ command: '/scaleout', text, user_id: 'U1', channel_id: 'C1', trigger_id: `trig-conv-${++trigger}-${Date.now()}`, response_url: `${replies.url}${responsePath}` }).toString();
  const ts = String(Math.floor(clock() / 1000));
  return post('slack', body, { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(SLACK_SECRET, ts, body) });
};
const postsTo = (path: string) => replies.posts.filter((p) => p.path === path);

describe('Slack: the response_url of the command', () => {
  it('gets "ready" once the nodes run; the team sink gets it too', async () => {
    await start();
    expect((await slackCommand('demo 1', '/quick')).json.text).toMatch(/^Requested 1 node/);
    advance(25_000);
    await pass();
    expect(postsTo('/quick').map((p) => p.body.text)).toEqual([expect.stringContaining('1 node joined demo (cls-e55paxnt) and is ready')]);
    expect(postsTo('/quick')[0]!.body).toMatchObject({ response_type: 'in_channel', replace_original: false });
    expect(capture.received().map((m) => m.text.split('\n')[0])).toEqual(['Bought 1 node for demo (cls-e55paxnt)', '1 node joined demo (cls-e55paxnt) and is ready']);
    // The "bought" went to the team only: the command's own answer said what was bought.
    expect(passLines().at(-1)!.notices).toMatchObject({ queued: [expect.stringMatching(/^ready:/)] });
    expect(passLines().at(-1)!.outbox).toMatchObject({ sent: [expect.stringMatching(/^ready:.* → team$/), expect.stringMatching(/^ready:.* → conversation$/)] });
  });

  it('a command TKE answered late: the follow-up posts the outcome, then "ready" follows in the same conversation', async () => {
    await start();
    h.sandbox.injectFault({ kind: 'delay', ms: 4000, action: 'CreateClusterInstances' });
    expect((await slackCommand('demo 2', '/slow')).json.text).toMatch(/^Sent to TKE, but no answer came in time/);
    await h.scf.settled();
    advance(30_000);
    await pass();
    expect(postsTo('/slow').map((p) => p.body.text)).toEqual([expect.stringMatching(/^Follow-up on \/scaleout demo 2: Requested 2 nodes/), expect.stringContaining('2 nodes joined demo (cls-e55paxnt) and are ready')]);
  });

  it('without notify: in the config, the conversation is still followed', async () => {
    await start({ teamSink: false });
    await slackCommand('demo 1', '/alone');
    advance(25_000);
    await pass();
    expect(postsTo('/alone').map((p) => p.body.text)).toEqual([expect.stringContaining('and is ready')]);
    expect(capture.received()).toEqual([]);
  });
});

describe('DingTalk: the sessionWebhook, until it expires', () => {
  const command = (msgId: string, session: string, expiresInMs: number) => {
    const body = JSON.stringify({
      msgtype: 'text',
      text: { content: '/scaleout demo 1' },
      msgId,
      senderStaffId: 'manager1234',
      conversationId: 'cid1',
      sessionWebhook: `${replies.url}/robot/sendBySession?session=${session}`,
      sessionWebhookExpiredTime: clock() + expiresInMs,
    });
    const ts = String(clock());
    return post('dingtalk', body, { 'content-type': 'application/json', timestamp: ts, sign: dingtalkSign(DINGTALK_SECRET, ts) });
  };

  it('posts "ready" while the session lasts, and not after', async () => {
    await start();
    await command(`msgConvA${Date.now()}`, 'long', 3_600_000);
    await command(`msgConvB${Date.now()}`, 'short', 10_000);
    advance(25_000);
    await pass();
    const texts = (session: string) => postsTo(`/robot/sendBySession?session=${session}`).map((p) => p.body.text.content as string);
    // The first reply (the answer, posted to the session as DingTalk wants), then "ready".
    expect(texts('long')).toEqual([expect.stringMatching(/^Requested 1 node/), expect.stringContaining('1 node joined demo (cls-e55paxnt) and is ready')]);
    expect(texts('short')).toEqual([expect.stringMatching(/^Requested 1 node/)]);
    // Its window closed: said in the pass's line, and the team's sink has the news all the same.
    const told = passLines().at(-1)!.outbox as { undelivered: Array<{ sink: string; reason: string }> };
    expect(told.undelivered).toEqual([{ id: expect.stringMatching(/^ready:/), sink: 'conversation', reason: expect.stringMatching(/^the conversation's window closed at .*; the configured sinks have it$/) }]);
    expect(capture.received().filter((m) => m.text.includes('and is ready'))).toHaveLength(2);
  });
});

describe('Feishu: a reply to the command', () => {
  it('posts "failed" as a reply to the message that asked', async () => {
    await start({ instanceFaults: [{ kind: 'fail', reason: 'cloud-init: user script exited 1', zone: 'ap-guangzhou-4', times: 1 }] });
    const event = {
      schema: '2.0',
      header: { event_id: `ev-conv-${Date.now()}`, event_type: 'im.message.receive_v1', token: FEISHU_TOKEN },
      event: { sender: { sender_id: { open_id: 'ou_1' } }, message: { message_id: 'om_conv_1', message_type: 'text', content: JSON.stringify({ text: '/scaleout demo 1' }) } },
    };
    const body = JSON.stringify({ encrypt: encryptFeishu(JSON.stringify(event), FEISHU_KEY) });
    const ts = String(Math.floor(clock() / 1000));
    await post('feishu', body, { 'content-type': 'application/json', 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': 'n', 'x-lark-signature': feishuSignature(ts, 'n', FEISHU_KEY, body) });
    advance(25_000);
    await pass();
    const texts = feishu.replies.filter((r) => r.messageId === 'om_conv_1').map((r) => JSON.parse(r.body.content).text as string);
    expect(texts).toEqual([expect.stringMatching(/^Requested 1 node/), expect.stringContaining('1 of 1 node failed to join demo (cls-e55paxnt): cleaned up')]);
    expect(texts[1]).toContain('cloud-init: user script exited 1 → terminated');
  });
});
