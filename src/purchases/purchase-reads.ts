import type { Config } from '../config/config';
import { costScopesOf, leastCostLeft, type CostState } from '../core/cost-budget';
import type { ClusterConfig } from '../core/model';
import type { BudgetLeft } from '../core/notice';
import { entriesOf, purchaseIndexKeyOf, purchaseKeyOf, type PurchaseIndex, type PurchaseIndexEntry, type PurchaseRecord } from '../core/purchase';
import { readValue } from '../core/store-step';
import { clusterThrottleKey, nodeBudgetOf, type ThrottleState } from '../core/throttle';
import type { StateStore } from '../store/state-store';

/**
 * The reads every view of what was bought makes (GET /purchases, /healthz, `/scaleout status`, the
 * pass): one place for each, so that they cannot drift apart.
 */

/** A cluster's purchases as its index lists them, oldest first (entries that cannot be read are left out). */
export async function indexedPurchases(store: StateStore, clusterId: string): Promise<readonly PurchaseIndexEntry[]> {
  return entriesOf(await store.update<PurchaseIndex, PurchaseIndex | undefined>(purchaseIndexKeyOf(clusterId), readValue));
}

/** The cluster's own node budget now: what its window holds and leaves, and the cooldown (a template with its own throttle has a scope of its own). */
export async function nodeBudgetNow(
  store: StateStore,
  cluster: ClusterConfig,
  now: number,
): Promise<{ readonly used: number; readonly left: number; readonly windowSeconds: number; readonly cooldownUntil?: number }> {
  const budget = nodeBudgetOf(await store.update<ThrottleState, ThrottleState | undefined>(clusterThrottleKey(cluster.clusterId), readValue), cluster.throttle, now);
  return { ...budget, windowSeconds: cluster.throttle.windowSeconds };
}

/** A purchase's record, if the store still has it. */
export function readPurchase(store: StateStore, clusterId: string, id: string): Promise<PurchaseRecord | undefined> {
  return store.update<PurchaseRecord, PurchaseRecord | undefined>(purchaseKeyOf(clusterId, id), readValue);
}

/** What the cluster's node budget and the money budgets over it leave now (the tightest money budget, per kind): for a notice. */
export async function budgetLeftNow(store: StateStore, config: Config, cluster: ClusterConfig, now: number): Promise<BudgetLeft> {
  const nodes = await nodeBudgetNow(store, cluster, now);
  const scopes = costScopesOf(cluster, config.costBudget);
  const ledgers = await Promise.all(scopes.map(async (scope) => ({ scope, state: await store.update<CostState, CostState | undefined>(scope.key, readValue) })));
  const money = leastCostLeft(ledgers, now);
  return {
    nodes: { left: nodes.left, of: cluster.throttle.maxNodesPerWindow, windowSeconds: nodes.windowSeconds },
    ...(scopes.length > 0 && { money: { currency: scopes[0]!.budget.currency, ...money } }),
  };
}
