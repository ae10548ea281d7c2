import type { Config } from '../config/config';
import { MARK_KEYS } from '../core/marks';
import type { ClusterConfig } from '../core/model';
import { entriesOf, markReleasing, purchaseExpiry, purchaseIndexKeyOf, purchaseKeyOf, type PurchaseIndex, type PurchaseRecord } from '../core/purchase';
import {
  addRestoreIntents,
  anyRestorable,
  intentsOf,
  restoreIntentsKeyOf,
  type RestoreIntents,
  claimRestore,
  dropRestoreLock,
  finishRestore,
  planRestore,
  releaseAsksKeyOf,
  releaseLockKeyOf,
  restoredByEvent,
  takeRestoreLock,
  withdrawAsksFor,
  type InstanceRelease,
  type ReleaseAsks,
  type ReleaseLock,
  type RestoreCandidate,
} from '../core/release';
import { ScaleOutError } from '../errors';
import { readValue } from '../core/store-step';
import { instanceIdOfProviderID, type KubeApi } from '../kubernetes/kube-api';
import type { StateStore } from '../store/state-store';

/**
 * The high alarm fires again while the function's nodes are being given back: put them back in
 * service instead of buying new ones (issue 19). A node cordoned or draining still runs, is paid
 * for, and joins no slower than a new one could; uncordoning it is the cheapest scale-out there is.
 *
 * For one scale-out of a template in a cluster whose Kubernetes API the config names:
 *   1. the asks still waiting to give such nodes back are withdrawn (the need is back);
 *   2. the nodes of that template on a way out a scale-out may stop (cordoned, draining, stuck;
 *      not deleting, not a lease that ended: core/release.ts, `restorable`) are found through the
 *      purchase index's `releasing` entries, and their records;
 *   3. under the cluster's release lock, held with any other scale-out doing the same but never
 *      with a pass (so no pass drains or deletes a node while it is put back), the
 *      chosen nodes are written down for the event (core/release.ts, RestoreIntents), then each is
 *      claimed in its record (`restoring`, with the event), uncordoned if it still carries the
 *      function's marks, and recorded `restored`. A claim whose uncordon fails stays `restoring`:
 *      the next pass uncordons it (purchases/release-pass.ts), so it is counted all the same.
 *
 * A redelivery of the same event (its purchase for the rest failed, its answer was lost, it
 * crashed) reads the records its intents name and counts what its claims reached (`restoredBy`)
 * instead of taking or buying more: the count asked is never exceeded by a retry. Nothing here throws a ScaleOutError: what fails is reported, and the scale-out
 * buys what was not put back, as it would have without this step.
 */
export interface RestoreDeps {
  readonly config: Config;
  readonly store: StateStore;
  readonly kubeFor?: (cluster: ClusterConfig) => KubeApi | undefined;
  readonly now: () => number;
}

export interface Restore {
  /** Put back in service for this scale-out (by this delivery, or by an earlier one of its event); for a dry run, what would be. */
  readonly instanceIds: readonly string[];
  /** Asks to give nodes back withdrawn because the need is back. */
  readonly withdrawn?: number;
  /** What could not be done (for the log line): the scale-out buys instead. */
  readonly problems?: readonly string[];
}

const NOTHING: Restore = { instanceIds: [] };

export async function restoreNodes(
  deps: RestoreDeps,
  cluster: ClusterConfig,
  template: string,
  /** The scale-out's idempotency key: who put a node back. */
  eventKey: string,
  count: number,
  deadline: number,
  dryRun = false,
): Promise<Restore> {
  const kube = deps.kubeFor?.(cluster);
  if (kube === undefined || count <= 0) return NOTHING;
  const { store, now, config } = deps;
  const problems: string[] = [];
  try {
    const withdrawn = dryRun ? 0 : await store.update<ReleaseAsks, number>(releaseAsksKeyOf(cluster.clusterId), (current) => withdrawAsksFor(current, template, now()));
    const said = withdrawn > 0 ? { withdrawn } : {};
    // What an earlier delivery of this event put back, and what is on its way out now.
    const intentsKey = restoreIntentsKeyOf(cluster.clusterId, eventKey);
    const intents = intentsOf(await store.update<RestoreIntents, RestoreIntents | undefined>(intentsKey, readValue));
    const entries = entriesOf(await store.update<PurchaseIndex, PurchaseIndex | undefined>(purchaseIndexKeyOf(cluster.clusterId), readValue)).filter((e) => e.releasing === true);
    const ids = [...new Set([...intents.map((i) => i.purchaseId), ...entries.map((e) => e.id)])];
    if (ids.length === 0) return { ...NOTHING, ...said };
    const read = (await Promise.all(ids.map((id) => store.update<PurchaseRecord, PurchaseRecord | undefined>(purchaseKeyOf(cluster.clusterId, id), readValue)))).filter((r): r is PurchaseRecord => r !== undefined);
    const already = restoredByEvent(read, eventKey);
    const records = read.filter((r) => r.template === template);
    const candidates = records.flatMap((r) => Object.entries(r.instances ?? {}).flatMap(([instanceId, i]) => (i.release === undefined ? [] : [{ instanceId, purchaseId: r.id, release: i.release }])));
    const wanted = count - already.length;
    // Every restorable node, best first: another scale-out may claim the first ones meanwhile.
    const ordered = planRestore(candidates, candidates.length);
    if (dryRun || ordered.length === 0 || wanted <= 0) return { instanceIds: [...already, ...ordered.slice(0, Math.max(0, wanted)).map((c) => c.instanceId)], ...said };
    const owners = new Map(records.map((r) => [r.id, r.owner]));

    const by = `restore:${eventKey}`;
    const lockKey = releaseLockKeyOf(cluster.clusterId);
    if (!(await store.update<ReleaseLock, boolean>(lockKey, (current) => takeRestoreLock(current, by, deadline + LOCK_MARGIN_MS, now())))) {
      return { instanceIds: already, ...said, problems: ["a pass is giving this cluster's nodes back right now: none put back, bought instead"] };
    }
    try {
      const restored = await putBack(deps, kube, cluster, ordered, wanted, owners, { key: intentsKey, keepUntil: now() + config.idempotency.ttlSeconds * 1000 }, eventKey, deadline, problems);
      return { instanceIds: [...already, ...restored], ...said, ...(problems.length > 0 && { problems }) };
    } finally {
      await store.update<ReleaseLock, void>(lockKey, (current) => dropRestoreLock(current, by, now())).catch(() => undefined);
    }
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return { instanceIds: [], problems: [...problems, `nodes being given back could not be put back (${error.code}: ${error.message}): bought instead`] };
  }
}

const LOCK_MARGIN_MS = 5_000;

/**
 * Claims `wanted` of the candidates, best first (one another scale-out claimed meanwhile is passed
 * over), uncordons and records each; returns the ones claimed (their uncordon done, or left to the pass).
 */
async function putBack(
  deps: RestoreDeps,
  kube: KubeApi,
  cluster: ClusterConfig,
  ordered: readonly RestoreCandidate[],
  wanted: number,
  /** Each purchase's owner mark (core/marks.ts). */
  owners: ReadonlyMap<string, string>,
  intents: { readonly key: string; readonly keepUntil: number },
  eventKey: string,
  deadline: number,
  problems: string[],
): Promise<string[]> {
  const { store, now, config } = deps;
  const retentionMs = config.purchases.retentionDays * 86_400_000;
  const expiry = (next: PurchaseRecord) => purchaseExpiry(next, now(), retentionMs);
  const signal = () => AbortSignal.timeout(Math.max(1, Math.min(config.tke.attemptTimeoutMs, deadline - now())));
  // Whose node is whose, by providerID: only a node still carrying both of the function's marks is uncordoned.
  const marked = await kube.listNodes(MARK_KEYS.owner, signal()).catch((error: unknown) => {
    if (!(error instanceof ScaleOutError)) throw error;
    problems.push(`the nodes could not be listed (${error.code}): each node claimed is left to the next pass to uncordon`);
    return undefined;
  });
  const restored: string[] = [];
  const touched = new Set<string>();
  for (const c of ordered) {
    if (restored.length >= wanted) break;
    // Said before claimed: a redelivery finds the record to count, whatever happens from here.
    await store.update<RestoreIntents, void>(intents.key, (current) => addRestoreIntents(current, [{ instanceId: c.instanceId, purchaseId: c.purchaseId }], intents.keepUntil));
    const claimed = await store.update<PurchaseRecord, InstanceRelease | undefined>(purchaseKeyOf(cluster.clusterId, c.purchaseId), (current) => claimRestore(current, c.instanceId, eventKey, now(), expiry));
    if (claimed === undefined) continue; // another scale-out claimed it meanwhile, or a pass moved it on: the next one
    restored.push(c.instanceId);
    touched.add(c.purchaseId);
    const node = marked?.find((n) => instanceIdOfProviderID(n.providerID) === c.instanceId);
    if (marked !== undefined && (node === undefined || node.labels[MARK_KEYS.purchase] !== c.purchaseId || node.labels[MARK_KEYS.owner] !== owners.get(c.purchaseId))) {
      // Gone, or an operator took it over (its marks removed): nothing of ours to uncordon.
      await store.update<PurchaseRecord, boolean>(purchaseKeyOf(cluster.clusterId, c.purchaseId), (current) => finishRestore(current, c.instanceId, now(), expiry));
      continue;
    }
    if (node === undefined) continue;
    try {
      if (node.unschedulable) await kube.setUnschedulable(node.name, false, signal());
      await store.update<PurchaseRecord, boolean>(purchaseKeyOf(cluster.clusterId, c.purchaseId), (current) => finishRestore(current, c.instanceId, now(), expiry));
    } catch (error) {
      if (!(error instanceof ScaleOutError)) throw error;
      problems.push(`${c.instanceId}: claimed but not uncordoned yet (${error.code}); the next pass uncordons it`);
    }
  }
  // Their index entries say whether anything is still on a way out a scale-out could stop.
  for (const purchaseId of touched) {
    const record = await store.update<PurchaseRecord, PurchaseRecord | undefined>(purchaseKeyOf(cluster.clusterId, purchaseId), readValue);
    if (record === undefined) continue;
    await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(cluster.clusterId), (current) => markReleasing(current, record.id, anyRestorable(record), now()));
  }
  return restored;
}
