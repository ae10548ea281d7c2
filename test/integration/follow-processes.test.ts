import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { NotifyCapture } from '../../dev/sandbox/notify-capture';
import { exampleConfigVariant } from '../support/fixtures';
import { buildLocalBundle, startInstancesSharing, type FunctionProcess } from '../support/function-process';
import { startRedisServer, type RedisServer } from '../support/redis-server';

/**
 * The pass that follows purchases, run by two function processes at once (their own timers, every
 * second here) over one real Redis and one sandbox: what SCF does when a timer invocation overlaps
 * the next one, or two instances run it. Each purchase is taken by one pass at a time (the store's
 * atomic update), so a failed node is deleted once, never twice, and its budget comes back once.
 */
const TOKEN = 'follow-processes-token';
const HEALTH = 'follow-processes-health';
let redis: RedisServer;
let sandbox: TkeSandbox;
let instances: FunctionProcess[] = [];
const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const capture = new NotifyCapture({ secrets: { webhook: WEBHOOK_SECRET } });
let captureUrl: string;

beforeAll(async () => {
  buildLocalBundle();
  captureUrl = await capture.start();
  redis = await startRedisServer();
  sandbox = new TkeSandbox({ joinSeconds: 1, instanceFaults: [{ kind: 'fail', reason: 'kubelet: certificate signing failed', zone: 'ap-guangzhou-4' }] });
  await sandbox.start();
});
afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  await sandbox.stop();
  await redis.stop();
  await capture.stop();
});

it('two processes passing every second: each failed node deleted once, its budget given back once', async () => {
  const config = exampleConfigVariant((doc) => {
    doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 100 };
    doc.store = { keyPrefix: 'fp:' };
    doc.health = { tokenEnv: 'SCALEOUT_HEALTH_TOKEN' };
    doc.notify = { sinks: { team: { type: 'slack', urlEnv: 'NOTIFY_SLACK_URL' }, audit: { type: 'webhook', urlEnv: 'NOTIFY_WEBHOOK_URL', secretEnv: 'NOTIFY_WEBHOOK_SECRET' } }, default: ['team', 'audit'] };
  });
  const notifyEnv = { NOTIFY_SLACK_URL: `${captureUrl}/slack/services/T/B/fp`, NOTIFY_WEBHOOK_URL: `${captureUrl}/webhook/fp`, NOTIFY_WEBHOOK_SECRET: WEBHOOK_SECRET };
  instances = await startInstancesSharing(2, { sandboxUrl: sandbox.url(), redisUrl: redis.url, config, genericToken: TOKEN, timeoutMs: 10_000, env: { FOLLOW_EVERY_SECONDS: '1', SCALEOUT_HEALTH_TOKEN: HEALTH, ...notifyEnv } });
  const buy = async (i: number, eventId: string, zone: string) => {
    const res = await fetch(`${instances[i % 2]!.url}/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ eventId, cluster: 'demo', template: 'small', count: 2, params: { zone } }),
    });
    const body = (await res.json()) as { status: string; instanceIds: string[] };
    expect(body.status).toBe('created');
    return body.instanceIds;
  };
  const bought: string[] = [];
  for (const [i, eventId] of ['fp-1', 'fp-2', 'fp-3'].entries()) bought.push(...(await buy(i, eventId, 'ap-guangzhou-4')));
  // Nodes that join, counted in the same slice of the window: a refund given twice would eat into them.
  const joined = await buy(1, 'fp-4', 'ap-guangzhou-3');
  // Both processes pass every second; wait until every purchase ended.
  const listed = async () => {
    const res = await fetch(`${instances[0]!.url}/purchases`, { headers: { authorization: `Bearer ${HEALTH}` } });
    return ((await res.json()) as { purchases: Array<{ state: string; endedAt?: string }> }).purchases;
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !(await listed()).every((p) => p.endedAt !== undefined)) await new Promise((r) => setTimeout(r, 250));
  expect((await listed()).map((p) => p.state)).toEqual(['ready', 'cleaned', 'cleaned', 'cleaned']);
  // Every bought node deleted exactly once, in as many calls as passes that cleaned, none repeated.
  expect(sandbox.deleted.map((d) => d.instanceId).sort()).toEqual([...bought].sort());
  const deletes = sandbox.calls.filter((c) => c.action === 'DeleteClusterInstances');
  const asked = deletes.flatMap((c) => (c.params as { InstanceIds: string[] }).InstanceIds);
  expect(asked.sort()).toEqual([...bought].sort());
  // The cluster's own nodes were never touched.
  expect(sandbox.instancesOf('cls-e55paxnt').map((i) => i.InstanceId)).toEqual(expect.arrayContaining(joined));
  expect(sandbox.instancesOf('cls-e55paxnt')).toHaveLength(3 + joined.length);
  // Their budget came back once: of the 8 nodes bought, the 2 that joined count.
  const health = (await (await fetch(`${instances[1]!.url}/healthz`, { headers: { authorization: `Bearer ${HEALTH}` } })).json()) as { clusters: { demo: { nodeBudget: { used: number } } } };
  expect(health.clusters.demo.nodeBudget.used).toBe(2);

  // Every notice told once to each sink, though both processes passed over every purchase: 4
  // bought, 1 ready, 3 failed; each to Slack and to the webhook, signed.
  const until = Date.now() + 10_000;
  while (Date.now() < until && capture.received().length < 16) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 2_500)); // two more passes each: nothing more arrives
  const ids = capture.received().filter((m) => m.platform === 'webhook' && m.accepted).map((m) => m.headers['webhook-id']!);
  expect(ids.sort()).toEqual([...new Set(ids)].sort());
  expect(ids.map((id) => id.split(':')[0]).sort()).toEqual(['bought', 'bought', 'bought', 'bought', 'failed', 'failed', 'failed', 'ready']);
  expect(capture.received().filter((m) => m.platform === 'slack')).toHaveLength(8);
}, 60_000);
