import type { Config } from '../config/load-config';
import { planCleanup, recordCleanup, refundOf, type CvmView, type DeletionOutcome } from '../core/cleanup';
import { costScopesOf, refundMoney, type CostState } from '../core/cost-budget';
import { followPurchase, liveInstancesOf, releaseHold, indexPurchase, purchaseExpiry, purchaseIndexKeyOf, purchaseKeyOf, takePurchase, unindexPurchase, NOT_LISTED_GRACE_MS, type PurchaseIndex, type PurchaseIndexEntry, type PurchaseRecord } from '../core/purchase';
import { markFailing, soldOutMarkOf, NODES_FAILED_CODE, SOLD_OUT_KEY, type SoldOutState } from '../core/sold-out';
import { readValue } from '../core/store-step';
import { boughtNotice, failedNotice, offeringText, readyNotice } from '../notify/news';
import type { Notice } from '../core/notice';
import type { NoticeLog } from '../notify/notifier';
import type { ReleaseReport } from './release-pass';
import { refundNodes, throttleRulesOf, type ThrottleState } from '../core/throttle';
import { ScaleOutError } from '../errors';
import { describeApiFailure } from '../tencentcloud/api-failure';
import type { StateStore } from '../store/state-store';
import type { CvmApi } from '../tencentcloud/cvm-api';
import { indexedPurchases } from './purchase-reads';
import { deleteInstances, describeInstances, type TkeCallOptions } from '../tke/call-tke';
import type { TkeApi } from '../tke/tke-api';
import type { ClusterInstance } from '../tke/tke-params';
import { MARK_KEYS } from '../core/marks';

/**
 * The pass that follows what the function bought (an SCF timer trigger, every minute by default;
 * `npm start` runs it on an interval). For every open purchase, oldest first:
 *
 *   take it          the store's atomic update: two passes at once (an overlapping timer, another
 *                    instance) never follow the same purchase; a pass stops taking when its
 *                    invocation's time runs short and leaves the rest to the next one
 *   find it          a purchase whose outcome was unknown has no instance IDs: CVM's DescribeInstances
 *                    by the function's tags (owner, purchase) finds what it bought, and adopts it
 *   read it          TKE's DescribeClusterInstances, one call per cluster for all its purchases
 *                    (100 IDs a page), then core/purchase.ts's followPurchase: joining, ready, or
 *                    failed with the instances to clean up (failed, or not running in time)
 *   clean up         CVM's DescribeInstances for their marks and charge type, then
 *                    DeleteClusterInstances (core/cleanup.ts): `terminate` the function's own
 *                    pay-as-you-go instances, `retain` its prepaid ones; an instance without both
 *                    marks is left alone; what fails is tried again on the next pass
 *   give back        the cleaned-up nodes to the node budget, their hourly money to the money
 *                    budgets (a prepaid instance is still paid for), once
 *   back off         the offering whose nodes failed: 5 min, doubling to 30 (core/sold-out.ts), so
 *                    the ladder tries the next rung meanwhile
 *
 * A read that fails (TKE or CVM: throttled, 5xx, a timeout) leaves the purchase as it was for the
 * next pass, and so does a deletion that fails. Nothing here deletes an instance that is not in the
 * purchase's own record.
 */
export interface FollowDeps {
  readonly config: Config;
  readonly store: StateStore;
  readonly tke: TkeApi;
  /** CVM's view of the instances (marks, charge type); without it, the pass reads and records but deletes nothing. */
  readonly cvm?: Pick<CvmApi, 'describeInstances'>;
  readonly now: () => number;
  /** This pass's name in the records it takes. */
  readonly passId: string;
  /**
   * Queues notices for the team (notify/notifier.ts; the app posts what is due after the pass): a
   * transition's news is queued right after its record write lands. Absent: no one is told.
   */
  readonly queueNews?: (notices: readonly Notice[]) => Promise<NoticeLog | undefined>;
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
  /** Purchases whose outcome was unknown, and the instances found by their marks. */
  readonly adopted?: ReadonlyArray<{ readonly id: string; readonly instanceIds: readonly string[] }>;
  /** What each cleanup did, by instance. */
  readonly cleaned?: ReadonlyArray<{ readonly id: string; readonly instances: Readonly<Record<string, string>> }>;
  /** What went back to the budgets. */
  readonly refunded?: ReadonlyArray<{ readonly id: string; readonly nodes: number; readonly money?: number }>;
  /** Offerings backed off because their nodes failed, until when. */
  readonly backedOff?: ReadonlyArray<{ readonly offering: string; readonly until: string }>;
  /** Purchases another pass had, or left for the next pass (time ran short). */
  readonly skipped: number;
  readonly left: number;
  /** Reads and deletions that failed, and why: tried again on the next pass. */
  readonly unread?: ReadonlyArray<{ readonly clusterId: string; readonly error: string }>;
  /** What the pass did to give nodes back, per cluster (purchases/release-pass.ts). */
  readonly released?: readonly ReleaseReport[];
  /** The notices this pass queued for the team (notify/notifier.ts), and what the outbox then posted. */
  readonly notices?: NoticeLog;
  readonly outbox?: NoticeLog;
}

/** Time a pass keeps for reading one cluster and writing back, at the least. */
const MIN_STEP_MS = 1500;

export async function followPurchases(deps: FollowDeps, times: PassTimes): Promise<PassReport> {
  const { config, store, now } = deps;
  const retentionMs = config.purchases.retentionDays * 86_400_000;
  // Per template when it says so (a slow image, a long user script), else the deployment's.
  const provisionTimeoutMs = (record: PurchaseRecord) => (config.templates.get(record.template)?.provisionTimeoutSeconds ?? config.purchases.provisionTimeoutSeconds) * 1000;
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

  const report = new PassLog();
  const options: TkeCallOptions = { deadline: times.deadline, now, policy: config.tke };
  let followed = 0;
  for (const [clusterId, taken] of byCluster) {
    const records = await Promise.all(taken.map((record) => adopt(deps, record, times, report)));
    const ids = [...new Set(records.flatMap((r) => r.instanceIds))];
    let seen = new Map<string, ClusterInstance>();
    let readFailed = false;
    if (ids.length > 0) {
      try {
        seen = new Map((await describeInstances(deps.tke, records[0]!.region, clusterId, ids, options)).map((i) => [i.instanceId, i]));
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        report.unread.push({ clusterId, error: `${error.code}: ${error.message}` });
        readFailed = true;
      }
    }
    const followedNow = records.map((record) => (readFailed ? { record: releaseHold(record), toClean: [] as readonly string[] } : followPurchase(record, seen, now(), provisionTimeoutMs(record))));
    const cleaned = await cleanUp(deps, clusterId, records[0]?.region ?? '', followedNow, seen, provisionTimeoutMs, options, report);
    for (const [i, record] of records.entries()) {
      const at = now();
      const refund = refundOf(cleaned[i]!);
      const next = refund.record;
      const written = await store.update<PurchaseRecord, boolean>(purchaseKeyOf(clusterId, record.id), (current) =>
        // Only the purchase as this pass took it: a write of the lifecycle meanwhile (a re-send's
        // instances) is kept, and followed on the next pass.
        current?.followedBy?.pass === deps.passId && current.instanceIds.length === taken[i]!.instanceIds.length
          ? { write: { kind: 'put', value: next, expiresAt: purchaseExpiry(next, at, retentionMs) }, result: true }
          : { write: { kind: 'keep' }, result: false },
      );
      // An unknown outcome's nodes found by their marks are news even when TKE could not be read now.
      if (readFailed && record.instanceIds.length > 0) {
        if (written) await news(deps, taken[i]!, next, report);
        continue;
      }
      followed++;
      if (next.state !== taken[i]!.state) report.moved.push({ id: record.id, from: taken[i]!.state, to: next.state, ...(next.state === 'failed' && next.failedReason !== undefined && { failedReason: next.failedReason }) });
      // Its nodes failed for the first time (it may be cleaned up in this same pass already).
      if (written && followedNow[i]!.toClean.length > 0 && taken[i]!.state !== 'failed') await backOff(deps, next, report);
      if (written && (refund.nodes > 0 || refund.money > 0)) await giveBack(deps, next, refund, report);
      if (written) await news(deps, taken[i]!, next, report);
      if (next.endedAt !== undefined) {
        // Ended: its entry now expires with its record.
        await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(clusterId), (current) =>
          indexPurchase(current, { id: next.id, clusterId, at: next.requestedAt, endedAt: next.endedAt!, expiresAt: purchaseExpiry(next, at, retentionMs), live: liveInstancesOf(next).length > 0 }, at),
        );
      }
    }
  }
  return report.done(open.length, followed, skipped, left);
}

/**
 * What is news in what the pass wrote (notify/news.ts): an unknown outcome's nodes found (bought),
 * a purchase ended ready, or ended with nodes that never joined (failed, and what the cleanup did).
 * Each notice's ID is the purchase's: a pass that sees it again queues nothing new.
 */
async function news(deps: FollowDeps, before: PurchaseRecord, after: PurchaseRecord, report: PassLog): Promise<void> {
  if (deps.queueNews === undefined) return;
  const now = deps.now();
  const notices: Notice[] = [];
  if (before.instanceIds.length === 0 && after.instanceIds.length > 0) notices.push(boughtNotice(after, now));
  if (before.endedAt === undefined && after.endedAt !== undefined) {
    if (after.state === 'ready') notices.push(readyNotice(after, now));
    else {
      // The offering's back-off, if it still holds (the pass that saw the first failure set it).
      const mark = await deps.store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readValue).then(
        (state) => soldOutMarkOf(state, after.offering, now),
        () => undefined,
      );
      const backOff = mark !== undefined && mark.code === NODES_FAILED_CODE ? { offering: offeringText(after.offering), until: mark.until } : undefined;
      notices.push(failedNotice(after, now, backOff));
    }
  }
  if (notices.length === 0) return;
  const log = await deps.queueNews(notices);
  report.queuedNotices.push(...(log?.queued ?? []));
  report.noticeProblems.push(...(log?.problems ?? []));
}

/** What a pass did, gathered as it goes. */
class PassLog {
  readonly moved: Array<PassReport['moved'][number]> = [];
  readonly adopted: Array<NonNullable<PassReport['adopted']>[number]> = [];
  readonly cleaned: Array<NonNullable<PassReport['cleaned']>[number]> = [];
  readonly refunded: Array<NonNullable<PassReport['refunded']>[number]> = [];
  readonly backedOff: Array<NonNullable<PassReport['backedOff']>[number]> = [];
  readonly unread: Array<{ clusterId: string; error: string }> = [];
  /** Notices queued for the team, and what went wrong queueing them. */
  readonly queuedNotices: string[] = [];
  readonly noticeProblems: string[] = [];

  done(open: number, followed: number, skipped: number, left: number): PassReport {
    const some = <T>(key: string, list: readonly T[]) => (list.length > 0 ? { [key]: list } : {});
    return {
      outcome: 'followed',
      open,
      followed,
      moved: this.moved,
      ...some('adopted', this.adopted),
      ...some('cleaned', this.cleaned),
      ...some('refunded', this.refunded),
      ...some('backedOff', this.backedOff),
      skipped,
      left,
      ...some('unread', this.unread),
      ...(this.queuedNotices.length + this.noticeProblems.length > 0 && { notices: { ...some('queued', this.queuedNotices), ...some('problems', this.noticeProblems) } }),
    };
  }
}

/**
 * A purchase whose outcome was unknown knows no instances: CVM is asked for the instances carrying
 * its marks (DescribeInstances with `tag:` filters), after the grace a fresh purchase gets. Found,
 * they are its instances from now on; a read that fails leaves it for the next pass.
 */
async function adopt(deps: FollowDeps, record: PurchaseRecord, times: PassTimes, report: PassLog): Promise<PurchaseRecord> {
  if (record.state !== 'requested' || record.instanceIds.length > 0 || deps.cvm === undefined) return record;
  const now = deps.now();
  if (now - record.requestedAt < NOT_LISTED_GRACE_MS) return record;
  let found;
  try {
    found = await deps.cvm.describeInstances(record.region, { tags: { [MARK_KEYS.owner]: record.owner, [MARK_KEYS.purchase]: record.id } }, AbortSignal.timeout(Math.max(1, Math.min(deps.config.tke.attemptTimeoutMs, times.deadline - now))));
  } catch (error) {
    report.unread.push({ clusterId: record.clusterId, error: `the instances of purchase ${record.id} by its marks (CVM DescribeInstances): ${failureOf(error)}` });
    return record;
  }
  // The filters asked for both marks; each is checked again all the same (a filter CVM ignored would list everything).
  const instanceIds = found.filter((i) => i.tags[MARK_KEYS.owner] === record.owner && i.tags[MARK_KEYS.purchase] === record.id).map((i) => i.instanceId);
  if (instanceIds.length === 0) return record;
  report.adopted.push({ id: record.id, instanceIds });
  return { ...record, instanceIds, state: 'created', createdAt: record.requestedAt };
}

/**
 * The instances to clean up, of every purchase of one cluster: CVM is read once for their marks
 * and charge types, then one DeleteClusterInstances per mode for all of them. A CVM read that
 * fails cleans nothing this pass.
 */
async function cleanUp(
  deps: FollowDeps,
  clusterId: string,
  region: string,
  followed: ReadonlyArray<{ readonly record: PurchaseRecord; readonly toClean: readonly string[] }>,
  seen: ReadonlyMap<string, ClusterInstance>,
  provisionTimeoutMs: (record: PurchaseRecord) => number,
  options: TkeCallOptions,
  report: PassLog,
): Promise<PurchaseRecord[]> {
  const wanted = followed.flatMap((f) => f.toClean);
  if (wanted.length === 0 || deps.cvm === undefined) return followed.map((f) => f.record);
  let cvm: Map<string, CvmView>;
  try {
    const signal = AbortSignal.timeout(Math.max(1, Math.min(deps.config.tke.attemptTimeoutMs, options.deadline - deps.now())));
    cvm = new Map((await deps.cvm.describeInstances(region, { instanceIds: wanted }, signal)).map((i) => [i.instanceId, i]));
  } catch (error) {
    report.unread.push({ clusterId, error: `the marks of ${wanted.length} instance(s) to clean up (CVM DescribeInstances): ${failureOf(error)}` });
    return followed.map((f) => f.record);
  }
  const plans = followed.map((f) => planCleanup(f.record, f.toClean, cvm));
  const outcomes: DeletionOutcome[] = [];
  for (const mode of ['terminate', 'retain'] as const) {
    const ids = plans.flatMap((p) => p[mode]);
    if (ids.length === 0) continue;
    try {
      // ForceDelete: "当节点在初始化时，可以指定参数为TRUE" (API 457/31864); these nodes never joined,
      // so there is nothing on them to drain.
      const deleted = await deleteInstances(deps.tke, region, clusterId, ids, { mode, force: true }, options);
      outcomes.push({ mode, ids, result: deleted.response });
    } catch (error) {
      if (!(error instanceof ScaleOutError)) throw error;
      outcomes.push({ mode, ids, error: `${error.code}: ${error.message}` });
      report.unread.push({ clusterId, error: `DeleteClusterInstances (${mode}) of ${ids.join(', ')}: ${error.code}: ${error.message}` });
    }
  }
  return followed.map((f, i) => {
    if (f.toClean.length === 0) return f.record;
    const after = recordCleanup(f.record, plans[i]!, outcomes, deps.now());
    const instances: Record<string, string> = {};
    for (const id of f.toClean) instances[id] = after.instances?.[id]?.cleanup ?? `not yet: ${after.instances?.[id]?.cleanupError ?? 'unknown'}`;
    report.cleaned.push({ id: f.record.id, instances });
    // Settled now, the purchase may end (cleaned) in this same pass.
    return followPurchase(after, seen, deps.now(), provisionTimeoutMs(after)).record;
  });
}

/** The purchase's nodes and hourly money that no longer run go back where they were counted. */
async function giveBack(deps: FollowDeps, record: PurchaseRecord, refund: { readonly nodes: number; readonly money: number }, report: PassLog): Promise<void> {
  const { store, now, config } = deps;
  const counted = record.counted;
  const cluster = config.clusters.get(record.cluster);
  let nodes = 0;
  let money = 0;
  try {
    if (counted?.nodes !== undefined && cluster !== undefined && refund.nodes > 0) {
      const rules = throttleRulesOf(cluster, config.templates.get(record.template) ?? {});
      const { key, eventKey, at } = counted.nodes;
      nodes = await store.update<ThrottleState, number>(key, (current) => refundNodes(current, eventKey, at, refund.nodes, rules, now()));
    }
    if (counted?.money !== undefined && counted.nodes !== undefined && cluster !== undefined && refund.money > 0 && record.price !== undefined) {
      const scopes = costScopesOf(cluster, config.costBudget);
      for (const { key, at } of counted.money) {
        const scope = scopes.find((s) => s.key === key);
        if (scope === undefined) continue; // that budget is no longer in the config
        const kind = record.price.kind;
        const eventKey = counted.nodes.eventKey;
        money = Math.max(money, await store.update<CostState, number>(key, (current) => refundMoney(current, eventKey, at, kind, refund.money, scope.budget, now())));
      }
    }
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    // Marked given back already: a refund lost to a store failure leaves the budget stricter, never looser.
    report.unread.push({ clusterId: record.clusterId, error: `the budget of purchase ${record.id} could not be given back: ${error.code}: ${error.message}` });
  }
  report.refunded.push({ id: record.id, nodes, ...(money > 0 && { money }) });
}

/** The offering whose nodes failed is backed off: the ladder tries the next rung meanwhile. */
async function backOff(deps: FollowDeps, record: PurchaseRecord, report: PassLog): Promise<void> {
  try {
    const until = await deps.store.update<SoldOutState, number>(SOLD_OUT_KEY, (current) => markFailing(current, record.offering, deps.now()));
    const o = record.offering;
    report.backedOff.push({ offering: `${o.instanceType} in ${o.zone} (${o.chargeType})`, until: new Date(until).toISOString() });
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    report.unread.push({ clusterId: record.clusterId, error: `the offering of purchase ${record.id} could not be backed off: ${error.code}: ${error.message}` });
  }
}

/** A CVM call's failure in a line: its code (or HTTP status, or the transport's failure) and message. */
function failureOf(error: unknown): string {
  const failure = describeApiFailure(error);
  return `${failure.code ?? (failure.httpCode !== undefined ? `HTTP ${failure.httpCode}` : 'unreachable or timed out')}: ${failure.message}`;
}
