import type { Config } from '../config/config';
import { MARK_KEYS } from '../core/marks';
import type { ClusterConfig } from '../core/model';
import { entriesOf, markReleasing, purchaseExpiry, purchaseIndexKeyOf, purchaseKeyOf, type PurchaseIndex, type PurchaseRecord } from '../core/purchase';
import {
  addRestoreIntents,
  anyRestorable,
  noteLatest,
  putBackKeyOf,
  type LastAt,
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
import { instanceIdOfProviderID, type KubeApi, type KubeNode } from '../kubernetes/kube-api';
import type { StateStore } from '../store/state-store';

/**
 * The high alarm fires again while the function's nodes are being given back: put them back in
 * service instead of buying new ones (issue 19). A node cordoned or draining still runs, is paid
 * for, and joins no slower than a new one could; uncordoning it is the cheapest scale-out there is.
 *
 * For one scale-out of a template in a cluster whose Kubernetes API the config names:
 *   1. what an earlier delivery of the event put back (the records its intents name), and the
 *      nodes of that template on a way out a scale-out may stop (cordoned, draining, stuck; not
 *      deleting, not a lease that ended: core/release.ts, `restorable`), found through the purchase
 *      index's `releasing` entries and their records;
 *   2. the cluster's release lock, held with any other scale-out doing the same but never with a
 *      pass (no pass drains or deletes a node while it is put back); a pass holding it: nothing is
 *      put back, the scale-out buys;
 *   3. the asks still waiting to give such nodes back are withdrawn (the need is back);
 *   4. each chosen node, best first, only if its Kubernetes node is listed with both of the
 *      function's marks, is written down for the event (core/release.ts, RestoreIntents), claimed
 *      in its record (`restoring`, with the event: atomic, so two scale-outs never take one node),
 *      uncordoned, and recorded `restored`. A claim whose uncordon fails stays `restoring`: the next
 *      pass uncordons it (purchases/release-pass.ts), so it is counted all the same. Claims stop
 *      short of the deadline (the lock outlives it by a margin);
 *   5. the time is noted (`put-back`): the delay after a purchase holds for these nodes too.
 *
 * A redelivery of the same event (its purchase for the rest failed, its answer was lost, it
 * crashed) counts what its claims reached (`restoredBy`) instead of taking or buying more: the
 * count asked is never exceeded by a retry. The store failing before that is known is thrown (the
 * sender gets 503 and retries); after it, what fails is reported and what was put back is kept:
 * the scale-out buys only the rest.
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

/**
 * Puts back up to `count` of the template's nodes on their way out, for the event `eventKey`
 * (`holder`: this delivery, unique, for the lock). Throws a ScaleOutError (the store failing) only
 * before it knows what an earlier delivery of the event put back: buying then could exceed the
 * count, so the sender is answered 503 and retries. Past that point what fails is reported and
 * what was put back is kept.
 */
export async function restoreNodes(
  deps: RestoreDeps,
  cluster: ClusterConfig,
  template: string,
  /** The scale-out's idempotency key: who put a node back. */
  eventKey: string,
  count: number,
  deadline: number,
  options: { readonly dryRun?: boolean; readonly holder?: string } = {},
): Promise<Restore> {
  const kube = deps.kubeFor?.(cluster);
  if (kube === undefined || count <= 0) return NOTHING;
  const { store, now, config } = deps;
  const problems: string[] = [];
  // What an earlier delivery of this event put back, and what is on its way out now.
  const { already, records } = await readRestorable(store, cluster, eventKey, true);
  const ofTemplate = records.filter((r) => r.template === template);
  const candidates = ofTemplate.flatMap((r) => Object.entries(r.instances ?? {}).flatMap(([instanceId, i]) => (i.release === undefined ? [] : [{ instanceId, purchaseId: r.id, release: i.release }])));
  const wanted = count - already.length;
  // Every restorable node, best first: another scale-out may claim the first ones meanwhile.
  const ordered = planRestore(candidates, candidates.length);
  if (options.dryRun === true) return { instanceIds: [...already, ...ordered.slice(0, Math.max(0, wanted)).map((c) => c.instanceId)] };

  const restored: string[] = [];
  const by = `restore:${eventKey}:${options.holder ?? ''}`;
  const lockKey = releaseLockKeyOf(cluster.clusterId);
  let locked = false;
  try {
    if (ordered.length > 0 && wanted > 0) {
      locked = await store.update<ReleaseLock, boolean>(lockKey, (current) => takeRestoreLock(current, by, deadline + LOCK_MARGIN_MS, now()));
      if (!locked) problems.push("a pass is giving this cluster's nodes back right now: none put back, bought instead");
    }
    // The need is back: the asks still waiting to give such nodes back are withdrawn (after the
    // lock, so that no pass holding it has read them; a pass that read them before keeps its plan).
    const withdrawn = await store.update<ReleaseAsks, number>(releaseAsksKeyOf(cluster.clusterId), (current) => withdrawAsksFor(current, template, now())).catch((error: unknown) => {
      if (!(error instanceof ScaleOutError)) throw error;
      problems.push(`the asks waiting to give nodes back could not be withdrawn (${error.code})`);
      return 0;
    });
    if (locked) {
      const owners = new Map(ofTemplate.map((r) => [r.id, r.owner]));
      await putBack(deps, kube, cluster, ordered, wanted, owners, { key: restoreIntentsKeyOf(cluster.clusterId, eventKey), keepUntil: now() + config.idempotency.ttlSeconds * 1000 }, eventKey, deadline, restored, problems);
      if (restored.length > 0) {
        // Counted as a purchase for the delay after one: what was just put back is not drained again at once.
        const at = now();
        await store.update<LastAt, void>(putBackKeyOf(cluster.clusterId), (current) => noteLatest(current, at, cluster.release.delayAfterPurchaseSeconds * 1000)).catch((error: unknown) => {
          if (!(error instanceof ScaleOutError)) throw error;
          problems.push(`the put-back time could not be noted (${error.code}): the delay after a purchase does not hold for these nodes`);
        });
      }
    }
    return { instanceIds: [...already, ...restored], ...(withdrawn > 0 && { withdrawn }), ...(problems.length > 0 && { problems }) };
  } finally {
    if (locked) await store.update<ReleaseLock, void>(lockKey, (current) => dropRestoreLock(current, by, now())).catch(() => undefined);
  }
}

/**
 * What an event put back already (the records its intents name) and, with `andRestorable`, the
 * records of purchases with a node a scale-out could put back (the index's `releasing` entries).
 */
async function readRestorable(store: StateStore, cluster: ClusterConfig, eventKey: string, andRestorable: boolean): Promise<{ already: string[]; records: PurchaseRecord[] }> {
  const intents = intentsOf(await store.update<RestoreIntents, RestoreIntents | undefined>(restoreIntentsKeyOf(cluster.clusterId, eventKey), readValue));
  const entries = andRestorable ? entriesOf(await store.update<PurchaseIndex, PurchaseIndex | undefined>(purchaseIndexKeyOf(cluster.clusterId), readValue)).filter((e) => e.releasing === true) : [];
  const ids = [...new Set([...intents.map((i) => i.purchaseId), ...entries.map((e) => e.id)])];
  const read = (await Promise.all(ids.map((id) => readRecord(store, cluster, id)))).filter((r): r is PurchaseRecord => r !== undefined);
  return { already: restoredByEvent(read, eventKey), records: read };
}

/**
 * What an earlier delivery of the event put back, read only: a re-send (which does not put back:
 * its count is the one it sent) still answers with them.
 */
export async function restoredEarlier(deps: Pick<RestoreDeps, 'store' | 'kubeFor'>, cluster: ClusterConfig, eventKey: string): Promise<string[]> {
  if (deps.kubeFor?.(cluster) === undefined) return [];
  return (await readRestorable(deps.store, cluster, eventKey, false)).already;
}

function readRecord(store: StateStore, cluster: ClusterConfig, purchaseId: string): Promise<PurchaseRecord | undefined> {
  return store.update<PurchaseRecord, PurchaseRecord | undefined>(purchaseKeyOf(cluster.clusterId, purchaseId), readValue);
}

const LOCK_MARGIN_MS = 5_000;
/** A claim is begun only with this long left before the deadline: its uncordon must fit (and the lock outlives the deadline by LOCK_MARGIN_MS). */
const MIN_CLAIM_MS = 500;

/**
 * Claims `wanted` of the candidates, best first (one another scale-out claimed meanwhile is passed
 * over), each only if its node is listed and still carries both of the function's marks;
 * uncordons and records each. `restored` gets each claim as it lands (their uncordon done, or left
 * to the pass), so that a failure part-way keeps what was put back.
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
  restored: string[],
  problems: string[],
): Promise<void> {
  const { store, now, config } = deps;
  const retentionMs = config.purchases.retentionDays * 86_400_000;
  const expiry = (next: PurchaseRecord) => purchaseExpiry(next, now(), retentionMs);
  const signal = () => AbortSignal.timeout(Math.max(1, Math.min(config.tke.attemptTimeoutMs, deadline - now())));
  // Whose node is whose, by providerID: only a node listed with both of the function's marks is put back.
  let byInstance: Map<string, KubeNode>;
  try {
    byInstance = new Map((await kube.listNodes(MARK_KEYS.owner, signal())).flatMap((n) => { const id = instanceIdOfProviderID(n.providerID); return id === undefined ? [] : [[id, n] as const]; }));
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    problems.push(`the nodes could not be listed (${error.code}: ${error.message}): none put back, bought instead`);
    return;
  }
  const touched = new Set<string>();
  try {
    for (const c of ordered) {
      if (restored.length >= wanted || deadline - now() < MIN_CLAIM_MS) break;
      const node = byInstance.get(c.instanceId);
      // Gone from the cluster, or an operator took it over (its marks removed): not ours to put back.
      if (node === undefined || node.labels[MARK_KEYS.purchase] !== c.purchaseId || node.labels[MARK_KEYS.owner] !== owners.get(c.purchaseId)) continue;
      // Said before claimed: a redelivery finds the record to count, whatever happens from here.
      await store.update<RestoreIntents, void>(intents.key, (current) => addRestoreIntents(current, [{ instanceId: c.instanceId, purchaseId: c.purchaseId }], intents.keepUntil));
      const claimed = await store.update<PurchaseRecord, InstanceRelease | undefined>(purchaseKeyOf(cluster.clusterId, c.purchaseId), (current) => claimRestore(current, c.instanceId, eventKey, now(), expiry));
      if (claimed === undefined) continue; // another scale-out claimed it meanwhile, or a pass moved it on: the next one
      restored.push(c.instanceId);
      touched.add(c.purchaseId);
      try {
        if (node.unschedulable) await kube.setUnschedulable(node.name, false, signal());
        await store.update<PurchaseRecord, boolean>(purchaseKeyOf(cluster.clusterId, c.purchaseId), (current) => finishRestore(current, c.instanceId, now(), expiry));
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        problems.push(`${c.instanceId}: claimed but not uncordoned yet (${error.code}); the next pass uncordons it`);
      }
    }
  } catch (error) {
    // The store failing part-way: what was claimed stays counted (a claim whose answer was lost is
    // found by the next delivery through the intents); the rest is bought.
    if (!(error instanceof ScaleOutError)) throw error;
    problems.push(`putting nodes back stopped part-way (${error.code}: ${error.message}): the rest is bought`);
  }
  // Their index entries say whether anything is still on a way out a scale-out could stop.
  for (const purchaseId of touched) {
    await readRecord(store, cluster, purchaseId)
      .then((record) => (record === undefined ? undefined : store.update<PurchaseIndex, void>(purchaseIndexKeyOf(cluster.clusterId), (current) => markReleasing(current, record.id, anyRestorable(record), now()))))
      .catch((error: unknown) => {
        if (!(error instanceof ScaleOutError)) throw error;
        problems.push(`the purchase index could not be told that ${purchaseId}'s nodes were put back (${error.code}): a later scale-out reads its record for nothing`);
      });
  }
}
