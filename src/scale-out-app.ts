import { randomUUID } from 'node:crypto';
import type { Config } from './config/load-config';
import { clientTokenFor } from './core/client-token';
import {
  completeDelivery,
  decideDelivery,
  fingerprintOf,
  idempotencyKeyFor,
  releaseClaim,
  type DeliveryDecision,
  type IdempotencyRecord,
  type ScaleOutAnswer,
} from './core/idempotency';
import { renderCreateClusterInstances } from './core/render';
import { resolveScaleOut } from './core/resolve';
import { EventInFlightError, NotFoundError, ScaleOutError, ThrottledError, TkeCallError, UnprocessableError } from './errors';
import {
  decideThrottle,
  settleThrottleFailure,
  settleThrottleSuccess,
  throttleScopeOf,
  type ThrottleAsk,
  type ThrottleDecision,
  type ThrottleState,
} from './core/throttle';
import { routeOf } from './http/routes';
import type { HttpReply, WebhookRequest } from './http/webhook-request';
import type { ScaleOutOutcome, WebhookSource } from './sources/webhook-source';
import type { ScaleOutStatus } from './http/scale-out-answer';
import type { CreateClusterInstancesRequest } from './tke/tke-params';
import type { IgnoredAlert } from './rules/plan';
import type { ScaleOutRequest } from './core/scale-out-request';
import type { StateStore } from './store/state-store';
import { callCreateClusterInstances, describeClusterNodeCount, type TkeCallResult } from './tke/call-tke';
import type { TkeApi } from './tke/tke-api';

/**
 * The whole path of one request: route → verify → normalize → decide → render → call → answer.
 * Every collaborator is passed in (config, sources, store, TKE, clock), so tests run it with fakes
 * and the SCF handler, the local server and the benchmark all run the same code.
 */
export interface ScaleOutAppDeps {
  readonly config: Config;
  readonly sources: ReadonlyMap<string, WebhookSource>;
  readonly store: StateStore;
  readonly tke: TkeApi;
  readonly now: () => number;
  /** Where TKE calls go, shown on /healthz: the local sandbox, TKE_ENDPOINT, or Tencent Cloud. */
  readonly tkeMode: TkeMode;
  readonly newClaimId?: () => string;
}

export type TkeMode = 'sandbox' | 'endpoint-override' | 'tencent-cloud';

export interface Invocation {
  /** Epoch ms by which TKE calls must end: the function's timeout, less a margin to answer. */
  readonly deadline: number;
  /**
   * Epoch ms at which SCF ends the invocation. Past it the holder of a claim or an in-flight slot
   * must be gone, so that is when they expire.
   */
  readonly timeoutAt: number;
  /** What the decision log line will say; the app fills it in as it learns. */
  readonly decision: DecisionRecord;
}

/** The fields of the one structured log line written per request (log/decision-log.ts). */
export interface DecisionRecord {
  outcome?: 'created' | 'replayed' | 'dry-run' | 'health' | 'rejected' | 'failed' | 'throttled' | 'ignored' | 'answered' | 'mixed';
  note?: string;
  replyNote?: string;
  ignored?: readonly IgnoredAlert[];
  results?: readonly DecisionRecord[];
  error?: { code: string; message: string; status: number };
  source?: string;
  eventId?: string;
  cluster?: string;
  clusterId?: string;
  region?: string;
  template?: string;
  count?: number;
  params?: Record<string, unknown>;
  reason?: string;
  clientToken?: string;
  instanceIds?: readonly string[];
  tkeRequestId?: string;
  attempts?: number;
  requestedCount?: number;
  clampedBy?: string;
  throttledBy?: string;
}

export interface ScaleOutApp {
  readonly config: Config;
  readonly now: () => number;
  handle(request: WebhookRequest, invocation: Invocation): Promise<HttpReply>;
}


export function createScaleOutApp(deps: ScaleOutAppDeps): ScaleOutApp {
  const { config, sources, store, tke, now } = deps;
  const newClaimId = deps.newClaimId ?? randomUUID;

  async function handle(request: WebhookRequest, invocation: Invocation): Promise<HttpReply> {
    const route = routeOf(request.method, request.path);
    if (route.kind === 'healthz') {
      invocation.decision.outcome = 'health';
      return { status: 200, body: await health() };
    }
    const source = sources.get(route.source);
    invocation.decision.source = route.source;
    if (source === undefined) {
      throw new NotFoundError('UnknownSource', `no sender ${JSON.stringify(route.source)} is enabled; enabled: ${[...sources.keys()].join(', ') || 'none'}`);
    }
    source.authenticate(request, now());
    if (source.answerWithinMs !== undefined) {
      // Cut TKE calls short to answer within the sender's deadline; claims still last until the
      // function's real timeout, since the calls they guard are bounded by the earlier deadline.
      invocation = { ...invocation, deadline: Math.min(invocation.deadline, now() + source.answerWithinMs) };
    }
    const interpretation = await source.interpret(request, now());
    const log = invocation.decision;
    if (interpretation.kind === 'reply') {
      Object.assign(log, { outcome: 'answered', note: interpretation.note });
      return noted(interpretation.reply, log);
    }
    const ignored = interpretation.ignored ?? [];
    if (ignored.length > 0) log.ignored = ignored;
    if (interpretation.requests.length === 0) {
      log.outcome = 'ignored';
      return noted(await source.reply([], ignored), log);
    }

    // One decision record per scale-out; a delivery asking for one (the common case) logs it flat.
    const outcomes: ScaleOutOutcome[] = [];
    const records: DecisionRecord[] = [];
    for (const asked of interpretation.requests) {
      const record: DecisionRecord = interpretation.requests.length === 1 ? log : {};
      records.push(record);
      try {
        outcomes.push({ ok: true, request: asked, ...(await scaleOut(asked, record, invocation)) });
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        outcomes.push({ ok: false, request: asked, error });
        record.error = { code: error.code, message: error.message, status: error.status };
        record.outcome ??= error.status >= 500 ? 'failed' : 'rejected';
      }
    }
    if (records.length > 1) {
      log.results = records;
      log.outcome = summarize(records);
    }
    return noted(await source.reply(outcomes, ignored), log);
  }

  async function scaleOut(asked: ScaleOutRequest, log: DecisionRecord, invocation: Invocation): Promise<{ status: ScaleOutStatus; answer: ScaleOutAnswer; preview?: CreateClusterInstancesRequest }> {
    Object.assign(log, {
      eventId: asked.eventId,
      cluster: asked.cluster,
      template: asked.template,
      ...(asked.count !== undefined && { count: asked.count }),
      ...(asked.reason !== undefined && { reason: asked.reason }),
      ...(asked.params.size > 0 && { params: Object.fromEntries(asked.params) }),
    });

    const resolved = resolveScaleOut(config, asked);
    const clientToken = clientTokenFor(resolved.cluster.clusterId, resolved.template.name, resolved.eventId);
    Object.assign(log, { clusterId: resolved.cluster.clusterId, region: resolved.cluster.region, count: resolved.count, clientToken });

    if (asked.dryRun === true) {
      // What would be sent, rendered by the same code; no claim, no budget, no call.
      log.outcome = 'dry-run';
      const preview = renderCreateClusterInstances(resolved, clientToken);
      const answer: ScaleOutAnswer = { eventId: resolved.eventId, clusterId: resolved.cluster.clusterId, template: resolved.template.name, count: resolved.count, clientToken, instanceIds: [], requestId: '' };
      return { status: 'dry-run', answer, preview };
    }

    const fingerprint = fingerprintOf(resolved);
    const key = idempotencyKeyFor(resolved.source, resolved.eventId);
    const claimId = newClaimId();
    const decision = await store.update<IdempotencyRecord, DeliveryDecision>(key, (current) =>
      decideDelivery(current, { claimId, fingerprint, clientToken, claimExpiresAt: invocation.timeoutAt }, now()),
    );
    switch (decision.kind) {
      case 'replay':
        Object.assign(log, { outcome: 'replayed', instanceIds: decision.answer.instanceIds, tkeRequestId: decision.answer.requestId });
        return { status: 'replayed', answer: decision.answer };
      case 'in-flight':
        throw new EventInFlightError(resolved.eventId, decision.retryAfterSeconds);
      case 'conflict':
        throw new UnprocessableError(
          'EventIdReused',
          `event ${JSON.stringify(resolved.eventId)} was already used for a different request: ${decision.differences.join('; ')}`,
        );
      case 'proceed':
        break;
    }

    // This delivery now holds the event's claim; every way out below settles it.
    const releaseEvent = () =>
      // Best effort: if the store is down, the claim still expires at our timeout, and the
      // sender should hear about the first failure, not the store's.
      store.update<IdempotencyRecord, void>(key, (current) => releaseClaim(current, claimId)).catch(() => undefined);
    const callOptions = { deadline: invocation.deadline, now, policy: config.tke };
    const scope = throttleScopeOf(resolved);

    let granted: { nodes: number; clampedBy?: string };
    try {
      const clusterNodes =
        scope.rules.maxClusterNodes === undefined
          ? undefined
          : await describeClusterNodeCount(tke, resolved.cluster.region, resolved.cluster.clusterId, callOptions);
      const ask: ThrottleAsk = {
        eventKey: key,
        claimId,
        requested: resolved.count,
        clampAllowed: resolved.template.count.clamp,
        inFlightUntil: invocation.timeoutAt,
        ...(clusterNodes !== undefined && { clusterNodes }),
      };
      const throttle = await store.update<ThrottleState, ThrottleDecision>(scope.key, (current) => decideThrottle(current, ask, scope.rules, now()));
      if (throttle.kind === 'throttled') {
        Object.assign(log, { outcome: 'throttled', throttledBy: throttle.rule });
        throw new ThrottledError(throttle.rule, throttle.detail, throttle.retryAt, now());
      }
      granted = throttle;
    } catch (error) {
      await releaseEvent();
      throw error;
    }

    const count = granted.nodes;
    const clampedBy = granted.clampedBy ?? (resolved.count < resolved.requestedCount ? 'max-count-per-event' : undefined);
    log.count = count;
    if (clampedBy !== undefined) Object.assign(log, { requestedCount: resolved.requestedCount, clampedBy });

    const createRequest = renderCreateClusterInstances({ ...resolved, count }, clientToken);
    let result: TkeCallResult;
    try {
      result = await callCreateClusterInstances(tke, resolved.cluster.region, createRequest, callOptions);
    } catch (error) {
      // Failed for good: free the event so the sender's next delivery can try again, with the same
      // ClientToken (so if TKE did act on a lost answer, CVM returns the same instances). The budget
      // goes back only when TKE said no; when the outcome is unknown the nodes may exist.
      const refused = error instanceof TkeCallError && error.tkeAnswered;
      await releaseEvent();
      await store
        .update<ThrottleState, void>(scope.key, (current) =>
          settleThrottleFailure(current, key, claimId, refused ? 'refused' : 'unknown', scope.rules, now()),
        )
        .catch(() => undefined);
      if (error instanceof TkeCallError) {
        log.attempts = error.attempts;
        if (error.requestId !== undefined) log.tkeRequestId = error.requestId;
      }
      throw error;
    }

    const stored: ScaleOutAnswer = {
      eventId: resolved.eventId,
      clusterId: resolved.cluster.clusterId,
      template: resolved.template.name,
      count,
      ...(clampedBy !== undefined && { requestedCount: resolved.requestedCount, clampedBy }),
      clientToken,
      instanceIds: result.response.InstanceIdSet,
      requestId: result.response.RequestId,
    };
    Object.assign(log, { instanceIds: stored.instanceIds, tkeRequestId: stored.requestId, attempts: result.attempts });
    // If the store fails here the nodes exist but the sender gets a 503 (and the log line has the
    // instanceIds): its retry reaches TKE with the same ClientToken and gets these instances back.
    await store.update<IdempotencyRecord, void>(key, () => completeDelivery(fingerprint, stored, now(), config.idempotency.ttlSeconds * 1000));
    await store.update<ThrottleState, void>(scope.key, (current) => settleThrottleSuccess(current, key, claimId, scope.rules, now()));
    log.outcome = 'created';
    return { status: 'created', answer: stored };
  }

  async function health(): Promise<Record<string, unknown>> {
    return {
      status: 'ok',
      clusters: Object.fromEntries([...config.clusters.values()].map((c) => [c.alias, { clusterId: c.clusterId, region: c.region, throttle: c.throttle }])),
      templates: [...config.templates.keys()],
      sources: [...sources.keys()],
      store: { kind: store.kind, shared: store.shared, reachable: await store.ping() },
      tke: { mode: deps.tkeMode, endpoint: tke.endpointDescription },
    };
  }

  return { config, now, handle };
}

/** A reply's note (e.g. a chat reply that could not be posted) goes to the log line, not to the sender. */
function noted(reply: HttpReply, log: DecisionRecord): HttpReply {
  if (reply.note === undefined) return reply;
  log.replyNote = reply.note;
  const { note: _note, ...sent } = reply;
  return sent;
}

/** The outcome of a delivery of several scale-outs, for its log line. */
function summarize(records: readonly DecisionRecord[]): DecisionRecord['outcome'] {
  const outcomes = new Set(records.map((r) => r.outcome));
  if (outcomes.size === 1) return [...outcomes][0];
  if (records.some((r) => r.outcome === 'failed')) return 'failed';
  return 'mixed';
}
