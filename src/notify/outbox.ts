import type { StoreStep } from '../core/store-step';
import type { Notice } from '../core/notice';
import type { Delivery } from './sinks/sink';

/**
 * The outbox: every notice is written to the store before anything is posted, then posted to each
 * of its sinks, and kept until each has it or it expires. Pure steps, run by the store's atomic
 * update (store/state-store.ts), so two instances never queue the same notice twice nor post it
 * to the same sink at once:
 *
 *   queue     create-if-absent under the notice's ID: the same news (a redelivery, a retry, two
 *             passes) is queued once; whoever queued it second does nothing
 *   claim     a sink's delivery is taken until `until` before it is posted; a claim that lapses (the
 *             poster died or ran out of time) is taken again by the next pass
 *   settle    sent; or to retry with back-off (30 s doubling, at most 15 min, or the platform's
 *             Retry-After); or undelivered (the platform refuses it for good, or it expired)
 *
 * A post whose answer is lost (a timeout after the platform took it) is posted again: delivery is
 * at least once, and only then more than once. The generic webhook's `webhook-id` lets a receiver
 * drop such a repeat.
 */
export interface OutboxEntry {
  readonly notice: Notice;
  readonly queuedAt: number;
  /** After this, what is not delivered is given up and logged as undelivered. */
  readonly expiresAt: number;
  readonly deliveries: Readonly<Record<string, SinkDelivery>>;
  /** Kept at least until then (a held-back notice: the end of its window), to say it once in the window. */
  readonly keepUntil?: number;
}

export interface SinkDelivery {
  readonly state: 'pending' | 'sent' | 'undelivered';
  readonly attempts: number;
  /** Pending: not to be tried before this. */
  readonly nextAt: number;
  readonly claim?: { readonly by: string; readonly until: number };
  readonly lastError?: string;
  readonly sentAt?: number;
}

/** Where a notice waits, by its ID (which names its cluster and purchase, or its window). */
export function outboxKeyOf(noticeId: string): string {
  return `notice:${noticeId}`;
}

/**
 * The notice a sink must have before this one: a purchase's "bought" before its "ready" or
 * "failed", so that a channel never reads of nodes joining before it read of their purchase (a
 * sink still retrying the "bought" holds the later news back until it is sent or given up).
 */
export function predecessorOf(noticeId: string): string | undefined {
  const match = /^(?:ready|failed):(.+)$/.exec(noticeId);
  return match === null ? undefined : `bought:${match[1]}`;
}

/** The sinks a notice's entry still has to post to, until it expires: a later notice waits for them (predecessorOf). */
export function pendingSinksOf(entry: OutboxEntry | undefined, now: number): ReadonlySet<string> {
  if (entry === undefined || now >= entry.expiresAt) return new Set();
  return new Set(Object.entries(entry.deliveries).filter(([, d]) => d.state === 'pending').map(([sink]) => sink));
}

/** The list of notices not yet settled, for the pass to find. */
export const OUTBOX_INDEX_KEY = 'outbox';

/** At most this many notices wait; beyond it the least recently listed are dropped from the list (and logged). */
export const MAX_OUTBOX_ENTRIES = 1000;

/**
 * A settled notice's entry is kept this long after it was queued, so that the same news is not
 * queued again (a held-back notice, until its window ends: `keepUntil`).
 */
export const OUTBOX_KEEP_MS = 3 * 86_400_000;

const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 15 * 60_000;

/**
 * Queues the notice, unless its ID is queued already: then the entry as it is, whose summary says
 * what is still to post (a lost listing is listed again from it).
 */
export function queueNotice(
  current: OutboxEntry | undefined,
  notice: Notice,
  sinks: readonly string[],
  now: number,
  retryForMs: number,
  keepAtLeastUntil = 0,
): StoreStep<OutboxEntry, { readonly outcome: 'queued' | 'exists'; readonly summary: OutboxSummary }> {
  if (current !== undefined) return { write: { kind: 'keep' }, result: { outcome: 'exists', summary: summaryOf(current) } };
  const deliveries: Record<string, SinkDelivery> = {};
  for (const sink of sinks) deliveries[sink] = { state: 'pending', attempts: 0, nextAt: now };
  const entry: OutboxEntry = { notice, queuedAt: now, expiresAt: now + retryForMs, deliveries, ...(keepAtLeastUntil > 0 && { keepUntil: keepAtLeastUntil }) };
  return { write: { kind: 'put', value: entry, expiresAt: keepUntil(entry) }, result: { outcome: 'queued', summary: summaryOf(entry) } };
}

export type Claimed =
  | { readonly kind: 'claimed'; readonly notice: Notice; readonly sinks: readonly string[] }
  /** Nothing due for these sinks now; the summary says when something is (or that nothing is left). */
  | { readonly kind: 'nothing'; readonly summary: OutboxSummary }
  | { readonly kind: 'gone' }
  /** Expired now: the sinks that never got it. */
  | { readonly kind: 'expired'; readonly notice: Notice; readonly undelivered: ReadonlyArray<{ readonly sink: string; readonly lastError?: string; readonly attempts: number }> };

/**
 * Takes the deliveries of `wanted` sinks that are due (pending, not before now, not claimed by a
 * live claim) for `by` until `until`. An entry past its expiry gives its pending deliveries up.
 */
export function claimDeliveries(current: OutboxEntry | undefined, wanted: readonly string[], by: string, until: number, now: number): StoreStep<OutboxEntry, Claimed> {
  if (current === undefined) return { write: { kind: 'keep' }, result: { kind: 'gone' } };
  const deliveries = { ...current.deliveries };
  if (now >= current.expiresAt) {
    const undelivered = Object.entries(deliveries).filter(([, d]) => d.state === 'pending');
    if (undelivered.length === 0) return { write: { kind: 'keep' }, result: { kind: 'nothing', summary: summaryOf(current) } };
    for (const [sink, d] of undelivered) deliveries[sink] = { ...withoutClaim(d), state: 'undelivered', lastError: d.lastError ?? 'expired before it could be posted' };
    const next = { ...current, deliveries };
    return {
      write: { kind: 'put', value: next, expiresAt: keepUntil(next) },
      result: { kind: 'expired', notice: current.notice, undelivered: undelivered.map(([sink, d]) => ({ sink, attempts: d.attempts, ...(d.lastError !== undefined && { lastError: d.lastError }) })) },
    };
  }
  const claimed: string[] = [];
  for (const sink of wanted) {
    const d = deliveries[sink];
    if (d === undefined || d.state !== 'pending' || d.nextAt > now || (d.claim !== undefined && d.claim.until > now)) continue;
    deliveries[sink] = { ...d, claim: { by, until } };
    claimed.push(sink);
  }
  if (claimed.length === 0) return { write: { kind: 'keep' }, result: { kind: 'nothing', summary: summaryOf(current) } };
  const next = { ...current, deliveries };
  return { write: { kind: 'put', value: next, expiresAt: keepUntil(next) }, result: { kind: 'claimed', notice: current.notice, sinks: claimed } };
}

/** What each claimed delivery did. A delivery no longer claimed by `by` (its claim lapsed and another took it) is left to that other. */
export function settleDeliveries(current: OutboxEntry | undefined, results: ReadonlyArray<{ readonly sink: string; readonly delivery: Delivery }>, by: string, now: number): StoreStep<OutboxEntry, OutboxSummary | undefined> {
  if (current === undefined) return { write: { kind: 'keep' }, result: undefined };
  const deliveries = { ...current.deliveries };
  for (const { sink, delivery } of results) {
    const d = deliveries[sink];
    if (d === undefined || d.claim?.by !== by || d.state !== 'pending') continue;
    const attempts = d.attempts + 1;
    if (delivery.ok) deliveries[sink] = { state: 'sent', attempts, nextAt: d.nextAt, sentAt: now };
    else if (!delivery.retry) deliveries[sink] = { state: 'undelivered', attempts, nextAt: d.nextAt, lastError: delivery.reason };
    else deliveries[sink] = { state: 'pending', attempts, nextAt: now + retryDelayMs(attempts, delivery.retryAfterMs), lastError: delivery.reason };
  }
  const next = { ...current, deliveries };
  return { write: { kind: 'put', value: next, expiresAt: keepUntil(next) }, result: summaryOf(next) };
}

/** When the next try is due, or that nothing is left to try. */
export interface OutboxSummary {
  readonly nextAt?: number;
  readonly expiresAt: number;
}

export function summaryOf(entry: OutboxEntry): OutboxSummary {
  const pending = Object.values(entry.deliveries).filter((d) => d.state === 'pending');
  return pending.length === 0 ? { expiresAt: entry.expiresAt } : { nextAt: Math.min(...pending.map((d) => d.nextAt)), expiresAt: entry.expiresAt };
}

/** 30 s, doubling, at most 15 min; never sooner than the platform asked. */
export function retryDelayMs(attempts: number, retryAfterMs?: number): number {
  const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, Math.min(attempts - 1, 10)));
  return Math.max(backoff, Math.min(retryAfterMs ?? 0, 3_600_000));
}

function withoutClaim(d: SinkDelivery): SinkDelivery {
  const { claim: _lapsed, ...rest } = d;
  return rest;
}

function keepUntil(entry: OutboxEntry): number {
  return Math.max(entry.expiresAt, entry.queuedAt + OUTBOX_KEEP_MS, entry.keepUntil ?? 0);
}

/** The notices still to post: their IDs and when each is next due. */
export interface OutboxIndex {
  readonly entries: ReadonlyArray<OutboxIndexEntry>;
}
export interface OutboxIndexEntry {
  readonly id: string;
  readonly nextAt: number;
  readonly expiresAt: number;
}

/**
 * Lists notices (or moves their next tries), and takes off the list each that has nothing pending
 * (`nextAt` undefined): one step for all the notices of a request or a post. Bounded: past
 * MAX_OUTBOX_ENTRIES the least recently listed go, and are returned to be logged. The list lives a
 * day past its last entry's expiry, so that a pass can still give an expired notice up, and say so.
 */
export function indexOutbox(current: OutboxIndex | undefined, updates: ReadonlyArray<{ readonly id: string; readonly summary: OutboxSummary }>, now: number): StoreStep<OutboxIndex, readonly string[]> {
  const stored = outboxEntriesOf(current);
  const changed = new Map(updates.map((u) => [u.id, u.summary]));
  // Nothing to change (each update already listed as it says, or not listed and done): no write.
  const byId = new Map(stored.map((e) => [e.id, e]));
  const same = [...changed].every(([id, summary]) => {
    const listed = byId.get(id);
    return summary.nextAt === undefined ? listed === undefined : listed !== undefined && listed.nextAt === summary.nextAt && listed.expiresAt === summary.expiresAt;
  });
  if (same && stored.length <= MAX_OUTBOX_ENTRIES) return { write: { kind: 'keep' }, result: [] };
  const entries = stored.filter((e) => !changed.has(e.id));
  for (const [id, summary] of changed) if (summary.nextAt !== undefined) entries.push({ id, nextAt: summary.nextAt, expiresAt: summary.expiresAt });
  const dropped: string[] = [];
  while (entries.length > MAX_OUTBOX_ENTRIES) dropped.push(entries.shift()!.id);
  if (entries.length === 0) return { write: { kind: 'delete' }, result: dropped };
  return { write: { kind: 'put', value: { entries }, expiresAt: Math.max(now + 1000, ...entries.map((e) => e.expiresAt + 86_400_000)) }, result: dropped };
}

/** The index as stored; entries that cannot be read are left out (the store outlives deploys). */
export function outboxEntriesOf(index: OutboxIndex | undefined): OutboxIndexEntry[] {
  const entries: unknown = index?.entries;
  if (!Array.isArray(entries)) return [];
  return entries.filter((e: Partial<OutboxIndexEntry> | null): e is OutboxIndexEntry => typeof e?.id === 'string' && typeof e.nextAt === 'number' && typeof e.expiresAt === 'number');
}
