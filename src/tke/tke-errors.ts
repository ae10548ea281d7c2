/**
 * What each way a CreateClusterInstances call can fail means for us and for the sender.
 *
 *  - `status`: the HTTP status the sender gets. 4xx = the same request can never succeed (its
 *    template or cluster is wrong, a quota is full): senders such as Alertmanager drop it.
 *    5xx = worth the sender retrying (TKE or the network is having a bad moment, or the function's
 *    own credentials were refused: the operator can fix that and the sender's retry then succeeds).
 *  - `retry`: whether *we* retry it within the call, with backoff and the same ClientToken.
 *  - `retryAfterSeconds`: sent as Retry-After when waiting is the fix.
 *
 * Codes are the seed's table (shared/seeds/CreateClusterInstances.zh.txt) plus the common codes of
 * Tencent Cloud API 3.0 (AuthFailure.*, RequestLimitExceeded, LimitExceeded, ResourceUnavailable,
 * ServiceUnavailable, InvalidParameterValue). A code not listed is classified by its prefix.
 */
export interface TkeErrorVerdict {
  readonly status: number;
  readonly retry: boolean;
  readonly retryAfterSeconds?: number;
}

const callerMistake: TkeErrorVerdict = { status: 422, retry: false }; // template/config names something TKE refuses
const quotaOrState: TkeErrorVerdict = { status: 409, retry: false }; // needs an operator: raise a quota
const transient: TkeErrorVerdict = { status: 502, retry: true }; // TKE's side, likely to pass
const upstreamFault: TkeErrorVerdict = { status: 502, retry: false }; // TKE's side, retrying now will not help
const refusedCredentials: TkeErrorVerdict = { status: 502, retry: false }; // the function's role/keys: operator fix
const waitAndRetry = (seconds: number): TkeErrorVerdict => ({ status: 503, retry: false, retryAfterSeconds: seconds });

export const TKE_ERROR_VERDICTS: Readonly<Record<string, TkeErrorVerdict>> = {
  // --- the seed's table ---
  FailedOperation: upstreamFault,
  'FailedOperation.AccountCommon': transient,
  'FailedOperation.ClusterNotFound': callerMistake,
  'FailedOperation.ClusterState': waitAndRetry(60), // e.g. the cluster is upgrading
  'FailedOperation.CvmCommon': upstreamFault,
  'FailedOperation.Db': transient,
  'FailedOperation.NetworkScaleError': upstreamFault,
  'FailedOperation.Param': callerMistake,
  'FailedOperation.QuotaMaxNodLimit': quotaOrState,
  InternalError: transient,
  'InternalError.AccountCommon': transient,
  'InternalError.AccountUserNotAuthenticated': refusedCredentials,
  'InternalError.ClusterNotFound': callerMistake,
  'InternalError.ClusterState': waitAndRetry(60),
  'InternalError.ComponentClinetHttp': transient, // [sic] TKE's spelling
  'InternalError.CvmCommon': upstreamFault,
  'InternalError.CvmNotFound': upstreamFault,
  'InternalError.Db': transient,
  'InternalError.DbAffectivedRows': transient, // [sic]
  'InternalError.DbRecordNotFound': upstreamFault,
  'InternalError.ImageIdNotFound': callerMistake,
  'InternalError.OsNotSupport': callerMistake,
  'InternalError.Param': callerMistake,
  'InternalError.QuotaMaxClsLimit': quotaOrState,
  'InternalError.QuotaMaxNodLimit': quotaOrState,
  'InternalError.QuotaMaxRtLimit': quotaOrState,
  'InternalError.UnexceptedInternal': transient, // [sic]
  'InternalError.UnexpectedInternal': transient,
  'InternalError.VpcCommon': upstreamFault,
  'InternalError.VpcPeerNotFound': callerMistake,
  'InternalError.VpcRecodrNotFound': callerMistake, // [sic]
  InvalidParameter: callerMistake,
  'InvalidParameter.VersionNotSupportCgroupV2': callerMistake,
  MissingParameter: callerMistake,
  ResourceInUse: waitAndRetry(30),
  'ResourceInsufficient.SpecifiedInstanceType': waitAndRetry(300), // CVM sold out in that zone
  // CVM's sold-out codes (capacityCodeOf below): never retried within the call; the ladder moves on.
  'ResourcesSoldOut.AvailableZone': waitAndRetry(300),
  'ResourcesSoldOut.SpecifiedInstanceType': waitAndRetry(300),
  'ResourcesSoldOut.EipInsufficient': waitAndRetry(300),
  ResourceNotFound: callerMistake,
  ResourceUnavailable: waitAndRetry(60),
  UnauthorizedOperation: refusedCredentials, // the role lacks a CAM permission
  UnknownParameter: callerMistake,
  UnsupportedOperation: callerMistake,
  // --- common API 3.0 codes ---
  RequestLimitExceeded: { status: 503, retry: true, retryAfterSeconds: 1 }, // TKE: 20 requests/s
  LimitExceeded: quotaOrState,
  ServiceUnavailable: { status: 503, retry: true, retryAfterSeconds: 5 },
  InvalidParameterValue: callerMistake,
};

const PREFIX_VERDICTS: ReadonlyArray<readonly [string, TkeErrorVerdict]> = [
  ['AuthFailure', refusedCredentials],
  ['UnauthorizedOperation', refusedCredentials],
  ['RequestLimitExceeded', { status: 503, retry: true, retryAfterSeconds: 1 }],
  ['InternalError', transient],
  ['FailedOperation', upstreamFault],
  ['InvalidParameter', callerMistake],
  ['InvalidParameterValue', callerMistake],
  ['MissingParameter', callerMistake],
  ['UnknownParameter', callerMistake],
  ['ResourceNotFound', callerMistake],
  ['ResourceInsufficient', waitAndRetry(300)],
  ['ResourceUnavailable', waitAndRetry(60)],
  ['LimitExceeded', quotaOrState],
];

export function verdictForTkeCode(code: string): TkeErrorVerdict {
  const exact = Object.hasOwn(TKE_ERROR_VERDICTS, code) ? TKE_ERROR_VERDICTS[code] : undefined;
  if (exact !== undefined) return exact;
  const byPrefix = PREFIX_VERDICTS.find(([prefix]) => code === prefix || code.startsWith(`${prefix}.`));
  return byPrefix?.[1] ?? upstreamFault;
}

/** An HTTP status other than 200 from the endpoint (a gateway or proxy in front of TKE). */
export function verdictForHttpStatus(httpCode: number): TkeErrorVerdict {
  if (httpCode === 429) return { status: 503, retry: true, retryAfterSeconds: 1 };
  return httpCode >= 500 ? transient : upstreamFault;
}

/** No answer at all: refused, reset, DNS, TLS. Safe to retry: the ClientToken makes it idempotent. */
export const NETWORK_FAILURE_VERDICT: TkeErrorVerdict = transient;

/**
 * CVM's refusals for lack of stock (tencentcloud-sdk-go cvm/v20170312/errors.go, the RunInstances
 * codes): the instance type, the zone, the disk type or public IPs are sold out. The first is also
 * in TKE's own table for CreateClusterInstances (the seed). Quota codes (LimitExceeded.*,
 * ResourceInsufficient.DisasterRecoverGroupCvmQuota, ...) are not stock: another rung would not help.
 */
export const CAPACITY_CODES = [
  'ResourceInsufficient.SpecifiedInstanceType',
  'ResourceInsufficient.ZoneSoldOutForSpecifiedInstance',
  'ResourceInsufficient.AvailabilityZoneSoldOut',
  'ResourceInsufficient.CloudDiskSoldOut',
  'ResourcesSoldOut.AvailableZone',
  'ResourcesSoldOut.SpecifiedInstanceType',
  'ResourcesSoldOut.EipInsufficient',
] as const;

/** TKE's codes for "CVM refused creating the nodes" (seed): the message then carries CVM's reason. */
const CVM_PASS_THROUGH_CODES = new Set(['FailedOperation.CvmCommon', 'InternalError.CvmCommon']);

/**
 * The CVM capacity code a TKE refusal stands for, or undefined when it is not a sold-out. A
 * capacity code as TKE's own code counts; so does one named in the message of TKE's CvmCommon codes.
 * No Tencent document shows how TKE words a CVM error it passes on, so the message is searched for
 * the code as a whole word (one pass per code, linear in the message) rather than parsed.
 */
export function capacityCodeOf(code: string, message: string | undefined): string | undefined {
  if ((CAPACITY_CODES as readonly string[]).includes(code)) return code;
  if (!CVM_PASS_THROUGH_CODES.has(code) || message === undefined) return undefined;
  return CAPACITY_CODES.find((capacity) => {
    for (let at = message.indexOf(capacity); at >= 0; at = message.indexOf(capacity, at + 1)) {
      const before = at === 0 ? '' : message[at - 1]!;
      const after = message[at + capacity.length] ?? '';
      if (!/[A-Za-z0-9.]/.test(before) && !/[A-Za-z0-9.]/.test(after)) return true;
    }
    return false;
  });
}
