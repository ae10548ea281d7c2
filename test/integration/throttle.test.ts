import Redis from 'ioredis';
import { RELAXED_THROTTLE, withNodeBudget } from '../support/fixtures';
import { startHarness, type Harness } from '../support/harness';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/**
 * Throttle and idempotency through the real handler, the SDK and the sandbox, once with the memory
 * store and once with a real redis-server: the same table must hold for both.
 */
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

let prefix = 0;
const storeEnvs: Array<[string, () => Record<string, string>]> = [
  ['memory', () => ({})],
  ['redis', () => ({ SCALEOUT_STORE: redis.url })],
];

describe.each(storeEnvs)('with the %s store', (kind, storeEnv) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** A function instance whose example config gets `throttle` and the given template/cluster tweaks. */
  const start = async (throttle: Record<string, unknown>, tweak: (doc: Record<string, any>) => void = () => undefined, now?: () => number) => {
    h = await startHarness({
      env: storeEnv(),
      ...(now !== undefined && { now }),
      config: (doc) => {
        withNodeBudget(doc, throttle);
        // Each test its own keys, so that Redis state from one test cannot leak into the next.
        doc.store = { keyPrefix: `t${++prefix}-${kind}:` };
        tweak(doc);
      },
    });
    return h;
  };
  const createCalls = (harness: Harness) => harness.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances');
  const post = (harness: Harness, eventId: string, count: number, cluster = 'demo', template = 'small') =>
    harness.postGeneric({ eventId, cluster, template, count });

  it('holds a second event in the cooldown after a scale-out, naming the rule and when to retry', async () => {
    const harness = await start({ cooldownSeconds: 300 });
    expect((await post(harness, 'a', 1)).json.status).toBe('created');
    const held = await post(harness, 'b', 1);
    expect(held.statusCode).toBe(429);
    expect(held.json.error).toMatchObject({ code: 'Throttled', rule: 'cooldown', retryAfterSeconds: expect.any(Number) });
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(290);
    expect(Number(held.headers['retry-after'])).toBeLessThanOrEqual(300);
    expect(createCalls(harness)).toHaveLength(1);
    // The throttle is per cluster: the other cluster is free.
    expect((await post(harness, 'c', 1, 'demo-bj', 'multi-disk')).json.status).toBe('created');
    // A duplicate of the first is still a replay, not a throttle.
    expect((await post(harness, 'a', 1)).json.status).toBe('replayed');
    const line = harness.logLines.find((l) => l.eventId === 'b')!;
    expect(line).toMatchObject({ outcome: 'throttled', throttledBy: 'cooldown', status: 429 });
  });

  it('never grants more than the window budget', async () => {
    const harness = await start({ ...RELAXED_THROTTLE, maxNodesPerWindow: 5 });
    expect((await post(harness, 'a', 3)).json.status).toBe('created');
    const held = await post(harness, 'b', 3);
    expect(held.json.error).toMatchObject({ code: 'Throttled', rule: 'node-budget' });
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(3500);
    expect((await post(harness, 'c', 2)).json.status).toBe('created');
    expect((await post(harness, 'd', 1)).json.error.rule).toBe('node-budget');
    expect(createCalls(harness).reduce((n, c) => n + JSON.parse(c.params.RunInstancePara as string).InstanceCount, 0)).toBe(5);
  });

  it('clamps to what is left when the template allows, and says so', async () => {
    const harness = await start({ ...RELAXED_THROTTLE, maxNodesPerWindow: 5 }, (doc) => (doc.templates.small.count.clamp = true));
    await post(harness, 'a', 3);
    const clamped = await post(harness, 'b', 4);
    expect(clamped.json).toMatchObject({ status: 'created', count: 2, requestedCount: 4, clampedBy: 'node-budget' });
    expect(clamped.json.instanceIds).toHaveLength(2);
    const overMax = await post(harness, 'c', 9);
    expect(overMax.json.error.rule).toBe('node-budget');
    // A replay answers what was done, clamp included.
    expect((await post(harness, 'b', 4)).json).toMatchObject({ status: 'replayed', count: 2, requestedCount: 4 });
  });

  it('clamps a count above the template max to it when allowed', async () => {
    const harness = await start(RELAXED_THROTTLE, (doc) => (doc.templates.small.count.clamp = true));
    expect((await post(harness, 'a', 9)).json).toMatchObject({ status: 'created', count: 5, requestedCount: 9, clampedBy: 'max-count-per-event' });
  });

  it('keeps the cluster under its ceiling, read with DescribeClusters just before', async () => {
    // The sandbox's demo cluster starts with 3 nodes.
    const harness = await start(RELAXED_THROTTLE, (doc) => (doc.clusters.demo.throttle = { maxClusterNodes: 5 }));
    expect((await post(harness, 'a', 2)).json.status).toBe('created');
    const held = await post(harness, 'b', 1);
    expect(held.json.error).toMatchObject({ code: 'Throttled', rule: 'cluster-ceiling' });
    expect(harness.sandbox.calls.map((c) => c.action)).toEqual(['DescribeClusters', 'CreateClusterInstances', 'DescribeClusters']);
  });

  it('gives the budget back when TKE refuses, and keeps it when the outcome is unknown', async () => {
    const harness = await start({ ...RELAXED_THROTTLE, maxNodesPerWindow: 3 });
    harness.sandbox.injectFault({ kind: 'error', code: 'FailedOperation.QuotaMaxNodLimit', action: 'CreateClusterInstances' });
    expect((await post(harness, 'refused', 3)).statusCode).toBe(409);
    harness.sandbox.injectFault({ kind: 'http', status: 503, times: 4 });
    expect((await post(harness, 'unknown', 3)).statusCode).toBe(502);
    // The refused call gave its 3 nodes back, the unknown one did not: nothing is left.
    expect((await post(harness, 'other', 1)).json.error.rule).toBe('node-budget');
    // The event with the unknown outcome goes on with its own grant.
    expect((await post(harness, 'unknown', 3)).json.status).toBe('created');
  });

  // A call is settled by ALL its attempts. Attempt 1 reaches TKE, which creates
  // the nodes, and its answer is lost; attempt 2 is refused (sold out). The nodes exist, so the
  // budget must stay spent. (Before: judged by the last attempt, the budget went back: 6 nodes
  // against a budget of 4.)
  it('keeps the budget when an earlier attempt was lost and a later one refused', async () => {
    const harness = await start({ ...RELAXED_THROTTLE, maxNodesPerWindow: 4 });
    harness.sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances' });
    harness.sandbox.injectFault({ kind: 'error', code: 'ResourceInsufficient.SpecifiedInstanceType', action: 'CreateClusterInstances' });
    const lost = await post(harness, 'lost-then-refused', 3);
    expect(lost.statusCode).toBe(503);
    const nodesCreated = () => harness.sandbox.createdCalls.reduce((n, c) => n + (c.instanceIds?.length ?? 0), 0);
    expect(nodesCreated()).toBe(3);
    expect(harness.logLines.find((l) => l.eventId === 'lost-then-refused')).toMatchObject({
      settlement: 'unknown',
      attempts: 2,
      attemptOutcomes: [{ outcome: 'unknown', code: 'network' }, { outcome: 'refused', code: 'ResourceInsufficient.SpecifiedInstanceType' }],
    });
    const next = await post(harness, 'next', 3);
    expect(next.json.error).toMatchObject({ code: 'Throttled', rule: 'node-budget' });
    expect(nodesCreated()).toBe(3);
  });

  // After an unknown outcome the nodes may be joining: a NEW event (a retyped
  // chat command, the next alarm) is held by the cooldown, while the event's own redelivery goes on
  // with the same ClientToken. (Before: no cooldown, the new event bought again.)
  it('starts the cooldown after an unknown outcome; the same event still goes on', async () => {
    const harness = await start({ ...RELAXED_THROTTLE, cooldownSeconds: 300 });
    harness.sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances', times: 4 });
    expect((await post(harness, 'cut', 2)).statusCode).toBe(502);
    const retyped = await post(harness, 'retyped', 2);
    expect(retyped.json.error).toMatchObject({ code: 'Throttled', rule: 'cooldown' });
    const redelivered = await post(harness, 'cut', 2);
    expect(redelivered.json.status).toBe('created');
    // CVM honoured the ClientToken: the four lost attempts and the redelivery are one purchase.
    expect(new Set(harness.sandbox.createdCalls.flatMap((c) => c.instanceIds ?? [])).size).toBe(2);
  });

  it('frees a throttled event, so its redelivery after the cooldown succeeds', async () => {
    // The function's clock is moved past the cooldown, not waited for.
    let skew = 0;
    const harness = await start({ ...RELAXED_THROTTLE, cooldownSeconds: 60 }, undefined, () => Date.now() + skew);
    await post(harness, 'a', 1);
    expect((await post(harness, 'b', 1)).statusCode).toBe(429);
    skew = 61_000;
    expect((await post(harness, 'b', 1)).json.status).toBe('created');
  });

  it('lets one event through per in-flight slot when two race', async () => {
    const harness = await start(RELAXED_THROTTLE);
    harness.sandbox.injectFault({ kind: 'delay', ms: 300, action: 'CreateClusterInstances' });
    const [a, b] = await Promise.all([post(harness, 'a', 1), new Promise((r) => setTimeout(r, 50)).then(() => post(harness, 'b', 1))]);
    expect(a.json.status).toBe('created');
    expect(b.json.error).toMatchObject({ code: 'Throttled', rule: 'in-flight' });
  });
});

describe('Redis keys', () => {
  it('sit under the prefix, with hash tags per event and per cluster, and expire', async () => {
    const h = await startHarness({ env: { SCALEOUT_STORE: redis.url }, config: (doc) => (doc.store = { keyPrefix: 'keys-test:' }) });
    const client = new Redis(redis.url);
    try {
      await h.postGeneric({ eventId: 'k-1', cluster: 'demo', template: 'small' });
      const keys = (await client.keys('keys-test:*')).sort();
      // The event, the cluster's throttle, and the purchase with its index (core/purchase.ts).
      expect(keys).toEqual(['keys-test:event:{generic:k-1}', expect.stringMatching(/^keys-test:purchase:\{cls-e55paxnt\}:p-[0-9a-f]{16}$/), 'keys-test:purchases:{cls-e55paxnt}', 'keys-test:throttle:{cls-e55paxnt}']);
      for (const key of keys) expect(await client.pttl(key)).toBeGreaterThan(0);
      expect(await client.pttl('keys-test:event:{generic:k-1}')).toBeGreaterThan(86_000_000); // the 24 h replay window
    } finally {
      client.disconnect();
      await h.close();
    }
  });
});

describe('with Redis stopped', () => {
  it('fails closed: every answer is 503, nothing reaches TKE; and recovers when Redis is back', async () => {
    const own = await startRedisServer();
    const h = await startHarness({ env: { SCALEOUT_STORE: own.url } });
    try {
      expect((await h.postGeneric({ eventId: 'before', cluster: 'demo', template: 'small' })).json.status).toBe('created');
      await own.kill();
      const calls = h.sandbox.calls.length;
      for (const eventId of ['down-1', 'down-2', 'before']) {
        const reply = await h.postGeneric({ eventId, cluster: 'demo', template: 'small' });
        expect(reply.statusCode).toBe(503);
        expect(reply.json.error.code).toBe('StoreUnavailable');
        expect(reply.body).not.toContain(String(own.port));
      }
      expect(h.sandbox.calls.length).toBe(calls);
      const health = await h.invoke({ httpMethod: 'GET', path: '/healthz', headers: {}, body: '' });
      expect(health.json).toEqual({ status: 'degraded', store: { reachable: false } });
      const failed = h.logLines.filter((l) => l.eventId === 'down-1');
      expect(failed).toMatchObject([{ level: 'error', outcome: 'failed', status: 503, error: { code: 'StoreUnavailable' } }]);

      await own.restart();
      const deadline = Date.now() + 10_000;
      let reply = await h.postGeneric({ eventId: 'after', cluster: 'demo', template: 'small' });
      while (reply.statusCode === 503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        reply = await h.postGeneric({ eventId: 'after', cluster: 'demo', template: 'small' });
      }
      expect(reply.json.status).toBe('created');
    } finally {
      await h.close();
      await own.stop();
    }
  });
});
