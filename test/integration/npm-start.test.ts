import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { signSlackRequest } from '../../src/auth/slack-signature';
import { exampleConfigVariant, fixture, marksFor } from '../support/fixtures';
import { startReplyStandIn, type ReplyStandIn } from '../support/reply-standin';
import { buildLocalBundle, startFunctionProcess, type FunctionProcess } from '../support/function-process';

/**
 * The newcomer's path, as the README gives it: `npm start` serves the function on localhost.
 * Runs the built bundle exactly as `npm start` does (build, then node), on free ports.
 */
beforeAll(buildLocalBundle);

const postGeneric = async (baseUrl: string, token: string, body: unknown) =>
  (await fetch(`${baseUrl}/hooks/generic`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => r.json())) as Record<string, unknown> & { instanceIds: string[] };

describe('npm start with no credentials: the local sandbox', () => {
  let started: FunctionProcess;
  beforeAll(async () => {
    started = await startFunctionProcess({});
  });
  afterAll(() => started.stop());

  it('says which mode it is in', () => {
    expect(started.output()).toContain('mode: SANDBOX');
    expect(started.output()).toContain('SCALEOUT_GENERIC_TOKEN=dev-token (unset, so npm start uses its local default)');
  });

  it('serves /healthz with the sandbox named', async () => {
    expect(await (await fetch(`${started.url}/healthz`)).json()).toEqual({ status: 'ok', store: { reachable: true } });
    const health = await (await fetch(`${started.url}/healthz`, { headers: { authorization: 'Bearer dev-token' } })).json();
    expect(health).toMatchObject({ status: 'ok', tke: { mode: 'sandbox' }, store: { kind: 'memory' } });
  });

  it("scales the demo cluster with the README's curl, then replays it", async () => {
    const body = { eventId: 'try-1', cluster: 'demo', template: 'small', count: 2 };
    const first = await postGeneric(started.url, 'dev-token', body);
    expect(first).toMatchObject({ status: 'created', clusterId: 'cls-e55paxnt', count: 2 });
    expect(first.instanceIds).toHaveLength(2);
    const second = await postGeneric(started.url, 'dev-token', body);
    expect(second).toEqual({ ...first, status: 'replayed' });

    const sandboxUrl = /local sandbox at (http:\/\/\S+)/.exec(started.output())![1]!;
    const clusters = (await (await fetch(`${sandboxUrl}/__sandbox/clusters`)).json()) as Array<{ clusterId: string; nodes: number }>;
    expect(clusters.find((c) => c.clusterId === 'cls-e55paxnt')!.nodes).toBe(3 + 2);
    // The example config's notify: sinks post to npm start's capture, which prints each message.
    expect(started.output()).toContain('notices: the sinks of notify: post to a local capture');
    expect(started.output()).toContain('[notify-capture] slack\n  Bought 2 nodes for demo (cls-e55paxnt)');
    expect(started.output()).toContain('[notify-capture] webhook\n  Bought 2 nodes for demo (cls-e55paxnt)');
  });

  it('logs each decision as one JSON line on stdout, without secrets', () => {
    const decisions = started
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === 'scale-out decision');
    expect(decisions.map((d) => d.outcome)).toEqual(['created', 'replayed']);
    expect(started.output()).not.toContain('sandbox-secret-key');
  });
});

describe('npm start shows the fallback ladder and the money budget', () => {
  let started: FunctionProcess;
  beforeAll(async () => {
    started = await startFunctionProcess({});
  });
  afterAll(() => started.stop());

  it("empties a rung's stock with the README's curl: the burst template buys on the next rung, priced", async () => {
    const sandboxUrl = /local sandbox at (http:\/\/\S+)/.exec(started.output())![1]!;
    expect(started.output()).toContain(`curl -s -X POST ${sandboxUrl}/__sandbox/stock -d '{"ap-shanghai-2/S5.MEDIUM4": 0}'`);
    await fetch(`${sandboxUrl}/__sandbox/stock`, { method: 'POST', body: '{"ap-shanghai-2/S5.MEDIUM4": 0}' });
    const answer = await postGeneric(started.url, 'dev-token', { eventId: 'try-ladder', cluster: 'demo-sh', template: 'burst' });
    expect(answer).toMatchObject({
      status: 'created',
      bought: { rung: 2, zone: 'ap-shanghai-4', price: { amount: 0.16, kind: 'hourly', currency: 'CNY' } },
      skipped: [{ rung: 1, zone: 'ap-shanghai-2', outcome: 'sold-out' }],
    });
    const dryRun = await postGeneric(started.url, 'dev-token', { eventId: 'try-ladder-dry', cluster: 'demo-sh', template: 'burst', dryRun: true });
    expect(dryRun).toMatchObject({ status: 'dry-run', ladder: [{ rung: 1, wouldSkip: 'sold-out-recently' }, { rung: 2 }, { rung: 3 }, { rung: 4 }], budgetLeft: { currency: 'CNY', hourly: 11.84 } });
    const health = await (await fetch(`${started.url}/healthz`, { headers: { authorization: 'Bearer dev-token' } })).json();
    expect(health).toMatchObject({ cvm: { endpoint: expect.stringContaining('signed as cvm.tencentcloudapi.com') }, soldOut: [{ zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4' }] });
  });
});

describe('npm start with credentials and TKE_ENDPOINT: another TKE stand-in', () => {
  // A stand-in in this process with keys of its own, as an outside checker would run one.
  const credential = { secretId: 'AKIDoutsidechecker0000000000000000000', secretKey: 'outside-checker-key' };
  const standIn = new TkeSandbox({ credentials: [credential] });
  let started: FunctionProcess;
  beforeAll(async () => {
    const endpoint = await standIn.start();
    started = await startFunctionProcess({
      TENCENTCLOUD_SECRETID: credential.secretId,
      TENCENTCLOUD_SECRETKEY: credential.secretKey,
      TKE_ENDPOINT: endpoint,
      SCALEOUT_GENERIC_TOKEN: 'checker-token',
    });
  });
  afterAll(async () => {
    await started.stop();
    await standIn.stop();
  });

  it('sends one validly signed multi-disk call, replays the repeat, and sends nothing for a wrong token or an undeclared param', async () => {
    expect(started.output()).toContain('mode: TENCENT CLOUD');
    const body = { eventId: 'check-1', cluster: 'demo-bj', template: 'multi-disk' };
    const first = await postGeneric(started.url, 'checker-token', body);
    const again = await postGeneric(started.url, 'checker-token', body);
    expect(first.status).toBe('created');
    expect(again).toEqual({ ...first, status: 'replayed' });

    const wrongToken = await postGeneric(started.url, 'dev-token', { ...body, eventId: 'check-2' });
    const undeclared = await postGeneric(started.url, 'checker-token', { ...body, eventId: 'check-3', params: { ImageId: 'img-evil' } });
    expect((wrongToken.error as { code: string }).code).toBe('Unauthorized');
    expect((undeclared.error as { code: string }).code).toBe('UnknownParam');

    expect(standIn.calls).toHaveLength(1);
    const call = standIn.calls[0]!;
    expect(call.errorCode).toBeUndefined();
    expect(call.secretId).toBe(credential.secretId);
    const seed = fixture<{ RunInstancePara: string }>('seed-example-2.json');
    expect(JSON.parse(call.params.RunInstancePara as string)).toEqual({ ...JSON.parse(seed.RunInstancePara), TagSpecification: marksFor('generic', 'check-1').TagSpecification, InstanceCount: 1, ClientToken: first.clientToken });
  });
});

describe('npm start: a chat command TKE answers late is followed up by the local SCF Invoke stand-in', () => {
  let started: FunctionProcess;
  let replies: ReplyStandIn;
  beforeAll(async () => {
    replies = await startReplyStandIn();
    started = await startFunctionProcess({
      SCALEOUT_CHAT_ALLOW: 'U1',
      SCALEOUT_CONFIG: exampleConfigVariant((doc) => (doc.sources.slack.replyBase = replies.url)),
    });
  });
  afterAll(async () => {
    await started.stop();
    await replies.close();
  });

  it('answers "may be in progress", then posts the outcome to response_url; one purchase', async () => {
    expect(started.output()).toContain('chat follow-ups: asynchronous invocations go to a local SCF Invoke stand-in at http://127.0.0.1:');
    const sandboxUrl = /local sandbox at (http:\/\/\S+)/.exec(started.output())![1]!;
    const nodes = async () => ((await (await fetch(`${sandboxUrl}/__sandbox/clusters`)).json()) as Array<{ clusterId: string; nodes: number }>).find((c) => c.clusterId === 'cls-e55paxnt')!.nodes;
    const before = await nodes();
    await fetch(`${sandboxUrl}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ kind: 'delay', ms: 4000, action: 'CreateClusterInstances' }) });
    const body = new URLSearchParams({ command: '/scaleout', text: 'demo 1', user_id: 'U1', channel_id: 'C1', trigger_id: 'trig-npm-start-1', response_url: `${replies.url}/commands/1/2/3` }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    const answer = (await (
      await fetch(`${started.url}/hooks/slack`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest('dev-token', ts, body) },
        body,
      })
    ).json()) as { text: string };
    expect(answer.text).toMatch(/^Sent to TKE, but no answer came in time .* I will post the outcome here once TKE answers/);
    await replies.waitFor(1);
    expect(replies.posts[0]!.body.text).toMatch(/^Follow-up on \/scaleout demo 1: Requested 1 node on cls-e55paxnt/);
    expect(await nodes()).toBe(before + 1);
  });
});
