import type { Config } from '../config/load-config';
import { followPurchase, releaseHold, indexPurchase, purchaseExpiry, purchaseIndexKeyOf, purchaseKeyOf, takePurchase, unindexPurchase, type PurchaseIndex, type PurchaseIndexEntry, type PurchaseRecord } from '../core/purchase';
import { ScaleOutError } from '../errors';
import type { StateStore } from '../store/state-store';
import { indexedPurchases } from './purchase-reads';
import { describeInstances, type TkeCallOptions } from '../tke/call-tke';
import type { TkeApi } from '../tke/tke-api';
import type { ClusterInstance } from '../tke/tke-params';

/**
 * The pass that follows what the function bought (an SCF timer trigger, every minute by default;
 * `npm start` runs it on an interval): for every open purchase, oldest first, it reads the
 * instances with TKE's DescribeClusterInstances (one call per cluster for all its purchases, 100
 * IDs a page) and moves the purchase on (core/purchase.ts, followPurchase): ready when every node
 * runs, failed when one failed or is not running after the provision timeout, cleaned when none is
 * in the cluster any more.
 *
 * Each purchase is taken before it is read (takePurchase, the store's atomic update): two passes at
 * once (an overlapping timer, another instance) never follow the same purchase. A pass stops taking
 * purchases when its invocation's time runs short and leaves the rest to the next one; a TKE read
 * that fails leaves that cluster's purchases as they were, for the next pass.
 *
 * It reads and records only. Cleaning up failed nodes (DeleteClusterInstances on the function's own
 * marked instances), giving their budget back and backing off the offering are not built yet: a
 * failed purchase stays `failed`, listed by GET /purchases with its reason.
 */
export interface FollowDeps {
  readonly config: Config;
  readonly store: StateStore;
  readonly tke: TkeApi;
  readonly now: () => number;
  /** This pass's name in the records it takes. */
  readonly passId: string;
}

export interface PassTimes {
  readonly deadline: number;
  readonly timeoutAt: number;
}

/** What a pass did, for its log line. */
export interface PassReport {
  readonly outcome: 'followed';
  readonly open: number;
  readonly followed: number;
  readonly moved: ReadonlyArray<{ readonly id: string; readonly from: string; readonly to: string; readonly failedReason?: string }>;
  /** Purchases another pass had, or left for the next pass (time ran short). */
  readonly skipped: number;
  readonly left: number;
  /** Clusters whose instances could not be read, and why. */
  readonly unread?: ReadonlyArray<{ readonly clusterId: string; readonly error: string }>;
}

/** Time a pass keeps for reading one cluster and writing back, at the least. */
const MIN_STEP_MS = 1500;

export async function followPurchases(deps: FollowDeps, times: PassTimes): Promise<PassReport> {
  const { config, store, now } = deps;
  const retentionMs = config.purchases.retentionDays * 86_400_000;
  const provisionTimeoutMs = config.purchases.provisionTimeoutSeconds * 1000;
  const open: PurchaseIndexEntry[] = [];
  for (const cluster of config.clusters.values()) {
    open.push(...(await indexedPurchases(store, cluster.clusterId)).filter((e) => e.endedAt === undefined));
  }
  // Oldest first, across clusters.
  open.sort((a, b) => a.at - b.at);

  // Take what this pass can follow, cluster by cluster.
  const byCluster = new Map<string, PurchaseRecord[]>();
  let skipped = 0;
  let left = 0;
  for (const entry of open) {
    if (times.deadline - now() < MIN_STEP_MS) {
      left++;
      continue;
    }
    const taken = await store.update(purchaseKeyOf(entry.clusterId, entry.id), (current: PurchaseRecord | undefined) => takePurchase(current, deps.passId, times.timeoutAt, now(), retentionMs));
    if (taken.kind === 'gone') {
      // Its record expired (or was never written): nothing to follow; it leaves the list.
      await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(entry.clusterId), (current) => unindexPurchase(current, entry.id, now()));
      continue;
    }
    if (taken.kind !== 'taken') {
      skipped++;
      continue;
    }
    byCluster.set(entry.clusterId, [...(byCluster.get(entry.clusterId) ?? []), taken.record]);
  }

  const moved: Array<PassReport['moved'][number]> = [];
  const unread: Array<{ clusterId: string; error: string }> = [];
  let followed = 0;
  for (const [clusterId, records] of byCluster) {
    const ids = [...new Set(records.flatMap((r) => r.instanceIds))];
    let seen = new Map<string, ClusterInstance>();
    let readFailed = false;
    if (ids.length > 0) {
      try {
        const options: TkeCallOptions = { deadline: times.deadline, now, policy: config.tke };
        seen = new Map((await describeInstances(deps.tke, records[0]!.region, clusterId, ids, options)).map((i) => [i.instanceId, i]));
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        unread.push({ clusterId, error: `${error.code}: ${error.message}` });
        readFailed = true;
      }
    }
    for (const record of records) {
      const at = now();
      const next = readFailed ? releaseHold(record) : followPurchase(record, seen, at, provisionTimeoutMs);
      await store.update<PurchaseRecord, void>(purchaseKeyOf(clusterId, record.id), (current) =>
        // Only the purchase as this pass took it: a write of the lifecycle meanwhile (a re-send's
        // instances) is kept, and followed on the next pass.
        current?.followedBy?.pass === deps.passId && current.instanceIds.length === record.instanceIds.length
          ? { write: { kind: 'put', value: next, expiresAt: purchaseExpiry(next, at, retentionMs) }, result: undefined }
          : { write: { kind: 'keep' }, result: undefined },
      );
      if (readFailed) continue;
      followed++;
      if (next.state !== record.state) moved.push({ id: record.id, from: record.state, to: next.state, ...(next.state === 'failed' && next.failedReason !== undefined && { failedReason: next.failedReason }) });
      if (next.endedAt !== undefined) {
        // Ended: its entry now expires with its record.
        await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(clusterId), (current) =>
          indexPurchase(current, { id: next.id, clusterId, at: next.requestedAt, endedAt: next.endedAt!, expiresAt: purchaseExpiry(next, at, retentionMs) }, at),
        );
      }
    }
  }
  return { outcome: 'followed', open: open.length, followed, moved, skipped, left, ...(unread.length > 0 && { unread }) };
}
