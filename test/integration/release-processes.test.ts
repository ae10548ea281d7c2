import { KubeSandbox } from '../../dev/sandbox/kube-sandbox';
import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { exampleConfigVariant } from '../support/fixtures';
import { buildLocalBundle, startInstancesSharing, type FunctionProcess } from '../support/function-process';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/**
 * Giving nodes back from two function processes at once (their own timers, every second here) over
 * one real Redis, one TKE sandbox and its Kubernetes API: the floor and the disruption budget are
 * counted over the whole cluster, so one pass at a time plans a cluster's releases (a lock in the
 * store), and no node is cordoned, evicted or deleted by two passes.
 */
const TOKEN = 'release-processes-token';
const CLUSTER = 'cls-e55paxnt';
let redis: RedisServer;
let tke: TkeSandbox;
let kube: KubeSandbox;
let instances: FunctionProcess[] = [];

beforeAll(async () => {
  buildLocalBundle();
  redis = await startRedisServer();
  tke = new TkeSandbox({ joinSeconds: 1 });
  await tke.start();
  kube = new KubeSandbox({ tke, terminationGracePeriodSeconds: 1 });
  await kube.start();
});
afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  await kube.stop();
  await tke.stop();
  await redis.stop();
});

it('two processes passing every second: the floor and the disruption budget hold, each node deleted once', async () => {
  const config = exampleConfigVariant((doc) => {
    doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 100 };
    doc.store = { keyPrefix: 'rp:' };
    doc.clusters.demo.kubernetes = { serverEnv: 'DEMO_KUBE_SERVER', tokenEnv: 'DEMO_KUBE_TOKEN' };
    doc.release = { floor: 1, maxDisrupted: 2, delayAfterPurchase: '0s', cooldown: '0s', keepRequestedBelow: false };
  });
  instances = await startInstancesSharing(2, {
    sandboxUrl: tke.url(),
    redisUrl: redis.url,
    config,
    genericToken: TOKEN,
    timeoutMs: 10_000,
    env: { FOLLOW_EVERY_SECONDS: '1', DEMO_KUBE_SERVER: kube.serverUrl(CLUSTER), DEMO_KUBE_TOKEN: kube.token(CLUSTER) },
  });
  const post = async (i: number, body: unknown) => {
    const res = await fetch(`${instances[i % 2]!.url}/hooks/generic`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };
  const bought: string[] = [];
  for (const [i, eventId] of ['rp-1', 'rp-2', 'rp-3', 'rp-4'].entries()) {
    const answer = await post(i, { eventId, cluster: 'demo', template: 'small', count: 1 });
    expect(answer.json.status).toBe('created');
    bought.push(...(answer.json.instanceIds as string[]));
  }
  const ours = () => kube.nodes(CLUSTER).filter((n) => bought.some((id) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`)));
  // All four joined and followed to ready.
  const until = Date.now() + 20_000;
  while (Date.now() < until && ours().length < 4) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1_500));
  // The same ask, to both processes: one ask.
  expect((await post(0, { action: 'scale-in', eventId: 'rp-in', cluster: 'demo', count: 'all' })).status).toBe(202);
  expect((await post(1, { action: 'scale-in', eventId: 'rp-in', cluster: 'demo', count: 'all' })).json.status).toBe('replayed');
  // The nodes' names now, while they are listed: the calls name nodes, the deletions instances.
  const instanceOfNode = new Map(ours().map((n) => [(n.metadata as { name: string }).name, bought.find((id) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`))!]));
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline && tke.deleted.length < 3) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 2_500));
  // Never more than 2 of the function's nodes on their way out at once (the disruption budget),
  // each cordoned before it was deleted: from the sandboxes' own records of the calls, on one
  // clock (sampling the nodes could miss a cordon the other process's pass followed at once).
  const cordonedAt = new Map<string, number>();
  for (const c of kube.calls()) {
    const node = c.path.split('/').pop()!;
    if (c.verb === 'patch-node' && c.status === 200 && (c.body as { spec?: { unschedulable?: boolean } } | undefined)?.spec?.unschedulable === true && instanceOfNode.has(node) && !cordonedAt.has(instanceOfNode.get(node)!)) cordonedAt.set(instanceOfNode.get(node)!, c.at);
  }
  const outFor = tke.deleted.map((d) => ({ from: cordonedAt.get(d.instanceId) ?? Infinity, to: Date.parse(d.at) }));
  expect(outFor.every((o) => o.from <= o.to)).toBe(true);
  const mostOut = Math.max(...outFor.map((o) => outFor.filter((p) => p.from <= o.from && o.from <= p.to).length));
  expect(mostOut).toBeLessThanOrEqual(2);
  const deleted = tke.deleted.map((d) => d.instanceId);
  expect(deleted).toHaveLength(3);
  expect(new Set(deleted).size).toBe(3);
  // Newest first: the oldest purchase's node is the one kept.
  expect(deleted).not.toContain(bought[0]);
  expect(ours().map((n) => (n.spec as { providerID: string }).providerID)).toEqual([expect.stringContaining(bought[0]!)]);
  // One DeleteClusterInstances per node, none repeated.
  const asked = tke.calls.filter((c) => c.action === 'DeleteClusterInstances').flatMap((c) => (c.params as { InstanceIds: string[] }).InstanceIds);
  expect(asked.sort()).toEqual([...deleted].sort());
}, 90_000);
