import { createHmac, randomBytes } from 'node:crypto';
import { signGrafanaPayload } from '../../src/auth/grafana-hmac';
import { signSlackRequest } from '../../src/auth/slack-signature';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { NotifyCapture, type CapturePlatform } from '../../dev/sandbox/notify-capture';
import type { SandboxInstanceFault } from '../../dev/sandbox/tke-sandbox';
import { fixture, RELAXED_THROTTLE } from '../support/fixtures';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';
import { startReplyStandIn, type ReplyStandIn } from '../support/reply-standin';

/**
 * Notices to the team's channels, through the real handler, the sandbox and a local stand-in for
 * every platform (dev/sandbox/notify-capture.ts), which checks each platform's signature as the
 * platform documents it (Feishu: base64 HMAC-SHA256 keyed by `timestamp\nsecret` over nothing;
 * DingTalk: keyed by the secret over `timestamp\nsecret`, in the query; Standard Webhooks:
 * `v1,` base64 HMAC of `id.timestamp.body`: docs/NOTIFY-PLATFORMS.md). The clock is the test's.
 */
const FEISHU_SECRET = 'feishu-bot-secret';
const DINGTALK_SECRET = 'SECdingtalk-robot-secret';
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const SLACK_SECRET = 'slack-signing-secret';
const AM_TOKEN = 'am-token';
const GRAFANA_SECRET = 'grafana-secret';
const TCM_TOKEN = 'tcm-token';
const PLATFORMS: readonly CapturePlatform[] = ['slack', 'feishu', 'dingtalk', 'wecom', 'webhook'];

let capture: NotifyCapture;
let replies: ReplyStandIn;
let h: Harness;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const advance = (ms: number) => (offsetMs += ms);

beforeAll(async () => {
  replies = await startReplyStandIn();
});
afterAll(() => replies.close());
beforeEach(async () => {
  capture = new NotifyCapture({ secrets: { feishu: FEISHU_SECRET, dingtalk: DINGTALK_SECRET, webhook: WEBHOOK_SECRET }, now: clock });
});
afterEach(async () => {
  await h?.close();
  await capture.stop();
  offsetMs = 0;
});

async function start(options: { instanceFaults?: SandboxInstanceFault[]; throttle?: Record<string, number>; language?: 'en' | 'zh'; sendWithinMs?: number } = {}): Promise<Harness> {
  const url = await capture.start();
  h = await startHarness({
    now: clock,
    sandbox: { now: clock, joinSeconds: 20, ...(options.instanceFaults !== undefined && { instanceFaults: options.instanceFaults }) },
    env: {
      NOTIFY_SLACK_URL: `${url}/slack/services/T000/B000/XXXXSLACKTOKEN`,
      NOTIFY_FEISHU_URL: `${url}/feishu/open-apis/bot/v2/hook/feishu-token-1`,
      NOTIFY_FEISHU_SECRET: FEISHU_SECRET,
      NOTIFY_DINGTALK_URL: `${url}/dingtalk/robot/send?access_token=ding-token-1`,
      NOTIFY_DINGTALK_SECRET: DINGTALK_SECRET,
      NOTIFY_WECOM_URL: `${url}/wecom/cgi-bin/webhook/send?key=wecom-key-1`,
      NOTIFY_WEBHOOK_URL: `${url}/webhook/in`,
      NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET,
      SLACK_SIGNING_SECRET: SLACK_SECRET,
      SCALEOUT_CHAT_ALLOW: 'U1',
      ALERTMANAGER_TOKEN: AM_TOKEN,
      GRAFANA_WEBHOOK_SECRET: GRAFANA_SECRET,
      TENCENT_MONITOR_TOKEN: TCM_TOKEN,
    },
    config: (doc) => {
      doc.throttle = options.throttle ?? RELAXED_THROTTLE;
      doc.sources.slack.replyBase = replies.url;
      delete doc.sources.grafana.auth.hmac.timestampHeader;
      doc.sources.grafana.auth.hmac.acceptReplays = true;
      doc.notify = {
        language: options.language ?? 'en',
        ...(options.sendWithinMs !== undefined && { sendWithinMs: options.sendWithinMs }),
        sinks: {
          team: { type: 'slack', urlEnv: 'NOTIFY_SLACK_URL' },
          lark: { type: 'feishu', urlEnv: 'NOTIFY_FEISHU_URL', secretEnv: 'NOTIFY_FEISHU_SECRET' },
          ding: { type: 'dingtalk', urlEnv: 'NOTIFY_DINGTALK_URL', secretEnv: 'NOTIFY_DINGTALK_SECRET' },
          wecom: { type: 'wecom', urlEnv: 'NOTIFY_WECOM_URL' },
          hook: { type: 'webhook', urlEnv: 'NOTIFY_WEBHOOK_URL', secretEnv: 'NOTIFY_WEBHOOK_SECRET' },
        },
        default: ['team', 'lark', 'ding', 'wecom', 'hook'],
      };
    },
  });
  return h;
}

const TIMER = { Type: 'Timer', TriggerName: 'scaleout-follow', Time: '2026-12-07T10:00:00Z', Message: '' };
const pass = () => (h.function.handler as unknown as (e: unknown, c: object) => Promise<unknown>)(TIMER, { request_id: `pass-${Math.random()}`, getRemainingTimeInMillis: () => 20_000 });
const passLines = () => h.logLines.filter((l) => l.msg === 'purchase pass');
const decisionLines = () => h.logLines.filter((l) => l.msg === 'scale-out decision');
/** What each platform received, by notice kind (the webhook's `type`, or the words of the title). */
const accepted = (platform?: CapturePlatform) => capture.received().filter((m) => m.accepted && (platform === undefined || m.platform === platform));
const kindsAt = (platform: CapturePlatform) =>
  accepted(platform).map((m) => {
    if (platform === 'webhook') return String((m.body as { type: string }).type).replace('tke-scaleout.', '');
    const title = m.text.split('\n')[0] ?? '';
    return /^Bought|^已为集群/.test(title) ? 'bought' : /ready$|就绪$/.test(title) ? 'ready' : /failed to join|未能加入/.test(title) ? 'failed' : /held back|暂缓/.test(title) ? 'held-back' : title;
  });

describe('notices: bought and ready, in every configured sink, signed as each platform checks', () => {
  it('a generic call: "bought" is posted to all five within the request, "ready" by the pass that sees the nodes run; each once', async () => {
    await start();
    const bought = await h.postGeneric({ eventId: 'n-1', cluster: 'demo', template: 'small', count: 2, reason: 'load test' });
    expect(bought.json.status).toBe('created');
    for (const p of PLATFORMS) expect(kindsAt(p)).toEqual(['bought']);
    // Every signature was checked by the stand-in (a wrong one is answered with the platform's own error).
    expect(capture.received().every((m) => m.accepted)).toBe(true);
    const ids = bought.json.instanceIds as string[];
    const slack = accepted('slack')[0]!.text;
    expect(slack).toContain('Bought 2 nodes for demo (cls-e55paxnt)');
    for (const id of ids) expect(slack).toContain(id);
    expect(slack).toContain('tke2/cluster/sub/list/nodeManage/node?clusterId=cls-e55paxnt');
    expect(slack).toMatch(/Budget left: \d+ of \d+ nodes per/);
    const hook = accepted('webhook')[0]!.body as { data: Record<string, unknown> };
    expect(hook.data).toMatchObject({ kind: 'bought', cluster: 'demo', count: 2, instanceIds: ids, why: { source: 'generic', eventId: 'n-1', reason: 'load test' } });
    expect(decisionLines().at(-1)!.notices).toMatchObject({ queued: [expect.stringMatching(/^bought:cls-e55paxnt:/)], sent: expect.arrayContaining([expect.stringContaining('→ team'), expect.stringContaining('→ hook')]) });

    // The sender's retry of the same event replays the answer: nothing new is told.
    expect((await h.postGeneric({ eventId: 'n-1', cluster: 'demo', template: 'small', count: 2, reason: 'load test' })).json.status).toBe('replayed');
    expect(accepted()).toHaveLength(5);

    advance(25_000);
    await pass();
    for (const p of PLATFORMS) expect(kindsAt(p)).toEqual(['bought', 'ready']);
    expect(accepted('wecom')[1]!.text).toContain('Time to ready: 25 s');
    // The next passes find nothing new to say.
    advance(60_000);
    await pass();
    expect(accepted()).toHaveLength(10);
  });

  it('in Chinese when the operator says so', async () => {
    await start({ language: 'zh' });
    await h.postGeneric({ eventId: 'n-zh', cluster: 'demo', template: 'small', count: 1 });
    expect(accepted('dingtalk')[0]!.text).toContain('已为集群 demo (cls-e55paxnt) 购买 1 个节点');
  });

  it('each kind of sender: Alertmanager, Grafana, Tencent Cloud Monitor and a Slack command say what asked and why', async () => {
    await start();
    const am = fixture<Record<string, any>>('alertmanager-firing.json');
    await h.invoke({ httpMethod: 'POST', path: '/hooks/alertmanager', headers: { 'content-type': 'application/json', authorization: `Bearer ${AM_TOKEN}` }, body: JSON.stringify(am) } as FunctionUrlEvent);
    const grafana = JSON.stringify(fixture('grafana-firing.json'));
    await h.invoke({ httpMethod: 'POST', path: '/hooks/grafana', headers: { 'content-type': 'application/json', 'x-grafana-alert-signature': signGrafanaPayload(GRAFANA_SECRET, grafana) }, body: grafana } as FunctionUrlEvent);
    await h.invoke({ httpMethod: 'POST', path: '/hooks/tencent-monitor', headers: { 'content-type': 'application/json' }, queryString: { token: TCM_TOKEN }, body: JSON.stringify(fixture('tencent-monitor-alarm.json')) } as FunctionUrlEvent);
    const body = new URLSearchParams({ command: '/scaleout', text: 'demo 1', user_id: 'U1', channel_id: 'C1', trigger_id: `trig-n-${Date.now()}`, response_url: `${replies.url}/commands/1` }).toString();
    const ts = String(Math.floor(clock() / 1000));
    await h.invoke({ httpMethod: 'POST', path: '/hooks/slack', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(SLACK_SECRET, ts, body) }, body } as FunctionUrlEvent);
    const whys = accepted('webhook').map((m) => (m.body as { data: { why: Record<string, any> } }).data.why);
    expect(whys.map((w) => w.source)).toEqual(['alertmanager', 'grafana', 'tencent-monitor', 'slack']);
    expect(whys[0]!.origin).toMatchObject({ kind: 'alert', rule: 'demo-critical', alert: am.alerts[0].labels.alertname, labels: am.alerts[0].labels });
    expect(whys[2]!.origin).toMatchObject({ kind: 'alert', rule: 'demo-tcm', policyId: 'policy-n4exeh88' });
    expect(whys[3]).toMatchObject({ origin: { kind: 'chat', user: 'U1', conversation: 'C1' }, command: '/scaleout demo 1 small' });
    const slackTexts = accepted('slack').map((m) => m.text);
    expect(slackTexts[0]).toContain(`Alert: ${am.alerts[0].labels.alertname} (rule demo-critical; alertmanager)`);
    expect(slackTexts[3]).toContain('Asked by: U1 in C1: /scaleout demo 1 small (slack)');

    // Each purchase's "ready" follows in the sink; the command's also in its conversation (its response_url).
    advance(25_000);
    await pass();
    expect(accepted('webhook').slice(4).map((m) => (m.body as { type: string; data: { why: { source: string } } })).map((b) => [b.type, b.data.why.source]).sort()).toEqual(
      [['tke-scaleout.ready', 'alertmanager'], ['tke-scaleout.ready', 'grafana'], ['tke-scaleout.ready', 'slack'], ['tke-scaleout.ready', 'tencent-monitor']],
    );
    const conversation = replies.posts.filter((p) => p.path === '/commands/1');
    expect(conversation).toHaveLength(1);
    expect(conversation[0]!.body.text).toContain('1 node joined demo (cls-e55paxnt) and is ready');
  });
});

describe('an unknown outcome', () => {
  it('says nothing bought while it is unknown; once a pass finds its nodes by their tags, "bought", then "ready" in order', async () => {
    await start();
    // TKE creates the nodes and the answer is lost, on every attempt.
    h.sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances', times: 10 });
    const lost = await h.postGeneric({ eventId: 'n-unknown', cluster: 'demo', template: 'small', count: 1 });
    expect(lost.statusCode).toBeGreaterThanOrEqual(500);
    h.sandbox.clearFaults();
    expect(accepted()).toEqual([]);
    advance(150_000);
    await pass();
    // Found and already running: its "bought" and its "ready", in that order, in the same pass.
    for (const p of PLATFORMS) expect(kindsAt(p)).toEqual(['bought', 'ready']);
    expect((accepted('webhook')[0]!.body as { data: { instanceIds: string[] } }).data.instanceIds).toEqual(h.sandbox.createdCalls.at(-1)!.instanceIds);
    advance(60_000);
    await pass();
    expect(accepted()).toHaveLength(10);
  });
});

describe('failed and cleaned up; held back', () => {
  it('a node that failed to join: which, TKE\'s reason, what the budget got back, the back-off', async () => {
    await start({ instanceFaults: [{ kind: 'fail', reason: 'cloud-init: user script exited 1', zone: 'ap-guangzhou-4', times: 1 }] });
    const bought = await h.postGeneric({ eventId: 'n-fail', cluster: 'demo', template: 'small', count: 2 });
    const [failing] = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    expect(kindsAt('slack')).toEqual(['bought', 'failed']);
    const text = accepted('feishu')[1]!.text;
    expect(text).toContain('1 of 2 nodes failed to join demo (cls-e55paxnt): cleaned up');
    expect(text).toContain(`${failing}: cloud-init: user script exited 1 → terminated`);
    expect(text).toContain('Given back to the budget: 1 node');
    expect(text).toMatch(/Back-off: S3\.SMALL1 in ap-guangzhou-4 \(POSTPAID_BY_HOUR\) is skipped until/);
  });

  it('the node budget spent: one "held back" per cluster and window, however many alarms are refused', async () => {
    await start({ throttle: { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 10 } });
    expect((await h.postGeneric({ eventId: 'n-b1', cluster: 'demo', template: 'small', count: 5 })).json.status).toBe('created');
    expect((await h.postGeneric({ eventId: 'n-b1b', cluster: 'demo', template: 'small', count: 5 })).json.status).toBe('created');
    for (const id of ['n-b2', 'n-b3', 'n-b4']) expect((await h.postGeneric({ eventId: id, cluster: 'demo', template: 'small', count: 1 })).statusCode).toBe(429);
    for (const p of PLATFORMS) expect(kindsAt(p)).toEqual(['bought', 'bought', 'held-back']);
    expect(accepted('wecom')[2]!.text).toContain('Scale-outs of demo (cls-e55paxnt) are held back: the node budget is spent');
    expect(decisionLines().at(-1)!.notices).toMatchObject({ known: [expect.stringMatching(/^held-back:cls-e55paxnt:node-budget:/)] });
  });
});

describe('a sink that is down never costs a scale-out, and loses nothing', () => {
  it('Slack answering 503 then 429, WeCom hanging: the scale-out answers with the others posted; the passes deliver the rest once', async () => {
    await start({ sendWithinMs: 500 });
    capture.fail('slack', { status: 503, body: 'rollup_error', times: 1 });
    capture.fail('wecom', { delayMs: Infinity, times: 1 });
    const bought = await h.postGeneric({ eventId: 'n-down', cluster: 'demo', template: 'small', count: 1 });
    expect(bought.json.status).toBe('created');
    const notices = decisionLines().at(-1)!.notices as { sent: string[]; pending: string[] };
    expect(notices.pending.sort()).toEqual([expect.stringContaining('→ team'), expect.stringContaining('→ wecom')]);
    expect(notices.sent).toHaveLength(3);
    // /healthz (with the health token) shows the sinks, names and platforms only, and what waits.
    const health = await h.invoke({ httpMethod: 'GET', path: '/healthz', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent);
    expect(health.json.notify).toEqual({ sinks: { team: 'slack', lark: 'feishu', ding: 'dingtalk', wecom: 'wecom', hook: 'webhook', conversation: 'conversation' }, outbox: { waiting: 1, due: 0, nextTry: expect.any(String) } });
    expect(health.body).not.toContain('XXXXSLACKTOKEN');
    // While they are down, the next scale-out does not wait for them: it leaves them to the pass
    // (this instance saw them fail), and still posts to the others at once.
    const before = { slack: capture.received().filter((m) => m.platform === 'slack').length, wecom: capture.received().filter((m) => m.platform === 'wecom').length };
    expect((await h.postGeneric({ eventId: 'n-down-2', cluster: 'demo', template: 'small', count: 1 })).json.status).toBe('created');
    expect(capture.received().filter((m) => m.platform === 'slack')).toHaveLength(before.slack);
    expect(capture.received().filter((m) => m.platform === 'wecom')).toHaveLength(before.wecom);
    expect((decisionLines().at(-1)!.notices as { pending: string[] }).pending.sort()).toEqual([expect.stringContaining('→ team'), expect.stringContaining('→ wecom')]);
    expect(kindsAt('feishu')).toEqual(['bought', 'bought']);
    // Slack is still rate-limiting when the first retry comes.
    capture.fail('slack', { status: 429, headers: { 'retry-after': '120' }, times: 1 });
    advance(40_000);
    await pass();
    // WeCom has both "bought" now, and the passes' "ready" after them.
    expect(kindsAt('wecom')).toEqual(['bought', 'bought', 'ready', 'ready']);
    // Slack refused again (429, Retry-After 120 s): one try this pass, and none until then; the
    // purchases' "ready" waits for their "bought", so the channel never reads "ready" first.
    const slackAbout = (eventId: string) => accepted('slack').filter((m) => m.text.includes(`(event ${eventId})`)).map((m) => m.text.split('\n')[0]!.split(' ')[0]);
    expect(accepted('slack')).toEqual([]);
    expect(capture.received().filter((m) => m.platform === 'slack')).toHaveLength(before.slack + 1);
    advance(60_000);
    await pass();
    expect(capture.received().filter((m) => m.platform === 'slack')).toHaveLength(before.slack + 1);
    advance(70_000);
    await pass();
    expect(slackAbout('n-down')).toEqual(['Bought', '1']);
    expect(slackAbout('n-down-2')).toEqual(['Bought']);
    // Every sink has each notice once, each purchase's "bought" before its "ready"; the outbox empties.
    advance(60_000);
    await pass();
    for (const p of PLATFORMS) expect(kindsAt(p).sort()).toEqual(['bought', 'bought', 'ready', 'ready']);
    expect(accepted()).toHaveLength(20);
    expect(slackAbout('n-down-2')).toEqual(['Bought', '1']);
    advance(60_000);
    await pass();
    expect(passLines().at(-1)!.outbox).toBeUndefined();
  });

  it('a sink that refuses for good (a bad signature) is logged undelivered at once, without its URL or secret', async () => {
    await start();
    capture.fail('dingtalk', { body: { errcode: 310000, errmsg: 'sign not match' }, times: 5 });
    await h.postGeneric({ eventId: 'n-refused', cluster: 'demo', template: 'small', count: 1 });
    const notices = decisionLines().at(-1)!.notices as { undelivered: Array<{ sink: string; reason: string }> };
    expect(notices.undelivered).toEqual([{ id: expect.stringMatching(/^bought:/), sink: 'ding', reason: expect.stringContaining('310000') }]);
    const log = h.rawLog.join('\n');
    for (const secret of ['ding-token-1', DINGTALK_SECRET, 'XXXXSLACKTOKEN', 'wecom-key-1', 'feishu-token-1', FEISHU_SECRET, WEBHOOK_SECRET]) expect(log).not.toContain(secret);
    // Not retried.
    advance(60_000);
    await pass();
    expect(capture.received().filter((m) => m.platform === 'dingtalk' && m.text.startsWith('Bought'))).toHaveLength(1);
  });
});

/** The Standard Webhooks signature as the spec computes it, written here (spec/standard-webhooks.md, "Signature scheme"). */
describe('the generic webhook', () => {
  it('carries webhook-id, webhook-timestamp and a v1 signature a receiver can check with the shared secret', async () => {
    await start();
    await h.postGeneric({ eventId: 'n-hook', cluster: 'demo', template: 'small', count: 1 });
    const [m] = accepted('webhook');
    const raw = JSON.stringify(m!.body);
    const id = m!.headers['webhook-id']!;
    const timestamp = m!.headers['webhook-timestamp']!;
    const key = Buffer.from(WEBHOOK_SECRET.slice('whsec_'.length), 'base64');
    const expected = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${raw}`).digest('base64')}`;
    expect(m!.headers['webhook-signature']).toBe(expected);
    expect(id).toMatch(/^bought:cls-e55paxnt:/);
  });
});
