import type { CostBudget, CostKind } from './model';
import { roundCents, type Price } from './price';
import type { StoreStep } from './store-step';

/**
 * A money budget (config `clusters.<alias>.costBudget`, or the deployment's top-level `costBudget`)
 * as pure decisions over its stored state, the way core/throttle.ts keeps its node budget: no clock, no I/O, and the store applies
 * each step atomically, so instances racing for one budget cannot overspend it together.
 *
 * What counts, per rolling window of `windowSeconds`:
 *   hourly   the hourly price of every pay-as-you-go purchase made in the window, summed: the
 *            run-rate those scale-outs added (40 CNY/h means: at most 40 yuan an hour of new nodes
 *            per window, whatever their type);
 *   prepaid  the discounted price of every prepaid purchase made in the window, summed.
 * A purchase counts from the moment its price is reserved (before the call) until the window has
 * passed; a refused call gives it back, an unknown outcome keeps it for good (the nodes may exist),
 * and a rung sold out gives it back before the next rung reserves its own price.
 *
 * One reservation per event: a redelivery finds its own and goes on with it.
 */
export interface CostGrant {
  readonly eventKey: string;
  readonly claimId: string;
  readonly kind: CostKind;
  readonly amount: number;
  readonly at: number;
  readonly state: 'in-flight' | 'done';
  readonly inFlightUntil: number;
  /** An attempt's outcome was unknown: never given back. */
  readonly mayExist?: true;
}

/** Settled purchases, summed per slice of the window (a sixtieth of it, at least a second). */
export interface CostSlice {
  readonly from: number;
  readonly kind: CostKind;
  readonly amount: number;
}

export interface CostState {
  readonly grants: readonly CostGrant[];
  readonly spent?: readonly CostSlice[];
}

export interface CostAsk {
  readonly eventKey: string;
  readonly claimId: string;
  readonly price: Price;
  readonly inFlightUntil: number;
}

export type CostDecision =
  | { readonly kind: 'granted'; readonly amount: number; /** what is left of the limit after this */ readonly left: number }
  | { readonly kind: 'over-budget'; readonly used: number; readonly limit: number | undefined; readonly retryAt: number; readonly detail: string };

/**
 * One money budget and where its ledger lives: a cluster's own (`clusters.<alias>.costBudget`) and
 * the deployment's (top-level `costBudget`, every cluster's purchases together). A purchase must fit
 * every scope it falls under; each scope's ledger is one store key, reserved atomically on its own.
 */
export interface CostScope {
  /** The config key it comes from, for messages. */
  readonly name: string;
  readonly key: string;
  readonly budget: CostBudget;
}

export const DEPLOYMENT_COST_KEY = 'cost:deployment';

type BudgetedCluster = { readonly alias: string; readonly clusterId: string; readonly costBudget?: CostBudget };

/** The cluster's own budget, if it has one. */
export function clusterCostScope(cluster: BudgetedCluster): CostScope | undefined {
  // Hash tag on the ClusterId, as the throttle's keys: one Redis Cluster slot per cluster.
  return cluster.costBudget === undefined ? undefined : { name: `clusters.${cluster.alias}.costBudget`, key: `cost:{${cluster.clusterId}}`, budget: cluster.costBudget };
}

export function deploymentCostScope(budget: CostBudget): CostScope {
  return { name: 'costBudget', key: DEPLOYMENT_COST_KEY, budget };
}

/** Every budget a purchase on `cluster` must fit: its own, then the deployment's. */
export function costScopesOf(cluster: BudgetedCluster, deployment: CostBudget | undefined): readonly CostScope[] {
  const own = clusterCostScope(cluster);
  return [...(own !== undefined ? [own] : []), ...(deployment !== undefined ? [deploymentCostScope(deployment)] : [])];
}

function sliceMs(budget: CostBudget): number {
  return Math.max(1000, Math.floor((budget.windowSeconds * 1000) / 60));
}

function counted(current: CostState | undefined, budget: CostBudget, now: number): CostState {
  const windowMs = budget.windowSeconds * 1000;
  const grants = (current?.grants ?? []).filter((g) => g.at + windowMs > now || (g.state === 'in-flight' && g.inFlightUntil > now));
  const spent = (current?.spent ?? []).filter((s) => s.from + sliceMs(budget) + windowMs > now);
  return { grants, ...(spent.length > 0 && { spent }) };
}

/** Money of `kind` the window holds now, other than `eventKey`'s own reservation. */
export function usedOf(state: CostState, kind: CostKind, eventKey?: string): number {
  const grants = state.grants.filter((g) => g.kind === kind && g.eventKey !== eventKey).reduce((sum, g) => sum + g.amount, 0);
  const spent = (state.spent ?? []).filter((s) => s.kind === kind).reduce((sum, s) => sum + s.amount, 0);
  return roundCents(grants + spent);
}

/**
 * Reserves `ask.price` for the event, replacing its own earlier reservation (another rung, another
 * count) unless that one may have bought (then it stands, and is what this event has).
 */
export function reserveCost(current: CostState | undefined, ask: CostAsk, budget: CostBudget, now: number): StoreStep<CostState, CostDecision> {
  const state = counted(current, budget, now);
  const { kind, amount } = ask.price;
  const limit = budget[kind];
  const own = state.grants.find((g) => g.eventKey === ask.eventKey);
  if (own?.mayExist === true) {
    const adopted = adoptCost(current, ask.eventKey, ask.claimId, ask.inFlightUntil, budget, now);
    return { write: adopted.write, result: { kind: 'granted', amount: own.amount, left: roundCents((budget[own.kind] ?? 0) - usedOf(state, own.kind)) } };
  }
  const used = usedOf(state, kind, ask.eventKey);
  if (limit === undefined || roundCents(used + amount) > limit) {
    return {
      write: { kind: 'keep' },
      result: {
        kind: 'over-budget',
        used,
        limit,
        retryAt: limit === undefined ? now + budget.windowSeconds * 1000 : freesAt(state, budget, kind, limit, amount, now, ask.eventKey),
        detail:
          limit === undefined
            ? `no ${kind} budget is set for this cluster (costBudget.${kind})`
            : `${money(used, budget)} of ${money(limit, budget)}${kind === 'hourly' ? '/h' : ''} per ${budget.windowSeconds} s is committed; this purchase is ${money(amount, budget)}${kind === 'hourly' ? '/h' : ''}`,
      },
    };
  }
  const grant: CostGrant = { eventKey: ask.eventKey, claimId: ask.claimId, kind, amount, at: now, state: 'in-flight', inFlightUntil: ask.inFlightUntil };
  const next: CostState = { ...state, grants: [...state.grants.filter((g) => g.eventKey !== ask.eventKey), grant] };
  return { write: { kind: 'put', value: next, expiresAt: expiry(next, budget, now) }, result: { kind: 'granted', amount, left: roundCents(limit - used - amount) } };
}

/**
 * A redelivery takes over its event's own reservation (re-stamped with its claim), without a new
 * price: the request it re-sends is the one that reservation was made for. Undefined: none left.
 */
export function adoptCost(current: CostState | undefined, eventKey: string, claimId: string, inFlightUntil: number, budget: CostBudget, now: number): StoreStep<CostState, CostGrant | undefined> {
  const state = counted(current, budget, now);
  const own = state.grants.find((g) => g.eventKey === eventKey);
  if (own === undefined) return { write: { kind: 'keep' }, result: undefined };
  const adopted: CostGrant = { ...own, claimId, inFlightUntil: Math.max(own.inFlightUntil, inFlightUntil) };
  const next: CostState = { ...state, grants: state.grants.map((g) => (g === own ? adopted : g)) };
  return { write: { kind: 'put', value: next, expiresAt: expiry(next, budget, now) }, result: adopted };
}

/**
 * The call was answered. `created`: the reservation becomes spent. `refused` (no attempt may have
 * bought; a sold-out rung too): given back. `unknown`: kept for good.
 */
export function settleCost(current: CostState | undefined, eventKey: string, claimId: string, outcome: 'created' | 'refused' | 'unknown', budget: CostBudget, now: number): StoreStep<CostState, void> {
  const grants = current?.grants ?? [];
  const ours = grants.find((g) => g.eventKey === eventKey && g.claimId === claimId);
  if (current === undefined || ours === undefined) return { write: { kind: 'keep' }, result: undefined };
  let next: CostState;
  if (outcome === 'created') {
    const from = Math.floor(ours.at / sliceMs(budget)) * sliceMs(budget);
    const spent = [...(current.spent ?? [])];
    const slice = spent.findIndex((s) => s.from === from && s.kind === ours.kind);
    if (slice >= 0) spent[slice] = { ...spent[slice]!, amount: roundCents(spent[slice]!.amount + ours.amount) };
    else spent.push({ from, kind: ours.kind, amount: ours.amount });
    next = { grants: grants.filter((g) => g !== ours), spent };
  } else if (outcome === 'refused' && ours.mayExist !== true) {
    next = { ...current, grants: grants.filter((g) => g !== ours) };
  } else {
    next = { ...current, grants: grants.map((g) => (g === ours ? { ...g, state: 'done' as const, mayExist: true as const } : g)) };
  }
  return { write: { kind: 'put', value: next, expiresAt: expiry(next, budget, now) }, result: undefined };
}

/** What the window still allows, per kind, for /healthz and dry runs. */
export function costLeft(current: CostState | undefined, budget: CostBudget, now: number): Partial<Record<CostKind, number>> {
  const state = counted(current, budget, now);
  const left: Partial<Record<CostKind, number>> = {};
  for (const kind of ['hourly', 'prepaid'] as const) {
    const limit = budget[kind];
    if (limit !== undefined) left[kind] = roundCents(limit - usedOf(state, kind));
  }
  return left;
}

export function readCost(current: CostState | undefined): StoreStep<CostState, CostState | undefined> {
  return { write: { kind: 'keep' }, result: current };
}

function freesAt(state: CostState, budget: CostBudget, kind: CostKind, limit: number, need: number, now: number, eventKey: string): number {
  const windowMs = budget.windowSeconds * 1000;
  const leaving = [
    ...state.grants.filter((g) => g.kind === kind && g.eventKey !== eventKey).map((g) => ({ at: g.at + windowMs, amount: g.amount })),
    ...(state.spent ?? []).filter((s) => s.kind === kind).map((s) => ({ at: s.from + sliceMs(budget) + windowMs, amount: s.amount })),
  ].sort((a, b) => a.at - b.at);
  let used = leaving.reduce((sum, l) => sum + l.amount, 0);
  for (const l of leaving) {
    used -= l.amount;
    if (roundCents(used + need) <= limit) return Math.max(l.at, now + 1000);
  }
  // Beyond the whole limit: waiting never makes it fit. Say "a window from now".
  return now + windowMs;
}

function expiry(state: CostState, budget: CostBudget, now: number): number {
  const windowMs = budget.windowSeconds * 1000;
  return Math.max(
    now + 1000,
    ...state.grants.map((g) => Math.max(g.at + windowMs, g.inFlightUntil)),
    ...(state.spent ?? []).map((s) => s.from + sliceMs(budget) + windowMs),
  );
}

export function money(amount: number, budget: Pick<CostBudget, 'currency'>): string {
  return `${amount.toFixed(2)} ${budget.currency}`;
}
