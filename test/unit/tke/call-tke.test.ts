import { callCreateClusterInstances } from '../../../src/tke/call-tke';
import type { TkeApi } from '../../../src/tke/tke-api';
import type { CreateClusterInstancesRequest } from '../../../src/tke/tke-params';
import { TkeCallError } from '../../../src/errors';

const request: CreateClusterInstancesRequest = { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"ClientToken":"so1-x","InstanceCount":1}' };
const policy = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 1000, fallbackDeadlineMs: 25_000 };

type Outcome = { ok: string[] } | { malformed: true } | { code: string } | { httpCode: number } | { network: string } | { hang: true };

/** A fake TKE that plays the outcomes in order and records every request it got. */
function scriptedTke(outcomes: Outcome[]): TkeApi & { received: CreateClusterInstancesRequest[] } {
  const received: CreateClusterInstancesRequest[] = [];
  return {
    endpointDescription: 'fake',
    received,
    describeClusterNodeCount: async () => 0,
    describeClusterInstances: async () => [],
    deleteClusterInstances: async () => ({ succeeded: [], failed: [], notFound: [] }),
    async createClusterInstances(_region, req, signal) {
      received.push(req);
      const outcome = outcomes.shift() ?? { code: 'InternalError' };
      if ('ok' in outcome) return { InstanceIdSet: outcome.ok, RequestId: `req-${received.length}` };
      if ('malformed' in outcome) return { RequestId: `req-${received.length}` } as never;
      if ('code' in outcome) throw Object.assign(new Error(`tke says ${outcome.code}`), { code: outcome.code, requestId: `req-${received.length}` });
      if ('httpCode' in outcome) throw Object.assign(new Error('Bad Gateway'), { httpCode: outcome.httpCode });
      if ('network' in outcome) throw new Error(outcome.network);
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('The operation was aborted'))));
    },
  };
}

const call = (tke: TkeApi, deadlineInMs = 10_000) =>
  callCreateClusterInstances(tke, 'ap-guangzhou', request, { deadline: Date.now() + deadlineInMs, now: Date.now, policy });

async function callError(tke: TkeApi, deadlineInMs?: number): Promise<TkeCallError> {
  try {
    await call(tke, deadlineInMs);
  } catch (error) {
    expect(error).toBeInstanceOf(TkeCallError);
    return error as TkeCallError;
  }
  throw new Error('expected a TkeCallError');
}

describe('callCreateClusterInstances', () => {
  it('returns the instances on the first success', async () => {
    const tke = scriptedTke([{ ok: ['ins-1'] }]);
    await expect(call(tke)).resolves.toEqual({ response: { InstanceIdSet: ['ins-1'], RequestId: 'req-1' }, attempts: 1, history: [{ outcome: 'succeeded' }] });
  });

  it('retries throttling, InternalError, 5xx and network failures, always with the same ClientToken', async () => {
    const tke = scriptedTke([{ code: 'RequestLimitExceeded' }, { code: 'InternalError.Db' }, { httpCode: 502 }, { ok: ['ins-1', 'ins-2'] }]);
    const result = await call(tke);
    expect(result.attempts).toBe(4);
    expect(result.response.InstanceIdSet).toEqual(['ins-1', 'ins-2']);
    expect(new Set(tke.received.map((r) => JSON.stringify(r))).size).toBe(1);
  });

  it('treats a 200 without InstanceIdSet as a failed attempt, never as "no nodes"', async () => {
    const tke = scriptedTke([{ malformed: true }, { ok: ['ins-1'] }]);
    const result = await call(tke);
    expect(result).toMatchObject({ attempts: 2, response: { InstanceIdSet: ['ins-1'] } });
  });

  it('retries a dropped connection', async () => {
    const tke = scriptedTke([{ network: 'socket hang up' }, { ok: ['ins-1'] }]);
    expect((await call(tke)).attempts).toBe(2);
  });

  it('does not retry what cannot succeed, and says why with TKE RequestId', async () => {
    const tke = scriptedTke([{ code: 'FailedOperation.QuotaMaxNodLimit' }]);
    const error = await callError(tke);
    expect(tke.received).toHaveLength(1);
    expect(error).toMatchObject({ status: 409, code: 'FailedOperation.QuotaMaxNodLimit', requestId: 'req-1', attempts: 1 });
  });

  it('gives up after maxAttempts with the last code', async () => {
    const tke = scriptedTke([{ code: 'InternalError' }, { code: 'InternalError' }, { code: 'InternalError' }, { code: 'InternalError' }, { ok: ['never'] }]);
    const error = await callError(tke);
    expect(tke.received).toHaveLength(4);
    expect(error).toMatchObject({ status: 502, code: 'InternalError', attempts: 4 });
  });

  it('answers 503 with Retry-After when TKE keeps throttling', async () => {
    const tke = scriptedTke(Array.from({ length: 4 }, () => ({ code: 'RequestLimitExceeded' })));
    expect(await callError(tke)).toMatchObject({ status: 503, code: 'RequestLimitExceeded', retryAfterSeconds: 1 });
  });

  it('maps a non-200 reply and an unreachable endpoint to 502 without leaking the address', async () => {
    expect(await callError(scriptedTke(Array.from({ length: 4 }, () => ({ httpCode: 503 }))))).toMatchObject({ status: 502, code: 'TkeHttpError' });
    const unreachable = await callError(scriptedTke(Array.from({ length: 4 }, () => ({ network: 'connect ECONNREFUSED 10.1.2.3:443' }))));
    expect(unreachable).toMatchObject({ status: 502, code: 'TkeUnreachable' });
    expect(unreachable.message).not.toContain('10.1.2.3');
  });

  it('stops at the deadline: an attempt is cut short and no retry starts that could not finish', async () => {
    const tke = scriptedTke([{ hang: true }, { ok: ['too-late'] }]);
    const started = Date.now();
    const error = await callError(tke, 300);
    expect(error).toMatchObject({ status: 504, code: 'TkeTimeout', attempts: 1 });
    expect(tke.received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000); // bounded by the deadline, not by the 1 s attempt timeout twice over
  });
});
