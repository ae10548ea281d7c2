import { createSdkTkeApi } from '../../src/tke/sdk-tke-api';
import { createSdkCvmApi } from '../../src/tencentcloud/cvm-api';
import { SANDBOX_CREDENTIAL, TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { rawTkeClient } from '../support/raw-tke-client';

/**
 * The sandbox as the SDK sees it: the official client, signing as it does for TKE, reads what the
 * sandbox reports. Uses the SDK client directly (not our adapter) where the point is the sandbox's
 * faithfulness, and our adapter where the point is how we reach it.
 */
describe('TKE sandbox through the official SDK', () => {
  let sandbox: TkeSandbox;
  let url: string;
  beforeAll(async () => {
    sandbox = new TkeSandbox();
    url = await sandbox.start();
  });
  afterAll(() => sandbox.stop());
  beforeEach(() => sandbox.reset());

  const api = () => createSdkTkeApi({ endpointUrl: url, credentials: () => SANDBOX_CREDENTIAL, attemptTimeoutMs: 5000 });

  const rawClient = (region: string) => rawTkeClient(url, region);

  it('creates nodes and reports them through DescribeClusters and DescribeClusterInstances', async () => {
    const created = await api().createClusterInstances(
      'ap-guangzhou',
      { ClusterId: 'cls-e55paxnt', RunInstancePara: JSON.stringify({ Placement: { Zone: 'ap-guangzhou-4' }, InstanceType: 'S3.SMALL1', InstanceCount: 2, ClientToken: 'tok-1' }) },
      AbortSignal.timeout(5000),
    );
    expect(created.InstanceIdSet).toHaveLength(2);

    const client = rawClient('ap-guangzhou');
    const clusters = await client.DescribeClusters({ ClusterIds: ['cls-e55paxnt'] });
    expect(clusters.TotalCount).toBe(1);
    expect(clusters.Clusters![0]).toMatchObject({ ClusterId: 'cls-e55paxnt', ClusterNodeNum: 5, ClusterStatus: 'Running' });

    const instances = await client.DescribeClusterInstances({ ClusterId: 'cls-e55paxnt', InstanceIds: created.InstanceIdSet });
    expect(instances.TotalCount).toBe(2);
    expect(instances.InstanceSet!.map((i) => i.InstanceId).sort()).toEqual([...created.InstanceIdSet].sort());
    // Just bought: initializing until they join (joinSeconds; sandbox-cluster-instances.test.ts follows them).
    expect(instances.InstanceSet!.every((i) => i.InstanceState === 'initializing' && i.InstanceRole === 'WORKER')).toBe(true);
  });

  it('honours ClientToken: the same token returns the same instances and adds none', async () => {
    const para = JSON.stringify({ Placement: { Zone: 'ap-guangzhou-4' }, InstanceCount: 3, ClientToken: 'tok-same' });
    const a = await api().createClusterInstances('ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: para }, AbortSignal.timeout(5000));
    const b = await api().createClusterInstances('ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: para }, AbortSignal.timeout(5000));
    expect(b.InstanceIdSet).toEqual(a.InstanceIdSet);
    expect(b.RequestId).not.toBe(a.RequestId);
    expect(sandbox.instancesOf('cls-e55paxnt')).toHaveLength(3 + 3);
  });

  it.each([
    ['an unknown cluster', 'ap-guangzhou', { ClusterId: 'cls-00000000', RunInstancePara: '{"Placement":{"Zone":"ap-guangzhou-4"}}' }, 'FailedOperation.ClusterNotFound'],
    ['a cluster of another region', 'ap-shanghai', { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"Placement":{"Zone":"ap-shanghai-2"}}' }, 'FailedOperation.ClusterNotFound'],
    ['a zone outside the region', 'ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"Placement":{"Zone":"ap-beijing-1"}}' }, 'InvalidParameter'],
    ['RunInstancePara that is not JSON', 'ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: '{' }, 'InvalidParameter'],
    ['a node count over the quota', 'ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"Placement":{"Zone":"ap-guangzhou-4"},"InstanceCount":48}' }, 'FailedOperation.QuotaMaxNodLimit'],
    ['a ClientToken over 64 characters', 'ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: JSON.stringify({ Placement: { Zone: 'ap-guangzhou-4' }, ClientToken: 'x'.repeat(65) }) }, 'InvalidParameter'],
    ['an unknown parameter', 'ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"Placement":{"Zone":"ap-guangzhou-4"}}', Nodes: 3 }, 'UnknownParameter'],
  ])('answers %s with the code TKE uses', async (_name, region, request, code) => {
    await expect(api().createClusterInstances(region, request as never, AbortSignal.timeout(5000))).rejects.toMatchObject({ code });
    expect(sandbox.createdCalls).toHaveLength(0);
  });

  it('reports a cluster that is not running, and a sold-out instance type', async () => {
    const special = new TkeSandbox({
      clusters: [{ clusterId: 'cls-upgrade1', region: 'ap-guangzhou', status: 'Upgrading' }, { clusterId: 'cls-running1', region: 'ap-guangzhou' }],
      soldOutInstanceTypes: ['S5.HUGE'],
    });
    const specialUrl = await special.start();
    try {
      const adapter = createSdkTkeApi({ endpointUrl: specialUrl, credentials: () => SANDBOX_CREDENTIAL, attemptTimeoutMs: 5000 });
      const para = (type: string) => JSON.stringify({ Placement: { Zone: 'ap-guangzhou-4' }, InstanceType: type });
      await expect(adapter.createClusterInstances('ap-guangzhou', { ClusterId: 'cls-upgrade1', RunInstancePara: para('S5.SMALL') }, AbortSignal.timeout(5000))).rejects.toMatchObject({ code: 'FailedOperation.ClusterState' });
      await expect(adapter.createClusterInstances('ap-guangzhou', { ClusterId: 'cls-running1', RunInstancePara: para('S5.HUGE') }, AbortSignal.timeout(5000))).rejects.toMatchObject({ code: 'ResourceInsufficient.SpecifiedInstanceType' });
    } finally {
      await special.stop();
    }
  });

  it('rejects a signature for another service, a stale timestamp, and an unknown key', async () => {
    const send = async (headers: Record<string, string>) => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tc-action': 'DescribeClusters', 'x-tc-version': '2018-05-25', 'x-tc-region': 'ap-guangzhou', ...headers }, body: '{}' });
      const json = (await res.json()) as { Response: { Error?: { Code: string } } };
      return json.Response.Error?.Code;
    };
    const now = Math.floor(Date.now() / 1000);
    const date = new Date(now * 1000).toISOString().slice(0, 10);
    const sig = '0'.repeat(64);
    expect(await send({ authorization: `TC3-HMAC-SHA256 Credential=${SANDBOX_CREDENTIAL.secretId}/${date}/127/tc3_request, SignedHeaders=content-type;host, Signature=${sig}`, 'x-tc-timestamp': String(now) })).toBe('AuthFailure.SignatureFailure');
    expect(await send({ authorization: `TC3-HMAC-SHA256 Credential=${SANDBOX_CREDENTIAL.secretId}/${date}/tke/tc3_request, SignedHeaders=content-type;host, Signature=${sig}`, 'x-tc-timestamp': String(now - 301) })).toBe('AuthFailure.SignatureExpire');
    expect(await send({ authorization: `TC3-HMAC-SHA256 Credential=AKIDunknown/${date}/tke/tc3_request, SignedHeaders=content-type;host, Signature=${sig}`, 'x-tc-timestamp': String(now) })).toBe('AuthFailure.SecretIdNotFound');
    expect(await send({ authorization: `TC3-HMAC-SHA256 Credential=${SANDBOX_CREDENTIAL.secretId}/${date}/tke/tc3_request, SignedHeaders=content-type;host, Signature=${sig}`, 'x-tc-timestamp': String(now) })).toBe('AuthFailure.SignatureFailure');
    expect(await send({ 'x-tc-timestamp': String(now) })).toBe('AuthFailure.SignatureFailure');
  });

  it('measures signatures on signatureNow when given: a simulated clock hours ahead still takes what the SDK signs now', async () => {
    const ahead = new TkeSandbox({ now: () => Date.now() + 10 * 3600_000, signatureNow: Date.now, joinSeconds: 60 });
    const aheadUrl = await ahead.start();
    try {
      const adapter = createSdkTkeApi({ endpointUrl: aheadUrl, credentials: () => SANDBOX_CREDENTIAL, attemptTimeoutMs: 5000 });
      const created = await adapter.createClusterInstances('ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"Placement":{"Zone":"ap-guangzhou-4"}}' }, AbortSignal.timeout(5000));
      // The instance is dated by the sandbox's own clock, ten hours ahead.
      const instance = ahead.instancesOf('cls-e55paxnt').find((i) => i.InstanceId === created.InstanceIdSet[0])!;
      expect(Date.parse(instance.CreatedTime) - Date.now()).toBeGreaterThan(9 * 3600_000);
    } finally {
      await ahead.stop();
    }
  });

  it('is not rerouted by http_proxy', async () => {
    const saved = process.env.http_proxy;
    process.env.http_proxy = 'http://127.0.0.1:9'; // nothing listens on the discard port
    try {
      const created = await api().createClusterInstances('ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"Placement":{"Zone":"ap-guangzhou-4"}}' }, AbortSignal.timeout(5000));
      expect(created.InstanceIdSet).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env.http_proxy;
      else process.env.http_proxy = saved;
    }
  });

  // CVM's stock and prices. The price inquiry goes through the CVM SDK (our adapter,
  // signed for service "cvm"); the shape it answers is the SDK model's Price/ItemPrice.
  const prices = () => createSdkCvmApi({ endpointUrl: url, credentials: () => SANDBOX_CREDENTIAL, timeoutMs: 5000 });

  it('prices a request with InquiryPriceRunInstances, signed for cvm, for every charge type', async () => {
    const base = { Placement: { Zone: 'ap-guangzhou-3' }, ImageId: 'img-1', InstanceType: 'S5.MEDIUM4', InstanceCount: 3 };
    expect(await prices().inquirePrice('ap-guangzhou', base, AbortSignal.timeout(5000))).toMatchObject({ Price: { InstancePrice: { UnitPrice: 1.2, UnitPriceDiscount: 1.2, ChargeUnit: 'HOUR' } } });
    expect(await prices().inquirePrice('ap-guangzhou', { ...base, InstanceChargeType: 'SPOTPAID' }, AbortSignal.timeout(5000))).toMatchObject({ Price: { InstancePrice: { UnitPriceDiscount: 0.24 } } });
    expect(await prices().inquirePrice('ap-guangzhou', { ...base, InstanceChargeType: 'PREPAID', InstanceChargePrepaid: { Period: 2 } }, AbortSignal.timeout(5000))).toMatchObject({ Price: { InstancePrice: { DiscountPrice: 1152 } } });
    const call = sandbox.calls.at(-1)!;
    expect(call).toMatchObject({ action: 'InquiryPriceRunInstances', service: 'cvm', host: 'cvm.tencentcloudapi.com' });
    // A parameter only RunInstances takes is refused, as the real API refuses unknown parameters.
    await expect(prices().inquirePrice('ap-guangzhou', { ...base, UserData: 'eA==' }, AbortSignal.timeout(5000))).rejects.toMatchObject({ code: 'UnknownParameter' });
    await expect(prices().inquirePrice('ap-guangzhou', { Placement: { Zone: 'ap-guangzhou-3' } }, AbortSignal.timeout(5000))).rejects.toMatchObject({ code: 'MissingParameter' });
  });

  it('sells from its stock until it runs out, by zone and type, and is restocked over HTTP', async () => {
    const buy = (zone: string, type: string, count: number, token: string) =>
      api().createClusterInstances('ap-guangzhou', { ClusterId: 'cls-e55paxnt', RunInstancePara: JSON.stringify({ Placement: { Zone: zone }, InstanceType: type, InstanceCount: count, ClientToken: token }) }, AbortSignal.timeout(5000));
    const post = (path: string, body: unknown) => fetch(`${url}/__sandbox/${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post('stock', { 'ap-guangzhou-3/S5.MEDIUM4': 3, 'ap-guangzhou-4': 0 })).status).toBe(200);
    expect((await buy('ap-guangzhou-3', 'S5.MEDIUM4', 2, 't1')).InstanceIdSet).toHaveLength(2);
    await expect(buy('ap-guangzhou-3', 'S5.MEDIUM4', 2, 't2')).rejects.toMatchObject({ code: 'ResourceInsufficient.SpecifiedInstanceType' });
    await expect(buy('ap-guangzhou-4', 'S3.SMALL1', 1, 't3')).rejects.toMatchObject({ code: 'FailedOperation.CvmCommon', message: expect.stringContaining('ResourcesSoldOut.AvailableZone') });
    expect(await (await fetch(`${url}/__sandbox/stock`)).json()).toEqual({ 'ap-guangzhou-3/S5.MEDIUM4': 1, 'ap-guangzhou-4': 0 });
    await post('stock', { 'ap-guangzhou-4': -1 });
    expect((await buy('ap-guangzhou-4', 'S3.SMALL1', 1, 't3')).InstanceIdSet).toHaveLength(1);
    expect((await post('stock', { 'ap-guangzhou-3': 'lots' })).status).toBe(400);
    expect((await post('prices', { 'S5.MEDIUM4': { hourly: 1 } })).status).toBe(400);
    expect((await post('prices', { 'S9.HUGE': { hourly: 9, monthly: 4000 } })).status).toBe(200);
  });
});

describe('TKE sandbox control routes', () => {
  it('queues valid faults over HTTP and refuses malformed ones', async () => {
    const sandbox = new TkeSandbox();
    const url = await sandbox.start();
    try {
      const post = (body: string) => fetch(`${url}/__sandbox/faults`, { method: 'POST', body });
      expect((await post('{"kind":"error","code":"InternalError"}')).status).toBe(200);
      expect((await post('[{"kind":"delay","ms":10},{"kind":"drop"}]')).status).toBe(200);
      expect((await post('{"kind":"explode"}')).status).toBe(400);
      expect((await post('not json')).status).toBe(400);
      expect((await fetch(`${url}/__sandbox/reset`, { method: 'POST' })).status).toBe(200);
      expect((await fetch(`${url}/__sandbox/nope`)).status).toBe(404);
      expect(await (await fetch(`${url}/__sandbox/calls`)).json()).toEqual([]);
    } finally {
      await sandbox.stop();
    }
  });
});
