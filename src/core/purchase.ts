import type { ClusterInstance } from '../tke/tke-params';
import type { SentRequest } from './idempotency';
import type { CostKind } from './model';
import type { ScaleOutOrigin } from './scale-out-request';
import type { Offering } from './sold-out';
import type { StoreStep } from './store-step';
import type { InstanceRelease } from './release';

/**
 * A purchase: one call that may have bought nodes (created, or its outcome unknown), owned by the
 * function from the call until its nodes are ready or cleaned up. Its record outlives the request
 * that made it: it holds what an operator and the next steps need (the exact request and token,
 * the instances, the price, what asked for it, the times) and a state:
 *
 *   requested ─▶ created ─▶ joining ─▶ ready
 *       │           │          └──▶ failed ─▶ cleaned
 *       └ the outcome was unknown: the instances are not known yet (found later by the marks)
 *
 * One record per event (the purchase ID is derived from it, core/marks.ts): a redelivery that
 * re-sends the request adds what it learns to the same record. Pure steps, like the rest of core/.
 *
 * An index (one store key) lists the purchases within their retention, newest last, so that a pass
 * and `GET /purchases` can find them; it is bounded in size.
 */
export type PurchaseState = 'requested' | 'created' | 'joining' | 'ready' | 'failed' | 'cleaned';

/** States after which the function has nothing more to do for the purchase. */
export const ENDED_STATES: ReadonlySet<PurchaseState> = new Set(['ready', 'cleaned']);

export interface PurchaseRecord {
  readonly id: string;
  /** The deployment that bought it (`purchases.owner`, on its labels and tags). */
  readonly owner: string;
  readonly cluster: string;
  readonly clusterId: string;
  readonly region: string;
  readonly template: string;
  readonly rung: number;
  readonly offering: Offering;
  readonly count: number;
  readonly clientToken: string;
  /** The request as sent, byte for byte. */
  readonly request: SentRequest['request'];
  /** The instances TKE answered with; empty while the outcome is unknown. */
  readonly instanceIds: readonly string[];
  readonly price?: { readonly amount: number; readonly kind: CostKind; readonly currency: string };
  /** What asked for it. */
  readonly askedBy: PurchaseOrigin;
  readonly state: PurchaseState;
  readonly requestedAt: number;
  readonly createdAt?: number;
  readonly readyAt?: number;
  readonly endedAt?: number;
  /** What the last pass saw of each instance (core/purchase.ts, followPurchase). */
  readonly instances?: Readonly<Record<string, InstanceStatus>>;
  /** Why the purchase failed: an instance TKE reports failed, or one not running in time. */
  readonly failedReason?: string;
  /** A pass following it now, until when: two passes never take the same step. */
  readonly followedBy?: { readonly pass: string; readonly until: number };
  /**
   * Where its nodes and money were counted, and when each reservation was made: what a cleanup
   * gives back, from the slice of the window it was counted in (core/windowed-ledger.ts, refund).
   */
  readonly counted?: PurchaseCounted;
  readonly lastFollowedAt?: number;
}

/** One instance as a pass last saw it. */
export interface InstanceStatus {
  /** TKE's InstanceState; `gone` when TKE no longer lists it. */
  readonly state: string;
  readonly failedReason?: string;
  readonly readyAt?: number;
  /** How the function cleaned it up (core/cleanup.ts); once set, the instance is settled. */
  readonly cleanup?: InstanceCleanup;
  readonly cleanedAt?: number;
  /** Its nodes (and money, when no longer billed) went back to the budgets: never twice. */
  readonly givenBack?: true;
  /** Deletions that failed so far, and the last one's error: retried on the next pass. */
  readonly cleanupFailures?: number;
  readonly cleanupError?: string;
  /** Being given back, or given back (core/release.ts): its drain's state. */
  readonly release?: InstanceRelease;
}

/**
 * How a failed instance was cleaned up:
 *   terminated  DeleteClusterInstances `terminate`: removed from the cluster and destroyed
 *   removed     DeleteClusterInstances `retain`: removed from the cluster, the CVM kept (prepaid
 *               instances cannot be terminated this way): it is still billed
 *   gone        not in the cluster any more (TKE: NotFoundInstanceIds) or no longer a CVM
 *   unmarked    left alone: it does not carry the function's marks (CVM tags owner and purchase)
 */
export type InstanceCleanup = 'terminated' | 'removed' | 'gone' | 'unmarked';

export interface PurchaseCounted {
  /** The node budget's store key, the event's key in it, and the grant's time. */
  readonly nodes?: { readonly key: string; readonly eventKey: string; readonly at: number };
  /** Each money budget's store key and the reservation's time (the event's key as for nodes). */
  readonly money?: ReadonlyArray<{ readonly key: string; readonly at: number }>;
}

/** Who and what asked: the sender and its event (an alarm's event ID names its rule and alert), and why. */
export interface PurchaseOrigin {
  readonly source: string;
  readonly eventId: string;
  readonly reason?: string;
  readonly period?: number;
  /** The alarm (rule, alert, labels, episode, policy) or the chat user and conversation. */
  readonly origin?: ScaleOutOrigin;
}

/** What a purchase is before its request is known: who buys, for which event, on which cluster and template. */
export type PurchaseDraft = Pick<PurchaseRecord, 'id' | 'owner' | 'cluster' | 'clusterId' | 'template' | 'askedBy' | 'counted'>;

/**
 * The record of a purchase sending `sent`. The request is kept as sent but for what must not be
 * kept for weeks in a store an operator reads: RunInstancePara's LoginSettings (a password, key
 * IDs) and UserData (a script that may hold secrets) are replaced by "(not kept)".
 */
export function purchaseRecordOf(
  draft: PurchaseDraft,
  sent: SentRequest,
  offering: Offering,
  now: number,
  found: { readonly instanceIds?: readonly string[]; readonly price?: PurchaseRecord['price'] } = {},
): PurchaseRecord {
  const instanceIds = found.instanceIds ?? [];
  return {
    ...draft,
    region: sent.region,
    rung: sent.rung,
    offering,
    count: sent.nodes,
    clientToken: sent.clientToken,
    request: withoutSecrets(sent.request),
    instanceIds,
    ...(found.price !== undefined && { price: found.price }),
    state: instanceIds.length > 0 ? 'created' : 'requested',
    requestedAt: now,
    ...(instanceIds.length > 0 && { createdAt: now }),
  };
}

const NOT_KEPT = ['LoginSettings', 'UserData'] as const;

function withoutSecrets(request: SentRequest['request']): SentRequest['request'] {
  let para: Record<string, unknown>;
  try {
    para = JSON.parse(request.RunInstancePara) as Record<string, unknown>;
  } catch {
    return { ...request, RunInstancePara: '(not kept: not JSON)' };
  }
  if (!NOT_KEPT.some((k) => para[k] !== undefined)) return request;
  for (const key of NOT_KEPT) if (para[key] !== undefined) para[key] = '(not kept)';
  return { ...request, RunInstancePara: JSON.stringify(para) };
}

export interface PurchaseIndexEntry {
  readonly id: string;
  readonly clusterId: string;
  /** When it was requested. */
  readonly at: number;
  /** Set once the purchase ended (ready or cleaned). */
  readonly endedAt?: number;
  /**
   * Once ended: when its record expires, and the entry with it. An open purchase's entry stays
   * until it ends, or until a pass finds its record gone.
   */
  readonly expiresAt?: number;
  /** Ended ready, and some of its nodes still run as the function's: the pass that gives nodes back reads it. */
  readonly live?: boolean;
  /** Some of its nodes are on a way out a scale-out could stop (core/release.ts, anyRestorable): a scale-out reads only these records. */
  readonly releasing?: boolean;
}

export interface PurchaseIndex {
  readonly entries: readonly PurchaseIndexEntry[];
}

/**
 * Where a cluster's purchases are listed: one index per cluster (the hash tag keeps it in the
 * cluster's Redis Cluster slot), so that a purchase rewrites only its own cluster's list.
 */
export function purchaseIndexKeyOf(clusterId: string): string {
  return `purchases:{${clusterId}}`;
}

/**
 * At most this many purchases are listed; the oldest ended ones go first, then the oldest. The
 * index is one value rewritten on every purchase (~75 bytes an entry: ~150 KB at the bound).
 */
export const MAX_INDEXED_PURCHASES = 2000;

/** Where a purchase's record lives; the hash tag keeps a cluster's purchases in one Redis Cluster slot. */
export function purchaseKeyOf(clusterId: string, id: string): string {
  return `purchase:{${clusterId}}:${id}`;
}

/**
 * Records a purchase after its call: `created` with its instances, or `requested` when the outcome
 * is unknown. A record that exists (an earlier delivery of the event) keeps what it knew: its first
 * request time, and a state that is already further along; instances learnt now are added.
 */
export function storePurchase(current: PurchaseRecord | undefined, fresh: PurchaseRecord, now: number, retentionMs: number): StoreStep<PurchaseRecord, PurchaseRecord> {
  const instanceIds = [...new Set([...(current?.instanceIds ?? []), ...fresh.instanceIds])];
  const further = current !== undefined && rank(current.state) > rank(fresh.state) ? current.state : fresh.state;
  const state: PurchaseState = further === 'requested' && instanceIds.length > 0 ? 'created' : further;
  const createdAt = current?.createdAt ?? (state === 'requested' ? undefined : fresh.createdAt ?? now);
  const next: PurchaseRecord = {
    // What a pass learnt (its instances' states, a failure) stays; the call's own facts are fresh.
    ...current,
    ...fresh,
    ...(current !== undefined && { requestedAt: current.requestedAt, ...(current.readyAt !== undefined && { readyAt: current.readyAt }), ...(current.endedAt !== undefined && { endedAt: current.endedAt }) }),
    instanceIds,
    state,
    // What asked stays as the first delivery knew it when a later one knows less (a follow-up, an older version).
    askedBy: { ...current?.askedBy, ...fresh.askedBy, ...((fresh.askedBy.origin ?? current?.askedBy.origin) !== undefined && { origin: fresh.askedBy.origin ?? current!.askedBy.origin! }) },
    ...(createdAt !== undefined && { createdAt }),
    ...((fresh.price ?? current?.price) !== undefined && { price: fresh.price ?? current!.price }),
    // Each delivery knows what it counted itself (the money is reserved per rung): both are kept.
    ...((current?.counted ?? fresh.counted) !== undefined && { counted: { ...current?.counted, ...fresh.counted, ...((fresh.counted?.money ?? current?.counted?.money) !== undefined && { money: fresh.counted?.money ?? current!.counted!.money! }) } }),
  };
  return { write: { kind: 'put', value: next, expiresAt: purchaseExpiry(next, now, retentionMs) }, result: next };
}

/**
 * Kept for the retention after its last change while open (every write refreshes it), and for the
 * retention after it ended; but while any of its nodes runs in the cluster (it ended ready, and not
 * every node was given back), for as long as a node may live: a node is given back only if the
 * function has its record (core/release.ts).
 */
export function purchaseExpiry(record: PurchaseRecord, now: number, retentionMs: number): number {
  if (liveInstancesOf(record).length > 0) return now + LIVE_KEEP_MS;
  return Math.max((record.endedAt ?? now) + retentionMs, releasedAtOf(record) + retentionMs);
}

/** How long the record of a purchase whose nodes run is kept from its last write: longer than a node is expected to live. */
export const LIVE_KEEP_MS = 400 * 86_400_000;

/**
 * The instances of a purchase that ended ready and still run in the cluster as the function's: not
 * cleaned up, not given back (one on its way out still counts: its record must outlive its drain).
 */
export function liveInstancesOf(record: PurchaseRecord): string[] {
  if (record.state !== 'ready') return [];
  return Object.entries(record.instances ?? {})
    .filter(([, i]) => i.state === 'running' && i.cleanup === undefined && i.release?.state !== 'released')
    .map(([id]) => id);
}

function releasedAtOf(record: PurchaseRecord): number {
  return Math.max(0, ...Object.values(record.instances ?? {}).map((i) => i.release?.releasedAt ?? 0));
}

/**
 * Lists the purchase in the index, or updates its entry (its record's expiry, its end), dropping
 * what expired, within the bound. An entry that would not change and nothing to drop: no write.
 */
export function indexPurchase(current: PurchaseIndex | undefined, entry: PurchaseIndexEntry, now: number): StoreStep<PurchaseIndex, void> {
  const stored = entriesOf(current);
  const live = stored.filter((e) => e.id !== entry.id && (e.expiresAt ?? Infinity) > now);
  const existing = stored.find((e) => e.id === entry.id);
  const known = existing === undefined ? entry : { ...existing, ...(entry.endedAt !== undefined && { endedAt: entry.endedAt }), ...(entry.expiresAt !== undefined && { expiresAt: entry.expiresAt }) };
  // `live` and `releasing` as the entry says them now (set while true, gone once false); unsaid, as they were.
  const { live: _live, releasing: _releasing, ...rest } = known;
  const running = entry.live ?? known.live;
  const releasing = entry.releasing ?? known.releasing;
  const merged: PurchaseIndexEntry = { ...rest, ...(running === true && { live: true }), ...(releasing === true && { releasing: true }) };
  if (existing !== undefined && live.length === stored.length - 1 && JSON.stringify(existing) === JSON.stringify(merged)) return { write: { kind: 'keep' }, result: undefined };
  const entries = [...live, merged].sort((a, b) => a.at - b.at);
  while (entries.length > MAX_INDEXED_PURCHASES) {
    const oldestEnded = entries.findIndex((e) => e.endedAt !== undefined);
    entries.splice(oldestEnded >= 0 ? oldestEnded : 0, 1);
  }
  return { write: { kind: 'put', value: { entries }, expiresAt: indexExpiry(entries, now) }, result: undefined };
}

/**
 * The index lives as long as an entry in it: an ended one until its record expires, an open one
 * for as long as a purchase can stay open unnoticed (OPEN_ENTRY_MS after it was requested).
 */
function indexExpiry(entries: readonly PurchaseIndexEntry[], now: number): number {
  return Math.max(now + 1000, ...entries.map((e) => e.expiresAt ?? e.at + OPEN_ENTRY_MS));
}

/** How long an open purchase keeps its index alive: longer than any retention (at most 90 days). */
const OPEN_ENTRY_MS = 91 * 86_400_000;

/** Says in a listed purchase's entry whether some of its nodes are on a way out a scale-out could stop; an unlisted one stays unlisted. */
export function markReleasing(current: PurchaseIndex | undefined, id: string, releasing: boolean, now: number): StoreStep<PurchaseIndex, void> {
  const existing = entriesOf(current).find((e) => e.id === id);
  if (existing === undefined || (existing.releasing === true) === releasing) return { write: { kind: 'keep' }, result: undefined };
  return indexPurchase(current, { ...existing, releasing }, now);
}

/** Takes a purchase out of the index: its call was refused outright and bought nothing. */
export function unindexPurchase(current: PurchaseIndex | undefined, id: string, now: number): StoreStep<PurchaseIndex, void> {
  const stored = entriesOf(current);
  if (!stored.some((e) => e.id === id)) return { write: { kind: 'keep' }, result: undefined };
  const entries = stored.filter((e) => e.id !== id);
  return { write: { kind: 'put', value: { entries }, expiresAt: indexExpiry(entries, now) }, result: undefined };
}

/**
 * A purchase recorded before its call whose call was refused outright (nothing can have been
 * bought) is no purchase: its record goes. One that knows instances never does.
 */
export function withdrawPurchase(current: PurchaseRecord | undefined): StoreStep<PurchaseRecord, 'gone' | 'kept'> {
  if (current === undefined) return { write: { kind: 'keep' }, result: 'gone' };
  if (current.state !== 'requested' || current.instanceIds.length > 0) return { write: { kind: 'keep' }, result: 'kept' };
  return { write: { kind: 'delete' }, result: 'gone' };
}

/** The index as stored: entries that cannot be read are left out (the store outlives deploys). */
export function entriesOf(index: PurchaseIndex | undefined): readonly PurchaseIndexEntry[] {
  const entries: unknown = index?.entries;
  if (!Array.isArray(entries)) return [];
  return entries.filter((e: Partial<PurchaseIndexEntry> | null): e is PurchaseIndexEntry => typeof e?.id === 'string' && typeof e.clusterId === 'string' && typeof e.at === 'number');
}

function rank(state: PurchaseState): number {
  // requested < created < joining < failed < ready < cleaned: a write never moves a purchase back.
  return ['requested', 'created', 'joining', 'failed', 'ready', 'cleaned'].indexOf(state);
}

/** The purchase without a pass's hold on it: what a pass writes back when it is done with it. */
export function releaseHold(record: PurchaseRecord): PurchaseRecord {
  const { followedBy: _released, ...rest } = record;
  return rest;
}

/** How long after its purchase an instance TKE does not list is still taken as not listed yet. */
export const NOT_LISTED_GRACE_MS = 120_000;

/**
 * A pass takes the purchase to follow it: no other pass (an overlapping timer, another instance)
 * takes it until `until`. `taken`: this pass may follow it; `busy`: another pass has it; `gone`: no record.
 */
export function takePurchase(current: PurchaseRecord | undefined, pass: string, until: number, now: number, retentionMs: number): StoreStep<PurchaseRecord, { readonly kind: 'taken'; readonly record: PurchaseRecord } | { readonly kind: 'busy' | 'gone' }> {
  if (current === undefined) return { write: { kind: 'keep' }, result: { kind: 'gone' } };
  if (current.followedBy !== undefined && current.followedBy.pass !== pass && current.followedBy.until > now) return { write: { kind: 'keep' }, result: { kind: 'busy' } };
  const next: PurchaseRecord = { ...current, followedBy: { pass, until } };
  return { write: { kind: 'put', value: next, expiresAt: purchaseExpiry(next, now, retentionMs) }, result: { kind: 'taken', record: next } };
}

/**
 * What a pass learns of a purchase from TKE's view of its instances (DescribeClusterInstances:
 * `running` / `initializing` / `failed` with `FailedReason`, tke_models.d.ts Instance):
 *
 *   every instance running              ready (time to ready recorded), the purchase ends
 *   any failed, or any not running      failed, with the reason; those instances are to be cleaned
 *     `provisionTimeoutMs` after it       up (`toClean`: core/cleanup.ts decides how, the pass does it)
 *     was created
 *   every instance settled: running,    cleaned (failed, if one is left alone: it carries no mark
 *     cleaned up or gone                  of the function), the purchase ends
 *   none listed any more (after a       cleaned: they are gone, whoever removed them
 *     grace for a fresh purchase)
 *   else                                joining
 *
 * Only this record's own instances are looked at, and an instance the function cleaned up keeps
 * what the cleanup recorded (TKE no longer lists it). A purchase still `requested` (its outcome
 * unknown, no instances known) is left as it is. The pass's hold is released.
 */
export function followPurchase(record: PurchaseRecord, seen: ReadonlyMap<string, ClusterInstance>, now: number, provisionTimeoutMs: number): { readonly record: PurchaseRecord; readonly toClean: readonly string[] } {
  const rest = releaseHold(record);
  if (record.instanceIds.length === 0 || record.endedAt !== undefined) return { record: { ...rest, lastFollowedAt: now }, toClean: [] };
  const since = record.createdAt ?? record.requestedAt;
  const late = now - since >= provisionTimeoutMs;
  const instances: Record<string, InstanceStatus> = {};
  for (const id of record.instanceIds) {
    const before = record.instances?.[id];
    const instance = seen.get(id);
    if (before?.cleanup !== undefined) instances[id] = before;
    // A deletion whose answer was lost (or that failed after acting): gone now, by the function's hand.
    else if (instance === undefined && before?.cleanupFailures !== undefined) instances[id] = { ...before, cleanup: 'gone', cleanedAt: now };
    else if (instance === undefined) instances[id] = now - since < NOT_LISTED_GRACE_MS ? { state: 'not-listed-yet' } : { state: 'gone' };
    else {
      instances[id] = {
        state: instance.state,
        ...(instance.state !== 'running' && instance.failedReason !== undefined && { failedReason: instance.failedReason }),
        ...(instance.state === 'running' && { readyAt: before?.readyAt ?? now }),
        ...(before?.cleanupFailures !== undefined && { cleanupFailures: before.cleanupFailures, ...(before.cleanupError !== undefined && { cleanupError: before.cleanupError }) }),
      };
    }
  }
  const entries = Object.entries(instances);
  const unsettled = entries.filter(([, i]) => i.cleanup === undefined && i.state !== 'running' && i.state !== 'gone');
  const toClean = unsettled.filter(([, i]) => i.state === 'failed' || late);
  const base = { ...rest, instances, lastFollowedAt: now };
  if (toClean.length > 0) {
    const failed = toClean.filter(([, i]) => i.state === 'failed');
    const waiting = toClean.filter(([, i]) => i.state !== 'failed');
    const reasons = [
      ...failed.map(([id, i]) => `${id}: ${i.failedReason ?? 'failed'}`),
      ...(waiting.length > 0 ? [`not running ${Math.round(provisionTimeoutMs / 1000)} s after the purchase: ${waiting.map(([id, i]) => `${id} (${i.state})`).join(', ')}`] : []),
    ];
    return { record: { ...base, state: 'failed', failedReason: record.state === 'failed' && record.failedReason !== undefined ? record.failedReason : reasons.join('; ') }, toClean: toClean.map(([id]) => id) };
  }
  if (unsettled.length > 0) return { record: { ...base, state: record.state === 'failed' ? 'failed' : 'joining' }, toClean: [] };
  // Every instance is settled: the purchase ends.
  const cleanedUp = entries.filter(([, i]) => i.cleanup !== undefined);
  if (cleanedUp.length === 0) {
    if (entries.every(([, i]) => i.state === 'gone')) return { record: { ...base, state: 'cleaned', endedAt: now, failedReason: 'no instance of it is in the cluster any more' }, toClean: [] };
    return { record: { ...base, state: 'ready', readyAt: record.readyAt ?? now, endedAt: now }, toClean: [] };
  }
  const leftAlone = cleanedUp.filter(([, i]) => i.cleanup === 'unmarked');
  if (leftAlone.length > 0) {
    const note = `left alone, not cleaned up: ${leftAlone.map(([id]) => id).join(', ')} (no mark of this function on the instance)`;
    return { record: { ...base, state: 'failed', endedAt: now, failedReason: `${record.failedReason ?? 'failed'}; ${note}` }, toClean: [] };
  }
  return { record: { ...base, state: 'cleaned', endedAt: now }, toClean: [] };
}

/** What a cluster's budget and purchases look like now: for `/scaleout status` and its like. */
export interface ClusterStatus {
  readonly cluster: string;
  readonly clusterId: string;
  readonly nodeBudget: { readonly used: number; readonly left: number; readonly windowSeconds: number; readonly cooldownUntil?: number } | { readonly unavailable: string };
  /** Purchases not ended, by state. */
  readonly open: Readonly<Partial<Record<PurchaseState, number>>>;
  /** The newest purchases, newest first (at most a few). */
  readonly recent: ReadonlyArray<Pick<PurchaseRecord, 'id' | 'state' | 'count' | 'requestedAt' | 'failedReason'>>;
}
