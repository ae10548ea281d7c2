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
      if (options.provisionTimeoutSeconds !== undefined) doc.purchases = { provisionTimeoutSeconds: options.provisionTimeoutSeconds };
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
    expect(health.json.clusters.demo.purchases).toEqual({ open: 0 });
  });

  it("a node TKE reports failed: the purchase is failed with TKE's FailedReason, and nothing is deleted", async () => {
    await start({ instanceFaults: [{ kind: 'fail', reason: 'cloud-init: user script exited 1', zone: 'ap-guangzhou-4' }] });
    await buy('follow-fail');
    advance(25_000);
    await pass();
    const [failed] = await purchases();
    expect(failed).toMatchObject({ state: 'failed', failedReason: expect.stringContaining('cloud-init: user script exited 1') });
    expect(h.logLines.find((l) => l.msg === 'purchase pass' && (l.moved as unknown[]).length > 0)).toMatchObject({ moved: [{ to: 'failed', failedReason: expect.stringContaining('cloud-init: user script exited 1') }] });
    expect(h.sandbox.deleted).toEqual([]);
  });

  it('a node that never finishes: failed once the provision timeout has passed, not before', async () => {
    await start({ instanceFaults: [{ kind: 'never', zone: 'ap-guangzhou-4' }], provisionTimeoutSeconds: 60 });
    await buy('follow-never');
    advance(59_000);
    await pass();
    expect(await purchases()).toMatchObject([{ state: 'joining' }]);
    advance(2_000);
    await pass();
    expect(passLines().at(-1)).toMatchObject({ moved: [{ from: 'joining', to: 'failed', failedReason: expect.stringMatching(/not running 60 s after the purchase: ins-\w+ \(initializing\)/) }] });
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

  it('a purchase whose outcome is unknown (no instances known) is left for its redelivery', async () => {
    await start();
    h.sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances', times: 10 });
    await buy('unknown-1');
    h.sandbox.clearFaults();
    advance(25_000);
    const before = h.sandbox.calls.length;
    await pass();
    expect(h.sandbox.calls.slice(before).filter((c) => c.action === 'DescribeClusterInstances')).toHaveLength(0);
    expect(await purchases()).toMatchObject([{ state: 'requested', instanceIds: [] }]);
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
