import { dingtalkSign } from '../../src/auth/dingtalk-sign';
import { encryptFeishu, feishuSignature } from '../../src/auth/feishu-crypto';
import { signSlackRequest } from '../../src/auth/slack-signature';
import { FOLLOW_UP_EVENT_KIND, followUpJob, requestOfJob } from '../../src/sources/chat/follow-up';
import type { FunctionUrlEvent, ScfHttpEvent } from '../../src/scf/event';
import { startFeishuApiStandIn, type FeishuApiStandIn } from '../support/feishu-api-standin';
import { startHarness, type Harness } from '../support/harness';
import { startReplyStandIn, type ReplyStandIn } from '../support/reply-standin';

/**
 * Chat answers that tell the truth, and the final outcome posted later.
 *
 * A chat platform waits 3 s; TKE may take longer. The sandbox's `delay` fault creates the nodes and
 * answers late, as a slow TKE does, so the chat invocation's call is cut at its 2.5 s deadline with
 * the outcome unknown. The function answers "sent, may be in progress, I will post the outcome", and
 * hands the same scale-out to an asynchronous invocation of itself (SCF Invoke, InvocationType
 * Event; here the SCF stand-in, which checks the call's TC3 signature for service scf). That
 * invocation re-sends the same request (same event ID, same ClientToken: CVM returns the first
 * purchase's instances) with the function's whole timeout and posts the outcome where the platform
 * takes later replies: Slack's response_url (api.slack.com, "Handling slash commands": up to 5
 * follow-ups within 30 minutes), DingTalk's sessionWebhook, Feishu's reply API.
 */
const SLACK_SECRET = 'slack-signing-secret';
const DINGTALK_SECRET = 'SECdingtalk-app-secret';
const FEISHU_TOKEN = 'feishu-verification-token';
const FEISHU_KEY = 'feishu-encrypt-key';

let replies: ReplyStandIn;
beforeAll(async () => {
  replies = await startReplyStandIn();
});
afterAll(() => replies.close());

const post = (h: Harness, source: string, body: string, headers: Record<string, string>) =>
  h.invoke({ httpMethod: 'POST', path: `/hooks/${source}`, headers, body } satisfies FunctionUrlEvent);
const nodesBought = (h: Harness) => new Set(h.sandbox.createdCalls.flatMap((c) => c.instanceIds ?? [])).size;

const chatHarness = (extra: Record<string, string> = {}, functionTimeoutMs?: number) =>
  startHarness({
    env: { SLACK_SIGNING_SECRET: SLACK_SECRET, DINGTALK_APP_SECRET: DINGTALK_SECRET, FEISHU_VERIFICATION_TOKEN: FEISHU_TOKEN, FEISHU_ENCRYPT_KEY: FEISHU_KEY, SCALEOUT_CHAT_ALLOW: 'U1,manager1234,ou_1', ...extra },
    ...(functionTimeoutMs !== undefined && { functionTimeoutMs }),
    config: (doc) => {
      doc.throttle = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 };
      doc.sources.slack.replyBase = replies.url;
      doc.sources.dingtalk.replyBase = replies.url;
    },
  });

let trigger = 0;
const slackCommand = (text: string, responseUrl: string) => {
  const body = new URLSearchParams({ command: '/scaleout', text, user_id: 'U1', channel_id: 'C1', trigger_id: `trig-fu-${++trigger}-${Date.now()}`, response_url: responseUrl }).toString();
  const ts = String(Math.floor(Date.now() / 1000));
  return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(SLACK_SECRET, ts, body) } };
};

describe('Slack: a command TKE does not answer in time', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('is answered "may be in progress", finished by an asynchronous invocation, and its outcome posted to response_url: one purchase', async () => {
    h = await chatHarness();
    h.sandbox.injectFault({ kind: 'delay', ms: 4000, action: 'CreateClusterInstances' });
    const before = replies.posts.length;
    const { body, headers } = slackCommand('demo 2', `${replies.url}/commands/T1/123/abc`);
    const answer = await post(h, 'slack', body, headers);
    expect(answer.statusCode).toBe(200);
    expect(answer.json.text).toMatch(/^Sent to TKE, but no answer came in time \(TkeTimeout\): the nodes may be being created now\. I will post the outcome here once TKE answers/);

    // SCF got one asynchronous Invoke of this function, carrying the job.
    // The response_url with its window (api.slack.com: 5 posts within 30 minutes), and who asked where.
    expect(h.scf.invocations).toEqual([
      expect.objectContaining({
        kind: FOLLOW_UP_EVENT_KIND,
        source: 'slack',
        target: { kind: 'url', url: `${replies.url}/commands/T1/123/abc`, expiresAt: expect.any(Number), uses: 5 },
        request: expect.objectContaining({ origin: { kind: 'chat', user: 'U1', conversation: 'C1' } }),
      }),
    ]);
    const job = h.scf.invocations[0] as { target: { expiresAt: number } };
    expect(job.target.expiresAt - Date.now()).toBeGreaterThan(29 * 60_000);
    expect(job.target.expiresAt - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    await h.scf.settled();
    await replies.waitFor(before + 1);
    const followUp = replies.posts.at(-1)!;
    expect(followUp.path).toBe('/commands/T1/123/abc');
    expect(followUp.body).toMatchObject({ response_type: 'in_channel', replace_original: false });
    expect(followUp.body.text).toMatch(/^Follow-up on \/scaleout demo 2: Requested 2 nodes on cls-e55paxnt with template small: ins-[0-9a-f]{8}, ins-[0-9a-f]{8}/);

    // Two calls reached TKE with one ClientToken; CVM bought once.
    const tokens = h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances').map((c) => JSON.parse(c.params.RunInstancePara as string).ClientToken);
    expect(tokens).toHaveLength(2);
    expect(new Set(tokens).size).toBe(1);
    expect(nodesBought(h)).toBe(2);
    expect(h.logLines.find((l) => l.followUp === true)).toMatchObject({ outcome: 'created', source: 'slack', settlement: 'created', instanceIds: expect.any(Array) });
  });

  it('a response_url outside Slack\'s base is never posted to: the answer says how to check instead', async () => {
    h = await chatHarness();
    h.sandbox.injectFault({ kind: 'delay', ms: 4000, action: 'CreateClusterInstances' });
    const { body, headers } = slackCommand('demo 1', 'http://169.254.169.254/latest/meta-data');
    const answer = await post(h, 'slack', body, headers);
    expect(answer.json.text).toMatch(/Check the node list of cluster demo in the TKE console before asking again/);
    expect(h.scf.invocations).toHaveLength(0);
  });

  it('posts "still no answer" when TKE does not answer the follow-up either, and still buys once', async () => {
    h = await chatHarness({}, 6500);
    h.sandbox.injectFault({ kind: 'delay', ms: 6000, action: 'CreateClusterInstances', times: 2 });
    const before = replies.posts.length;
    const { body, headers } = slackCommand('demo 1', `${replies.url}/commands/T1/456/def`);
    expect((await post(h, 'slack', body, headers)).json.text).toMatch(/^Sent to TKE/);
    await h.scf.settled();
    await replies.waitFor(before + 1);
    expect(replies.posts.at(-1)!.body.text).toMatch(/^Follow-up on \/scaleout demo 1: TKE still gave no answer \(TkeTimeout\); the nodes may exist\. Check the node list of cluster demo/);
    expect(nodesBought(h)).toBe(1);
  });

  // scf:Invoke on the function must not amount to CreateClusterInstances past the allow-list.
  it('refuses a follow-up job that is not signed with the sender\'s secret: no call to TKE, nothing posted', async () => {
    h = await chatHarness();
    const before = replies.posts.length;
    const request = { source: 'slack', eventId: 'forged-1', cluster: 'demo', template: 'small', count: 5, params: [] as Array<[string, string]> };
    const target = { kind: 'url' as const, url: `${replies.url}/commands/T1/999/forged` };
    const forged = { ...followUpJob(requestOfJob({ kind: FOLLOW_UP_EVENT_KIND, source: 'slack', request, target, mac: '' }), target, 'a guessed secret') };
    const unsigned = { kind: FOLLOW_UP_EVENT_KIND, source: 'slack', request, target, mac: '00' };
    for (const job of [forged, unsigned]) {
      await h.function.handler(job as unknown as ScfHttpEvent, { getRemainingTimeInMillis: () => 10_000 });
      expect(h.logLines.at(-1)).toMatchObject({ followUp: true, outcome: 'rejected', error: { code: 'Unauthorized', message: 'the follow-up job is not signed with a slack secret of this function' } });
    }
    expect(h.sandbox.calls).toHaveLength(0);
    expect(replies.posts.length).toBe(before);
  });

  it('never posts a signed job\'s reply outside the base either', async () => {
    h = await chatHarness();
    const before = replies.posts.length;
    const target = { kind: 'url' as const, url: 'https://evil.example/x' };
    const job = followUpJob({ source: 'slack', eventId: 'signed-outside-1', cluster: 'demo', template: 'small', count: 1, params: new Map() }, target, SLACK_SECRET);
    await h.function.handler(job as unknown as ScfHttpEvent, { getRemainingTimeInMillis: () => 10_000 });
    expect(replies.posts.length).toBe(before);
    expect(h.logLines.at(-1)).toMatchObject({ followUp: true, replyNote: expect.stringContaining('a Slack reply goes only to a response_url under') });
  });
});

describe('DingTalk: the outcome is posted to the sessionWebhook', () => {
  it('answers "may be in progress" and posts the final outcome as a text message', async () => {
    const h = await chatHarness();
    try {
      h.sandbox.injectFault({ kind: 'delay', ms: 4000, action: 'CreateClusterInstances' });
      const before = replies.posts.length;
      const body = JSON.stringify({
        msgtype: 'text',
        text: { content: '/scaleout demo 2' },
        msgId: `msgFollowUp${Date.now()}`,
        senderStaffId: 'manager1234',
        conversationId: 'cid1',
        sessionWebhook: `${replies.url}/robot/sendBySession?session=s1`,
        sessionWebhookExpiredTime: Date.now() + 3_600_000,
      });
      const ts = String(Date.now());
      const answer = await post(h, 'dingtalk', body, { 'content-type': 'application/json', timestamp: ts, sign: dingtalkSign(DINGTALK_SECRET, ts) });
      expect(answer.json.text.content).toMatch(/^Sent to TKE, but no answer came in time/);
      await h.scf.settled();
      // Both replies go to the sessionWebhook, DingTalk's reply path: "may be in progress", then the outcome.
      await replies.waitFor(before + 2);
      expect(replies.posts.slice(before).map((p) => p.body.text.content)).toEqual([expect.stringMatching(/^Sent to TKE, but no answer came in time/), expect.stringMatching(/^Follow-up on \/scaleout demo 2: Requested 2 nodes/)]);
      expect(nodesBought(h)).toBe(2);
    } finally {
      await h.close();
    }
  });
});

describe('Feishu: the outcome is posted as a reply to the message', () => {
  let api: FeishuApiStandIn;
  beforeAll(async () => {
    api = await startFeishuApiStandIn({ appId: 'cli_app', appSecret: 'app-secret' });
  });
  afterAll(() => api.close());

  it('posts "may be in progress" at once and the final outcome later, both as replies to the command', async () => {
    const h = await startHarness({
      env: { FEISHU_VERIFICATION_TOKEN: FEISHU_TOKEN, FEISHU_ENCRYPT_KEY: FEISHU_KEY, FEISHU_APP_ID: 'cli_app', FEISHU_APP_SECRET: 'app-secret', SCALEOUT_CHAT_ALLOW: 'ou_1' },
      config: (doc) => {
        doc.throttle = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 };
        doc.sources.feishu.apiBase = api.url;
      },
    });
    try {
      h.sandbox.injectFault({ kind: 'delay', ms: 4000, action: 'CreateClusterInstances' });
      const event = {
        schema: '2.0',
        header: { event_id: `ev-fu-${Date.now()}`, event_type: 'im.message.receive_v1', token: FEISHU_TOKEN },
        event: { sender: { sender_id: { open_id: 'ou_1' } }, message: { message_id: 'om_cmd_1', message_type: 'text', content: JSON.stringify({ text: '/scaleout demo 1' }) } },
      };
      const body = JSON.stringify({ encrypt: encryptFeishu(JSON.stringify(event), FEISHU_KEY) });
      const ts = String(Math.floor(Date.now() / 1000));
      await post(h, 'feishu', body, { 'content-type': 'application/json', 'x-lark-request-timestamp': ts, 'x-lark-request-nonce': 'n', 'x-lark-signature': feishuSignature(ts, 'n', FEISHU_KEY, body) });
      await h.scf.settled();
      const texts = api.replies.filter((r) => r.messageId === 'om_cmd_1').map((r) => JSON.parse(r.body.content).text as string);
      expect(texts).toEqual([expect.stringMatching(/^Sent to TKE, but no answer came in time/), expect.stringMatching(/^Follow-up on \/scaleout demo 1: Requested 1 node/)]);
      expect(nodesBought(h)).toBe(1);
    } finally {
      await h.close();
    }
  });
});
