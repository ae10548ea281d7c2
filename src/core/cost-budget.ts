import type { CostBudget, CostKind } from './model';
import { roundCents, type Price } from './price';
import type { StoreStep } from './store-step';
import {
  adoptEntry,
  freesAt,
  heldEntry,
  refund,
  inWindow,
  ledgerExpiry,
  ledgerWindow,
  ownEntry,
  settleEntry,
  usedOf,
  withEntry,
  type LedgerEntry,
  type LedgerState,
  type LedgerWindow,
  type Settlement,
} from './windowed-ledger';

/**
 * A money budget (config `clusters.<alias>.costBudget`, or the deployment's top-level `costBudget`)
 * as pure decisions over its stored state: the windowed ledger the node budget keeps too
 * (core/windowed-ledger.ts), with two measures, `hourly` and `prepaid`.
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
export type CostGrant = LedgerEntry<CostKind>;
export type CostState = LedgerState<CostKind>;

export interface CostAsk {
  readonly eventKey: string;
  readonly claimId: string;
  readonly price: Price;
  readonly inFlightUntil: number;
}

export type CostDecision =
  | { readonly kind: 'granted'; readonly amount: number; /** what is left of the limit after this */ readonly left: number }
  /** `retryAt: 'never'`: no wait makes it fit (more than the whole limit, or no limit of its kind). */
  | { readonly kind: 'over-budget'; readonly used: number; readonly limit: number | undefined; readonly retryAt: number | 'never'; readonly detail: string };

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

function windowOf(budget: CostBudget): LedgerWindow {
  return ledgerWindow(budget.windowSeconds);
}

/**
 * Reserves `ask.price` for the event, replacing its own earlier reservation (another rung, another
 * count) unless that one may have bought (then it stands, and is what this event has).
 */
export function reserveCost(current: CostState | undefined, ask: CostAsk, budget: CostBudget, now: number): StoreStep<CostState, CostDecision> {
  const window = windowOf(budget);
  const state = inWindow(current, window, now);
  const { kind, amount } = ask.price;
  const limit = budget[kind];
  const own = ownEntry(state, ask.eventKey);
  if (own?.mayExist === true) {
    const adopted = adoptEntry(state, ask.eventKey, ask.claimId, ask.inFlightUntil);
    return {
      write: { kind: 'put', value: adopted.state, expiresAt: ledgerExpiry(adopted.state, window, now) },
      result: { kind: 'granted', amount: own.amount, left: roundCents((budget[own.kind] ?? 0) - usedOf(state, own.kind)) },
    };
  }
  const per = kind === 'hourly' ? '/h' : '';
  if (!isPrice(amount)) {
    // A price that is not a finite positive number must never pass uncounted (pricing.ts refuses
    // one already; this is the ledger's own guard).
    return { write: { kind: 'keep' }, result: { kind: 'over-budget', used: usedOf(state, kind, ask.eventKey), limit, retryAt: 'never', detail: `the price ${String(amount)} cannot be counted` } };
  }
  const used = usedOf(state, kind, ask.eventKey);
  if (limit === undefined || roundCents(used + amount) > limit) {
    const retryAt = limit === undefined ? 'never' : freesAt(state, window, kind, limit, amount, now, ask.eventKey);
    return {
      write: { kind: 'keep' },
      result: {
        kind: 'over-budget',
        used,
        limit,
        retryAt,
        detail:
          limit === undefined
            ? `no ${kind} budget is set (costBudget.${kind})`
            : retryAt === 'never'
              ? `this purchase is ${money(amount, budget)}${per}, more than the whole budget of ${money(limit, budget)}${per} per ${budget.windowSeconds} s`
              : `${money(used, budget)} of ${money(limit, budget)}${per} per ${budget.windowSeconds} s is committed; this purchase is ${money(amount, budget)}${per}`,
      },
    };
  }
  const grant: CostGrant = { eventKey: ask.eventKey, claimId: ask.claimId, kind, amount, at: now, state: 'in-flight', inFlightUntil: ask.inFlightUntil };
  const next = withEntry(state, grant);
  return { write: { kind: 'put', value: next, expiresAt: ledgerExpiry(next, window, now) }, result: { kind: 'granted', amount, left: roundCents(limit - used - amount) } };
}

/**
 * A redelivery takes over its event's own reservation (re-stamped with its claim), without a new
 * price: the request it re-sends is the one that reservation was made for. Undefined: none left.
 */
export function adoptCost(current: CostState | undefined, eventKey: string, claimId: string, inFlightUntil: number, budget: CostBudget, now: number): StoreStep<CostState, CostGrant | undefined> {
  const window = windowOf(budget);
  const adopted = adoptEntry(inWindow(current, window, now), eventKey, claimId, inFlightUntil);
  if (adopted.entry === undefined) return { write: { kind: 'keep' }, result: undefined };
  return { write: { kind: 'put', value: adopted.state, expiresAt: ledgerExpiry(adopted.state, window, now) }, result: adopted.entry };
}

/**
 * The call was answered. `created`: the reservation becomes spent. `refused` (no attempt may have
 * bought; a sold-out rung too): given back. `unknown`: kept for good.
 */
export function settleCost(current: CostState | undefined, eventKey: string, claimId: string, outcome: Settlement, budget: CostBudget, now: number): StoreStep<CostState, void> {
  const held = heldEntry(current, eventKey, claimId);
  if (current === undefined || held === undefined) return { write: { kind: 'keep' }, result: undefined };
  const window = windowOf(budget);
  const next = settleEntry(current, held, outcome, window);
  return { write: { kind: 'put', value: next, expiresAt: ledgerExpiry(next, window, now) }, result: undefined };
}

/**
 * Money an event counted for what no longer costs (cleaned-up nodes, terminated): given back to the
 * window it was counted in (core/windowed-ledger.ts, refund). The result: how much went back.
 */
export function refundMoney(current: CostState | undefined, eventKey: string, at: number, kind: CostKind, amount: number, budget: CostBudget, now: number): StoreStep<CostState, number> {
  const window = windowOf(budget);
  const back = refund(inWindow(current, window, now), window, { eventKey, kind, at }, amount);
  if (back.given === 0) return { write: { kind: 'keep' }, result: 0 };
  return { write: { kind: 'put', value: back.state, expiresAt: ledgerExpiry(back.state, window, now) }, result: back.given };
}

/** What the window still allows, per kind, for /healthz and dry runs. */
export function costLeft(current: CostState | undefined, budget: CostBudget, now: number): Partial<Record<CostKind, number>> {
  const state = inWindow(current, windowOf(budget), now);
  const left: Partial<Record<CostKind, number>> = {};
  for (const kind of ['hourly', 'prepaid'] as const) {
    const limit = budget[kind];
    if (limit !== undefined) left[kind] = roundCents(limit - usedOf(state, kind));
  }
  return left;
}

/** What the next purchase may still commit, per kind: the tightest of the budgets it falls under. */
export function leastCostLeft(ledgers: ReadonlyArray<{ readonly scope: CostScope; readonly state: CostState | undefined }>, now: number): Partial<Record<CostKind, number>> {
  const least: Partial<Record<CostKind, number>> = {};
  for (const { scope, state } of ledgers) {
    for (const [kind, left] of Object.entries(costLeft(state, scope.budget, now)) as Array<[CostKind, number]>) {
      least[kind] = Math.min(least[kind] ?? Infinity, left);
    }
  }
  return least;
}

/** Whether an amount can be counted: a finite number above zero (core/price.ts reads prices so). */
function isPrice(amount: unknown): amount is number {
  return typeof amount === 'number' && Number.isFinite(amount) && amount > 0;
}

export function money(amount: number, budget: Pick<CostBudget, 'currency'>): string {
  return `${amount.toFixed(2)} ${budget.currency}`;
}
