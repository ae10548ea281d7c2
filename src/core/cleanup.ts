import { MARK_KEYS } from './marks';
import type { InstanceCleanup, InstanceStatus, PurchaseRecord } from './purchase';
import type { InstanceDeletionResult } from '../tke/tke-params';

/**
 * Cleaning up what never joined, as pure steps: which of a failed purchase's instances the function
 * may delete and how (planCleanup), what the deletion did (recordCleanup), and what goes back to the
 * budgets (refundOf). The pass (purchases/follow-pass.ts) does the I/O between them.
 *
 * The function deletes only what is its own, twice over: an instance of THIS purchase's record
 * (followPurchase names them, from the record's own instance IDs) that CVM lists with BOTH of the
 * function's tags, `tke-scaleout/owner` = this deployment and `tke-scaleout/purchase` = this
 * purchase (core/marks.ts). An instance without them is left alone, and the purchase says so.
 *
 *   CVM no longer lists it           gone: nothing to delete
 *   not marked as the function's     unmarked: left alone, for an operator
 *   prepaid (PREPAID, CDHPAID)       DeleteClusterInstances `retain`: out of the cluster, still billed
 *                                    ("terminate" is "仅支持按量计费云主机实例", pay-as-you-go only)
 *   else (pay-as-you-go, spot)       DeleteClusterInstances `terminate`: destroyed
 */
export interface CvmView {
  readonly chargeType: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface CleanupPlan {
  readonly terminate: readonly string[];
  readonly retain: readonly string[];
  /** Settled without a call: not a CVM any more (`gone`), or not the function's (`unmarked`). */
  readonly settled: Readonly<Record<string, Extract<InstanceCleanup, 'gone' | 'unmarked'>>>;
}

/** Charge types DeleteClusterInstances cannot terminate: the instance is removed from the cluster and kept. */
const NOT_TERMINABLE = new Set(['PREPAID', 'CDHPAID']);

/** How DeleteClusterInstances removes an instance of this charge type: `terminate`, or `retain` a prepaid one (still billed). */
export function deleteModeOf(chargeType: string): 'terminate' | 'retain' {
  return NOT_TERMINABLE.has(chargeType) ? 'retain' : 'terminate';
}

export function planCleanup(record: PurchaseRecord, toClean: readonly string[], cvm: ReadonlyMap<string, CvmView>): CleanupPlan {
  const terminate: string[] = [];
  const retain: string[] = [];
  const settled: Record<string, 'gone' | 'unmarked'> = {};
  const own = new Set(record.instanceIds);
  for (const id of toClean) {
    if (!own.has(id)) continue; // never anything the record does not hold
    const instance = cvm.get(id);
    if (instance === undefined) settled[id] = 'gone';
    else if (instance.tags[MARK_KEYS.owner] !== record.owner || instance.tags[MARK_KEYS.purchase] !== record.id) settled[id] = 'unmarked';
    else if (deleteModeOf(instance.chargeType) === 'retain') retain.push(id);
    else terminate.push(id);
  }
  return { terminate, retain, settled };
}

/** What one DeleteClusterInstances call (one mode) did, or why it failed as a whole. */
export type DeletionOutcome =
  | { readonly mode: 'terminate' | 'retain'; readonly ids: readonly string[]; readonly result: InstanceDeletionResult }
  | { readonly mode: 'terminate' | 'retain'; readonly ids: readonly string[]; readonly error: string };

/**
 * The record after the cleanup: each instance settled (terminated, removed, gone, unmarked), or a
 * failure counted for the next pass to retry. An instance that failed to delete is tried again
 * however often it fails: it costs money while it exists, and each try is one call a minute.
 */
export function recordCleanup(record: PurchaseRecord, plan: CleanupPlan, outcomes: readonly DeletionOutcome[], now: number): PurchaseRecord {
  const instances: Record<string, InstanceStatus> = { ...record.instances };
  const settle = (id: string, cleanup: InstanceCleanup) => {
    const { cleanupFailures: _f, cleanupError: _e, ...before } = instances[id] ?? { state: 'unknown' };
    instances[id] = { ...before, cleanup, cleanedAt: now };
  };
  const fail = (id: string, error: string) => {
    const before = instances[id] ?? { state: 'unknown' };
    instances[id] = { ...before, cleanupFailures: (before.cleanupFailures ?? 0) + 1, cleanupError: error };
  };
  for (const [id, cleanup] of Object.entries(plan.settled)) settle(id, cleanup);
  for (const outcome of outcomes) {
    if ('error' in outcome) {
      for (const id of outcome.ids) fail(id, outcome.error);
      continue;
    }
    const { succeeded, notFound, failed } = outcome.result;
    for (const id of outcome.ids) {
      if (succeeded.includes(id)) settle(id, outcome.mode === 'terminate' ? 'terminated' : 'removed');
      else if (notFound.includes(id)) settle(id, 'gone');
      else fail(id, failed.includes(id) ? 'TKE listed it in FailedInstanceIds' : 'not in TKE’s answer');
    }
  }
  return { ...record, instances };
}

/**
 * What the cleaned-up instances give back and have not yet: their nodes (they no longer run in the
 * cluster) and, for hourly prices, their share of the money (they are no longer billed: terminated,
 * or no longer a CVM). A removed prepaid instance is still paid for: its money stays counted.
 * `record` comes back with those instances marked `givenBack`, written BEFORE the budgets are
 * credited: a crash in between loses a refund (the budget stays stricter until the window moves
 * on), never gives one twice.
 */
export function refundOf(record: PurchaseRecord): { readonly record: PurchaseRecord; readonly nodes: number; readonly money: number } {
  const instances: Record<string, InstanceStatus> = { ...record.instances };
  let nodes = 0;
  let billedNoMore = 0;
  for (const [id, status] of Object.entries(instances)) {
    if (status.givenBack === true || status.cleanup === undefined || status.cleanup === 'unmarked') continue;
    instances[id] = { ...status, givenBack: true };
    nodes++;
    if (status.cleanup !== 'removed') billedNoMore++;
  }
  const price = record.price;
  const perNode = price !== undefined && price.kind === 'hourly' && record.count > 0 ? price.amount / record.count : 0;
  return { record: nodes === 0 ? record : { ...record, instances }, nodes, money: Math.round(perNode * billedNoMore * 100) / 100 };
}
