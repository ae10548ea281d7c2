import type { ClusterConfig } from '../core/model';
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
