import type { ThrottleOverride, ThrottleRules } from './model';
import type { ResolvedScaleOut } from './scale-out-request';
import type { StoreStep } from './store-step';
import {
  adoptEntry,
  freesAt,
  heldEntry,
  refund,
  inWindow,
  isInFlight,
  ledgerExpiry,
  ledgerWindow,
  ownEntry,
  resizeEntry,
  settleEntry,
  usedOf,
  withEntry,
  type LedgerEntry,
  type LedgerSlice,
  type LedgerState,
} from './windowed-ledger';

export type { ThrottleRules } from './model';

/**
 * The throttle of one scope (a cluster, or a cluster's template where the config says so), as pure
 * decisions over its stored state. It counts nodes in a windowed ledger (core/windowed-ledger.ts,
 * the same one the money budgets keep) and keeps the time of the last scale-out; nothing else.
 *
 * Rules, checked in this order (the first that holds back names itself in the answer):
 *   in-flight        at most one scale-out in flight per scope
 *   cooldown         none within `cooldownSeconds` of the last success (AWS and Tencent AS: 300 s)
 *   node-budget      at most `maxNodesPerWindow` nodes granted per rolling `windowSeconds`
 *   cluster-ceiling  ClusterNodeNum (read with DescribeClusters just before) + count <= `maxClusterNodes`
 * A request above what node-budget or cluster-ceiling leave is clamped to it when the template
 * allows (`count.clamp: true`), and the answer says so; otherwise it is throttled until the budget
 * frees, or refused outright when no wait could ever make it fit (more nodes than a whole window or
 * the ceiling allow).
 *
 * Grants are per event: the redelivery of an event whose instance died mid-call, or whose outcome
 * was unknown, finds its own grant and goes on with it instead of being throttled by itself.
 */
export type Grant = LedgerEntry<'nodes'>;

/** What the previous version stored on a grant as the request sent. */
export interface LegacySent {
  readonly clientToken: string;
  readonly request: { readonly ClusterId: string; readonly RunInstancePara: string } & Record<string, unknown>;
  readonly rung?: number;
}

export interface ThrottleState extends LedgerState<'nodes'> {
  readonly lastScaleOutAt?: number;
}

/** The throttle's rules, in the order they are checked. */
export const THROTTLE_RULES = ['in-flight', 'cooldown', 'node-budget', 'cluster-ceiling'] as const;
export type ThrottleRule = (typeof THROTTLE_RULES)[number];

export interface ThrottleAsk {
  readonly eventKey: string;
  readonly claimId: string;
  readonly requested: number;
  /** False for a re-sent request: its count is fixed, it cannot be clamped. */
  readonly clampAllowed: boolean;
  /** The holder's deadline: its grant stops counting as in flight after it. */
  readonly inFlightUntil: number;
  /** ClusterNodeNum read just before, when a ceiling is configured. */
  readonly clusterNodes?: number;
}

export type ThrottleDecision =
  | {
      readonly kind: 'granted';
      readonly nodes: number;
      /** When the grant was made (its first delivery's time): the slice of the window it counts in. */
      readonly at: number;
      readonly clampedBy?: ThrottleRule;
      /**
       * The request a grant stored by the previous version carries (`sent`, kept on the grant
       * before the event's record kept it): the event's redelivery must re-send exactly it.
       */
      readonly legacySent?: LegacySent;
    }
  | { readonly kind: 'throttled'; readonly rule: ThrottleRule; readonly retryAt: number; readonly detail: string }
  /** No wait could make it fit: more than a whole window's budget, or than the ceiling itself. */
  | { readonly kind: 'beyond-limit'; readonly rule: ThrottleRule; readonly detail: string };

/**
 * Which throttle an event falls under: its cluster's, or its template's own (per cluster) when the
 * template declares one. The key names the scope in the store.
 */
export function throttleScopeOf(resolved: ResolvedScaleOut): { readonly key: string; readonly rules: ThrottleRules } {
  const { cluster, template } = resolved;
  // Hash tag on the ClusterId: a cluster's scopes (its own and its templates') share one Redis
  // Cluster slot, so a future decision over several of them can stay one atomic step.
  const key = template.throttle === undefined ? clusterThrottleKey(cluster.clusterId) : `${clusterThrottleKey(cluster.clusterId)}:${template.name}`;
  return { key, rules: throttleRulesOf(cluster, template) };
}

/** The store key of a cluster's own throttle (a template with its own throttle adds `:<template>`). */
export function clusterThrottleKey(clusterId: string): string {
  return `throttle:{${clusterId}}`;
}

/** The rules a template's scale-outs on a cluster fall under: the cluster's, with the template's own overrides. */
export function throttleRulesOf(cluster: { readonly throttle: ThrottleRules }, template: { readonly throttle?: ThrottleOverride | undefined }): ThrottleRules {
  return template.throttle === undefined ? cluster.throttle : { ...cluster.throttle, ...template.throttle };
}

export function decideThrottle(current: ThrottleState | undefined, ask: ThrottleAsk, rules: ThrottleRules, now: number): StoreStep<ThrottleState, ThrottleDecision> {
  const window = ledgerWindow(rules.windowSeconds);
  const state = stateOf(current, window, now);
  const keep = (decision: ThrottleDecision): StoreStep<ThrottleState, ThrottleDecision> => ({ write: { kind: 'keep' }, result: decision });
  const put = (next: ThrottleState, decision: ThrottleDecision): StoreStep<ThrottleState, ThrottleDecision> => ({
    write: { kind: 'put', value: next, expiresAt: expiryOf(next, rules, now, ask.inFlightUntil) },
    result: decision,
  });

  const own = ownEntry(state, ask.eventKey);
  if (own !== undefined && !(isInFlight(own, now) && own.claimId !== ask.claimId)) {
    // This event's earlier delivery took budget and did not finish: go on with the same nodes.
    const adopted = adoptEntry(state, ask.eventKey, ask.claimId, ask.inFlightUntil);
    const legacySent = legacySentOf(own);
    return put({ ...state, ...adopted.state }, { kind: 'granted', nodes: own.amount, at: own.at, ...(legacySent !== undefined && { legacySent }) });
  }

  const inFlight = state.grants.find((g) => isInFlight(g, now));
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

  const used = usedOf(state, 'nodes');
  const budgetLeft = rules.maxNodesPerWindow - used;
  if (nodes > budgetLeft) {
    if (ask.clampAllowed && budgetLeft > 0) {
      nodes = budgetLeft;
      clampedBy = 'node-budget';
    } else {
      const need = ask.clampAllowed ? 1 : ask.requested;
      const frees = freesAt(state, window, 'nodes', rules.maxNodesPerWindow, need, now);
      if (frees === 'never') {
        return keep({ kind: 'beyond-limit', rule: 'node-budget', detail: `${need} nodes asked, and at most ${rules.maxNodesPerWindow} are granted per ${rules.windowSeconds} s` });
      }
      return keep({
        kind: 'throttled',
        rule: 'node-budget',
        retryAt: frees,
        detail: `${used} of ${rules.maxNodesPerWindow} nodes per ${rules.windowSeconds} s are taken; ${ask.requested} asked`,
      });
    }
  }

  if (rules.maxClusterNodes !== undefined && ask.clusterNodes !== undefined) {
    const headroom = rules.maxClusterNodes - ask.clusterNodes;
    if (nodes > headroom) {
      // What must fit for anything to be bought: one node when the template clamps.
      const need = ask.clampAllowed ? 1 : nodes;
      if (ask.clampAllowed && headroom > 0) {
        nodes = headroom;
        clampedBy = 'cluster-ceiling';
      } else if (need > rules.maxClusterNodes) {
        return keep({ kind: 'beyond-limit', rule: 'cluster-ceiling', detail: `${need} nodes asked, more than the cluster's whole ceiling of ${rules.maxClusterNodes}` });
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

  const grant: Grant = { eventKey: ask.eventKey, claimId: ask.claimId, kind: 'nodes', amount: nodes, at: now, state: 'in-flight', inFlightUntil: ask.inFlightUntil };
  return put({ ...state, ...withEntry(state, grant) }, { kind: 'granted', nodes, at: now, ...(clampedBy !== undefined && { clampedBy }) });
}

/** What the node budget's window holds and leaves now, and until when the cooldown holds: for /healthz. */
export function nodeBudgetOf(current: ThrottleState | undefined, rules: ThrottleRules, now: number): { readonly used: number; readonly left: number; readonly cooldownUntil?: number } {
  const state = stateOf(current, ledgerWindow(rules.windowSeconds), now);
  const used = usedOf(state, 'nodes');
  const cooldownUntil = state.lastScaleOutAt === undefined ? undefined : state.lastScaleOutAt + rules.cooldownSeconds * 1000;
  return { used, left: Math.max(0, rules.maxNodesPerWindow - used), ...(cooldownUntil !== undefined && cooldownUntil > now && { cooldownUntil }) };
}

/**
 * A money budget lowered the count after the grant: the grant counts the nodes actually asked.
 * `lost`: the grant is no longer this delivery's (it expired and another took over).
 */
export function resizeGrant(current: ThrottleState | undefined, eventKey: string, claimId: string, nodes: number, rules: ThrottleRules, now: number): StoreStep<ThrottleState, 'resized' | 'lost'> {
  const held = heldEntry(current, eventKey, claimId);
  if (current === undefined || held === undefined) return { write: { kind: 'keep' }, result: 'lost' };
  const next: ThrottleState = { ...current, ...resizeEntry(current, held, nodes) };
  return { write: { kind: 'put', value: next, expiresAt: expiryOf(next, rules, now, held.inFlightUntil) }, result: 'resized' };
}

/**
 * How the call on the event's grant ended (core/windowed-ledger.ts, settleEntry): `created` moves
 * its nodes into the window's spent slices; `refused` (every attempt was answered with an API
 * error: nothing was created) gives them back unless an earlier call on the grant may have bought;
 * `unknown` keeps them for good. The cooldown starts after `created` and `unknown` alike: nodes
 * may be joining, and a new event (a retyped chat command, the next alarm) must not buy again
 * meanwhile; the event's own redelivery finds its grant and is not held back by it.
 */
export function settleThrottle(
  current: ThrottleState | undefined,
  eventKey: string,
  claimId: string,
  outcome: 'created' | 'refused' | 'unknown',
  rules: ThrottleRules,
  now: number,
): StoreStep<ThrottleState, void> {
  const held = heldEntry(current, eventKey, claimId);
  if (current === undefined || held === undefined) {
    // Our grant is gone (it left the window, or another claim took it over): the cooldown still
    // starts after a purchase.
    if (outcome === 'refused') return { write: { kind: 'keep' }, result: undefined };
    const next: ThrottleState = { ...(current ?? { grants: [] }), lastScaleOutAt: now };
    return { write: { kind: 'put', value: next, expiresAt: expiryOf(next, rules, now, now) }, result: undefined };
  }
  const settled = settleEntry(current, held, outcome, ledgerWindow(rules.windowSeconds));
  const lastScaleOutAt = outcome === 'refused' ? current.lastScaleOutAt : now;
  const next: ThrottleState = { ...settled, ...(lastScaleOutAt !== undefined && { lastScaleOutAt }) };
  return { write: { kind: 'put', value: next, expiresAt: expiryOf(next, rules, now, now) }, result: undefined };
}

/**
 * Nodes an event was granted that no longer run (cleaned up): given back to the window they were
 * counted in (core/windowed-ledger.ts, refund). The cooldown is left as it is. The result: how
 * many nodes went back (0 when they no longer counted).
 */
export function refundNodes(current: ThrottleState | undefined, eventKey: string, at: number, nodes: number, rules: ThrottleRules, now: number): StoreStep<ThrottleState, number> {
  const window = ledgerWindow(rules.windowSeconds);
  const back = refund(stateOf(current, window, now), window, { eventKey, kind: 'nodes', at }, nodes);
  if (back.given === 0) return { write: { kind: 'keep' }, result: 0 };
  const next: ThrottleState = { ...current, ...back.state };
  return { write: { kind: 'put', value: next, expiresAt: expiryOf(next, rules, now, now) }, result: back.given };
}

/** The stored state, what still counts, with grants written before the ledger was shared read as nodes. */
function stateOf(current: ThrottleState | undefined, window: ReturnType<typeof ledgerWindow>, now: number): ThrottleState {
  const counted = inWindow(current === undefined ? undefined : { grants: current.grants.map(asNodes), spent: current.spent?.map(asNodes) }, window, now);
  return { ...(current?.lastScaleOutAt !== undefined && { lastScaleOutAt: current.lastScaleOutAt }), ...counted };
}

/** A grant or slice stored as `{nodes}` (before nodes and money shared one ledger) is `{kind: 'nodes', amount}`. */
function asNodes<T extends Grant | LedgerSlice<'nodes'>>(item: T): T {
  const legacy = item as T & { nodes?: number };
  return legacy.amount === undefined && typeof legacy.nodes === 'number' ? { ...item, kind: 'nodes', amount: legacy.nodes } : item;
}

function legacySentOf(grant: Grant): LegacySent | undefined {
  const sent = (grant as Grant & { sent?: Partial<LegacySent> }).sent;
  return typeof sent?.clientToken === 'string' && typeof sent.request?.RunInstancePara === 'string' && typeof sent.request.ClusterId === 'string' ? (sent as LegacySent) : undefined;
}

/** Keep the state as long as anything in it still matters: the window, the cooldown, a claim. */
function expiryOf(state: ThrottleState, rules: ThrottleRules, now: number, inFlightUntil: number): number {
  return ledgerExpiry(state, ledgerWindow(rules.windowSeconds), now, Math.max(inFlightUntil, (state.lastScaleOutAt ?? 0) + rules.cooldownSeconds * 1000));
}
