import { backOff } from 'exponential-backoff';
import { TkeCallError, TkeReadError, type TkeAttempt } from '../errors';

export type { TkeAttempt };
import { describeApiFailure, type ApiFailure } from '../tencentcloud/api-failure';
import type { TkeApi } from './tke-api';
import { NETWORK_FAILURE_VERDICT, verdictForHttpStatus, verdictForTkeCode, type TkeErrorVerdict } from './tke-errors';
import type { ClusterInstance, CreateClusterInstancesRequest, CreateClusterInstancesResponse, DeleteInstancesOptions, InstanceDeletionResult } from './tke-params';

/** Below this much time left, another attempt could not finish: stop and answer. */
const MIN_ATTEMPT_MS = 250;

export interface TkeCallResult<T = CreateClusterInstancesResponse> {
  readonly response: T;
  readonly attempts: number;
  /** Every attempt, in order: what each one tells about whether TKE acted. */
  readonly history: readonly TkeAttempt[];
}

/**
 * Whether a call that failed in the end may still have created nodes: it may when ANY attempt's
 * outcome was unknown, whatever the later attempts said. A retry answered "RequestLimitExceeded"
 * says nothing about the first attempt that timed out after TKE acted.
 */
export function mayHaveActed(history: readonly TkeAttempt[]): boolean {
  return history.some((a) => a.outcome === 'unknown');
}

/** How hard to try (the config's `tke` section). */
export interface TkeRetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** One attempt at most; never past the deadline. */
  readonly attemptTimeoutMs: number;
}

export interface TkeCallOptions {
  readonly deadline: number;
  readonly now: () => number;
  readonly policy: TkeRetryPolicy;
}

/**
 * Calls CreateClusterInstances until it succeeds, fails for good, or the function runs out of time.
 *
 * The SDK never retries (docs/PLATFORM.md), so this does: RequestLimitExceeded, InternalError-class
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
  try {
    return (await callWithRetries((signal) => tke.describeClusterNodeCount(region, clusterId, signal), opts)).response;
  } catch (error) {
    // A read that failed bought nothing: it must never be reported, settled or cooled down as a
    // purchase whose outcome is unknown, which is what a TkeCallError would say.
    if (!(error instanceof TkeCallError)) throw error;
    throw new TkeReadError(`the node count of cluster ${clusterId} (DescribeClusters)`, { code: error.code, message: error.message, requestId: error.requestId }, { cause: error });
  }
}

/**
 * The state of these instances in the cluster (DescribeClusterInstances, paged by the adapter):
 * read-only, so retried like any other call; an attempt reads every page again. An instance
 * missing from the answer is not in the cluster. A read that fails for good throws TkeReadError,
 * as for the node count: nothing was changed.
 */
export async function describeInstances(tke: TkeApi, region: string, clusterId: string, instanceIds: readonly string[], opts: TkeCallOptions): Promise<ClusterInstance[]> {
  try {
    return (await callWithRetries((signal) => tke.describeClusterInstances(region, clusterId, instanceIds, signal), opts)).response;
  } catch (error) {
    if (!(error instanceof TkeCallError)) throw error;
    throw new TkeReadError(`the state of ${instanceIds.length} instance(s) of cluster ${clusterId} (DescribeClusterInstances)`, { code: error.code, message: error.message, requestId: error.requestId }, { cause: error });
  }
}

/**
 * Removes these instances from the cluster (DeleteClusterInstances), destroying them with
 * `terminate` or keeping the CVMs with `retain`, retried like the purchase. Retrying is safe: an
 * instance an earlier attempt removed comes back in `notFound`. A delete that fails for good throws
 * TkeCallError, whose `outcomeUnknown` says whether an attempt may have acted all the same (a
 * timeout, a lost answer): the caller reads the instances again at its next pass rather than
 * trusting either.
 */
export async function deleteInstances(
  tke: TkeApi,
  region: string,
  clusterId: string,
  instanceIds: readonly string[],
  options: DeleteInstancesOptions,
  opts: TkeCallOptions,
): Promise<TkeCallResult<InstanceDeletionResult>> {
  return callWithRetries((signal) => tke.deleteClusterInstances(region, clusterId, instanceIds, options, signal), opts);
}

/** One TKE call with the retry policy above; throws TkeCallError when it fails for good. */
async function callWithRetries<T>(call: (signal: AbortSignal) => Promise<T>, opts: TkeCallOptions): Promise<TkeCallResult<T>> {
  const { deadline, now, policy } = opts;
  let attempts = 0;
  const history: TkeAttempt[] = [];
  let last: { failure: ApiFailure; verdict: TkeErrorVerdict; timedOut: boolean } | undefined;

  const attempt = async (): Promise<T> => {
    attempts++;
    const budget = Math.min(policy.attemptTimeoutMs, deadline - now());
    const signal = AbortSignal.timeout(Math.max(1, budget));
    try {
      const response = await call(signal);
      history.push({ outcome: 'succeeded' });
      return response;
    } catch (error) {
      const failure = describeApiFailure(error);
      const verdict =
        failure.code !== undefined
          ? verdictForTkeCode(failure.code)
          : failure.httpCode !== undefined
            ? verdictForHttpStatus(failure.httpCode)
            : NETWORK_FAILURE_VERDICT;
      last = { failure, verdict, timedOut: signal.aborted };
      history.push({
        outcome: failure.code !== undefined ? 'refused' : 'unknown',
        code: failure.code ?? (failure.httpCode !== undefined ? `HTTP ${failure.httpCode}` : signal.aborted ? 'timeout' : 'network'),
        ...(failure.requestId !== undefined && { requestId: failure.requestId }),
      });
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
    return { response, attempts, history };
  } catch (error) {
    if (last === undefined) throw error; // not a TKE failure: a bug, let it surface as a 500
    throw toCallError(last.failure, last.verdict, last.timedOut, history, error);
  }
}

/**
 * The status and code come from the LAST attempt (that is what a retry would meet next); whether
 * nodes may exist comes from ALL of them (`mayHaveActed`).
 */
function toCallError(
  failure: ApiFailure,
  verdict: TkeErrorVerdict,
  timedOut: boolean,
  history: readonly TkeAttempt[],
  cause: unknown,
): TkeCallError {
  const attempts = history.length;
  const base = {
    attempts,
    history,
    cause,
    outcomeUnknown: mayHaveActed(history),
    ...(failure.requestId !== undefined && { requestId: failure.requestId }),
  };
  if (failure.code !== undefined) {
    return new TkeCallError(verdict.status, failure.code, failure.message, {
      ...base,
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
