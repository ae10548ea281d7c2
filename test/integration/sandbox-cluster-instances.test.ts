import { createSdkTkeApi } from '../../src/tke/sdk-tke-api';
import { deleteInstances, describeInstances } from '../../src/tke/call-tke';
import { TkeCallError, TkeReadError } from '../../src/errors';
import { SANDBOX_CREDENTIAL, TkeSandbox, type SandboxInstance, type TkeSandboxOptions } from '../../dev/sandbox/tke-sandbox';
import { rawTkeClient } from '../support/raw-tke-client';

/**
 * DescribeClusterInstances and DeleteClusterInstances against the sandbox: the official SDK's
 * client where the point is the sandbox's faithfulness to TKE, our adapter and call-tke.ts where
 * the point is how the function reads and deletes. The sandbox's clock is injected (`now`): a node
 * joins after `joinSeconds` of it. Offsets stay under the 5 minutes a TC3 signature may be off.
 */
const CLUSTER = 'cls-e55paxnt';
const REGION = 'ap-guangzhou';

let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
let sandbox: TkeSandbox;
let url: string;

async function startSandbox(options: TkeSandboxOptions = {}): Promise<void> {
  await sandbox?.stop();
  offsetMs = 0;
  sandbox = new TkeSandbox({ clusters: [{ clusterId: CLUSTER, region: REGION, maxNodes: 1000, initialNodes: 2 }], now: clock, ...options });
  url = await sandbox.start();
}
afterAll(() => sandbox?.stop());

const api = () => createSdkTkeApi({ endpointUrl: url, credentials: () => SANDBOX_CREDENTIAL, attemptTimeoutMs: 5000 });
const signal = () => AbortSignal.timeout(5000);

const rawClient = () => rawTkeClient(url, REGION);

let token = 0;
/** Buys `count` nodes; `para` and `settings` are merged into the request. */
async function buy(count: number, para: Record<string, unknown> = {}, settings?: Record<string, unknown>): Promise<string[]> {
  const runInstancePara = JSON.stringify({ Placement: { Zone: 'ap-guangzhou-4' }, InstanceType: 'S5.MEDIUM4', InstanceCount: count, ClientToken: `tok-${++token}`, ...para });
  const created = await api().createClusterInstances(REGION, { ClusterId: CLUSTER, RunInstancePara: runInstancePara, ...(settings !== undefined && { InstanceAdvancedSettings: settings }) }, signal());
  return created.InstanceIdSet;
}

const controlGet = async <T>(path: string): Promise<T> => (await (await fetch(`${url}/__sandbox/${path}`)).json()) as T;
const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2000 };
const callOpts = (maxAttempts = 3) => ({ deadline: Date.now() + 10_000, now: Date.now, policy: { ...policy, maxAttempts } });

describe('instances join on the sandbox clock', () => {
  beforeAll(() =>
    startSandbox({
      joinSeconds: 20,
      instanceFaults: [
        { kind: 'fail', reason: 'CVM instance failed to initialize', zone: 'ap-guangzhou-3' },
        { kind: 'never', instanceType: 'S5.LARGE8' },
      ],
    }),
  );

  it('initializing for joinSeconds, then running; a faulted zone fails with its reason; a faulted type never joins', async () => {
    const [joins] = await buy(1);
    const [fails] = await buy(1, { Placement: { Zone: 'ap-guangzhou-3' } });
    const [never] = await buy(1, { InstanceType: 'S5.LARGE8' });
    const read = async () => new Map((await api().describeClusterInstances(REGION, CLUSTER, [joins!, fails!, never!], signal())).map((i) => [i.instanceId, i]));

    let now = await read();
    expect([...now.values()].map((i) => i.state)).toEqual(['initializing', 'initializing', 'initializing']);
    expect(now.get(joins!)).toMatchObject({ createdTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), lanIp: expect.stringMatching(/^10\.0\./) });
    expect(now.get(joins!)).not.toHaveProperty('failedReason');

    offsetMs = 19_000;
    expect([...(await read()).values()].every((i) => i.state === 'initializing')).toBe(true);

    offsetMs = 20_000;
    now = await read();
    expect(now.get(joins!)).toMatchObject({ state: 'running', failedReason: '=Ready:True' });
    expect(now.get(fails!)).toMatchObject({ state: 'failed', failedReason: 'CVM instance failed to initialize' });
    expect(now.get(never!)).toMatchObject({ state: 'initializing' });

    offsetMs = 290_000;
    expect((await read()).get(never!)).toMatchObject({ state: 'initializing' });

    // What `npm start` users watch: the same states on the control route.
    const clusters = await controlGet<Array<{ clusterId: string; instances: SandboxInstance[] }>>('clusters');
    const shown = clusters.find((c) => c.clusterId === CLUSTER)!.instances;
    expect(shown.find((i) => i.InstanceId === fails)).toMatchObject({ InstanceState: 'failed', FailedReason: 'CVM instance failed to initialize', Zone: 'ap-guangzhou-3' });
    expect(shown.filter((i) => i.InstanceState === 'running')).toHaveLength(2 + 1); // the initial nodes, long joined, and `joins`
  });

  it('takes instance faults over HTTP, for so many instances, and forgets them at reset', async () => {
    const post = (body: unknown) => fetch(`${url}/__sandbox/instance-faults`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post({ kind: 'fail', reason: 'no image', zone: 'ap-guangzhou-6', times: 1 })).status).toBe(200);
    expect((await post([{ kind: 'explode' }])).status).toBe(400);
    expect((await post({ kind: 'fail' })).status).toBe(400); // a failure needs its reason
    expect((await post({ kind: 'never', times: 0 })).status).toBe(400);
    expect(await controlGet('instance-faults')).toEqual([
      { kind: 'fail', reason: 'CVM instance failed to initialize', zone: 'ap-guangzhou-3' },
      { kind: 'never', instanceType: 'S5.LARGE8' },
      { kind: 'fail', reason: 'no image', zone: 'ap-guangzhou-6', times: 1, remaining: 1 },
    ]);
    offsetMs = 0;
    const [first, second] = await buy(2, { Placement: { Zone: 'ap-guangzhou-6' } });
    offsetMs = 21_000;
    const states = await api().describeClusterInstances(REGION, CLUSTER, [first!, second!], signal());
    expect(states.map((i) => i.state)).toEqual(['failed', 'running']); // `times: 1`: the first instance only
    expect(await controlGet<unknown[]>('instance-faults')).toHaveLength(2);
    await fetch(`${url}/__sandbox/reset`, { method: 'POST' });
    expect(await controlGet<unknown[]>('instance-faults')).toHaveLength(2); // back to the options' faults
  });
});

describe('DescribeClusterInstances as TKE answers it', () => {
  beforeAll(() => startSandbox());

  it('pages with Offset and Limit (default 20, at most 100) and says TotalCount', async () => {
    const ids = await buy(25);
    const client = rawClient();
    const all = await client.DescribeClusterInstances({ ClusterId: CLUSTER });
    expect(all.TotalCount).toBe(27);
    expect(all.InstanceSet).toHaveLength(20);
    const page = await client.DescribeClusterInstances({ ClusterId: CLUSTER, InstanceIds: ids, Offset: 24, Limit: 2 });
    expect(page.TotalCount).toBe(25);
    expect(page.InstanceSet!.map((i) => i.InstanceId)).toEqual([ids[24]]);
    expect((await client.DescribeClusterInstances({ ClusterId: CLUSTER, InstanceIds: [ids[0]!, 'ins-notthere'] })).InstanceSet!.map((i) => i.InstanceId)).toEqual([ids[0]]);
    expect((await client.DescribeClusterInstances({ ClusterId: CLUSTER, InstanceRole: 'MASTER' })).TotalCount).toBe(0); // managed cluster: workers only
    expect((await client.DescribeClusterInstances({ ClusterId: CLUSTER, Limit: 100 })).InstanceSet).toHaveLength(27);
  });

  it.each([
    ['a Limit over 100', { ClusterId: CLUSTER, Limit: 101 }, 'InvalidParameter.Param'],
    ['a Limit of 0', { ClusterId: CLUSTER, Limit: 0 }, 'InvalidParameter.Param'],
    ['a negative Offset', { ClusterId: CLUSTER, Offset: -1 }, 'InvalidParameter.Param'],
    ['an unknown InstanceRole', { ClusterId: CLUSTER, InstanceRole: 'BOSS' }, 'InvalidParameter.Param'],
    ['a filter TKE does not take', { ClusterId: CLUSTER, Filters: [{ Name: 'label', Values: ['a'] }] }, 'InvalidParameter.Param'],
    ['an unknown cluster', { ClusterId: 'cls-00000000' }, 'InvalidParameter.ClusterNotFound'],
    ['no cluster', {}, 'MissingParameter'],
    ['an unknown parameter', { ClusterId: CLUSTER, Labels: ['a'] }, 'UnknownParameter'],
  ])('answers %s with the code TKE lists', async (_name, request, code) => {
    await expect(rawClient().DescribeClusterInstances(request as never)).rejects.toMatchObject({ code });
  });

  it('reports labels in InstanceAdvancedSettings, and keeps tags, zone, type and charge type for the control route', async () => {
    const [id] = await buy(
      1,
      { Placement: { Zone: 'ap-guangzhou-3' }, InstanceType: 'SA2.MEDIUM4', InstanceChargeType: 'SPOTPAID', TagSpecification: [{ ResourceType: 'instance', Tags: [{ Key: 'scaleout/event', Value: 'e-1' }] }, { ResourceType: 'disk', Tags: [{ Key: 'not', Value: 'mine' }] }] },
      { Labels: [{ Name: 'scaleout.io/purchase', Value: 'p-1' }], Unschedulable: 1 },
    );
    const raw = await rawClient().DescribeClusterInstances({ ClusterId: CLUSTER, InstanceIds: [id!] });
    expect(raw.InstanceSet![0]).toMatchObject({ InstanceId: id, InstanceRole: 'WORKER', InstanceAdvancedSettings: { Labels: [{ Name: 'scaleout.io/purchase', Value: 'p-1' }], Unschedulable: 1 } });
    expect(await api().describeClusterInstances(REGION, CLUSTER, [id!], signal())).toEqual([expect.objectContaining({ instanceId: id, labels: { 'scaleout.io/purchase': 'p-1' } })]);
    const shown = (await controlGet<Array<{ instances: SandboxInstance[] }>>('clusters')).flatMap((c) => c.instances).find((i) => i.InstanceId === id);
    expect(shown).toMatchObject({
      Zone: 'ap-guangzhou-3',
      InstanceType: 'SA2.MEDIUM4',
      InstanceChargeType: 'SPOTPAID',
      Tags: [{ Key: 'scaleout/event', Value: 'e-1' }],
      Labels: [{ Name: 'scaleout.io/purchase', Value: 'p-1' }],
    });
  });

  it('refuses malformed tags and labels when buying', async () => {
    await expect(buy(1, { TagSpecification: [{ ResourceType: 'instance', Tags: [{ Key: 'k' }] }] })).rejects.toMatchObject({ code: 'InvalidParameter' });
    await expect(buy(1, {}, { Labels: { a: 'b' } })).rejects.toMatchObject({ code: 'InvalidParameter' });
  });

  it('our adapter asks at most 100 InstanceIds a call: 250 instances are 3 calls', async () => {
    const ids = await buy(250);
    sandbox.calls.length = 0;
    const found = await api().describeClusterInstances(REGION, CLUSTER, [...ids, 'ins-gone'], signal());
    expect(found.map((i) => i.instanceId).sort()).toEqual([...ids].sort());
    const calls = sandbox.calls.filter((c) => c.action === 'DescribeClusterInstances');
    expect(calls.map((c) => (c.params.InstanceIds as string[]).length)).toEqual([100, 100, 51]);
    expect(calls.every((c) => c.params.Limit === 100 && c.errorCode === undefined)).toBe(true);
  });
});

describe('DeleteClusterInstances as TKE answers it', () => {
  beforeAll(() => startSandbox({ joinSeconds: 20 }));
  beforeEach(() => {
    sandbox.reset();
    offsetMs = 0;
  });

  it('sorts mixed IDs: removed, failed (a prepaid terminate, an initializing node without ForceDelete) and not found', async () => {
    const postpaid = await buy(2);
    const [prepaid] = await buy(1, { InstanceChargeType: 'PREPAID', InstanceChargePrepaid: { Period: 1 } });
    offsetMs = 30_000;
    const [young] = await buy(1);
    const nodesBefore = sandbox.instancesOf(CLUSTER).length;

    const result = await api().deleteClusterInstances(REGION, CLUSTER, [...postpaid, prepaid!, young!, 'ins-notthere'], { mode: 'terminate', force: false }, signal());
    expect(result).toEqual({ succeeded: postpaid, failed: [prepaid, young], notFound: ['ins-notthere'] });
    expect(sandbox.instancesOf(CLUSTER)).toHaveLength(nodesBefore - 2);
    expect(sandbox.deleted.map((d) => [d.instanceId, d.mode, d.instance.InstanceState])).toEqual(postpaid.map((id) => [id, 'terminate', 'running']));
    const clusters = await rawClient().DescribeClusters({ ClusterIds: [CLUSTER] });
    expect(clusters.Clusters![0]!.ClusterNodeNum).toBe(nodesBefore - 2);

    // ForceDelete for the node still initializing; retain for the prepaid one; again: not found.
    expect(await api().deleteClusterInstances(REGION, CLUSTER, [young!], { mode: 'terminate', force: true }, signal())).toEqual({ succeeded: [young], failed: [], notFound: [] });
    expect(await api().deleteClusterInstances(REGION, CLUSTER, [prepaid!], { mode: 'retain', force: false }, signal())).toEqual({ succeeded: [prepaid], failed: [], notFound: [] });
    expect(await api().deleteClusterInstances(REGION, CLUSTER, [prepaid!, ...postpaid], { mode: 'retain', force: true }, signal())).toEqual({ succeeded: [], failed: [], notFound: [prepaid, ...postpaid] });
    expect(sandbox.deleted.slice(2).map((d) => [d.instanceId, d.mode, d.forced])).toEqual([
      [young, 'terminate', true],
      [prepaid, 'retain', false],
    ]);
    expect(await controlGet<unknown[]>('deleted')).toHaveLength(4);
    // Gone from the cluster: DescribeClusterInstances no longer returns them.
    expect(await api().describeClusterInstances(REGION, CLUSTER, [...postpaid, young!, prepaid!], signal())).toEqual([]);
  });

  it('answers in TKE terms through the raw client', async () => {
    const [id] = await buy(1);
    offsetMs = 21_000;
    const client = rawClient();
    const answer = await client.DeleteClusterInstances({ ClusterId: CLUSTER, InstanceIds: [id!, 'ins-x'], InstanceDeleteMode: 'retain' });
    expect(answer).toMatchObject({ SuccInstanceIds: [id], FailedInstanceIds: [], NotFoundInstanceIds: ['ins-x'], RequestId: expect.any(String) });
    await expect(client.DeleteClusterInstances({ ClusterId: 'cls-00000000', InstanceIds: ['ins-x'], InstanceDeleteMode: 'retain' })).rejects.toMatchObject({ code: 'FailedOperation.ClusterNotFound' });
    await expect(client.DeleteClusterInstances({ ClusterId: CLUSTER, InstanceIds: ['ins-x'], InstanceDeleteMode: 'destroy' })).rejects.toMatchObject({ code: 'InvalidParameter' });
    await expect(client.DeleteClusterInstances({ ClusterId: CLUSTER, InstanceIds: [], InstanceDeleteMode: 'retain' })).rejects.toMatchObject({ code: 'InvalidParameter' });
    await expect(client.request('DeleteClusterInstances', { ClusterId: CLUSTER, InstanceDeleteMode: 'retain' })).rejects.toMatchObject({ code: 'MissingParameter' });
    await expect(client.request('DeleteClusterInstances', { ClusterId: CLUSTER, InstanceIds: ['ins-x'], Drain: true })).rejects.toMatchObject({ code: 'UnknownParameter' });
  });

  it('without InstanceDeleteMode (unconfirmed default) terminates pay-as-you-go nodes and only removes prepaid ones', async () => {
    const [postpaid] = await buy(1);
    const [prepaid] = await buy(1, { InstanceChargeType: 'PREPAID', InstanceChargePrepaid: { Period: 1 } });
    offsetMs = 21_000;
    await rawClient().request('DeleteClusterInstances', { ClusterId: CLUSTER, InstanceIds: [postpaid, prepaid] });
    expect(sandbox.deleted.map((d) => [d.instanceId, d.mode])).toEqual([
      [postpaid, 'terminate'],
      [prepaid, 'retain'],
    ]);
  });
});

describe('faults on the new actions', () => {
  beforeAll(() => startSandbox({ joinSeconds: 0 }));
  beforeEach(() => sandbox.reset());

  it('a read retried past an InternalError and a malformed answer (never taken for "no instances")', async () => {
    const ids = await buy(2);
    sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'DescribeClusterInstances' });
    sandbox.injectFault({ kind: 'malformed', action: 'DescribeClusterInstances' });
    const found = await describeInstances(api(), REGION, CLUSTER, ids, callOpts());
    expect(found.map((i) => i.instanceId)).toEqual(ids);
    expect(sandbox.calls.filter((c) => c.action === 'DescribeClusterInstances')).toHaveLength(3);
  });

  it('a read that keeps failing is a TkeReadError', async () => {
    const ids = await buy(1);
    sandbox.injectFault({ kind: 'http', status: 503, times: 5, action: 'DescribeClusterInstances' });
    const error = await describeInstances(api(), REGION, CLUSTER, ids, callOpts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TkeReadError);
    expect(error).toMatchObject({ status: 503, code: 'TkeReadFailed', details: { tkeCode: 'TkeHttpError' } });
  });

  it('a delete whose answer was lost: retried, the instance comes back not found; alone, the outcome is unknown', async () => {
    const [a, b] = await buy(2);
    sandbox.injectFault({ kind: 'drop-after-create', action: 'DeleteClusterInstances' });
    const retried = await deleteInstances(api(), REGION, CLUSTER, [a!], { mode: 'terminate', force: true }, callOpts());
    expect(retried.response).toEqual({ succeeded: [], failed: [], notFound: [a] });
    expect(retried.history.map((h) => h.outcome)).toEqual(['unknown', 'succeeded']);
    expect(sandbox.deleted.map((d) => d.instanceId)).toEqual([a]);

    sandbox.injectFault({ kind: 'drop-after-create', action: 'DeleteClusterInstances' });
    const error = await deleteInstances(api(), REGION, CLUSTER, [b!], { mode: 'terminate', force: true }, callOpts(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TkeCallError);
    expect(error).toMatchObject({ outcomeUnknown: true, details: { outcome: 'unknown' } });
    expect(sandbox.deleted.map((d) => d.instanceId)).toEqual([a, b]); // it did act
  });

  it('a delete refused for good is a TkeCallError that acted on nothing', async () => {
    const [a] = await buy(1);
    sandbox.injectFault({ kind: 'error', code: 'FailedOperation.ClusterState', action: 'DeleteClusterInstances' });
    const error = await deleteInstances(api(), REGION, CLUSTER, [a!], { mode: 'terminate', force: true }, callOpts()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'FailedOperation.ClusterState', status: 503, outcomeUnknown: false, attempts: 1 });
    expect(sandbox.deleted).toEqual([]);
  });
});
