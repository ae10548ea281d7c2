import type { Config } from '../config/load-config';
import { type ClusterStatus, type PurchaseRecord, type PurchaseState } from '../core/purchase';
import type { StateStore } from '../store/state-store';
import { indexedPurchases, nodeBudgetNow, readPurchase } from './purchase-reads';

/** How many of a cluster's newest purchases a status shows. */
const RECENT = 3;

/**
 * Each cluster's node budget and what the function bought there (`/scaleout status`): the open
 * purchases by state and the newest few. Reads only: the cluster's throttle, its purchase index,
 * and the records it needs (the open ones and the newest).
 */
export async function clusterStatuses(deps: { readonly config: Config; readonly store: StateStore; readonly now: () => number }, only?: string): Promise<ClusterStatus[]> {
  const statuses: ClusterStatus[] = [];
  for (const cluster of deps.config.clusters.values()) {
    if (only !== undefined && cluster.alias !== only) continue;
    const nodeBudget: ClusterStatus['nodeBudget'] = await nodeBudgetNow(deps.store, cluster, deps.now()).catch(() => ({ unavailable: 'the store could not be read' }));
    const entries = await indexedPurchases(deps.store, cluster.clusterId).catch(() => []);
    const wanted = new Set([...entries.filter((e) => e.endedAt === undefined), ...entries.slice(-RECENT)].map((e) => e.id));
    const records: PurchaseRecord[] = [];
    for (const id of wanted) {
      const record = await readPurchase(deps.store, cluster.clusterId, id).catch(() => undefined);
      if (record !== undefined) records.push(record);
    }
    const open: Partial<Record<PurchaseState, number>> = {};
    for (const r of records) if (r.endedAt === undefined) open[r.state] = (open[r.state] ?? 0) + 1;
    const recent = records
      .filter((r) => typeof r.requestedAt === 'number')
      .sort((a, b) => b.requestedAt - a.requestedAt)
      .slice(0, RECENT)
      .map((r) => ({ id: r.id, state: r.state, count: r.count, requestedAt: r.requestedAt, ...(r.failedReason !== undefined && { failedReason: r.failedReason }) }));
    statuses.push({ cluster: cluster.alias, clusterId: cluster.clusterId, nodeBudget, open, recent });
  }
  return statuses;
}
