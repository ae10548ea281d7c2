import type { Config } from '../config/load-config';
import { costScopesOf, settleCost, type CostState } from '../core/cost-budget';
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
  type SentRequest,
} from '../core/idempotency';
import { purchaseIndexKeyOf, purchaseKeyOf, purchaseRecordOf, storePurchase, unindexPurchase, withdrawPurchase, type PurchaseDraft, type PurchaseIndex, type PurchaseRecord } from '../core/purchase';
import { renderCreateClusterInstances } from '../core/render';
import { resolveScaleOut } from '../core/resolve';
import { rungCountOf, type LadderPlan, type RungStep } from '../core/rungs';
import type { ResolvedScaleOut, ScaleOutRequest, Sizing } from '../core/scale-out-request';
import { offeringOf } from '../core/sold-out';
import { decideThrottle, settleThrottle, throttleScopeOf, type ThrottleDecision, type ThrottleRules, type ThrottleState } from '../core/throttle';
import { decideWarmUp, recordPurchase, warmUpKeyOf, type WarmUpDecision, type WarmUpState } from '../core/warm-up';
import { EventInFlightError, ExceedsLimitError, ScaleOutError, ThrottledError, TkeCallError, UnprocessableError, type TkeAttempt } from '../errors';
import type { ScaleOutOutcome } from '../sources/webhook-source';
import type { StateStore } from '../store/state-store';
import { describeClusterNodeCount, type TkeCallOptions } from '../tke/call-tke';
import type { TkeApi } from '../tke/tke-api';
import { climbLadder, planLadder, resendRecorded, type Climb } from './climb';
import { NO_PRICING, type Pricing } from './pricing';
import { anyoneListens, boughtNotice, heldBackNotice, restoredNotice } from '../notify/news';
import { restoreNodes, restoredEarlier, type Restore } from './restore';
import type { ClusterConfig } from '../core/model';
import type { KubeApi } from '../kubernetes/kube-api';
import type { Notice } from '../core/notice';

/**
 * One scale-out's life, step by step:
 *
 *   resolve ─▶ claim ─▶ warm-up ─▶ throttle ─▶ climb the ladder (or re-send) ─▶ settle ─▶ outcome
 *     │          │         │           │             │                             │
 *     │          │         │           │             ├ per rung: sold out recently? ├ created: answer recorded for
 *     │          │         │           │             │  price + money budget,       │  replays, grant spent, money
 *     │          │         │           │             │  record the request, call    │  spent, cooldown + warm-up
 *     │          │         │           │             ├ re-send: what an earlier     ├ refused (EVERY attempt an API
 *     │          │         │           │             │  delivery sent, byte for     │  error): claim freed, grant
 *     │          │         │           │             │  byte, whatever the ladder   │  and money back
 *     │          │         │           │             │  is now                      └ unknown (ANY attempt lost):
 *     │          │         │           │             └ sold out everywhere: 503;       claim freed, the request kept
 *     │          │         │           │               over the money budget: 429        for the re-send, grant and
 *     │          │         │           │               (422 if it never fits)            money kept, cooldown + warm-up
 *     │          │         │           ├ 429 throttled (422 if it never fits); 503 if the node count cannot be read
 *     │          │         └ 429 a repeat within its rule's warm-up
 *     │          ├ replay: the stored answer; in flight: 409; ID reused for another request: 422
 *     └ 422 unknown cluster, template, param; dry run: the plan, nothing claimed
 *
 * Between the claim and the warm-up, the template's nodes being given back are put back in service
 * (scale-out/restore.ts; not for a re-send): all of the count put back is the outcome `restored`,
 * nothing bought; else the rest goes on with the count lowered by what was put back.
 *
 * Every way out after the claim releases it, so the sender's next delivery runs again. Each step
 * returns what it decided as data, and nothing here writes a log: the outcome carries a
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
  /** A cluster's Kubernetes API: nodes being given back are put back before anything is bought. */
  readonly kubeFor?: (cluster: ClusterConfig) => KubeApi | undefined;
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
  /** The purchase this event is (core/marks.ts): its record in GET /purchases, its marks on the nodes. */
  readonly purchaseId?: string;
  readonly clientToken?: string;
  readonly requestedCount?: number;
  readonly clampedBy?: string;
  readonly throttledBy?: string;
  readonly instanceIds?: readonly string[];
  readonly tkeRequestId?: string;
  /** How many TKE attempts, and what each told. */
  readonly attempts?: number;
  readonly attemptOutcomes?: readonly TkeAttempt[];
  /** True when this delivery re-sent the exact request of an earlier one that may have bought (unknown outcome, or its holder died). */
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
  /** Nodes being given back that this scale-out put back in service instead of buying them (scale-out/restore.ts). */
  readonly restored?: readonly string[];
  /** Asks to give nodes back withdrawn: the need is back. */
  readonly releaseAsksWithdrawn?: number;
  /** Why nodes being given back could not be put back (then bought instead). */
  readonly restoreProblems?: readonly string[];
}

/**
 * An outcome with its log line's facts and, when it is news for the team (nodes bought; a budget
 * spent, the ceiling reached, CVM sold out), the notice (notify/news.ts): the app sends it.
 */
export type TracedOutcome = ScaleOutOutcome & { readonly trace: ScaleOutTrace; readonly notice?: Notice };

export async function runScaleOut(deps: LifecycleDeps, asked: ScaleOutRequest, times: LifecycleTimes): Promise<TracedOutcome> {
  try {
    // 1. resolve: names → cluster, template, count, params (the config only).
    const resolution = resolveScaleOut(deps.config, asked);
    if (resolution.kind === 'refused') return refusedOutcome(asked, resolution.error);
    const { resolved } = resolution;
    if (asked.dryRun === true) return await dryRun(deps, asked, resolved, times);

    // 2. claim the event: one delivery at a time, a finished one replays, and an earlier
    // delivery's request that may have bought comes back to be re-sent.
    const event = eventOf(deps, asked, resolved, times);
    const claimed = await claimEvent(deps.store, event, deps.now());
    if (claimed.kind !== 'proceed') return claimOutcome(asked, resolved, claimed);

    // From here this delivery holds the claim: every way out settles it.
    // 3. a repeat within its warm-up is held before anything (a re-send is its event's own purchase: no warm-up).
    const warming = claimed.resend === undefined ? await warmUpHold(deps, resolved) : undefined;
    if (warming !== undefined) return await heldOutcome(deps, asked, resolved, event, warming, {});

    // 4. put back the template's nodes being given back, before buying any (not for a re-send:
    // its count is what it sent, which may have bought; it only says what was put back before).
    // Every node put back is one fewer to buy.
    let restore: Restore;
    try {
      restore = claimed.resend === undefined ? await restoreNodes(deps, resolved.cluster, resolved.template.name, event.key, resolved.count, times.deadline, { holder: event.claimId }) : { instanceIds: await restoredEarlier(deps, resolved.cluster, event.key).catch(() => []) };
    } catch (error) {
      // The store failed before it said what an earlier delivery put back: buying could exceed the count.
      if (!(error instanceof ScaleOutError)) throw error;
      return failed(asked, error, { ...traceOf(asked, resolved), ...storeFailures(await releaseEvent(deps, event, 'refused')) });
    }
    const putBack = claimed.resend === undefined ? restore.instanceIds : [];
    if (putBack.length >= resolved.count) return await settleRestored(deps, asked, resolved, event, restore);
    const toBuy = lessPutBack(resolved, putBack.length);
    const restoredTrace = traceOfRestore(restore);

    // 5. hold back? The throttle (in flight, cooldown, node budget, ceiling). A re-send asks for
    // exactly the nodes it sent.
    const grant = await holdBackOrGrant(deps, toBuy, event, claimed.resend, times);
    if (grant.kind === 'held') return await heldOutcome(deps, asked, toBuy, event, grant, restoredTrace);
    const resend = claimed.resend ?? legacyResendOf(grant, toBuy);
    // The purchase knows where its nodes are counted: a cleanup gives them back there.
    const held: EventClaim = { ...event, purchase: { ...event.purchase, counted: { nodes: { key: event.scope.key, eventKey: event.key, at: grant.at } } } };

    // 6. to TKE: re-send what was recorded, or climb the ladder (price, money budget, record the
    // request before the call, call; on a sold-out, the next rung): scale-out/climb.ts.
    const climbDeps = { ...deps, pricing: deps.pricing ?? NO_PRICING };
    const callOptions = callOptionsOf(deps, times);
    const climb = resend !== undefined ? await resendRecorded(climbDeps, toBuy, held, resend, callOptions) : await climbLadder(climbDeps, toBuy, held, grant.nodes, callOptions);

    // 7. settle with the store, by what every attempt told.
    const settled = climb.kind === 'created' ? await settleCreated(deps, asked, toBuy, held, grant, climb, restore.instanceIds) : await settleFailed(deps, asked, toBuy, held, grant, climb, resend);
    return withHeldBackNotice(deps, asked, toBuy, { ...settled, trace: { ...settled.trace, ...restoredTrace } });
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return refusedOutcome(asked, error);
  }
}

/** What would be sent, rendered by the same code; no claim, no budget, no call. With a ladder or a money budget, the plan. */
async function dryRun(deps: LifecycleDeps, asked: ScaleOutRequest, resolved: ResolvedScaleOut, times: LifecycleTimes): Promise<TracedOutcome> {
  // Nodes being given back it would put back first: the rest is what it would buy.
  const restore = await restoreNodes(deps, resolved.cluster, resolved.template.name, idempotencyKeyFor(resolved.source, resolved.eventId), resolved.count, times.deadline, { dryRun: true });
  const restored = restore.instanceIds;
  if (restored.length >= resolved.count) {
    return { ok: true, request: asked, status: 'dry-run', answer: answerOf(resolved, { count: 0, clientToken: '', restored }), trace: { ...traceOf(asked, resolved), count: 0, restored } };
  }
  const toBuy = lessPutBack(resolved, restored.length);
  const { request: preview, clientToken } = renderCreateClusterInstances(toBuy);
  const plan =
    rungCountOf(toBuy.template) > 1 || costScopesOf(toBuy.cluster, deps.config.costBudget).length > 0
      ? await planLadder({ ...deps, pricing: deps.pricing ?? NO_PRICING }, toBuy, times.deadline)
      : undefined;
  const answer = answerOf(toBuy, { count: toBuy.count, clientToken, plan, ...(restored.length > 0 && { restored }) });
  return { ok: true, request: asked, status: 'dry-run', answer, preview, trace: { ...traceOf(asked, toBuy), clientToken, ...(restored.length > 0 && { restored }) } };
}

/**
 * Every node asked for was put back in service: nothing to buy. The answer is recorded for replays
 * like a purchase's; no grant was taken, no cooldown starts (nothing new has to join).
 */
async function settleRestored(deps: LifecycleDeps, asked: ScaleOutRequest, resolved: ResolvedScaleOut, event: EventClaim, restore: Restore): Promise<TracedOutcome> {
  const answer = answerOf(resolved, { count: 0, clientToken: '', restored: restore.instanceIds });
  const trace: ScaleOutTrace = { ...traceOf(asked, resolved), count: 0, ...traceOfRestore(restore) };
  try {
    await deps.store.update<IdempotencyRecord, void>(event.key, () => completeDelivery(event.fingerprint, answer, deps.now(), deps.config.idempotency.ttlSeconds * 1000));
  } catch (error) {
    // The nodes are back all the same: the redelivery counts them (restoredBy) and records the answer then.
    if (!(error instanceof ScaleOutError)) throw error;
    return failed(asked, error, { ...trace, ...storeFailures(await releaseEvent(deps, event, 'refused')) });
  }
  const restored: TracedOutcome = { ok: true, request: asked, status: 'restored', answer, trace };
  return anyoneListens(deps.config, asked) ? { ...restored, notice: restoredNotice(resolved, asked, restore.instanceIds, deps.now()) } : restored;
}

/** What is left to buy once `putBack` nodes were put back in service: the count and what was asked, both lowered (no clamp is said). */
function lessPutBack(resolved: ResolvedScaleOut, putBack: number): ResolvedScaleOut {
  return putBack === 0 ? resolved : { ...resolved, count: resolved.count - putBack, requestedCount: resolved.requestedCount - putBack };
}

function traceOfRestore(restore: Restore | undefined): Pick<ScaleOutTrace, 'restored' | 'releaseAsksWithdrawn' | 'restoreProblems'> {
  if (restore === undefined) return {};
  return {
    ...(restore.instanceIds.length > 0 && { restored: restore.instanceIds }),
    ...(restore.withdrawn !== undefined && { releaseAsksWithdrawn: restore.withdrawn }),
    ...(restore.problems !== undefined && { restoreProblems: restore.problems }),
  };
}

function claimOutcome(asked: ScaleOutRequest, resolved: ResolvedScaleOut, claimed: Exclude<DeliveryDecision, { kind: 'proceed' }>): TracedOutcome {
  const trace = traceOf(asked, resolved);
  if (claimed.kind === 'replay') {
    const { answer } = claimed;
    return { ok: true, request: asked, status: 'replayed', answer, trace: { ...trace, instanceIds: answer.instanceIds, tkeRequestId: answer.requestId } };
  }
  if (claimed.kind === 'in-flight') return failed(asked, new EventInFlightError(resolved.eventId, claimed.retryAfterSeconds), trace);
  return failed(asked, new UnprocessableError('EventIdReused', `event ${JSON.stringify(resolved.eventId)} was already used for a different request: ${claimed.differences.join('; ')}`), trace);
}

/** TKE created the nodes: the answer is recorded for replays, the grant and the money are spent, the cooldown and warm-up start. */
async function settleCreated(
  deps: LifecycleDeps,
  asked: ScaleOutRequest,
  resolved: ResolvedScaleOut,
  event: EventClaim,
  grant: Granted,
  climb: Extract<Climb, { kind: 'created' }>,
  /** Nodes put back in service for the rest of the count (scale-out/restore.ts). */
  restored: readonly string[],
): Promise<TracedOutcome> {
  const { call, sent, steps } = climb;
  const bought = steps[steps.length - 1];
  const answer = answerOf(resolved, {
    count: sent.nodes,
    ...clampOf(resolved, grant, sent.nodes),
    clientToken: sent.clientToken,
    instanceIds: call.response.InstanceIdSet,
    requestId: call.response.RequestId,
    ...(bought !== undefined && (rungCountOf(resolved.template) > 1 || bought.price !== undefined) && { bought }),
    ...(steps.length > 1 && { skipped: steps.slice(0, -1) }),
    ...(restored.length > 0 && { restored }),
  });
  const trace: ScaleOutTrace = {
    ...traceOfClimb(asked, resolved, grant, climb),
    instanceIds: answer.instanceIds,
    tkeRequestId: answer.requestId,
    attempts: call.attempts,
    attemptOutcomes: call.history,
    settlement: 'created',
  };
  try {
    await deps.store.update<IdempotencyRecord, void>(event.key, () => completeDelivery(event.fingerprint, answer, deps.now(), deps.config.idempotency.ttlSeconds * 1000));
  } catch (error) {
    // The nodes exist but a redelivery would not replay them: the sender gets the store's 503,
    // and its retry re-sends the recorded request with the same ClientToken, which TKE answers
    // with these same instances (the trace has their IDs for the log line).
    if (!(error instanceof ScaleOutError)) throw error;
    // The budgets keep the purchase as one that may exist (never given back, cooldown started)
    // until the re-send settles it.
    const problems = [
      await releaseEvent(deps, event, 'unknown'),
      await settleNodes(deps, event, 'unknown'),
      await settleMoney(deps, resolved, event, 'unknown'),
      await startWarmUp(deps, resolved),
      await recordInstances(deps, event, sent, bought?.price, call.response.InstanceIdSet),
    ];
    return failed(asked, error, { ...trace, settlement: 'unknown', ...storeFailures(problems) }, sent.clientToken);
  }
  const problems = [
    await settleNodes(deps, event, 'created'),
    await settleMoney(deps, resolved, event, 'created'),
    await startWarmUp(deps, resolved),
    await recordInstances(deps, event, sent, bought?.price, call.response.InstanceIdSet),
  ];
  const created: TracedOutcome = { ok: true, request: asked, status: 'created', answer, trace: { ...trace, ...storeFailures(problems) } };
  if (!anyoneListens(deps.config, asked)) return created;
  const purchase = purchaseRecordOf(event.purchase, sent, offeringOf(sent.region, sent.request), deps.now(), { instanceIds: answer.instanceIds, ...(bought?.price !== undefined && { price: bought.price }) });
  return { ...created, notice: boughtNotice(purchase, deps.now(), { answer, asked }) };
}

/** A refusal that is news (a budget spent, the ceiling, sold out everywhere) carries its notice. */
function withHeldBackNotice(deps: LifecycleDeps, asked: ScaleOutRequest, resolved: ResolvedScaleOut, outcome: TracedOutcome): TracedOutcome {
  if (outcome.ok || !anyoneListens(deps.config, asked)) return outcome;
  const notice = heldBackNotice(deps.config, resolved, asked, outcome.error, deps.now());
  return notice === undefined ? outcome : { ...outcome, notice };
}

/**
 * The climb failed: the claim goes (the next delivery runs again, and re-sends a request that may
 * have bought); the budgets go back only when no call may have created nodes. A re-send's refusal
 * does not say its first sending bought nothing (a holder that died, an unknown outcome): it is
 * settled as unknown, so the grant and the money stay counted and the cooldown starts.
 */
async function settleFailed(deps: LifecycleDeps, asked: ScaleOutRequest, resolved: ResolvedScaleOut, event: EventClaim, grant: Granted, climb: Extract<Climb, { kind: 'failed' }>, resend: SentRequest | undefined): Promise<TracedOutcome> {
  const { error } = climb;
  const settlement = resend?.mayHaveBought === true ? 'unknown' : climb.settlement;
  const problems = [await releaseEvent(deps, event, settlement), await settleMoney(deps, resolved, event, settlement), await settleNodes(deps, event, settlement)];
  // Nodes may be joining after an unknown outcome: the warm-up starts as after a purchase, and the
  // purchase stays recorded as `requested` (its instances to be found by the function's marks).
  // Refused outright, it bought nothing: it is no purchase.
  if (settlement === 'unknown') problems.push(await startWarmUp(deps, resolved));
  else if (climb.steps.some((step) => step.clientToken !== undefined)) problems.push(await withdrawTheRequested(deps, event));
  const trace: ScaleOutTrace = {
    ...traceOfClimb(asked, resolved, grant, climb),
    settlement,
    ...(error instanceof TkeCallError && {
      attempts: error.attempts,
      attemptOutcomes: error.history,
      ...(error.requestId !== undefined && { tkeRequestId: error.requestId }),
    }),
    ...(error instanceof ThrottledError && { throttledBy: error.rule }),
    ...storeFailures(problems),
  };
  return failed(asked, error, trace, climb.sent?.clientToken);
}

/** The event being handled, with everything the store steps need to find it again. */
interface EventClaim {
  readonly key: string;
  readonly claimId: string;
  readonly fingerprint: RequestFingerprint;
  readonly timeoutAt: number;
  readonly scope: { readonly key: string; readonly rules: ThrottleRules };
  readonly purchase: PurchaseDraft;
}

function eventOf(deps: LifecycleDeps, asked: ScaleOutRequest, resolved: ResolvedScaleOut, times: LifecycleTimes): EventClaim {
  return {
    key: idempotencyKeyFor(resolved.source, resolved.eventId),
    claimId: deps.newClaimId(),
    fingerprint: fingerprintOf(resolved),
    timeoutAt: times.timeoutAt,
    scope: throttleScopeOf(resolved),
    purchase: {
      id: resolved.marks.purchase,
      owner: resolved.marks.owner,
      cluster: resolved.cluster.alias,
      clusterId: resolved.cluster.clusterId,
      template: resolved.template.name,
      askedBy: {
        source: asked.source,
        eventId: asked.eventId,
        ...(asked.reason !== undefined && { reason: asked.reason }),
        ...(resolved.repeat !== undefined && { period: resolved.repeat.period }),
        ...(asked.origin !== undefined && { origin: asked.origin }),
      },
    },
  };
}

function claimEvent(store: StateStore, event: EventClaim, now: number): Promise<DeliveryDecision> {
  return store.update<IdempotencyRecord, DeliveryDecision>(event.key, (current) =>
    decideDelivery(current, { claimId: event.claimId, fingerprint: event.fingerprint, claimExpiresAt: event.timeoutAt }, now),
  );
}

/**
 * A grant the previous version stored carries the request it sent (before the event's record kept
 * it): the event's redelivery re-sends exactly it, as one that may have bought.
 */
function legacyResendOf(grant: Granted, resolved: ResolvedScaleOut): SentRequest | undefined {
  const legacy = grant.legacySent;
  if (legacy === undefined) return undefined;
  let count: unknown;
  try {
    count = (JSON.parse(legacy.request.RunInstancePara) as { InstanceCount?: unknown } | null)?.InstanceCount;
  } catch {
    // Sent as it was all the same: TKE judges it; the grant's own count is what it holds.
  }
  return {
    clientToken: legacy.clientToken,
    request: legacy.request as SentRequest['request'],
    rung: legacy.rung ?? 1,
    region: resolved.cluster.region,
    nodes: typeof count === 'number' && Number.isInteger(count) && count > 0 ? count : grant.nodes,
    mayHaveBought: true,
  };
}

/** The sender's own attempts when it says (Grafana: more, since it never retries; any sender: fewer), else the config's. */
function callOptionsOf(deps: LifecycleDeps, times: LifecycleTimes): TkeCallOptions {
  const policy = times.maxTkeAttempts === undefined ? deps.config.tke : { ...deps.config.tke, maxAttempts: times.maxTkeAttempts };
  return { deadline: times.deadline, now: deps.now, policy };
}

type Granted = Extract<ThrottleDecision, { kind: 'granted' }>;
type HeldBack = { readonly kind: 'held'; readonly error: ScaleOutError; /** the throttle's or warm-up's rule */ readonly rule?: string };

/** A repeat within its warm-up (core/warm-up.ts): held, said as the throttle says it. */
async function warmUpHold(deps: LifecycleDeps, resolved: ResolvedScaleOut): Promise<HeldBack | undefined> {
  try {
    const warming = await warmUpOf(deps, resolved);
    return warming === undefined ? undefined : { kind: 'held', error: new ThrottledError('warm-up', warming.detail, warming.retryAt, deps.now()), rule: 'warm-up' };
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return { kind: 'held', error };
  }
}

/** Held back (the warm-up, the throttle): the claim is freed so the sender's next delivery runs again. */
async function heldOutcome(deps: LifecycleDeps, asked: ScaleOutRequest, resolved: ResolvedScaleOut, event: EventClaim, held: HeldBack, more: Partial<ScaleOutTrace>): Promise<TracedOutcome> {
  const released = await releaseEvent(deps, event, 'refused');
  return withHeldBackNotice(deps, asked, resolved, failed(asked, held.error, { ...traceOf(asked, resolved), ...more, ...(held.rule !== undefined && { throttledBy: held.rule }), ...storeFailures(released) }));
}

/**
 * The throttle (core/throttle.ts). A re-send is its event's own purchase: it asks for exactly the
 * nodes it sent, unclamped.
 */
async function holdBackOrGrant(deps: LifecycleDeps, resolved: ResolvedScaleOut, event: EventClaim, resend: SentRequest | undefined, times: LifecycleTimes): Promise<Granted | HeldBack> {
  try {
    // The ceiling needs the cluster's size, read just before: I/O stays out of the pure step. A
    // read that fails is a refusal that bought nothing (TkeReadError), never an unknown purchase.
    const clusterNodes =
      event.scope.rules.maxClusterNodes === undefined
        ? undefined
        : await describeClusterNodeCount(deps.tke, resolved.cluster.region, resolved.cluster.clusterId, callOptionsOf(deps, times));
    const ask = {
      eventKey: event.key,
      claimId: event.claimId,
      requested: resend?.nodes ?? resolved.count,
      clampAllowed: resend === undefined && resolved.template.count.clamp,
      inFlightUntil: event.timeoutAt,
      ...(clusterNodes !== undefined && { clusterNodes }),
    };
    const now = deps.now();
    const decision = await deps.store.update<ThrottleState, ThrottleDecision>(event.scope.key, (current) => decideThrottle(current, ask, event.scope.rules, now));
    if (decision.kind === 'throttled') return { kind: 'held', error: new ThrottledError(decision.rule, decision.detail, decision.retryAt, now), rule: decision.rule };
    if (decision.kind === 'beyond-limit') return { kind: 'held', error: new ExceedsLimitError(decision.rule, decision.detail) };
    return decision;
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return { kind: 'held', error };
  }
}

/** Frees the claim so the sender's next delivery runs again; only our own claim, by its ID. */
function releaseEvent(deps: LifecycleDeps, event: EventClaim, outcome: 'refused' | 'unknown'): Promise<string | undefined> {
  return storeWrite(
    () => deps.store.update<IdempotencyRecord, void>(event.key, (current) => releaseClaim(current, event.claimId, outcome, deps.now(), deps.config.idempotency.ttlSeconds * 1000)),
    `the claim on ${event.key} could not be released: redeliveries get 409 until it expires at ${iso(event.timeoutAt)}`,
  );
}

/** Settles the event's node grant (core/throttle.ts). */
function settleNodes(deps: LifecycleDeps, event: EventClaim, outcome: 'created' | 'refused' | 'unknown'): Promise<string | undefined> {
  return storeWrite(
    () => deps.store.update<ThrottleState, void>(event.scope.key, (current) => settleThrottle(current, event.key, event.claimId, outcome, event.scope.rules, deps.now())),
    outcome === 'refused'
      ? `the budget taken on ${event.scope.key} could not be given back: it stays counted for the window`
      : `the throttle of ${event.scope.key} could not be settled: the grant counts as in flight until ${iso(event.timeoutAt)} and the cooldown did not start`,
  );
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

/**
 * The purchase, recorded as `requested` before its call (scale-out/climb.ts), learns its instances:
 * `created` (core/purchase.ts). A store that fails here leaves it `requested`, named in the log.
 */
async function recordInstances(deps: LifecycleDeps, event: EventClaim, sent: SentRequest, price: RungStep['price'], instanceIds: readonly string[]): Promise<string | undefined> {
  const now = deps.now();
  const retentionMs = deps.config.purchases.retentionDays * 86_400_000;
  const record = purchaseRecordOf(event.purchase, sent, offeringOf(sent.region, sent.request), now, { instanceIds, ...(price !== undefined && { price }) });
  const key = purchaseKeyOf(record.clusterId, record.id);
  // Listed before the call already: the list does not change.
  return storeWrite(
    () => deps.store.update<PurchaseRecord, PurchaseRecord>(key, (current) => storePurchase(current, record, now, retentionMs)),
    `purchase ${record.id} (${key}) could not learn its instances ${instanceIds.join(', ')}: it stays "requested"`,
  );
}

/** A call refused outright bought nothing: the purchase recorded before it is withdrawn. */
async function withdrawTheRequested(deps: LifecycleDeps, event: EventClaim): Promise<string | undefined> {
  const key = purchaseKeyOf(event.purchase.clusterId, event.purchase.id);
  return storeWrite(async () => {
    // No record left (withdrawn now, or never written): it leaves the list too.
    if ((await deps.store.update<PurchaseRecord, 'gone' | 'kept'>(key, withdrawPurchase)) === 'gone') await deps.store.update<PurchaseIndex, void>(purchaseIndexKeyOf(event.purchase.clusterId), (current) => unindexPurchase(current, event.purchase.id, deps.now()));
  }, `purchase ${event.purchase.id} (${key}) was refused but could not be withdrawn: it stays listed as "requested"`);
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

/** Which rule lowered the count, if any: the throttle's, the template's per-event maximum, or the money budget's. */
function clampOf(resolved: ResolvedScaleOut, grant: Granted, nodes: number): Pick<ScaleOutAnswer, 'requestedCount' | 'clampedBy'> {
  const clampedBy = nodes < grant.nodes ? 'cost-budget' : (grant.clampedBy ?? (resolved.count < resolved.requestedCount ? 'max-count-per-event' : undefined));
  return clampedBy === undefined ? {} : { requestedCount: resolved.requestedCount, clampedBy };
}

/** The answer a sender gets (and a replay returns): the one place it is built. */
function answerOf(
  resolved: ResolvedScaleOut,
  what: Pick<ScaleOutAnswer, 'count' | 'clientToken' | 'requestedCount' | 'clampedBy'> & Partial<Pick<ScaleOutAnswer, 'instanceIds' | 'requestId' | 'bought' | 'skipped' | 'restored'>> & { readonly plan?: LadderPlan | undefined },
): ScaleOutAnswer {
  const { plan, ...rest } = what;
  return {
    eventId: resolved.eventId,
    clusterId: resolved.cluster.clusterId,
    template: resolved.template.name,
    instanceIds: [],
    requestId: '',
    ...rest,
    ...sizingOf(resolved),
    ...(plan !== undefined && { plan }),
  };
}

/** The answer's and the log line's account of how the count was chosen and which repeat period this is. */
function sizingOf(resolved: ResolvedScaleOut): { sizing?: Sizing; period?: number } {
  return { ...(resolved.sizing !== undefined && { sizing: resolved.sizing }), ...(resolved.repeat !== undefined && { period: resolved.repeat.period }) };
}

/** The facts of a resolved scale-out, for its log line. */
function traceOf(asked: ScaleOutRequest, resolved: ResolvedScaleOut): ScaleOutTrace {
  return { ...traceOfRequest(asked), clusterId: resolved.cluster.clusterId, region: resolved.cluster.region, purchaseId: resolved.marks.purchase, count: resolved.count, ...sizingOf(resolved) };
}

/** ... and of its climb: the count sent, the clamp, the token, every rung. */
function traceOfClimb(asked: ScaleOutRequest, resolved: ResolvedScaleOut, grant: Granted, climb: Climb): ScaleOutTrace {
  const nodes = climb.sent?.nodes ?? grant.nodes;
  return {
    ...traceOf(asked, resolved),
    count: nodes,
    ...clampOf(resolved, grant, nodes),
    ...(climb.sent !== undefined && { clientToken: climb.sent.clientToken }),
    ...(climb.resent && { resent: true as const }),
    ...(climb.steps.length > 0 && { ladder: climb.steps }),
  };
}

function failed(asked: ScaleOutRequest, error: ScaleOutError, trace: ScaleOutTrace, clientToken?: string): TracedOutcome {
  return { ok: false, request: asked, error, ...(clientToken !== undefined && { clientToken }), trace: { ...trace, ...(clientToken !== undefined && { clientToken }) } };
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
