import type { ThrottleRules } from './model';
import type { StoreStep } from './store-step';

export type { ThrottleRules } from './model';
import type { CreateClusterInstancesRequest } from '../tke/tke-params';
import type { ResolvedScaleOut } from './scale-out-request';

/**
 * The throttle of one scope (a cluster, or a cluster's template where the config says so), as pure
 * decisions over its stored state. Like idempotency.ts: no clock, no I/O; the store applies the
 * write atomically, so instances racing for one budget can never overspend it.
 *
 * Rules, checked in this order (the first that holds back names itself in the answer):
 *   in-flight        at most one scale-out in flight per scope
 *   cooldown         none within `cooldownSeconds` of the last success (AWS and Tencent AS: 300 s)
 *   node-budget      at most `maxNodesPerWindow` nodes granted per rolling `windowSeconds`
 *   cluster-ceiling  ClusterNodeNum (read with DescribeClusters just before) + count <= `maxClusterNodes`
 * A request above what node-budget or cluster-ceiling leave is clamped to it when the template
 * allows (`count.clamp: true`), and the answer says so; otherwise it is throttled.
 *
 * Grants are remembered per event: the redelivery of an event whose instance died mid-call finds its
 * own grant and goes on with it (same nodes, same ClientToken), instead of being throttled by itself.
 */
export interface Grant {
  readonly eventKey: string;
  readonly claimId: string;
  readonly nodes: number;
  readonly at: number;
  /** in-flight until `inFlightUntil` (the holder's deadline); done once the call settled. */
  readonly state: 'in-flight' | 'done';
  readonly inFlightUntil: number;
  /**
   * Set once any call on this grant ended with an unknown outcome: TKE may have created the nodes,
   * so the grant is never given back, even if a later call for the same event is refused.
   */
  readonly mayExist?: true;
  /**
   * The exact request sent when the outcome was unknown, ClientToken included: the event's
   * redelivery re-sends it as it is (not rendered again from a config that may have changed), so
   * one token only ever goes out with one request, and CVM can answer it with the first purchase.
   */
  readonly sent?: SentRequest;
}

/** A CreateClusterInstances request as sent, for a redelivery to send again byte for byte. */
export interface SentRequest {
  readonly clientToken: string;
  readonly request: CreateClusterInstancesRequest;
  /** The ladder's rung it is (core/rungs.ts); 1 when absent (recorded before ladders existed). */
  readonly rung?: number;
}

export interface ThrottleState {
  readonly lastScaleOutAt?: number;
  /** Grants a delivery may still need to find by its event: in flight, or with an unknown outcome. */
  readonly grants: readonly Grant[];
  /**
   * Nodes of settled successes, summed per slice of the window (1/60 of it, at least a second), so
   * that a decision's cost does not grow with the number of scale-outs in the window. A success
   * needs no grant of its own any more: its redelivery replays the idempotency record first.
   */
  readonly spent?: readonly SpentSlice[];
}

/** Nodes granted in [from, from + slice). */
export interface SpentSlice {
  readonly from: number;
  readonly nodes: number;
}

/** How long one slice of `spent` is: a sixtieth of the window (a minute for an hour), at least 1 s. */
function sliceMs(rules: ThrottleRules): number {
  return Math.max(1000, Math.floor((rules.windowSeconds * 1000) / 60));
}

/** The throttle's rules, in the order they are checked. */
export const THROTTLE_RULES = ['in-flight', 'cooldown', 'node-budget', 'cluster-ceiling'] as const;
export type ThrottleRule = (typeof THROTTLE_RULES)[number];

export interface ThrottleAsk {
  readonly eventKey: string;
  readonly claimId: string;
  readonly requested: number;
  readonly clampAllowed: boolean;
  /** The holder's deadline: its grant stops counting as in flight after it. */
  readonly inFlightUntil: number;
  /** ClusterNodeNum read just before, when a ceiling is configured. */
  readonly clusterNodes?: number;
}

export type ThrottleDecision =
  | { readonly kind: 'granted'; readonly nodes: number; readonly clampedBy?: ThrottleRule; readonly resend?: SentRequest }
  | { readonly kind: 'throttled'; readonly rule: ThrottleRule; readonly retryAt: number; readonly detail: string };

/**
 * Which throttle an event falls under: its cluster's, or its template's own (per cluster) when the
 * template declares one. The key names the scope in the store.
 */
export function throttleScopeOf(resolved: ResolvedScaleOut): { readonly key: string; readonly rules: ThrottleRules } {
  const { cluster, template } = resolved;
  // Hash tag on the ClusterId: a cluster's scopes (its own and its templates') share one Redis
  // Cluster slot, so a future decision over several of them can stay one atomic step.
  return template.throttle === undefined
    ? { key: `throttle:{${cluster.clusterId}}`, rules: cluster.throttle }
    : { key: `throttle:{${cluster.clusterId}}:${template.name}`, rules: { ...cluster.throttle, ...template.throttle } };
}

export function decideThrottle(
  current: ThrottleState | undefined,
  ask: ThrottleAsk,
  rules: ThrottleRules,
  now: number,
): StoreStep<ThrottleState, ThrottleDecision> {
  const windowMs = rules.windowSeconds * 1000;
  const grants = (current?.grants ?? []).filter((g) => g.at + windowMs > now || isInFlight(g, now));
  // A slice counts until its END leaves the window: never less than the exact grants would.
  const spent = (current?.spent ?? []).filter((s) => s.from + sliceMs(rules) + windowMs > now);
  const state: ThrottleState = {
    ...(current?.lastScaleOutAt !== undefined && { lastScaleOutAt: current.lastScaleOutAt }),
    grants,
    ...(spent.length > 0 && { spent }),
  };
  const keep = (decision: ThrottleDecision): StoreStep<ThrottleState, ThrottleDecision> => ({ write: { kind: 'keep' }, result: decision });
  const grant = (nodes: number, clampedBy?: ThrottleRule, mayExist?: true, sent?: SentRequest): StoreStep<ThrottleState, ThrottleDecision> => {
    const next: Grant = {
      eventKey: ask.eventKey,
      claimId: ask.claimId,
      nodes,
      at: now,
      state: 'in-flight',
      inFlightUntil: ask.inFlightUntil,
      ...(mayExist && { mayExist }),
      ...(sent !== undefined && { sent }),
    };
    const others = grants.filter((g) => g.eventKey !== ask.eventKey);
    return {
      write: { kind: 'put', value: { ...state, grants: [...others, next] }, expiresAt: stateExpiry(state, rules, now, ask.inFlightUntil) },
      result: { kind: 'granted', nodes, ...(clampedBy !== undefined && { clampedBy }), ...(sent !== undefined && { resend: sent }) },
    };
  };

  const own = grants.find((g) => g.eventKey === ask.eventKey);
  if (own !== undefined && !(isInFlight(own, now) && own.claimId !== ask.claimId)) {
    // This event's earlier attempt took budget and its outcome is unknown: go on with the same nodes.
    return grant(own.nodes, undefined, own.mayExist, own.sent);
  }

  const inFlight = grants.find((g) => isInFlight(g, now));
  if (inFlight !== undefined) {
    return keep({ kind: 'throttled', rule: 'in-flight', retryAt: inFlight.inFlightUntil, detail: 'another scale-out of this cluster is in flight' });
  }

  if (state.lastScaleOutAt !== undefined && now < state.lastScaleOutAt + rules.cooldownSeconds * 1000) {
    return keep({
      kind: 'throttled',
      rule: 'cooldown',
      retryAt: state.lastScaleOutAt + rules.cooldownSeconds * 1000,
      detail: `cooldown of ${rules.cooldownSeconds} s after the last scale-out`,
    });
  }

  let nodes = ask.requested;
  let clampedBy: ThrottleRule | undefined;

  const used = grants.reduce((sum, g) => sum + g.nodes, 0) + spent.reduce((sum, s) => sum + s.nodes, 0);
  const budgetLeft = rules.maxNodesPerWindow - used;
  if (nodes > budgetLeft) {
    if (ask.clampAllowed && budgetLeft > 0) {
      nodes = budgetLeft;
      clampedBy = 'node-budget';
    } else {
      const need = ask.clampAllowed ? 1 : ask.requested;
      return keep({
        kind: 'throttled',
        rule: 'node-budget',
        retryAt: budgetFreesAt(state, rules, need),
        detail: `${used} of ${rules.maxNodesPerWindow} nodes per ${rules.windowSeconds} s are taken; ${ask.requested} asked`,
      });
    }
  }

  if (rules.maxClusterNodes !== undefined && ask.clusterNodes !== undefined) {
    const headroom = rules.maxClusterNodes - ask.clusterNodes;
    if (nodes > headroom) {
      if (ask.clampAllowed && headroom > 0) {
        nodes = headroom;
        clampedBy = 'cluster-ceiling';
      } else {
        return keep({
          kind: 'throttled',
          rule: 'cluster-ceiling',
          // Nothing here frees room by itself: the cluster must shrink. Ask again after a cooldown.
          retryAt: now + rules.cooldownSeconds * 1000,
          detail: `the cluster has ${ask.clusterNodes} nodes; the ceiling is ${rules.maxClusterNodes}; ${nodes} more asked`,
        });
      }
    }
  }

  return grant(nodes, clampedBy);
}

/**
 * The call succeeded: the cooldown starts now, and the grant's nodes move into the spent slice of
 * the time it was granted (the event's idempotency record, written just before, answers its
 * redeliveries from now on).
 */
export function settleThrottleSuccess(
  current: ThrottleState | undefined,
  eventKey: string,
  claimId: string,
  rules: ThrottleRules,
  now: number,
): StoreStep<ThrottleState, void> {
  const all = current?.grants ?? [];
  const ours = all.find((g) => g.eventKey === eventKey && g.claimId === claimId);
  const grants = ours === undefined ? all : all.filter((g) => g !== ours);
  const spent = ours === undefined ? (current?.spent ?? []) : addToSlice(current?.spent ?? [], ours, rules);
  const next: ThrottleState = { lastScaleOutAt: now, grants, ...(spent.length > 0 && { spent }) };
  return { write: { kind: 'put', value: next, expiresAt: stateExpiry(next, rules, now, now) }, result: undefined };
}

/**
 * The call failed. `refused`: every attempt was answered with an API error code, so nothing was
 * created: the budget goes back (unless an earlier call on this grant had an unknown outcome).
 * `unknown`: at least one attempt's outcome is unknown (timeout, lost connection), so TKE may have
 * created the nodes: the grant stays, counted but no longer in flight, and is marked so that it is
 * never given back; the cooldown starts as after a success, so a new event (a retyped chat command,
 * the next alarm) does not buy again while these nodes may be joining. The event's own redelivery
 * reuses the grant (same nodes, same ClientToken) and is not held back by that cooldown.
 */
export function settleThrottleFailure(
  current: ThrottleState | undefined,
  eventKey: string,
  claimId: string,
  outcome: 'refused' | 'unknown',
  rules: ThrottleRules,
  now: number,
  /** With `unknown`: what was sent, kept for the redelivery to send again. */
  sent?: SentRequest,
): StoreStep<ThrottleState, void> {
  const grants = current?.grants ?? [];
  const ours = grants.find((g) => g.eventKey === eventKey && g.claimId === claimId);
  if (current === undefined || ours === undefined) return { write: { kind: 'keep' }, result: undefined };
  const giveBack = outcome === 'refused' && ours.mayExist !== true;
  const next: ThrottleState = giveBack
    ? { ...current, grants: grants.filter((g) => g !== ours) }
    : {
        ...(outcome === 'unknown' ? { lastScaleOutAt: now } : current.lastScaleOutAt !== undefined && { lastScaleOutAt: current.lastScaleOutAt }),
        grants: grants.map((g) => (g === ours ? { ...g, state: 'done' as const, mayExist: true as const, ...((g.sent ?? sent) !== undefined && { sent: g.sent ?? sent }) } : g)),
      };
  return { write: { kind: 'put', value: next, expiresAt: stateExpiry(next, rules, now, now) }, result: undefined };
}

/**
 * Records the request about to be sent on the event's own grant, BEFORE the call (and its final
 * node count, which a money budget may have lowered): whatever happens next (a crash, a lost
 * answer), the event's redelivery finds this exact request and rung and sends it again, so one
 * delivery never buys on two rungs, and a rung whose outcome is unknown is never left for another.
 * `lost`: the grant is no longer this delivery's (it expired and another took over): do not call.
 */
export function recordAttempt(
  current: ThrottleState | undefined,
  eventKey: string,
  claimId: string,
  sent: SentRequest,
  nodes: number,
  rules: ThrottleRules,
  now: number,
): StoreStep<ThrottleState, 'recorded' | 'lost'> {
  const grants = current?.grants ?? [];
  const ours = grants.find((g) => g.eventKey === eventKey && g.claimId === claimId);
  if (current === undefined || ours === undefined) return { write: { kind: 'keep' }, result: 'lost' };
  const next: ThrottleState = { ...current, grants: grants.map((g) => (g === ours ? { ...g, nodes, sent } : g)) };
  return { write: { kind: 'put', value: next, expiresAt: stateExpiry(next, rules, now, ours.inFlightUntil) }, result: 'recorded' };
}

function isInFlight(grant: Grant, now: number): boolean {
  return grant.state === 'in-flight' && grant.inFlightUntil > now;
}

function addToSlice(spent: readonly SpentSlice[], grant: Grant, rules: ThrottleRules): SpentSlice[] {
  const from = Math.floor(grant.at / sliceMs(rules)) * sliceMs(rules);
  const existing = spent.find((s) => s.from === from);
  return existing === undefined
    ? [...spent, { from, nodes: grant.nodes }].sort((a, b) => a.from - b.from)
    : spent.map((s) => (s === existing ? { from, nodes: s.nodes + grant.nodes } : s));
}

/** When enough grants and spent slices leave the window for `need` nodes to fit. */
function budgetFreesAt(state: ThrottleState, rules: ThrottleRules, need: number): number {
  const windowMs = rules.windowSeconds * 1000;
  const leaving = [
    ...state.grants.map((g) => ({ at: g.at + windowMs, nodes: g.nodes })),
    ...(state.spent ?? []).map((s) => ({ at: s.from + sliceMs(rules) + windowMs, nodes: s.nodes })),
  ].sort((a, b) => a.at - b.at);
  let used = leaving.reduce((sum, l) => sum + l.nodes, 0);
  for (const l of leaving) {
    used -= l.nodes;
    if (rules.maxNodesPerWindow - used >= need) return l.at;
  }
  // More than the whole window allows: never by waiting. Say "a window from now".
  return Math.max(...leaving.map((l) => l.at), 0);
}

/** Keep the state as long as anything in it still matters: the window, the cooldown, a claim. */
function stateExpiry(state: ThrottleState, rules: ThrottleRules, now: number, inFlightUntil: number): number {
  const lastGrant = Math.max(now, ...state.grants.map((g) => g.at), ...(state.spent ?? []).map((s) => s.from + sliceMs(rules)));
  return Math.max(
    lastGrant + rules.windowSeconds * 1000,
    (state.lastScaleOutAt ?? 0) + rules.cooldownSeconds * 1000,
    inFlightUntil,
    now + 1000,
  );
}
