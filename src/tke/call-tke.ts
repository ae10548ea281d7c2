import { backOff } from 'exponential-backoff';
import type { Config } from '../config/load-config';
import { TkeCallError } from '../errors';
import { describeTkeFailure, type TkeApi, type TkeFailure } from './tke-api';
import { NETWORK_FAILURE_VERDICT, verdictForHttpStatus, verdictForTkeCode, type TkeErrorVerdict } from './tke-errors';
import type { CreateClusterInstancesRequest, CreateClusterInstancesResponse } from './tke-params';

/** Below this much time left, another attempt could not finish: stop and answer. */
const MIN_ATTEMPT_MS = 250;

export interface TkeCallResult<T = CreateClusterInstancesResponse> {
  readonly response: T;
  readonly attempts: number;
}

export interface TkeCallOptions {
  readonly deadline: number;
  readonly now: () => number;
  readonly policy: Config['tke'];
}

/**
 * Calls CreateClusterInstances until it succeeds, fails for good, or the function runs out of time.
 *
 * The SDK never retries (platform-facts.md), so this does: RequestLimitExceeded, InternalError-class
 * codes, 5xx and network failures, with exponential backoff and full jitter. Every attempt sends the
 * very same request, ClientToken included, so an attempt that reached TKE but whose answer was lost
 * cannot add nodes twice. Each attempt is bounded by `attemptTimeoutMs` and by the deadline.
 */
export async function callCreateClusterInstances(
  tke: TkeApi,
  region: string,
  request: CreateClusterInstancesRequest,
  opts: TkeCallOptions,
): Promise<TkeCallResult> {
  return callWithRetries(async (signal) => {
    const response = await tke.createClusterInstances(region, request, signal);
    if (!Array.isArray(response.InstanceIdSet)) {
      throw Object.assign(new Error('TKE answered without InstanceIdSet'), { requestId: response.RequestId });
    }
    return response;
  }, opts);
}

/** ClusterNodeNum, for the cluster-ceiling rule: read-only, so retried like any other call. */
export async function describeClusterNodeCount(tke: TkeApi, region: string, clusterId: string, opts: TkeCallOptions): Promise<number> {
  return (await callWithRetries((signal) => tke.describeClusterNodeCount(region, clusterId, signal), opts)).response;
}

/** One TKE call with the retry policy above; throws TkeCallError when it fails for good. */
async function callWithRetries<T>(call: (signal: AbortSignal) => Promise<T>, opts: TkeCallOptions): Promise<TkeCallResult<T>> {
  const { deadline, now, policy } = opts;
  let attempts = 0;
  let last: { failure: TkeFailure; verdict: TkeErrorVerdict; timedOut: boolean } | undefined;

  const attempt = async (): Promise<T> => {
    attempts++;
    const budget = Math.min(policy.attemptTimeoutMs, deadline - now());
    const signal = AbortSignal.timeout(Math.max(1, budget));
    try {
      return await call(signal);
    } catch (error) {
      const failure = describeTkeFailure(error);
      const verdict =
        failure.code !== undefined
          ? verdictForTkeCode(failure.code)
          : failure.httpCode !== undefined
            ? verdictForHttpStatus(failure.httpCode)
            : NETWORK_FAILURE_VERDICT;
      last = { failure, verdict, timedOut: signal.aborted };
      throw error;
    }
  };

  try {
    const response = await backOff(attempt, {
      numOfAttempts: policy.maxAttempts,
      startingDelay: policy.baseDelayMs,
      maxDelay: policy.maxDelayMs,
      timeMultiple: 2,
      jitter: 'full',
      retry: (_error, attemptNumber) => {
        if (last === undefined || !last.verdict.retry) return false;
        // The next wait is at most this long (full jitter picks within it); retry only when an
        // attempt would still fit before the deadline after the longest wait.
        const longestWait = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attemptNumber - 1));
        return deadline - now() - longestWait >= MIN_ATTEMPT_MS;
      },
    });
    return { response, attempts };
  } catch (error) {
    if (last === undefined) throw error; // not a TKE failure: a bug, let it surface as a 500
    throw toCallError(last.failure, last.verdict, last.timedOut, attempts, error);
  }
}

function toCallError(
  failure: TkeFailure,
  verdict: TkeErrorVerdict,
  timedOut: boolean,
  attempts: number,
  cause: unknown,
): TkeCallError {
  const base = { attempts, cause, tkeAnswered: false, ...(failure.requestId !== undefined && { requestId: failure.requestId }) };
  if (failure.code !== undefined) {
    return new TkeCallError(verdict.status, failure.code, failure.message, {
      ...base,
      tkeAnswered: true,
      ...(verdict.retryAfterSeconds !== undefined && { retryAfterSeconds: verdict.retryAfterSeconds }),
    });
  }
  if (failure.httpCode !== undefined) {
    return new TkeCallError(502, 'TkeHttpError', `TKE endpoint answered HTTP ${failure.httpCode} after ${attempts} attempt(s)`, base);
  }
  if (timedOut) {
    return new TkeCallError(504, 'TkeTimeout', `no answer from TKE in time after ${attempts} attempt(s)`, base);
  }
  // The transport's message names hosts and ports: it goes to the log (via cause), not the body.
  return new TkeCallError(502, 'TkeUnreachable', `could not reach TKE after ${attempts} attempt(s)`, base);
}
