import { deleteInstances, describeInstances } from '../../../src/tke/call-tke';
import { readClusterInstances, removeClusterInstances, toClusterInstance, type TkeSend } from '../../../src/tke/sdk-tke-api';
import type { TkeApi } from '../../../src/tke/tke-api';
import type { DescribeClusterInstancesRequest, TkeClusterInstance } from '../../../src/tke/tke-params';
import { TkeCallError, TkeReadError } from '../../../src/errors';

const signal = AbortSignal.timeout(5000);
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `ins-${String(from + i).padStart(8, '0')}`);

/**
 * A fake DescribeClusterInstances over a cluster holding `inCluster`: filters by InstanceIds, pages
 * by Offset/Limit, and answers TotalCount as the matches (or the whole cluster with `totalIsCluster`).
 */
function fakeDescribe(inCluster: readonly string[], opts: { totalIsCluster?: boolean; pageCap?: number } = {}): TkeSend & { requests: DescribeClusterInstancesRequest[] } {
  const requests: DescribeClusterInstancesRequest[] = [];
  const send = async (action: string, params: object) => {
    expect(action).toBe('DescribeClusterInstances');
    const request = params as DescribeClusterInstancesRequest;
    requests.push(request);
    const asked = new Set(request.InstanceIds);
    const matching = inCluster.filter((id) => asked.size === 0 || asked.has(id));
    const limit = Math.min(request.Limit ?? 20, opts.pageCap ?? 100);
    const offset = request.Offset ?? 0;
    const page = matching.slice(offset, offset + limit).map((id): TkeClusterInstance => ({ InstanceId: id, InstanceState: 'running' }));
    return { TotalCount: opts.totalIsCluster ? inCluster.length : matching.length, InstanceSet: page, RequestId: `req-${requests.length}` };
  };
  return Object.assign(send, { requests });
}

describe('readClusterInstances (the adapter paging DescribeClusterInstances)', () => {
  it('asks at most 100 InstanceIds a call: 250 IDs are 3 calls of 100, 100 and 50', async () => {
    const all = ids(250);
    const send = fakeDescribe(all);
    const found = await readClusterInstances(send, 'cls-1', all, signal);
    expect(send.requests.map((r) => r.InstanceIds!.length)).toEqual([100, 100, 50]);
    expect(send.requests.every((r) => r.ClusterId === 'cls-1' && r.Offset === 0 && r.Limit === 100)).toBe(true);
    expect(new Set(send.requests.flatMap((r) => r.InstanceIds))).toEqual(new Set(all));
    expect(found.map((i) => i.instanceId).sort()).toEqual(all);
  });

  it('leaves out the IDs TKE does not return, and asks each ID once', async () => {
    const send = fakeDescribe(['ins-a', 'ins-c']);
    const found = await readClusterInstances(send, 'cls-1', ['ins-a', 'ins-b', 'ins-c', 'ins-a'], signal);
    expect(found.map((i) => i.instanceId)).toEqual(['ins-a', 'ins-c']);
    expect(send.requests).toHaveLength(1);
    expect(send.requests[0]!.InstanceIds).toEqual(['ins-a', 'ins-b', 'ins-c']);
  });

  it('makes no call for no IDs: TKE would answer every node of the cluster', async () => {
    const send = fakeDescribe(ids(5));
    await expect(readClusterInstances(send, 'cls-1', [], signal)).resolves.toEqual([]);
    expect(send.requests).toHaveLength(0);
  });

  it('follows Offset while TotalCount says more, should TKE send smaller pages than asked', async () => {
    const all = ids(45);
    const send = fakeDescribe(all, { pageCap: 20 });
    const found = await readClusterInstances(send, 'cls-1', all, signal);
    expect(send.requests.map((r) => r.Offset)).toEqual([0, 20, 40]);
    expect(found).toHaveLength(45);
  });

  it('stops when a page brings nothing, if TotalCount counts the whole cluster', async () => {
    const cluster = ids(500);
    const asked = [...ids(100, 0).slice(0, 99), 'ins-gone'];
    const send = fakeDescribe(cluster, { totalIsCluster: true });
    const found = await readClusterInstances(send, 'cls-1', asked, signal);
    expect(found).toHaveLength(99);
    expect(send.requests.map((r) => r.Offset)).toEqual([0, 99]); // the second page is empty: one call more, no more
  });

  it('keeps only the instances asked, should TKE return others', async () => {
    const send: TkeSend = async () => ({ TotalCount: 2, InstanceSet: [{ InstanceId: 'ins-a', InstanceState: 'running' }, { InstanceId: 'ins-other', InstanceState: 'running' }] });
    expect((await readClusterInstances(send, 'cls-1', ['ins-a'], signal)).map((i) => i.instanceId)).toEqual(['ins-a']);
  });

  it('takes an answer without InstanceSet for an error, never for "no instances"', async () => {
    const send: TkeSend = async () => ({ TotalCount: 0, RequestId: 'req-x' });
    await expect(readClusterInstances(send, 'cls-1', ['ins-a'], signal)).rejects.toMatchObject({ message: expect.stringContaining('without an InstanceSet'), requestId: 'req-x' });
    expect((await readClusterInstances(async () => ({ TotalCount: 0, InstanceSet: [] }), 'cls-1', ['ins-a'], signal))).toEqual([]);
  });
});

describe('toClusterInstance (the answer mapping)', () => {
  it("keeps TKE's state, reason, time, LAN IP and labels as sent", () => {
    // The answer of TKE's own example (tencentcloud-cli tccli/examples/tke/v20180525/DescribeClusterInstances.md).
    const example: TkeClusterInstance = {
      InstanceAdvancedSettings: { DockerGraphPath: '/data/docker', Labels: [{ Name: 'key', Value: 'value' }], Unschedulable: 0 },
      InstanceId: 'ins-wggphft5',
      InstanceRole: 'WORKER',
      LanIP: '10.0.39.19',
      DrainStatus: 'drained',
      InstanceState: 'running',
      CreatedTime: '2021-02-22T07:14:11Z',
      NodePoolId: 'np-3j4elm0k',
      FailedReason: '=Ready:True',
    };
    expect(toClusterInstance(example)).toEqual({
      instanceId: 'ins-wggphft5',
      state: 'running',
      failedReason: '=Ready:True',
      createdTime: '2021-02-22T07:14:11Z',
      lanIp: '10.0.39.19',
      labels: { key: 'value' },
    });
  });

  it.each([
    ['initializing, no reason, null LAN IP, no settings', { InstanceId: 'ins-1', InstanceState: 'initializing', FailedReason: '', LanIP: null }, { instanceId: 'ins-1', state: 'initializing' }],
    ['failed with its reason', { InstanceId: 'ins-1', InstanceState: 'failed', FailedReason: 'kubelet never registered' }, { instanceId: 'ins-1', state: 'failed', failedReason: 'kubelet never registered' }],
    ['a state the model does not name', { InstanceId: 'ins-1', InstanceState: 'deleting' }, { instanceId: 'ins-1', state: 'deleting' }],
    ['no state at all', { InstanceId: 'ins-1' }, { instanceId: 'ins-1', state: 'unknown' }],
    ['Labels null', { InstanceId: 'ins-1', InstanceState: 'running', InstanceAdvancedSettings: { Labels: null } }, { instanceId: 'ins-1', state: 'running' }],
    ['Labels empty', { InstanceId: 'ins-1', InstanceState: 'running', InstanceAdvancedSettings: { Labels: [] } }, { instanceId: 'ins-1', state: 'running', labels: {} }],
  ])('%s', (_name, raw, expected) => {
    expect(toClusterInstance(raw as TkeClusterInstance)).toEqual(expected);
  });

  it('skips an entry without an InstanceId', () => {
    expect(toClusterInstance({ InstanceState: 'running' })).toBeUndefined();
    expect(toClusterInstance(null)).toBeUndefined();
  });
});

describe('removeClusterInstances (the DeleteClusterInstances answer)', () => {
  const answering = (response: unknown) => {
    const sent: object[] = [];
    const send: TkeSend = async (action, params) => {
      expect(action).toBe('DeleteClusterInstances');
      sent.push(params);
      return response;
    };
    return { send, sent };
  };

  it('sends the mode and ForceDelete, and sorts every instance asked into one list', async () => {
    const { send, sent } = answering({ SuccInstanceIds: ['ins-a'], FailedInstanceIds: ['ins-b'], NotFoundInstanceIds: ['ins-c'], RequestId: 'r' });
    const result = await removeClusterInstances(send, 'cls-1', ['ins-a', 'ins-b', 'ins-c', 'ins-a'], { mode: 'terminate', force: true }, signal);
    expect(sent).toEqual([{ ClusterId: 'cls-1', InstanceIds: ['ins-a', 'ins-b', 'ins-c'], InstanceDeleteMode: 'terminate', ForceDelete: true }]);
    expect(result).toEqual({ succeeded: ['ins-a'], failed: ['ins-b'], notFound: ['ins-c'] });
  });

  it('counts an instance the answer does not mention as failed (lists may be null; the API page example answers a RequestId alone)', async () => {
    expect(await removeClusterInstances(answering({ RequestId: 'r' }).send, 'cls-1', ['ins-a'], { mode: 'retain', force: false }, signal)).toEqual({ succeeded: [], failed: ['ins-a'], notFound: [] });
    expect(await removeClusterInstances(answering({ SuccInstanceIds: null, FailedInstanceIds: null, NotFoundInstanceIds: ['ins-b'] }).send, 'cls-1', ['ins-a', 'ins-b'], { mode: 'retain', force: false }, signal)).toEqual({
      succeeded: [],
      failed: ['ins-a'],
      notFound: ['ins-b'],
    });
  });

  it('never takes an instance TKE also lists as failed for deleted, and ignores instances not asked', async () => {
    const result = await removeClusterInstances(answering({ SuccInstanceIds: ['ins-a', 'ins-x'], FailedInstanceIds: ['ins-a'] }).send, 'cls-1', ['ins-a'], { mode: 'terminate', force: false }, signal);
    expect(result).toEqual({ succeeded: [], failed: ['ins-a'], notFound: [] });
  });

  it('makes no call for no IDs', async () => {
    const { send, sent } = answering({});
    expect(await removeClusterInstances(send, 'cls-1', [], { mode: 'terminate', force: true }, signal)).toEqual({ succeeded: [], failed: [], notFound: [] });
    expect(sent).toHaveLength(0);
  });
});

describe('describeInstances and deleteInstances (retries)', () => {
  const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 1000 };
  const opts = () => ({ deadline: Date.now() + 10_000, now: Date.now, policy });
  const failure = (code?: string) => Object.assign(new Error(code ?? 'socket hang up'), code === undefined ? {} : { code, requestId: `req-${code}` });

  /** A fake TKE whose two new calls play `plays` in order: an answer, or an error to throw. */
  function fakeTke(plays: Array<unknown>): TkeApi & { calls: number } {
    const next = async () => {
      tke.calls++;
      const play = plays.shift();
      if (play instanceof Error) throw play;
      return play;
    };
    const tke = {
      endpointDescription: 'fake',
      calls: 0,
      createClusterInstances: async () => ({ InstanceIdSet: [], RequestId: 'r' }),
      describeClusterNodeCount: async () => 0,
      describeClusterInstances: next as TkeApi['describeClusterInstances'],
      deleteClusterInstances: next as TkeApi['deleteClusterInstances'],
    };
    return tke;
  }

  it('reads again after a transient failure', async () => {
    const tke = fakeTke([failure('InternalError'), [{ instanceId: 'ins-a', state: 'running' }]]);
    await expect(describeInstances(tke, 'ap-guangzhou', 'cls-1', ['ins-a'], opts())).resolves.toEqual([{ instanceId: 'ins-a', state: 'running' }]);
    expect(tke.calls).toBe(2);
  });

  it('throws TkeReadError (503 TkeReadFailed, never outcome: unknown) when the read fails for good', async () => {
    const tke = fakeTke([failure(), failure(), failure()]);
    const error = await describeInstances(tke, 'ap-guangzhou', 'cls-1', ['ins-a'], opts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TkeReadError);
    expect(error).toMatchObject({ status: 503, code: 'TkeReadFailed' });
    expect((error as TkeReadError).details).not.toHaveProperty('outcome');
    expect(tke.calls).toBe(3);
  });

  it('does not retry a refusal that cannot pass (unknown cluster), and says which code', async () => {
    const tke = fakeTke([failure('InvalidParameter.ClusterNotFound')]);
    await expect(describeInstances(tke, 'ap-guangzhou', 'cls-1', ['ins-a'], opts())).rejects.toMatchObject({ code: 'TkeReadFailed', details: { tkeCode: 'InvalidParameter.ClusterNotFound', requestId: 'req-InvalidParameter.ClusterNotFound' } });
    expect(tke.calls).toBe(1);
  });

  it('deletes, with every attempt in the history', async () => {
    const tke = fakeTke([failure('RequestLimitExceeded'), { succeeded: ['ins-a'], failed: [], notFound: [] }]);
    const result = await deleteInstances(tke, 'ap-guangzhou', 'cls-1', ['ins-a'], { mode: 'terminate', force: true }, opts());
    expect(result).toMatchObject({ response: { succeeded: ['ins-a'] }, attempts: 2, history: [{ outcome: 'refused', code: 'RequestLimitExceeded' }, { outcome: 'succeeded' }] });
  });

  it('throws TkeCallError for a delete that fails for good; outcomeUnknown when an attempt may have acted', async () => {
    const lost = await deleteInstances(fakeTke([failure(), failure('InternalError'), failure('InternalError')]), 'ap-guangzhou', 'cls-1', ['ins-a'], { mode: 'retain', force: false }, opts()).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(TkeCallError);
    expect(lost).toMatchObject({ outcomeUnknown: true, attempts: 3, details: { outcome: 'unknown' } });
    const refused = await deleteInstances(fakeTke([failure('FailedOperation.ClusterNotFound')]), 'ap-guangzhou', 'cls-1', ['ins-a'], { mode: 'retain', force: false }, opts()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TkeCallError);
    expect(refused).toMatchObject({ status: 422, code: 'FailedOperation.ClusterNotFound', outcomeUnknown: false, attempts: 1 });
  });
});
