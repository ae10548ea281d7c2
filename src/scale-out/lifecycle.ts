import type { Config } from '../config/load-config';
import {
  completeDelivery,
  decideDelivery,
  fingerprintOf,
  idempotencyKeyFor,
  releaseClaim,
  type DeliveryDecision,
  type IdempotencyRecord,
  type RequestFingerprint,
  type ScaleOutAnswer,
} from '../core/idempotency';
import { costScopesOf, settleCost, type CostState } from '../core/cost-budget';
import { rungCountOf, type RungStep } from '../core/rungs';
import { renderCreateClusterInstances } from '../core/render';
import { resolveScaleOut } from '../core/resolve';
import type { ResolvedScaleOut, ScaleOutRequest, Sizing } from '../core/scale-out-request';
import { decideWarmUp, recordPurchase, warmUpKeyOf, type WarmUpDecision, type WarmUpState } from '../core/warm-up';
import {
  decideThrottle,
  settleThrottleFailure,
  settleThrottleSuccess,
  throttleScopeOf,
  type SentRequest,
  type ThrottleDecision,
  type ThrottleRules,
  type ThrottleState,
} from '../core/throttle';
import { EventInFlightError, ScaleOutError, ThrottledError, TkeCallError, UnprocessableError, type TkeAttempt } from '../errors';
import type { ScaleOutOutcome } from '../sources/webhook-source';
import type { StateStore } from '../store/state-store';
import { describeClusterNodeCount, type TkeCallOptions } from '../tke/call-tke';
import { climbLadder, planLadder } from './climb';
import { NO_PRICING, type Pricing } from './pricing';
import type { TkeApi } from '../tke/tke-api';

/**
 * One scale-out's life, step by step:
 *
 *   resolve ─▶ claim the event ─▶ reserve budget ─▶ call TKE (every attempt recorded) ─▶ settle ─▶ outcome
 *      │            │                  │                       │                           │
 *      │            ├ replay: the stored answer                │                           ├ created: record the answer,
 *      │            ├ in flight: 409   ├ throttled: 429,       │                           │  the grant is done, cooldown
 *      │            └ reused ID: 422   │  claim released       │                           ├ refused (EVERY attempt was an
 *      └ 422 (unknown cluster, ...)    └ store down: 503        │                           │  API error): budget back
 *                                                              │                           └ unknown (ANY attempt timed out
 *                                                              │                              or lost): grant kept, cooldown
 *                                                              └ every failure frees the claim, so the sender's
 *                                                                next delivery runs again with the same ClientToken
 *
 * Each step returns what it decided as data, and nothing here writes a log: the outcome carries a
 * `ScaleOutTrace` from which the edge builds the log line (scale-out/decision-record.ts). The
 * decisions themselves are the pure functions of core/; this file is the I/O around them.
 */
export interface LifecycleDeps {
  readonly config: Config;
  readonly store: StateStore;
  readonly tke: TkeApi;
  readonly now: () => number;
  readonly newClaimId: () => string;
  /** Prices for purchases a money budget covers (scale-out/pricing.ts); without it they fail closed. */
  readonly pricing?: Pricing;
}

export interface LifecycleTimes {
  /** Epoch ms by which TKE calls must end. */
  readonly deadline: number;
  /** Epoch ms at which the invocation ends: claims and in-flight grants expire then. */
  readonly timeoutAt: number;
  /**
   * TKE attempts in all for this delivery, when its sender does not retry a failed delivery itself
   * (Grafana): then the function's own retries, within its time, are the only ones. Default: tke.maxAttempts.
   */
  readonly maxTkeAttempts?: number;
}

/** What happened to one scale-out, for its log line: facts, not prose. */
export interface ScaleOutTrace {
  readonly eventId: string;
  readonly cluster: string;
  readonly template: string;
  readonly count?: number;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly reason?: string;
  readonly clusterId?: string;
  readonly region?: string;
  readonly clientToken?: string;
  readonly requestedCount?: number;
  readonly clampedBy?: string;
  readonly throttledBy?: string;
  readonly instanceIds?: readonly string[];
  readonly tkeRequestId?: string;
  /** How many TKE attempts, and what each told. */
  readonly attempts?: number;
  readonly attemptOutcomes?: readonly TkeAttempt[];
  /** True when this delivery re-sent the exact request of an earlier one whose outcome was unknown. */
  readonly resent?: true;
  /** How the call was settled with the store: nodes created, surely not created, or maybe. */
  readonly settlement?: 'created' | 'refused' | 'unknown';
  /** Store writes that failed after the decision; each says what is left and until when. */
  readonly storeFailures?: readonly string[];
  /** Each rung of the template's ladder tried or skipped, in order (core/rungs.ts). */
  readonly ladder?: readonly RungStep[];
  /** How an alarm rule sized the count, and which period of a repeating rule's episode this is. */
  readonly sizing?: Sizing;
  readonly period?: number;
}

export type TracedOutcome = ScaleOutOutcome & { readonly trace: ScaleOutTrace };

export async function runScaleOut(deps: LifecycleDeps, asked: ScaleOutRequest, times: LifecycleTimes): Promise<TracedOutcome> {
  let trace: ScaleOutTrace = traceOfRequest(asked);
  const fail = (error: ScaleOutError): TracedOutcome => ({
    ok: false,
    request: asked,
    error,
    ...(trace.clientToken !== undefined && { clientToken: trace.clientToken }),
    trace,
  });
  try {
    // 1. resolve: names → cluster, template, count, params (the config only).
    const resolution = resolveScaleOut(deps.config, asked);
    if (resolution.kind === 'refused') return fail(resolution.error);
    const { resolved } = resolution;
    trace = { ...trace, clusterId: resolved.cluster.clusterId, region: resolved.cluster.region, count: resolved.count, ...sizingOf(resolved) };

    if (asked.dryRun === true) {
      // What would be sent, rendered by the same code; no claim, no budget, no call. With a ladder or
      // a money budget, the plan: every rung, its price, what the budget leaves.
      const { request: preview, clientToken } = renderCreateClusterInstances(resolved);
      const plan =
        rungCountOf(resolved.template) > 1 || costScopesOf(resolved.cluster, deps.config.costBudget).length > 0
          ? await planLadder({ ...deps, pricing: deps.pricing ?? NO_PRICING }, resolved, times.deadline)
          : undefined;
      const answer: ScaleOutAnswer = {
        eventId: resolved.eventId,
        clusterId: resolved.cluster.clusterId,
        template: resolved.template.name,
        count: resolved.count,
        clientToken,
        instanceIds: [],
        requestId: '',
        ...sizingOf(resolved),
        ...(plan !== undefined && { plan }),
      };
      return { ok: true, request: asked, status: 'dry-run', answer, preview, trace: { ...trace, clientToken } };
    }

    // 2. claim the event: one delivery at a time, a finished one replays.
    const event = eventOf(deps, resolved, times);
    const claimed = await claimEvent(deps.store, event, deps.now());
    if (claimed.kind === 'replay') {
      const { answer } = claimed;
      return { ok: true, request: asked, status: 'replayed', answer, trace: { ...trace, instanceIds: answer.instanceIds, tkeRequestId: answer.requestId } };
    }
    if (claimed.kind === 'in-flight') return fail(new EventInFlightError(resolved.eventId, claimed.retryAfterSeconds));
    if (claimed.kind === 'conflict') {
      return fail(new UnprocessableError('EventIdReused', `event ${JSON.stringify(resolved.eventId)} was already used for a different request: ${claimed.differences.join('; ')}`));
    }

    // From here this delivery holds the claim: every way out settles it.
    const policy = times.maxTkeAttempts === undefined ? deps.config.tke : { ...deps.config.tke, maxAttempts: Math.max(deps.config.tke.maxAttempts, times.maxTkeAttempts) };
    const callOptions: TkeCallOptions = { deadline: times.deadline, now: deps.now, policy };

    // 2b. a repeat of a still-firing alarm within its rule's warm-up waits (core/warm-up.ts).
    const warming = await warmUpOf(deps, resolved);
    if (warming !== undefined) {
      const released = await releaseEvent(deps.store, event);
      trace = { ...trace, throttledBy: 'warm-up', ...storeFailures(released) };
      return fail(new ThrottledError('warm-up', warming.detail, warming.retryAt, deps.now()));
    }

    // 3. reserve budget: in flight? cooldown? node budget? cluster ceiling?
    const reservation = await reserveBudget(deps, resolved, event, callOptions);
    if (reservation.kind !== 'granted') {
      const released = await releaseEvent(deps.store, event);
      trace = { ...trace, ...(reservation.kind === 'throttled' && { throttledBy: reservation.rule }), ...storeFailures(released) };
      return fail(reservation.kind === 'throttled' ? new ThrottledError(reservation.rule, reservation.detail, reservation.retryAt, deps.now()) : reservation.error);
    }
    const count = reservation.nodes;
    const clampedBy = reservation.clampedBy ?? (resolved.count < resolved.requestedCount ? 'max-count-per-event' : undefined);
    trace = { ...trace, count, ...(clampedBy !== undefined && { requestedCount: resolved.requestedCount, clampedBy }) };

    // 4. the ladder: render each rung (its own ClientToken), or re-send exactly what an earlier
    // delivery of this event recorded; price it when the cluster has a money budget; record it;
    // call TKE with retries; on a sold-out, the next rung (scale-out/climb.ts).
    const climb = await climbLadder({ ...deps, pricing: deps.pricing ?? NO_PRICING }, resolved, event, reservation, callOptions);
    const { sent } = climb;
    const costClamped = climb.nodes < count ? 'cost-budget' : undefined;
    trace = {
      ...trace,
      count: climb.nodes,
      ...(costClamped !== undefined && { requestedCount: resolved.requestedCount, clampedBy: costClamped }),
      ...(sent !== undefined && { clientToken: sent.clientToken }),
      ...(climb.resent && { resent: true }),
      ...(climb.steps.length > 0 && { ladder: climb.steps }),
    };

    if (climb.kind === 'failed') {
      // 5a. settle a failure: the claim goes (the next delivery retries with the same ClientToken);
      // the budgets go back only when no attempt may have created nodes.
      const error = climb.error;
      const problems = await settleFailure(deps, resolved, event, climb.settlement, sent === undefined ? undefined : { clientToken: sent.clientToken, request: sent.request, rung: sent.rung });
      // Nodes may be joining after an unknown outcome: the warm-up starts as after a purchase.
      if (climb.settlement === 'unknown') problems.push(await startWarmUp(deps, resolved));
      trace = {
        ...trace,
        settlement: climb.settlement,
        ...(error instanceof TkeCallError && {
          attempts: error.attempts,
          attemptOutcomes: error.history,
          ...(error.requestId !== undefined && { tkeRequestId: error.requestId }),
        }),
        ...(error instanceof ThrottledError && { throttledBy: error.rule }),
        ...storeFailures(problems),
      };
      return fail(error);
    }

    // 5b. settle a success: remember the answer for replays, mark the grant done, start the cooldown.
    const { call } = climb;
    const bought = climb.steps[climb.steps.length - 1];
    const skipped = climb.steps.slice(0, -1);
    const finalClamp = costClamped ?? clampedBy;
    const answer: ScaleOutAnswer = {
      eventId: resolved.eventId,
      clusterId: resolved.cluster.clusterId,
      template: resolved.template.name,
      count: climb.nodes,
      ...(finalClamp !== undefined && { requestedCount: resolved.requestedCount, clampedBy: finalClamp }),
      clientToken: climb.sent.clientToken,
      instanceIds: call.response.InstanceIdSet,
      requestId: call.response.RequestId,
      ...sizingOf(resolved),
      ...(bought !== undefined && (rungCountOf(resolved.template) > 1 || bought.price !== undefined) && { bought: { ...bought } }),
      ...(skipped.length > 0 && { skipped }),
    };
    trace = { ...trace, instanceIds: answer.instanceIds, tkeRequestId: answer.requestId, attempts: call.attempts, attemptOutcomes: call.history, settlement: 'created' };
    // If the record cannot be written, the nodes exist but a redelivery would not replay them: the
    // sender gets the store's 503, and its retry reaches TKE with the same ClientToken, which
    // returns these same instances (the trace has their IDs for the log line).
    await deps.store.update<IdempotencyRecord, void>(event.key, () => completeDelivery(event.fingerprint, answer, deps.now(), deps.config.idempotency.ttlSeconds * 1000));
    const settled = await storeWrite(
      () => deps.store.update<ThrottleState, void>(event.scope.key, (current) => settleThrottleSuccess(current, event.key, event.claimId, event.scope.rules, deps.now())),
      grantLeftInFlight(event),
    );
    const costSettled = await settleMoney(deps, resolved, event, 'created');
    const warmUpStarted = await startWarmUp(deps, resolved);
    return { ok: true, request: asked, status: 'created', answer, trace: { ...trace, ...storeFailures([settled, costSettled, warmUpStarted]) } };
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return fail(error);
  }
}

/** The event being handled, with everything the store steps need to find it again. */
interface EventClaim {
  readonly key: string;
  readonly claimId: string;
  readonly fingerprint: RequestFingerprint;
  readonly timeoutAt: number;
  readonly scope: { readonly key: string; readonly rules: ThrottleRules };
}

function eventOf(deps: LifecycleDeps, resolved: ResolvedScaleOut, times: LifecycleTimes): EventClaim {
  return {
    key: idempotencyKeyFor(resolved.source, resolved.eventId),
    claimId: deps.newClaimId(),
    fingerprint: fingerprintOf(resolved),
    timeoutAt: times.timeoutAt,
    scope: throttleScopeOf(resolved),
  };
}

function claimEvent(store: StateStore, event: EventClaim, now: number): Promise<DeliveryDecision> {
  return store.update<IdempotencyRecord, DeliveryDecision>(event.key, (current) =>
    decideDelivery(current, { claimId: event.claimId, fingerprint: event.fingerprint, claimExpiresAt: event.timeoutAt }, now),
  );
}

type Reservation = Extract<ThrottleDecision, { kind: 'granted' }> | Extract<ThrottleDecision, { kind: 'throttled' }> | { readonly kind: 'failed'; readonly error: ScaleOutError };

async function reserveBudget(deps: LifecycleDeps, resolved: ResolvedScaleOut, event: EventClaim, callOptions: TkeCallOptions): Promise<Reservation> {
  try {
    // The ceiling needs the cluster's size, read just before: I/O stays out of the pure step.
    const clusterNodes =
      event.scope.rules.maxClusterNodes === undefined
        ? undefined
        : await describeClusterNodeCount(deps.tke, resolved.cluster.region, resolved.cluster.clusterId, callOptions);
    const ask = {
      eventKey: event.key,
      claimId: event.claimId,
      requested: resolved.count,
      clampAllowed: resolved.template.count.clamp,
      inFlightUntil: event.timeoutAt,
      ...(clusterNodes !== undefined && { clusterNodes }),
    };
    const now = deps.now();
    return await deps.store.update<ThrottleState, ThrottleDecision>(event.scope.key, (current) => decideThrottle(current, ask, event.scope.rules, now));
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return { kind: 'failed', error };
  }
}

/** Frees the claim so the sender's next delivery runs again; only our own claim, by its ID. */
function releaseEvent(store: StateStore, event: EventClaim): Promise<string | undefined> {
  return storeWrite(
    () => store.update<IdempotencyRecord, void>(event.key, (current) => releaseClaim(current, event.claimId)),
    `the claim on ${event.key} could not be released: redeliveries get 409 until it expires at ${iso(event.timeoutAt)}`,
  );
}

async function settleFailure(deps: LifecycleDeps, resolved: ResolvedScaleOut, event: EventClaim, settlement: 'refused' | 'unknown', sent: SentRequest | undefined): Promise<Array<string | undefined>> {
  const released = await releaseEvent(deps.store, event);
  const costSettled = await settleMoney(deps, resolved, event, settlement);
  const settled = await storeWrite(
    () => deps.store.update<ThrottleState, void>(event.scope.key, (current) => settleThrottleFailure(current, event.key, event.claimId, settlement, event.scope.rules, deps.now(), sent)),
    settlement === 'refused'
      ? `the budget taken on ${event.scope.key} could not be given back: it stays counted for the window`
      : grantLeftInFlight(event),
  );
  return [released, settled, costSettled];
}

/** Settles the event's money reservations, in every budget it falls under (core/cost-budget.ts). */
async function settleMoney(deps: LifecycleDeps, resolved: ResolvedScaleOut, event: EventClaim, outcome: 'created' | 'refused' | 'unknown'): Promise<string | undefined> {
  const problems: string[] = [];
  for (const scope of costScopesOf(resolved.cluster, deps.config.costBudget)) {
    const problem = await storeWrite(
      () => deps.store.update<CostState, void>(scope.key, (current) => settleCost(current, event.key, event.claimId, outcome, scope.budget, deps.now())),
      outcome === 'refused'
        ? `the money reserved on ${scope.key} could not be given back: it stays counted for the window`
        : `the money reservation on ${scope.key} could not be settled: it stays reserved for the window`,
    );
    if (problem !== undefined) problems.push(problem);
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}

/** The answer's and the log line's account of how the count was chosen and which repeat period this is. */
function sizingOf(resolved: ResolvedScaleOut): { sizing?: Sizing; period?: number } {
  return { ...(resolved.sizing !== undefined && { sizing: resolved.sizing }), ...(resolved.repeat !== undefined && { period: resolved.repeat.period }) };
}

/** A repeat (period 1 and on) within the rule's warm-up of the episode's last purchase. */
async function warmUpOf(deps: LifecycleDeps, resolved: ResolvedScaleOut): Promise<Extract<WarmUpDecision, { kind: 'warming-up' }> | undefined> {
  const repeat = resolved.repeat;
  if (repeat?.warmUpSeconds === undefined || repeat.period === 0) return undefined;
  const decision = await deps.store.update<WarmUpState, WarmUpDecision>(warmUpKeyOf(resolved.cluster.clusterId, resolved.source, repeat.episode), (current) =>
    decideWarmUp(current, repeat.warmUpSeconds!, deps.now()),
  );
  return decision.kind === 'warming-up' ? decision : undefined;
}

/** The episode bought (or may have): its warm-up starts now. */
function startWarmUp(deps: LifecycleDeps, resolved: ResolvedScaleOut): Promise<string | undefined> {
  const repeat = resolved.repeat;
  if (repeat?.warmUpSeconds === undefined) return Promise.resolve(undefined);
  const key = warmUpKeyOf(resolved.cluster.clusterId, resolved.source, repeat.episode);
  return storeWrite(() => deps.store.update<WarmUpState, void>(key, () => recordPurchase(repeat.warmUpSeconds!, deps.now())), `the warm-up of ${key} could not be started: a repeat may come before it`);
}

/** What an unsettled grant leaves behind (the success path and an unknown outcome settle it the same way). */
function grantLeftInFlight(event: EventClaim): string {
  return `the throttle of ${event.scope.key} could not be settled: the grant counts as in flight until ${iso(event.timeoutAt)} and the cooldown did not start`;
}

/**
 * A store write after the decision was made. Its failure must not hide the outcome the sender
 * needs to hear (TKE's answer), so it is reported as data for the log line, saying what it leaves
 * behind, instead of being thrown or swallowed.
 */
async function storeWrite(write: () => Promise<unknown>, consequence: string): Promise<string | undefined> {
  try {
    await write();
    return undefined;
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return `${consequence} (${error.code}: ${error.message})`;
  }
}

function storeFailures(problems: string | undefined | ReadonlyArray<string | undefined>): Pick<ScaleOutTrace, 'storeFailures'> {
  const list = (Array.isArray(problems) ? problems : [problems]).filter((p): p is string => p !== undefined);
  return list.length === 0 ? {} : { storeFailures: list };
}

function traceOfRequest(asked: ScaleOutRequest): ScaleOutTrace {
  return {
    eventId: asked.eventId,
    cluster: asked.cluster,
    template: asked.template,
    ...(asked.count !== undefined && { count: asked.count }),
    ...(asked.reason !== undefined && { reason: asked.reason }),
    ...(asked.params.size > 0 && { params: Object.fromEntries(asked.params) }),
  };
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** A scale-out the sender asked for that could not even be planned (e.g. an alert's count annotation is not a number). */
export function refusedOutcome(request: ScaleOutRequest, error: ScaleOutError): TracedOutcome {
  return { ok: false, request, error, trace: traceOfRequest(request) };
}
