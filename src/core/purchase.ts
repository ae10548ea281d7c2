import type { SentRequest } from './idempotency';
import type { CostKind } from './model';
import type { Offering } from './sold-out';
import type { StoreStep } from './store-step';

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
}

/** Who and what asked: the sender and its event (an alarm's event ID names its rule and alert), and why. */
export interface PurchaseOrigin {
  readonly source: string;
  readonly eventId: string;
  readonly reason?: string;
  readonly period?: number;
}

export interface PurchaseIndexEntry {
  readonly id: string;
  readonly clusterId: string;
  /** When it was requested. */
  readonly at: number;
  /** Set once the purchase ended (ready or cleaned): it leaves the index after the retention. */
  readonly endedAt?: number;
}

export interface PurchaseIndex {
  readonly entries: readonly PurchaseIndexEntry[];
}

export const PURCHASE_INDEX_KEY = 'purchases:index';

/** At most this many purchases are listed; the oldest ended ones go first, then the oldest. */
export const MAX_INDEXED_PURCHASES = 5000;

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
    ...fresh,
    ...(current !== undefined && { requestedAt: current.requestedAt, ...(current.readyAt !== undefined && { readyAt: current.readyAt }), ...(current.endedAt !== undefined && { endedAt: current.endedAt }) }),
    instanceIds,
    state,
    ...(createdAt !== undefined && { createdAt }),
    ...((fresh.price ?? current?.price) !== undefined && { price: fresh.price ?? current!.price }),
  };
  return { write: { kind: 'put', value: next, expiresAt: purchaseExpiry(next, now, retentionMs) }, result: next };
}

/** Kept while open (refreshed by every write), and for the retention once ended. */
export function purchaseExpiry(record: PurchaseRecord, now: number, retentionMs: number): number {
  return (record.endedAt ?? now) + retentionMs;
}

/** Adds the purchase to the index (once), dropping what left the retention, within the bound. */
export function indexPurchase(current: PurchaseIndex | undefined, entry: PurchaseIndexEntry, now: number, retentionMs: number): StoreStep<PurchaseIndex, void> {
  const kept = entriesOf(current).filter((e) => e.id !== entry.id && (e.endedAt === undefined || e.endedAt + retentionMs > now));
  const existing = entriesOf(current).find((e) => e.id === entry.id);
  let entries = [...kept, existing ?? entry];
  while (entries.length > MAX_INDEXED_PURCHASES) {
    const oldestEnded = entries.findIndex((e) => e.endedAt !== undefined);
    entries.splice(oldestEnded >= 0 ? oldestEnded : 0, 1);
  }
  entries = entries.sort((a, b) => a.at - b.at);
  return { write: { kind: 'put', value: { entries }, expiresAt: indexExpiry(entries, now, retentionMs) }, result: undefined };
}

/** The index as stored: entries that cannot be read are left out (the store outlives deploys). */
export function entriesOf(index: PurchaseIndex | undefined): readonly PurchaseIndexEntry[] {
  const entries: unknown = index?.entries;
  if (!Array.isArray(entries)) return [];
  return entries.filter((e: Partial<PurchaseIndexEntry> | null): e is PurchaseIndexEntry => typeof e?.id === 'string' && typeof e.clusterId === 'string' && typeof e.at === 'number');
}

function indexExpiry(entries: readonly PurchaseIndexEntry[], now: number, retentionMs: number): number {
  // Open purchases keep the index alive; so does the last ended one for its retention.
  return Math.max(now + retentionMs, ...entries.map((e) => (e.endedAt ?? now) + retentionMs));
}

function rank(state: PurchaseState): number {
  return ['requested', 'created', 'joining', 'failed', 'ready', 'cleaned'].indexOf(state);
}
