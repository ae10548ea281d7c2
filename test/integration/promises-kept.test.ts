import { signGrafanaPayload } from '../../src/auth/grafana-hmac';
import { signSlackRequest } from '../../src/auth/slack-signature';
import { ConfigError } from '../../src/errors';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { exampleConfigVariant, fixture, RELAXED_THROTTLE } from '../support/fixtures';
import { startHarness, type Harness } from '../support/harness';
import { startRedisServer, type RedisServer } from '../support/redis-server';
import { coldStart } from '../../src/cold-start';
import { createLogger } from '../../src/log/logger';
import { Writable } from 'node:stream';

/**
 * What docs/DESIGN.md and the README promise, through the real handler, the official SDKs and the
 * sandbox. Each of these failed on the code before the shared windowed ledger and the request
 * record on the event: a review reproduced each one as a new user would.
 */
const burst = (eventId: string, extra: Record<string, unknown> = {}) => ({ eventId, cluster: 'demo-sh', template: 'burst', ...extra });
const paraOf = (call: { params: Record<string, unknown> }) => JSON.parse(call.params.RunInstancePara as string) as Record<string, any>;
const T0 = Date.parse('2026-12-06T10:00:00Z');

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Retry-After is a whole number of seconds (RFC 9110 delay-seconds), never "Infinity" or "NaN". */
function expectDelaySeconds(headers: Record<string, string> | undefined): void {
  const value = headers?.['retry-after'];
  expect(value).toMatch(/^[1-9][0-9]*$/);
}

describe('1. a redelivery re-sends the request as sent, after the throttle window and a deploy that changed the template and the ladder', () => {
  let redis: RedisServer;
  let sandbox: TkeSandbox;
  beforeAll(async () => {
    redis = await startRedisServer();
    sandbox = new TkeSandbox();
    await sandbox.start();
  });
  afterAll(async () => {
    await sandbox.stop();
    await redis.stop();
  });

  it('sold out on rung 1, answer lost on rung 2; 3 windows later a deploy shortened the ladder to 1 rung and changed it: rung 2 is re-sent byte for byte, one purchase', async () => {
    let clock = T0;
    const throttle = { cooldownSeconds: 0, windowSeconds: 60, maxNodesPerWindow: 100 };
    const shared = { sandbox, now: () => clock, env: { SCALEOUT_STORE: `${redis.url}` } };
    // Before the deploy: the example's four-rung ladder.
    h = await startHarness({ ...shared, config: (doc) => ((doc.throttle = throttle), (doc.store = { keyPrefix: 'resend1:' })) });
    sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    // Rung 2's call reaches CVM, which buys; the answer never comes back.
    sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances', times: 10 });
    const first = await h.postGeneric(burst('resend-after-window', { count: 2 }));
    expect(first.statusCode).toBeGreaterThanOrEqual(500);
    expect(first.json.error).toMatchObject({ outcome: 'unknown' });
    const sentOnRung2 = sandbox.calls.filter((c) => c.action === 'CreateClusterInstances').at(-1)!;
    expect(paraOf(sentOnRung2).Placement.Zone).toBe('ap-shanghai-4');
    const bought = sandbox.calls.flatMap((c) => c.instanceIds ?? []);
    expect(bought).toHaveLength(2);
    sandbox.clearFaults();
    await h.close();

    // Three throttle windows later, after a deploy: the template's type and zone changed, and its
    // ladder is gone (rung 2 no longer exists).
    clock += 3 * 60_000 + 30_000;
    h = await startHarness({
      ...shared,
      config: (doc) => {
        doc.throttle = throttle;
        doc.store = { keyPrefix: 'resend1:' };
        doc.templates.burst.runInstancePara.InstanceType = 'SA2.MEDIUM4';
        delete doc.templates.burst.ladder;
      },
    });
    const callsBefore = sandbox.calls.length;
    const again = await h.postGeneric(burst('resend-after-window', { count: 2 }));
    expect(again.json).toMatchObject({ status: 'created' });
    expect(again.statusCode).toBe(200);
    expect(again.json).toMatchObject({ status: 'created', clientToken: paraOf(sentOnRung2).ClientToken, instanceIds: bought });
    const resent = sandbox.calls.slice(callsBefore).filter((c) => c.action === 'CreateClusterInstances');
    expect(resent).toHaveLength(1);
    // Byte for byte what was sent before the deploy.
    expect(resent[0]!.params.RunInstancePara).toBe(sentOnRung2.params.RunInstancePara);
    expect(sandbox.calls.flatMap((c) => c.instanceIds ?? [])).toHaveLength(2);
    expect(h.logLines.find((l) => l.msg === 'scale-out decision')).toMatchObject({ outcome: 'created', resent: true });
    // And it replays from now on.
    expect((await h.postGeneric(burst('resend-after-window', { count: 2 }))).json).toMatchObject({ status: 'replayed', instanceIds: bought });
  });

  it('within the window, a deploy that removed the recorded rung: the re-send still goes out (not SoldOut with Retry-After: Infinity)', async () => {
    const shared = { sandbox, env: { SCALEOUT_STORE: `${redis.url}` } };
    sandbox.reset();
    h = await startHarness({ ...shared, config: (doc) => ((doc.throttle = RELAXED_THROTTLE), (doc.store = { keyPrefix: 'resend2:' })) });
    sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances', times: 10 });
    const first = await h.postGeneric(burst('rung-removed', { count: 2 }));
    expect(first.json.error).toMatchObject({ outcome: 'unknown' });
    sandbox.clearFaults();
    await h.close();
    h = await startHarness({ ...shared, config: (doc) => ((doc.throttle = RELAXED_THROTTLE), (doc.store = { keyPrefix: 'resend2:' }), delete doc.templates.burst.ladder) });
    const again = await h.postGeneric(burst('rung-removed', { count: 2 }));
    expect(again.headers?.['retry-after']).not.toBe('Infinity');
    expect(again.json).toMatchObject({ status: 'created', bought: { rung: 2, zone: 'ap-shanghai-4' } });
    expect(sandbox.calls.flatMap((c) => c.instanceIds ?? [])).toHaveLength(2);
  });

  it('every rung sold out: Retry-After is a whole number of seconds, the first time and once every rung is marked', async () => {
    sandbox.reset();
    h = await startHarness({ sandbox, env: { SCALEOUT_STORE: `${redis.url}` }, config: (doc) => ((doc.throttle = RELAXED_THROTTLE), (doc.store = { keyPrefix: 'allout:' })) });
    sandbox.setStock({ 'ap-shanghai-2': 0, 'ap-shanghai-4': 0 });
    for (const eventId of ['all-out-1', 'all-out-2']) {
      const reply = await h.postGeneric(burst(eventId));
      expect(reply.statusCode).toBe(503);
      expectDelaySeconds(reply.headers);
    }
  });
});

describe('2. a failed read is a refusal that bought nothing, never "nodes may exist"', () => {
  const ceiling = (doc: Record<string, any>) => (doc.throttle = { ...RELAXED_THROTTLE, maxClusterNodes: 100 });

  it('DescribeClusters times out: 503 TkeReadFailed, no outcome unknown, no cooldown, no warm-up, nothing sent', async () => {
    h = await startHarness({ config: (doc) => ((doc.throttle = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 100, maxClusterNodes: 100 })) });
    h.sandbox.injectFault({ kind: 'drop', action: 'DescribeClusters', times: 20 });
    const reply = await h.postGeneric({ eventId: 'read-fails', cluster: 'demo', template: 'small', count: 1 });
    expect(reply.statusCode).toBe(503);
    expect(reply.json.error.code).toBe('TkeReadFailed');
    expect(reply.json.error.outcome).toBeUndefined();
    expectDelaySeconds(reply.headers);
    expect(h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances')).toHaveLength(0);
    const line = h.logLines.find((l) => l.msg === 'scale-out decision')!;
    expect(line.settlement).toBeUndefined();
    expect(line.outcome).toBe('failed');
    // No cooldown started: another event goes through at once (once TKE answers reads again).
    h.sandbox.reset();
    const next = await h.postGeneric({ eventId: 'after-the-read', cluster: 'demo', template: 'small', count: 1 });
    expect(next.statusCode).toBe(200);
    expect(next.json.status).toBe('created');
  });

  it('from Slack: the reply says nothing was bought and no follow-up is started', async () => {
    const SECRET = 'slack-signing-secret';
    h = await startHarness({ env: { SLACK_SIGNING_SECRET: SECRET, SCALEOUT_CHAT_ALLOW: 'U2CERLKJA' }, config: ceiling });
    h.sandbox.injectFault({ kind: 'drop', action: 'DescribeClusters', times: 20 });
    const body = new URLSearchParams({
      team_id: 'T0001',
      channel_id: 'C2147483705',
      user_id: 'U2CERLKJA',
      user_name: 'roadrunner',
      command: '/scaleout',
      text: 'demo 1',
      response_url: 'https://hooks.slack.com/commands/1234/5678',
      trigger_id: '13345224609.738474920.8088930838d88f008e0',
    }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    const reply = await h.invoke({
      httpMethod: 'POST',
      path: '/hooks/slack',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(SECRET, ts, body) },
      body,
    } satisfies FunctionUrlEvent);
    expect(reply.statusCode).toBe(200);
    expect(reply.json.text).toMatch(/^Not scaled: /);
    expect(reply.json.text).not.toMatch(/may be being created|Sent to TKE|cooldown/);
    expect(h.scf.invocations).toHaveLength(0);
  });
});

describe('3. a request that can never fit is refused as such, and the config says so at load', () => {
  it('a template whose count.max exceeds the node budget and does not clamp is refused at cold start, naming the keys', () => {
    const config = exampleConfigVariant((doc) => {
      doc.throttle = { cooldownSeconds: 0, windowSeconds: 600, maxNodesPerWindow: 3 };
    });
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    expect(() => coldStart({ SCALEOUT_CONFIG: config }, createLogger(sink, 'fatal'))).toThrow(ConfigError);
    try {
      coldStart({ SCALEOUT_CONFIG: config }, createLogger(sink, 'fatal'));
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(/templates\.small\.count\.max \(5\).*maxNodesPerWindow \(3\)/);
    }
  });

  it('a purchase dearer than the whole money budget: 422 ExceedsLimit, not a 429 inviting a retry', async () => {
    h = await startHarness({ config: (doc) => ((doc.throttle = RELAXED_THROTTLE), (doc.pricing = { cacheSeconds: 0 }), (doc.clusters['demo-sh'].costBudget.hourly = 0.1)) });
    // Ten spot nodes (0.80 CNY/h) are over 0.10 CNY/h, but one (0.08) fits: the template clamps.
    const reply = await h.postGeneric(burst('too-dear', { count: 10 }));
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toMatchObject({ status: 'created', count: 1, clampedBy: 'cost-budget' });
    h.sandbox.setPrices({ 'S5.MEDIUM4': { hourly: 50, monthly: 5000 }, 'SA2.MEDIUM4': { hourly: 50, monthly: 5000 } });
    const never = await h.postGeneric(burst('far-too-dear', { count: 1 }));
    expect(never.statusCode).toBe(422);
    expect(never.json.error).toMatchObject({ code: 'ExceedsLimit', rule: 'cost-budget' });
    expect(never.headers?.['retry-after']).toBeUndefined();
  });
});

describe("4. a sender's own number of TKE attempts is used, lower or higher than the config's", () => {
  it('Grafana with tkeMaxAttempts 1: one attempt on a retryable refusal, although tke.maxAttempts is 4', async () => {
    const SECRET = 'grafana-secret';
    h = await startHarness({
      env: { GRAFANA_WEBHOOK_SECRET: SECRET },
      config: (doc) => {
        delete doc.sources.grafana.auth.hmac.timestampHeader;
        doc.sources.grafana.auth.hmac.acceptReplays = true;
        doc.sources.grafana.tkeMaxAttempts = 1;
        doc.tke = { ...(doc.tke ?? {}), maxAttempts: 4 };
        doc.throttle = RELAXED_THROTTLE;
      },
    });
    h.sandbox.injectFault({ kind: 'error', code: 'RequestLimitExceeded', action: 'CreateClusterInstances', times: 10 });
    const payload = JSON.stringify(fixture('grafana-firing.json'));
    await h.invoke({ httpMethod: 'POST', path: '/hooks/grafana', headers: { 'content-type': 'application/json', 'x-grafana-alert-signature': signGrafanaPayload(SECRET, payload) }, body: payload });
    expect(h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances')).toHaveLength(1);
  });
});

describe('5. the money budget never counts a price as free', () => {
  const answer = (instancePrice: Record<string, unknown>) => ({ kind: 'answer' as const, action: 'InquiryPriceRunInstances', response: { Price: { InstancePrice: instancePrice } } });

  it.each([
    ['1e308 CNY/h (rounds to Infinity; cached as JSON null, it counted as 0)', { UnitPrice: 1e308, UnitPriceDiscount: 1e308, ChargeUnit: 'HOUR' }],
    ['0 CNY/h', { UnitPrice: 0, UnitPriceDiscount: 0, ChargeUnit: 'HOUR' }],
  ])('CVM prices rung 1 at %s: no purchase (503 PriceUnavailable), and the next purchase is still counted', async (_what, price) => {
    h = await startHarness({ config: (doc) => ((doc.throttle = RELAXED_THROTTLE), (doc.clusters['demo-sh'].costBudget.hourly = 1)) });
    h.sandbox.injectFault(answer(price));
    const reply = await h.postGeneric(burst('bad-price', { count: 2 }));
    expect(reply.statusCode).toBe(503);
    expect(reply.json.error.code).toBe('PriceUnavailable');
    expect(h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances')).toHaveLength(0);
    // The price was not cached: the same offering is asked again and counted at its real price.
    let committed = 0;
    for (let i = 0; i < 60; i++) {
      const next = await h.postGeneric(burst(`after-bad-price-${i}`, { count: 2 }));
      if (next.json.status !== 'created') break;
      committed += next.json.bought.price.amount;
    }
    // 0.16 CNY/h a purchase against 1 CNY/h: six of them, then the budget holds.
    expect(Math.round(committed * 100) / 100).toBe(0.96);
  });
});

describe('6. with a money budget, a rung whose price inquiry says sold out is skipped and the ladder climbs on', () => {
  it("CVM's InquiryPriceRunInstances answers ResourcesSoldOut.SpecifiedInstanceType for rung 1: bought on rung 2", async () => {
    h = await startHarness();
    h.sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    const reply = await h.postGeneric(burst('inquiry-sold-out'));
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toMatchObject({
      status: 'created',
      bought: { rung: 2, zone: 'ap-shanghai-4' },
      skipped: [{ rung: 1, outcome: 'sold-out', code: 'ResourcesSoldOut.SpecifiedInstanceType' }],
    });
    const inquiries = h.sandbox.calls.filter((c) => c.action === 'InquiryPriceRunInstances');
    expect(inquiries[0]!.errorCode).toBe('ResourcesSoldOut.SpecifiedInstanceType');
    // Rung 1 was never sent to TKE: the inquiry already knew.
    const creates = h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances');
    expect(creates).toHaveLength(1);
    expect(paraOf(creates[0]!).Placement.Zone).toBe('ap-shanghai-4');
    // Marked for every instance: the next event starts at rung 2 without asking.
    const next = await h.postGeneric(burst('inquiry-sold-out-2'));
    expect(next.json.skipped).toMatchObject([{ rung: 1, outcome: 'sold-out-recently' }]);
  });
});
