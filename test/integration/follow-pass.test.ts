import type { FunctionUrlEvent } from '../../src/scf/event';
import { createSdkTkeApi } from '../../src/tke/sdk-tke-api';
import { SANDBOX_CREDENTIAL, type SandboxInstanceFault } from '../../dev/sandbox/tke-sandbox';
import { RELAXED_THROTTLE } from '../support/fixtures';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';

/**
 * The pass that follows what the function bought, through the real handler (SCF's timer event,
 * cloud.tencent.com/document/product/583/31927) and the sandbox, whose nodes join after
 * `joinSeconds` of a clock the test moves (by less than the 5 minutes a TC3 signature may be off).
 */
let h: Harness;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const advance = (ms: number) => (offsetMs += ms);
afterEach(async () => {
  await h?.close();
  offsetMs = 0;
});

async function start(options: { instanceFaults?: SandboxInstanceFault[]; provisionTimeoutSeconds?: number } = {}): Promise<Harness> {
  h = await startHarness({
    now: clock,
    sandbox: { now: clock, joinSeconds: 20, ...(options.instanceFaults !== undefined && { instanceFaults: options.instanceFaults }) },
    config: (doc) => {
      doc.throttle = RELAXED_THROTTLE;
      // The template's own timeout, over a deployment-wide one that would never be reached here.
      if (options.provisionTimeoutSeconds !== undefined) (doc.purchases = { provisionTimeoutSeconds: 7200 }), (doc.templates.small.provisionTimeoutSeconds = options.provisionTimeoutSeconds);
    },
  });
  return h;
}

const TIMER = { Type: 'Timer', TriggerName: 'scaleout-follow', Time: '2026-12-06T10:00:00Z', Message: '' };
const pass = () => (h.function.handler as unknown as (e: unknown, c: object) => Promise<{ body: string }>)(TIMER, { request_id: `pass-${Math.random()}`, getRemainingTimeInMillis: () => 10_000 });
const passLines = () => h.logLines.filter((l) => l.msg === 'purchase pass');
const purchases = async () =>
  (await h.invoke({ httpMethod: 'GET', path: '/purchases', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent)).json.purchases as Array<Record<string, any>>;
const buy = (eventId: string, cluster = 'demo', template = 'small', count = 2) => h.postGeneric({ eventId, cluster, template, count });

describe('the pass that follows each purchase', () => {
  it('joining while its nodes initialize, ready once they run; the purchase ends, with its time to ready', async () => {
    await start();
    const bought = await buy('follow-1');
    expect(bought.json.status).toBe('created');
    advance(5_000);
    await pass();
    expect(await purchases()).toMatchObject([{ state: 'joining' }]);
    advance(20_000);
    await pass();
    const [ready] = await purchases();
    expect(ready).toMatchObject({ state: 'ready', instanceIds: bought.json.instanceIds, readyAt: expect.any(String), endedAt: expect.any(String), timeToReadySeconds: 25 });
    expect(Object.values(ready!.instances)).toEqual([expect.objectContaining({ state: 'running' }), expect.objectContaining({ state: 'running' })]);
    expect(passLines().at(-1)).toMatchObject({ trigger: 'scaleout-follow', outcome: 'followed', open: 1, followed: 1, moved: [{ from: 'joining', to: 'ready' }] });
    // Ended: the next pass has nothing open.
    await pass();
    expect(passLines().at(-1)).toMatchObject({ open: 0, followed: 0 });
    const health = await h.invoke({ httpMethod: 'GET', path: '/healthz', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent);
    expect(health.json.clusters.demo.purchases).toEqual({ open: 0, joiningNodes: 0, failedLastDay: 0, cleanedNodesLastDay: 0 });
  });

  it("a node TKE reports failed: cleaned up in the pass that sees it fail (terminate, forced), with TKE's FailedReason; nothing else deleted", async () => {
    await start({ instanceFaults: [{ kind: 'fail', reason: 'cloud-init: user script exited 1', zone: 'ap-guangzhou-4', times: 1 }] });
    const bought = await buy('follow-fail');
    const [failing, joining] = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    const [cleaned] = await purchases();
    expect(cleaned).toMatchObject({ state: 'cleaned', failedReason: expect.stringContaining('cloud-init: user script exited 1'), endedAt: expect.any(String) });
    expect(cleaned!.instances[failing!]).toMatchObject({ state: 'failed', cleanup: 'terminated' });
    // The one that joined stays, and the purchase waits for nothing more.
    expect(cleaned!.instances[joining!]).toMatchObject({ state: 'running' });
    expect(h.sandbox.deleted.map((d) => [d.instanceId, d.mode, d.forced])).toEqual([[failing, 'terminate', true]]);
    expect(h.sandbox.instancesOf('cls-e55paxnt').map((i) => i.InstanceId)).toContain(joining);
    const line = h.logLines.find((l) => l.msg === 'purchase pass' && (l.moved as unknown[]).length > 0);
    expect(line).toMatchObject({ moved: [{ to: 'cleaned' }], cleaned: [{ instances: { [failing!]: 'terminated' } }], backedOff: [{ offering: 'S3.SMALL1 in ap-guangzhou-4 (POSTPAID_BY_HOUR)' }] });
  });

  it('a node that never finishes: cleaned up once the provision timeout has passed, not before', async () => {
    await start({ instanceFaults: [{ kind: 'never', zone: 'ap-guangzhou-4' }], provisionTimeoutSeconds: 60 });
    await buy('follow-never', 'demo', 'small', 1);
    advance(59_000);
    await pass();
    expect(await purchases()).toMatchObject([{ state: 'joining' }]);
    expect(h.sandbox.deleted).toEqual([]);
    advance(2_000);
    await pass();
    expect(passLines().at(-1)).toMatchObject({ moved: [{ from: 'joining', to: 'cleaned' }] });
    expect((await purchases())[0]).toMatchObject({ state: 'cleaned', failedReason: expect.stringMatching(/not running 60 s after the purchase: ins-\w+ \(initializing\)/) });
    // Still initializing when deleted: ForceDelete ("当节点在初始化时，可以指定参数为TRUE", API 457/31864).
    expect(h.sandbox.deleted).toMatchObject([{ mode: 'terminate', forced: true, instance: { InstanceState: 'initializing' } }]);
  });

  it('its nodes removed by someone else: recorded as gone, the purchase ends as cleaned', async () => {
    await start();
    const bought = await buy('follow-gone', 'demo', 'small', 1);
    advance(25_000);
    await pass();
    expect(await purchases()).toMatchObject([{ state: 'ready' }]);
    // A second purchase, whose node an operator deletes before it joins.
    const other = await buy('follow-gone-2', 'demo', 'small', 1);
    await directDelete(other.json.instanceIds);
    advance(150_000);
    await pass();
    const list = await purchases();
    expect(list.find((p) => p.askedBy.eventId === 'follow-gone-2')).toMatchObject({ state: 'cleaned', endedAt: expect.any(String) });
    expect(list.find((p) => p.askedBy.eventId === 'follow-gone')).toMatchObject({ state: 'ready', instanceIds: bought.json.instanceIds });
  });

  it('two passes at once: each purchase is followed by one of them, one read of TKE', async () => {
    await start();
    await buy('twice-1');
    await buy('twice-2', 'demo-bj', 'multi-disk', 1);
    advance(25_000);
    const before = h.sandbox.calls.length;
    await Promise.all([pass(), pass()]);
    const reads = h.sandbox.calls.slice(before).filter((c) => c.action === 'DescribeClusterInstances');
    // One read per cluster in all: the purchases were taken by one pass or the other, never both.
    expect(reads).toHaveLength(2);
    const lines = passLines().slice(-2);
    expect(lines.reduce((n, l) => n + (l.followed as number), 0)).toBe(2);
    expect((await purchases()).map((p) => p.state)).toEqual(['ready', 'ready']);
  });

  it('TKE failing during a pass: the purchase is left as it was, and the next pass goes on', async () => {
    await start();
    await buy('flaky');
    advance(25_000);
    h.sandbox.injectFault({ kind: 'http', status: 503, action: 'DescribeClusterInstances', times: 10 });
    await pass();
    expect(passLines().at(-1)).toMatchObject({ followed: 0, unread: [{ clusterId: 'cls-e55paxnt', error: expect.stringMatching(/^TkeReadFailed/) }] });
    expect(await purchases()).toMatchObject([{ state: 'created' }]);
    h.sandbox.clearFaults();
    await pass();
    expect(await purchases()).toMatchObject([{ state: 'ready' }]);
  });

  it('a purchase whose outcome is unknown: found by its marks (CVM DescribeInstances, tag: filters) and followed like any other', async () => {
    await start();
    h.sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances', times: 10 });
    await buy('unknown-1');
    h.sandbox.clearFaults();
    // Within the grace of a fresh purchase: not looked for yet.
    advance(25_000);
    await pass();
    expect(await purchases()).toMatchObject([{ state: 'requested', instanceIds: [] }]);
    advance(120_000);
    const before = h.sandbox.calls.length;
    await pass();
    const asked = h.sandbox.calls.slice(before).find((c) => c.action === 'DescribeInstances');
    expect(asked?.params).toEqual({ Filters: [{ Name: 'tag:tke-scaleout/owner', Values: ['tke-scaleout'] }, { Name: 'tag:tke-scaleout/purchase', Values: [expect.stringMatching(/^p-[0-9a-f]{16}$/)] }], Offset: 0, Limit: 100 });
    const created = h.sandbox.createdCalls.at(-1)!.instanceIds!;
    expect(passLines().at(-1)).toMatchObject({ adopted: [{ instanceIds: created }], moved: [{ from: 'requested', to: 'ready' }] });
    expect(await purchases()).toMatchObject([{ state: 'ready', instanceIds: created }]);
  });
});

describe('cleaning up: only what the function owns, the budgets given back, what fails tried again', () => {
  it('the budget comes back: a failed node no longer counts, and the next event buys (on another offering while the failed one backs off)', async () => {
    h = await startHarness({
      now: clock,
      sandbox: { now: clock, joinSeconds: 20, instanceFaults: [{ kind: 'fail', reason: 'image not found', zone: 'ap-guangzhou-4', times: 1 }] },
      config: (doc) => {
        doc.throttle = RELAXED_THROTTLE;
        doc.clusters.demo.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 2 };
        doc.templates.small.count.max = 2;
      },
    });
    await buy('budget-1', 'demo', 'small', 2);
    const health = async () => (await h.invoke({ httpMethod: 'GET', path: '/healthz', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent)).json;
    expect((await health()).clusters.demo).toMatchObject({ nodeBudget: { used: 2, left: 0 }, purchases: { open: 1, joiningNodes: 2, failedLastDay: 0 } });
    expect((await h.postGeneric({ eventId: 'budget-2', cluster: 'demo', template: 'small', count: 1, params: { zone: 'ap-guangzhou-3' } })).statusCode).toBe(429);
    advance(25_000);
    await pass();
    expect(passLines().at(-1)).toMatchObject({ refunded: [{ nodes: 1 }] });
    expect((await health()).clusters.demo).toMatchObject({ nodeBudget: { used: 1, left: 1 }, purchases: { open: 0, joiningNodes: 0, failedLastDay: 1, cleanedNodesLastDay: 1 } });
    // The failed offering backs off (5 minutes); the ladder would try its next rung meanwhile.
    expect((await health()).soldOut).toMatchObject([{ zone: 'ap-guangzhou-4', code: 'NodesFailedToJoin' }]);
    const again = await h.postGeneric({ eventId: 'budget-3', cluster: 'demo', template: 'small', count: 1 });
    expect(again.statusCode).toBe(503);
    expect(JSON.stringify(again.json)).toContain('its nodes failed to join recently');
    const elsewhere = await h.postGeneric({ eventId: 'budget-4', cluster: 'demo', template: 'small', count: 1, params: { zone: 'ap-guangzhou-3' } });
    expect(elsewhere.json.status).toBe('created');
    // A second pass gives nothing back twice.
    advance(25_000);
    await pass();
    expect((await health()).clusters.demo.nodeBudget).toMatchObject({ used: 2, left: 0 });
  });

  it('an instance of the purchase that does not carry both marks is left alone, and the purchase says so', async () => {
    await start({ instanceFaults: [{ kind: 'fail', reason: 'kubelet failed', zone: 'ap-guangzhou-4' }] });
    const bought = await buy('unmarked', 'demo', 'small', 2);
    const [stripped, marked] = bought.json.instanceIds as string[];
    h.sandbox.setTags(stripped!, [{ Key: 'tke-scaleout/owner', Value: 'someone-else' }, { Key: 'tke-scaleout/purchase', Value: 'p-0000000000000000' }]);
    advance(25_000);
    await pass();
    expect(h.sandbox.deleted.map((d) => d.instanceId)).toEqual([marked]);
    const [purchase] = await purchases();
    expect(purchase).toMatchObject({ state: 'failed', endedAt: expect.any(String), instances: { [stripped!]: { cleanup: 'unmarked' }, [marked!]: { cleanup: 'terminated' } } });
    expect(purchase!.failedReason).toContain(`left alone, not cleaned up: ${stripped}`);
    // The cluster's other nodes were never touched.
    expect(h.sandbox.instancesOf('cls-e55paxnt').filter((i) => !bought.json.instanceIds.includes(i.InstanceId))).toHaveLength(3);
  });

  it('DeleteClusterInstances failing (throttled, 5xx, a lost answer): tried again on the next pass, nothing lost, deleted once', async () => {
    await start({ instanceFaults: [{ kind: 'fail', reason: 'disk attach failed', zone: 'ap-guangzhou-4' }] });
    const bought = await buy('delete-flaky', 'demo', 'small', 1);
    advance(25_000);
    h.sandbox.injectFault({ kind: 'error', code: 'RequestLimitExceeded', action: 'DeleteClusterInstances', times: 10 });
    await pass();
    expect(passLines().at(-1)).toMatchObject({ moved: [{ to: 'failed' }], unread: [{ error: expect.stringContaining('DeleteClusterInstances (terminate)') }] });
    expect(await purchases()).toMatchObject([{ state: 'failed', instances: { [bought.json.instanceIds[0]]: { cleanupFailures: 1 } } }]);
    h.sandbox.clearFaults();
    // The deletion's answer lost: the instance is gone, and the next pass finds it so.
    h.sandbox.injectFault({ kind: 'drop-after-create', action: 'DeleteClusterInstances', times: 10 });
    advance(60_000);
    await pass();
    h.sandbox.clearFaults();
    advance(60_000);
    await pass();
    expect(h.sandbox.deleted).toHaveLength(1);
    const [done] = await purchases();
    expect(done).toMatchObject({ state: 'cleaned', instances: { [bought.json.instanceIds[0]]: { cleanup: 'gone' } } });
  });

  it('prepaid instances are removed from the cluster but kept (terminate is for pay-as-you-go only), and recorded as still billed', async () => {
    h = await startHarness({
      now: clock,
      sandbox: { now: clock, joinSeconds: 20, instanceFaults: [{ kind: 'fail', reason: 'kubelet failed', zone: 'ap-guangzhou-4' }] },
      config: (doc) => {
        doc.throttle = RELAXED_THROTTLE;
        Object.assign(doc.templates.small.runInstancePara, { InstanceChargeType: 'PREPAID', InstanceChargePrepaid: { Period: 1, RenewFlag: 'NOTIFY_AND_MANUAL_RENEW' } });
      },
    });
    const bought = await buy('prepaid-1', 'demo', 'small', 1);
    expect(bought.json.status).toBe('created');
    advance(25_000);
    await pass();
    expect(h.sandbox.deleted).toMatchObject([{ mode: 'retain', instance: { InstanceChargeType: 'PREPAID' } }]);
    expect(await purchases()).toMatchObject([{ state: 'cleaned', instances: { [bought.json.instanceIds[0]]: { cleanup: 'removed' } } }]);
  });
});

/** An operator removing a node by hand, through TKE's DeleteClusterInstances (the sandbox's), with the official SDK. */
async function directDelete(instanceIds: string[]): Promise<void> {
  const tke = createSdkTkeApi({ endpointUrl: h.sandbox.url(), credentials: () => SANDBOX_CREDENTIAL, attemptTimeoutMs: 5000 });
  const result = await tke.deleteClusterInstances('ap-guangzhou', 'cls-e55paxnt', instanceIds, { mode: 'terminate', force: true }, AbortSignal.timeout(5000));
  expect(result.succeeded).toEqual(instanceIds);
  // TKE lists it no more.
  expect(await tke.describeClusterInstances('ap-guangzhou', 'cls-e55paxnt', instanceIds, AbortSignal.timeout(5000))).toEqual([]);
}
