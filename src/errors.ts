/**
 * The one error family. Everything the function can answer with besides success is a
 * `ScaleOutError`; `http/error-response.ts` is the only place that turns one into an HTTP answer.
 *
 * `status` is chosen by what the *sender* should do next (see docs/DESIGN.md, "Status codes"):
 * 4xx = do not retry, the same request can never succeed; 5xx = retrying may help.
 * `expose` follows middy's HttpError: messages of 4xx errors go to the caller, 5xx bodies carry
 * only the code and a generic message unless the error was built to be shown (TKE's own codes).
 */
export interface ScaleOutErrorOptions {
  cause?: unknown;
  /** Seconds after which the same request could succeed: sent as Retry-After. */
  retryAfterSeconds?: number;
  /** Extra fields for the answer body; must never hold a secret. */
  details?: Readonly<Record<string, unknown>>;
  /** Show `message` even on a 5xx. */
  expose?: boolean;
}

/**
 * Whole seconds from `now` until `retryAt`, at least 1: Retry-After must be a finite integer (RFC
 * 9110). A time that is not a finite number (a bug upstream) becomes a minute, not "Infinity".
 */
export function secondsUntil(retryAt: number, now: number): number {
  const seconds = Math.ceil((retryAt - now) / 1000);
  return Number.isFinite(seconds) ? Math.max(1, seconds) : 60;
}

export class ScaleOutError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly expose: boolean;

  constructor(status: number, code: string, message: string, options: ScaleOutErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
    this.expose = options.expose ?? status < 500;
  }
}

/** 400: the body or a header is not what the sender's format requires. */
export class BadRequestError extends ScaleOutError {
  constructor(code: string, message: string, options?: ScaleOutErrorOptions) {
    super(400, code, message, options);
  }
}

/** 401: missing, malformed or wrong credentials or signature. Never says which secret was expected. */
export class UnauthorizedError extends ScaleOutError {
  constructor(message: string, options?: ScaleOutErrorOptions) {
    super(401, 'Unauthorized', message, options);
  }
}

/** 404: no such route or sender. */
export class NotFoundError extends ScaleOutError {
  constructor(code: string, message: string) {
    super(404, code, message);
  }
}

export class MethodNotAllowedError extends ScaleOutError {
  readonly allow: readonly string[];
  constructor(method: string, allow: readonly string[]) {
    super(405, 'MethodNotAllowed', `${method} is not allowed here; use ${allow.join(' or ')}`);
    this.allow = allow;
  }
}

/** 409: the same event is being handled by another delivery right now. */
export class EventInFlightError extends ScaleOutError {
  constructor(eventId: string, retryAfterSeconds: number) {
    super(409, 'EventInFlight', `event ${JSON.stringify(eventId)} is being handled by another delivery; retry later`, {
      retryAfterSeconds,
    });
  }
}

/**
 * 429: a throttle rule holds the event back (cooldown, node budget, in-flight slot, cluster
 * ceiling). Names the rule and when the same request could succeed.
 */
export class ThrottledError extends ScaleOutError {
  readonly rule: string;
  constructor(rule: string, detail: string, retryAt: number, now: number) {
    const retryAfterSeconds = secondsUntil(retryAt, now);
    const at = new Date(now + retryAfterSeconds * 1000).toISOString();
    super(429, 'Throttled', `throttled by ${rule}: ${detail}; retry after ${at}`, {
      retryAfterSeconds,
      details: { rule, retryAt: at },
    });
    this.rule = rule;
  }
}

/**
 * 422: the request can never fit a limit, however long the sender waits: more nodes than a whole
 * window's node budget or than the cluster's ceiling (and the template does not clamp), or a
 * purchase that costs more than a whole money budget. Not a 429: a retry would only be refused again.
 */
export class ExceedsLimitError extends ScaleOutError {
  readonly rule: string;
  constructor(rule: string, detail: string) {
    super(422, 'ExceedsLimit', `no wait makes this fit ${rule}: ${detail}; ask for less, or change the limit or the template`, { details: { rule } });
    this.rule = rule;
  }
}

/**
 * 503: CVM is sold out where this event could buy: every rung of the template's ladder (now, or
 * marked so by an instance within `capacity.soldOutSeconds`), or the rungs there was time for, or
 * the rung the event was already sent on (which it never leaves). Nothing was bought; retrying after
 * the earliest mark expires may find stock.
 */
export class SoldOutError extends ScaleOutError {
  constructor(scope: string, detail: string, retryAt: number, now: number) {
    super(503, 'SoldOut', `CVM is sold out for ${scope}: ${detail}`, {
      expose: true,
      retryAfterSeconds: secondsUntil(retryAt, now),
    });
  }
}

/**
 * CVM's price inquiry answered that the offering has no stock (InquiryPriceRunInstances lists
 * ResourcesSoldOut.SpecifiedInstanceType among its errors): the ladder marks it and climbs on, as
 * for a refused purchase. `code` is CVM's.
 */
export class OfferingSoldOutError extends ScaleOutError {
  constructor(code: string, message: string) {
    super(503, code, `CVM's price inquiry says this offering is sold out (${code}): ${message}`, { expose: true, retryAfterSeconds: 60 });
  }
}

/**
 * 503: a cluster with a money budget could not price the request (InquiryPriceRunInstances failed,
 * timed out, or answered something unreadable). The function fails closed: nothing is bought.
 */
export class PriceUnavailableError extends ScaleOutError {
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super(503, 'PriceUnavailable', `no price for this request, so nothing was bought (the cluster has a money budget): ${detail}`, {
      ...options,
      expose: true,
      retryAfterSeconds: 30,
    });
  }
}

export class PayloadTooLargeError extends ScaleOutError {
  constructor(sizeBytes: number, limitBytes: number) {
    super(413, 'PayloadTooLarge', `body is ${sizeBytes} bytes; the limit is ${limitBytes}`);
  }
}

export class UnsupportedMediaTypeError extends ScaleOutError {
  constructor(got: string | undefined, expected: string) {
    super(415, 'UnsupportedMediaType', `content-type must be ${expected}, got ${got === undefined ? 'none' : JSON.stringify(got)}`);
  }
}

/**
 * 422: well-formed, but it names something the config does not have or allow
 * (cluster, template, param, count), or reuses an event ID for a different request.
 */
export class UnprocessableError extends ScaleOutError {
  constructor(code: string, message: string, options?: ScaleOutErrorOptions) {
    super(422, code, message, options);
  }
}

/**
 * 503: the shared store (Redis) did not answer in time or refused. The function fails closed:
 * without its state it cannot tell a duplicate or a throttled event, so nothing is sent to TKE.
 */
export class StoreUnavailableError extends ScaleOutError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(503, 'StoreUnavailable', message, { ...options, retryAfterSeconds: 5 });
  }
}

/**
 * 503: the store answers but must not be used (a Redis that may evict our keys, a Redis Cluster
 * node). The message names the problem and the fix, and holds no secret: it is shown.
 */
export class StoreMisconfiguredError extends ScaleOutError {
  constructor(problem: string) {
    super(503, 'StoreMisconfigured', problem, { expose: true, retryAfterSeconds: 60 });
  }
}

/** 503 for a sender whose secret env var is unset: the operator must fix the deployment. */
export class SenderNotConfiguredError extends ScaleOutError {
  constructor(source: string, envVar: string, blank = false) {
    super(503, 'SenderNotConfigured', `sender ${source} is not ready: its secret env var ${envVar} ${blank ? 'holds only whitespace, which is no secret' : 'is not set'}`, {
      expose: true,
    });
  }
}

/**
 * 503: a read from TKE that a decision needs (DescribeClusters, for the cluster ceiling's node
 * count) failed or timed out. Nothing was sent to buy anything, so nothing may exist: unlike a
 * TkeCallError it never says `outcome: unknown`, and it is no purchase to settle or cool down.
 */
export class TkeReadError extends ScaleOutError {
  constructor(what: string, failed: { readonly code: string; readonly message: string; readonly requestId?: string | undefined }, options: { cause?: unknown } = {}) {
    super(503, 'TkeReadFailed', `${what} could not be read from TKE (${failed.code}: ${failed.message}); nothing was sent to buy nodes`, {
      ...options,
      expose: true,
      retryAfterSeconds: 30,
      details: { tkeCode: failed.code, ...(failed.requestId !== undefined && { requestId: failed.requestId }) },
    });
  }
}

/**
 * 503: a call to a cluster's Kubernetes API failed (unreachable, timed out, or answered an error):
 * what was being done to a node is tried again by the next pass. Names the call and the status.
 */
export class KubeApiError extends ScaleOutError {
  constructor(what: string, status: number | undefined, detail: string) {
    super(503, 'KubeApiFailed', `the Kubernetes API failed: ${what}: ${status !== undefined ? `HTTP ${status}: ` : ''}${detail}`, { details: { ...(status !== undefined && { status }) } });
  }
}

/**
 * A CreateClusterInstances call that did not succeed. `status` comes from the classification in
 * `tke/tke-errors.ts`; the body carries TKE's own code, message and RequestId so that a human can
 * take it to Tencent support.
 */
export class TkeCallError extends ScaleOutError {
  readonly tkeCode: string;
  readonly requestId: string | undefined;
  readonly attempts: number;
  /** Every attempt's outcome, in order (tke/call-tke.ts). */
  readonly history: readonly TkeAttempt[];
  /**
   * True when any attempt's outcome was unknown (a timeout, a lost connection, a non-200 reply):
   * TKE may have created the nodes, whatever later attempts said. False only when every attempt
   * was answered with an API error, i.e. nothing was created.
   */
  readonly outcomeUnknown: boolean;
  constructor(
    status: number,
    tkeCode: string,
    message: string,
    opts: {
      requestId?: string;
      attempts: number;
      history?: readonly TkeAttempt[];
      cause?: unknown;
      retryAfterSeconds?: number;
      outcomeUnknown: boolean;
    },
  ) {
    super(status, tkeCode, message, {
      cause: opts.cause,
      retryAfterSeconds: opts.retryAfterSeconds,
      expose: true,
      // `outcome: "unknown"` tells a caller that nodes may exist: check before asking again.
      details: { requestId: opts.requestId, attempts: opts.attempts, ...(opts.outcomeUnknown && { outcome: 'unknown' }) },
    });
    this.tkeCode = tkeCode;
    this.requestId = opts.requestId;
    this.attempts = opts.attempts;
    this.history = opts.history ?? [];
    this.outcomeUnknown = opts.outcomeUnknown;
  }
}

/**
 * What one attempt of a TKE call tells about TKE's side (tke/call-tke.ts records them):
 *  - `succeeded`: TKE answered with the instances;
 *  - `refused`: TKE answered with an API error code: this attempt created nothing;
 *  - `unknown`: no usable answer (timeout, lost connection, non-200, a 200 without InstanceIdSet):
 *    the request may have reached TKE and TKE may have acted on it.
 */
export interface TkeAttempt {
  readonly outcome: 'succeeded' | 'refused' | 'unknown';
  /** TKE's error code, `HTTP <status>`, `timeout` or `network`. */
  readonly code?: string;
  readonly requestId?: string;
}

/** The config file or the environment is wrong. Thrown at cold start only: the function does not start. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`invalid configuration in ${source}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
