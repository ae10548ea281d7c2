import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { exampleConfigVariant } from '../support/fixtures';
import { buildLocalBundle, startInstancesSharing, type FunctionProcess } from '../support/function-process';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/**
 * Several function instances as separate OS processes (the bundle `npm start` runs), sharing one
 * real redis-server and one TKE sandbox: what SCF does when an alert storm or a sender's duplicate
 * deliveries land on different instances.
 */
const PROCESSES = 4;
const TOKEN = 'multi-process-token';

let redis: RedisServer;
let sandbox: TkeSandbox;
let sandboxUrl: string;

beforeAll(async () => {
  buildLocalBundle();
  redis = await startRedisServer();
  sandbox = new TkeSandbox({ clusters: [{ clusterId: 'cls-e55paxnt', region: 'ap-guangzhou', maxNodes: 1000, initialNodes: 3 }, { clusterId: 'cls-nfjdk3n0', region: 'ap-beijing' }] });
  sandboxUrl = await sandbox.start();
});
afterAll(async () => {
  await sandbox.stop();
  await redis.stop();
});

let prefixCounter = 0;

async function startInstances(throttle: Record<string, number>, timeoutMs = 10_000): Promise<FunctionProcess[]> {
  const keyPrefix = `mp${++prefixCounter}:`;
  const config = exampleConfigVariant((doc) => {
    doc.throttle = throttle;
    doc.store = { keyPrefix };
  });
  return startInstancesSharing(PROCESSES, { sandboxUrl, redisUrl: redis.url, config, genericToken: TOKEN, timeoutMs });
}

async function deliver(instance: FunctionProcess, body: unknown): Promise<{ status: number; retryAfter: string | null; json: any }> {
  const res = await fetch(`${instance.url}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json: await res.json() };
}

const createCalls = () => sandbox.calls.filter((c) => c.action === 'CreateClusterInstances');

describe(`${PROCESSES} function processes sharing one Redis`, () => {
  let instances: FunctionProcess[] = [];
  beforeEach(() => sandbox.reset());
  afterEach(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    instances = [];
  });

  it('turn 200 concurrent deliveries of one event into exactly one CreateClusterInstances', async () => {
    instances = await startInstances({ cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 });
    sandbox.injectFault({ kind: 'delay', ms: 200, action: 'CreateClusterInstances' }); // a slow TKE widens the race
    const body = { eventId: 'storm-1', cluster: 'demo', template: 'small', count: 2 };
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => deliver(instances[i % PROCESSES]!, body)));

    expect(createCalls()).toHaveLength(1);
    const ok = answers.filter((a) => a.status === 200);
    const inFlight = answers.filter((a) => a.status === 409);
    expect(ok.length + inFlight.length).toBe(200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((a) => JSON.stringify(a.json.instanceIds))).size).toBe(1);
    expect(ok.filter((a) => a.json.status === 'created')).toHaveLength(1);
    expect(inFlight.every((a) => a.json.error.code === 'EventInFlight' && Number(a.retryAfter) >= 1)).toBe(true);
    // After it settles, every instance replays the same answer.
    const later = await Promise.all(instances.map((instance) => deliver(instance, body)));
    expect(later.map((a) => a.json.status)).toEqual(Array(PROCESSES).fill('replayed'));
    expect(new Set(later.map((a) => JSON.stringify(a.json.instanceIds)))).toEqual(new Set([JSON.stringify(ok[0]!.json.instanceIds)]));
    expect(createCalls()).toHaveLength(1);
  });

  it('keep 500 distinct events within a 20-node window; the rest are throttled with Retry-After', async () => {
    instances = await startInstances({ cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 20 });
    const answers: Array<{ status: number; retryAfter: string | null; json: any }> = [];
    // 500 events in waves of 50 concurrent deliveries, spread over the processes.
    for (let wave = 0; wave < 10; wave++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, i) => {
            const n = wave * 50 + i;
            return deliver(instances[n % PROCESSES]!, { eventId: `distinct-${n}`, cluster: 'demo', template: 'small', count: 1 + (n % 3) });
          }),
        )),
      );
    }
    const requested = createCalls().reduce((sum, c) => sum + JSON.parse(c.params.RunInstancePara as string).InstanceCount, 0);
    expect(requested).toBeLessThanOrEqual(20);
    expect(sandbox.instancesOf('cls-e55paxnt').length - 3).toBe(requested);
    const created = answers.filter((a) => a.status === 200);
    const throttled = answers.filter((a) => a.status === 429);
    expect(created.length + throttled.length).toBe(500);
    expect(created.reduce((sum, a) => sum + a.json.count, 0)).toBe(requested);
    expect(throttled.every((a) => a.json.error.code === 'Throttled' && Number(a.retryAfter) >= 1)).toBe(true);

    // However the storm went (on a slow machine the in-flight slot holds back most of it), the
    // budget is the limit: more events, one at a time, fill it to exactly 20 and no further.
    let last: { status: number; json: any } | undefined;
    for (let n = 500; n < 520 && last?.status !== 429; n++) {
      last = await deliver(instances[n % PROCESSES]!, { eventId: `distinct-${n}`, cluster: 'demo', template: 'small', count: 1 });
    }
    expect(last!.json.error).toMatchObject({ code: 'Throttled', rule: 'node-budget' });
    expect(sandbox.instancesOf('cls-e55paxnt').length - 3).toBe(20);
  });

  it('send nothing to TKE while Redis is down: every answer is 503', async () => {
    instances = await startInstances({ cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 100 });
    expect((await deliver(instances[0]!, { eventId: 'up', cluster: 'demo', template: 'small' })).status).toBe(200);
    await redis.kill();
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => deliver(instances[i % PROCESSES]!, { eventId: `down-${i}`, cluster: 'demo', template: 'small' })));
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(503));
      expect(createCalls()).toHaveLength(1);
    } finally {
      await redis.restart();
    }
  });

  it('after TKE fails a call, a redelivery to another process succeeds with the same ClientToken', async () => {
    instances = await startInstances({ cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 100 });
    sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'CreateClusterInstances', times: 4 });
    const body = { eventId: 'fails-once', cluster: 'demo', template: 'small' };
    const failed = await deliver(instances[0]!, body);
    expect(failed.status).toBe(502);
    const retried = await deliver(instances[1]!, body);
    expect(retried.json.status).toBe('created');
    const tokens = createCalls().map((c) => JSON.parse(c.params.RunInstancePara as string).ClientToken);
    expect(tokens).toHaveLength(5);
    expect(new Set(tokens)).toEqual(new Set([retried.json.clientToken]));
  });

  it('recover the first nodes when a process dies between the TKE answer and the record update', async () => {
    instances = await startInstances({ cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 }, 2_000);
    // TKE creates the nodes at once but answers late; the process is killed while it waits.
    sandbox.injectFault({ kind: 'delay', ms: 1_500, action: 'CreateClusterInstances' });
    const body = { eventId: 'crash-1', cluster: 'demo', template: 'small', count: 2 };
    const lost = deliver(instances[0]!, body).catch(() => 'connection lost');
    await new Promise((r) => setTimeout(r, 500));
    expect(sandbox.createdCalls).toHaveLength(1);
    instances[0]!.child.kill('SIGKILL');
    expect(await lost).toBe('connection lost');

    // Until the dead instance's deadline, its claim (and its cluster slot) hold.
    expect((await deliver(instances[1]!, body)).status).toBe(409);
    await new Promise((r) => setTimeout(r, 2_000));
    const redelivered = await deliver(instances[2]!, body);
    expect(redelivered.json.status).toBe('created');
    expect(redelivered.json.instanceIds).toEqual(sandbox.createdCalls[0]!.instanceIds);
    expect(sandbox.createdCalls).toHaveLength(1);
    expect(sandbox.instancesOf('cls-e55paxnt')).toHaveLength(3 + 2);
    // The nodes were counted once: the cooldown now holds other events.
    expect((await deliver(instances[3]!, { eventId: 'crash-2', cluster: 'demo', template: 'small' })).json.error.rule).toBe('cooldown');
  });
});
