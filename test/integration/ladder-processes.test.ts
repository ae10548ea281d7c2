import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { exampleConfigVariant } from '../support/fixtures';
import { buildLocalBundle, startInstancesSharing, type FunctionProcess } from '../support/function-process';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/**
 * The ladder across function instances: separate OS processes (the bundle `npm start` runs)
 * sharing one real redis-server and one sandbox (TKE and CVM). The sold-out memory is shared; a
 * process killed in the middle of a rung's call leaves that exact rung for the redelivery.
 */
const TOKEN = 'ladder-process-token';

let redis: RedisServer;
let sandbox: TkeSandbox;
let sandboxUrl: string;
let instances: FunctionProcess[] = [];

beforeAll(async () => {
  buildLocalBundle();
  redis = await startRedisServer();
  sandbox = new TkeSandbox({ clusters: [{ clusterId: 'cls-e55paxnt', region: 'ap-guangzhou' }, { clusterId: 'cls-nfjdk3n0', region: 'ap-beijing' }, { clusterId: 'cls-sh7k2m9q', region: 'ap-shanghai', maxNodes: 1000 }] });
  sandboxUrl = await sandbox.start();
});
afterAll(async () => {
  await sandbox.stop();
  await redis.stop();
});
beforeEach(() => sandbox.reset());
afterEach(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  instances = [];
});

let prefixCounter = 0;
function start(count: number, timeoutMs = 10_000, opts: { keyPrefix?: string; change?: (doc: Record<string, any>) => void } = {}): Promise<FunctionProcess[]> {
  const config = exampleConfigVariant((doc) => {
    doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 1000 };
    doc.store = { keyPrefix: opts.keyPrefix ?? `ladder${++prefixCounter}:` };
    opts.change?.(doc);
  });
  return startInstancesSharing(count, { sandboxUrl, redisUrl: redis.url, config, genericToken: TOKEN, timeoutMs });
}

async function deliver(instance: FunctionProcess, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${instance.url}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

const burst = (eventId: string) => ({ eventId, cluster: 'demo-sh', template: 'burst', count: 2 });
const creates = () => sandbox.calls.filter((c) => c.action === 'CreateClusterInstances');
const para = (c: { params: Record<string, unknown> }) => JSON.parse(c.params.RunInstancePara as string) as { ClientToken: string; Placement: { Zone: string } };

describe('the ladder across processes sharing one Redis', () => {
  it('a rung one process found sold out is skipped by another, which starts at the first rung that may have stock', async () => {
    instances = await start(2);
    sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    const first = await deliver(instances[0]!, burst('p1'));
    // With demo-sh's money budget, CVM's price inquiry already says rung 1 is sold out: never sent.
    expect(first.json).toMatchObject({ status: 'created', bought: { rung: 2 }, skipped: [{ rung: 1, outcome: 'sold-out', code: 'ResourcesSoldOut.SpecifiedInstanceType' }] });
    expect(creates()).toHaveLength(1);

    const second = await deliver(instances[1]!, burst('p2'));
    expect(second.json).toMatchObject({ status: 'created', bought: { rung: 2 }, skipped: [{ rung: 1, outcome: 'sold-out-recently', code: 'ResourcesSoldOut.SpecifiedInstanceType' }] });
    // The second process never asked for rung 1, not even its price.
    expect(sandbox.calls.filter((c) => c.action === 'InquiryPriceRunInstances' && c.errorCode !== undefined)).toHaveLength(1);
    expect(creates()).toHaveLength(2);
    expect(para(creates()[1]!).Placement.Zone).toBe('ap-shanghai-4');
  });

  it("a process killed during rung 2's call: the redelivery re-sends rung 2 with its token; nothing is bought twice", async () => {
    const keyPrefix = `ladder-crash${++prefixCounter}:`;
    instances = await start(2, 2_000, { keyPrefix });
    sandbox.setStock({ 'ap-shanghai-2/S5.MEDIUM4': 0 });
    // Rung 1 is refused at once (by the price inquiry); rung 2's call creates the nodes and answers
    // late; the process dies waiting.
    sandbox.injectFault({ kind: 'delay', ms: 1_500, action: 'CreateClusterInstances' });
    const lost = deliver(instances[0]!, burst('crash-between-rungs')).catch(() => 'connection lost');
    await new Promise((r) => setTimeout(r, 600));
    expect(sandbox.createdCalls).toHaveLength(1);
    instances[0]!.child.kill('SIGKILL');
    expect(await lost).toBe('connection lost');

    // Until the dead instance's deadline its claim holds; then the redelivery finds rung 2 recorded.
    expect((await deliver(instances[1]!, burst('crash-between-rungs'))).status).toBe(409);
    await new Promise((r) => setTimeout(r, 2_000));
    // Meanwhile a deploy changed rung 2 (another subnet). Rendering it again would be another
    // request with another ClientToken, a second purchase; the redelivery re-sends what was recorded.
    instances.push(...(await start(1, 2_000, { keyPrefix, change: (doc) => (doc.templates.burst.ladder.alternatives[0]['VirtualPrivateCloud.SubnetId'] = 'subnet-sh4ccccc') })));
    const redelivered = await deliver(instances[2]!, burst('crash-between-rungs'));
    expect(redelivered.json).toMatchObject({ status: 'created', instanceIds: sandbox.createdCalls[0]!.instanceIds });
    expect(sandbox.createdCalls).toHaveLength(1);
    const tokens = creates().map((c) => para(c).ClientToken);
    // Rung 2's token twice (the call, then the re-send); no rung 3 or 4.
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
    expect(redelivered.json.clientToken).toBe(tokens[0]);
    expect(sandbox.instancesOf('cls-sh7k2m9q')).toHaveLength(2);
    expect(JSON.parse(creates()[1]!.params.RunInstancePara as string).VirtualPrivateCloud.SubnetId).toBe('subnet-sh4bbbbb');
  });
});
