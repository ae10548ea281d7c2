import type { NotifyConfig } from '../config/schema';
import { readValue } from '../core/store-step';
import type { StateStore } from '../store/state-store';
import type { Notice } from '../core/notice';
import {
  claimDeliveries,
  indexOutbox,
  outboxEntriesOf,
  outboxKeyOf,
  queueNotice,
  settleDeliveries,
  OUTBOX_INDEX_KEY,
  pendingSinksOf,
  predecessorOf,
  type Claimed,
  type OutboxEntry,
  type OutboxIndex,
  type OutboxSummary,
} from './outbox';
import { renderNotice } from './render';
import { sinksFor } from './route';
import { conversationKeyOf, type Conversation } from './conversation';
import { CONVERSATION_SINK } from './sinks/conversation';
import type { Delivery, Sink } from './sinks/sink';

/**
 * Telling the team, without ever costing a scale-out: a notice is listed and queued in the outbox
 * (store writes), then posted at once to its sinks within a small fixed time (`notify.sendWithinMs`
 * on the request path); what is not posted by then, or failed, is posted by the timer pass with
 * back-off (`drainOutbox`) until it goes through or expires. Nothing here throws: a store failure,
 * a sink's, or a bug is reported for the log line, and the scale-out goes on.
 */
export interface NotifyDeps {
  readonly notify: NotifyConfig;
  readonly store: StateStore;
  readonly sinks: ReadonlyMap<string, Sink>;
  readonly now: () => number;
  /**
   * Sinks this instance saw fail lately, until when (an instance's own memory): the request path
   * does not post to them at once but leaves their notices to the pass, so a sink that is down
   * costs one request its `sendWithinMs`, not every request for as long as it is down. A sink that
   * said when to come back (a rate limit's Retry-After) is left alone by the pass too until then.
   */
  readonly failing?: Map<string, { readonly until: number; readonly rateLimited: boolean }>;
}

/** How long the request path leaves a sink that failed to the pass. */
export const FAILING_SINK_MS = 60_000;

/** What notifying did, for the log line of the request or pass that did it. */
export interface NotifyReport {
  /** Each notice posted (or queued) now: the sinks that have it, and those left for a later pass. `queued`: it was queued now. */
  readonly posts: ReadonlyArray<{ readonly id: string; readonly queued: boolean; readonly sent: readonly string[]; readonly pending: readonly string[] }>;
  /** Already queued by someone else (a redelivery, another instance): nothing done. */
  readonly known: readonly string[];
  /** Given up: the platform refused it for good, or it expired. Never a URL or secret. */
  readonly undelivered: ReadonlyArray<{ readonly id: string; readonly sink: string; readonly reason: string }>;
  /** Store failures: the notice is lost if it could not be queued. */
  readonly problems: readonly string[];
}

/**
 * Queues each notice and posts it at once, all in parallel, until `until` (epoch ms): the caller's
 * whole budget for notifying. `by` names the claimant (the invocation).
 */
export async function sendNotices(deps: NotifyDeps, notices: readonly Notice[], until: number, by: string): Promise<NotifyReport> {
  const report = new ReportLog();
  // The same news twice in one call (a group of alerts refused alike): once.
  const unique = [...new Map(notices.map((n) => [n.id, n])).values()];
  const routed = (await Promise.all(unique.map(async (notice) => ({ notice, sinks: await sinksOf(deps, notice, report) })))).filter((r) => r.sinks.length > 0);
  if (routed.length === 0) return report.done();
  // Listed before they are queued, in one step: a notice queued is always found by the pass, even
  // if this invocation dies right after (a listing whose entry never came is dropped by the pass).
  const now = deps.now();
  const expiresAt = now + deps.notify.retryForSeconds * 1000;
  const listed = await index(deps, routed.map((r) => ({ id: r.notice.id, summary: { nextAt: now, expiresAt } })), report);
  // Queued (every one before any is posted: a purchase's "ready" found with its "bought" sees it pending, and waits).
  const queued = await Promise.all(routed.map(async (r) => ({ ...r, queued: await queue(deps, r.notice, r.sinks, report) })));
  // The listing follows what each entry really holds: one queued earlier may have nothing left to post.
  for (const q of queued) if (q.queued?.outcome === 'exists') report.known.push(q.notice.id);
  const known = queued.filter((q) => q.queued === undefined || q.queued.outcome === 'exists');
  if (known.length > 0) await index(deps, known.map((q) => ({ id: q.notice.id, summary: q.queued?.summary ?? { expiresAt } })), report);
  await Promise.all(
    queued
      .filter((q) => q.queued?.outcome === 'queued')
      .map(async ({ notice, sinks }, i) => {
        // No time left to post (a chat's answer is due), or more news than one request should post
        // (the platforms allow a post a second, or 20 a minute): the pass posts it, within each sink's rate.
        const postNow = until - deps.now() >= MIN_POST_MS && i < MAX_POSTED_AT_ONCE;
        const healthy = sinks.filter((s) => (deps.failing?.get(s)?.until ?? 0) <= deps.now());
        const posted = postNow && healthy.length > 0 ? await postDue(deps, notice.id, healthy, until, by, report) : { sent: [] as string[], refused: [] as string[] };
        report.posts.push({ id: notice.id, queued: true, sent: posted.sent, pending: sinks.filter((s) => !posted.sent.includes(s) && !posted.refused.includes(s)) });
      }),
  );
  // The listing failed: tried once more for what is left to post, or the pass would never find it.
  const unlisted = report.posts.filter((p) => p.queued && p.pending.length > 0);
  if (!listed && unlisted.length > 0 && !(await index(deps, unlisted.map((p) => ({ id: p.id, summary: { nextAt: deps.now(), expiresAt } })), report))) {
    report.problems.push(`not listed, so no pass will post them: ${unlisted.map((p) => p.id).join(', ')}`);
  }
  return report.done();
}

/**
 * Where a notice goes: its routes (route.ts), and the conversation of a chat command whose
 * purchase it is about, when one is remembered (notify/conversation.ts).
 */
async function sinksOf(deps: NotifyDeps, notice: Notice, report: ReportLog): Promise<string[]> {
  try {
    const sinks = sinksFor(deps.notify, notice);
    if (!toConversation(notice) || !deps.sinks.has(CONVERSATION_SINK) || !('purchaseId' in notice)) return sinks;
    const conversation = await deps.store.update<Conversation, Conversation | undefined>(conversationKeyOf(notice.clusterId, notice.purchaseId), readValue);
    return conversation === undefined ? sinks : [...sinks, CONVERSATION_SINK];
  } catch (error) {
    report.problem(error, `notice ${notice.id} could not be routed; it is lost`);
    return [];
  }
}

/** Queues a notice for its sinks (create-if-absent); undefined when the store failed. */
async function queue(deps: NotifyDeps, notice: Notice, sinks: readonly string[], report: ReportLog): Promise<{ readonly outcome: 'queued' | 'exists'; readonly summary: OutboxSummary } | undefined> {
  try {
    return await deps.store.update<OutboxEntry, { readonly outcome: 'queued' | 'exists'; readonly summary: OutboxSummary }>(outboxKeyOf(notice.id), (current) =>
      queueNotice(current, notice, sinks, deps.now(), deps.notify.retryForSeconds * 1000, notice.kind === 'held-back' ? notice.windowEndsAt ?? 0 : 0),
    );
  } catch (error) {
    report.problem(error, `notice ${notice.id} could not be queued; it is lost`);
    return undefined;
  }
}

/**
 * The timer pass's share: every listed notice that is due is posted again, oldest first, each
 * sink at most its `perPass` posts, until `deadline`. Expired ones are given up (and reported).
 */
export async function drainOutbox(deps: NotifyDeps, deadline: number, by: string): Promise<NotifyReport & { readonly left: number }> {
  const report = new ReportLog();
  let listed: ReturnType<typeof outboxEntriesOf>;
  try {
    listed = outboxEntriesOf(await deps.store.update<OutboxIndex, OutboxIndex | undefined>(OUTBOX_INDEX_KEY, readValue));
  } catch (error) {
    report.problem(error, 'the outbox could not be read');
    return { ...report.done(), left: 0 };
  }
  const posts = new Map<string, number>();
  let left = 0;
  for (const entry of [...listed].sort((a, b) => a.nextAt - b.nextAt)) {
    const now = deps.now();
    if (entry.nextAt > now && entry.expiresAt > now) continue;
    if (deadline - now < MIN_POST_MS) {
      left++;
      continue;
    }
    const allowed = [...deps.sinks.values()].filter((s) => (posts.get(s.name) ?? 0) < s.perPass && !rateLimited(deps, s.name, now)).map((s) => s.name);
    const posted = await postDue(deps, entry.id, allowed, Math.min(deadline, now + POST_TIMEOUT_MS), by, report, entry.expiresAt - deps.notify.retryForSeconds * 1000);
    for (const sink of posted.tried) posts.set(sink, (posts.get(sink) ?? 0) + 1);
    // A sink that failed gets one try a pass: the next notice would only fail (or be rate-limited) too.
    for (const sink of posted.failed) posts.set(sink, Infinity);
    if (posted.tried.length > 0) report.posts.push({ id: entry.id, queued: false, sent: posted.sent, pending: posted.tried.filter((s) => !posted.sent.includes(s) && !posted.refused.includes(s)) });
  }
  return { ...report.done(), left };
}

/** Notices a request posts itself; more are queued for the pass. */
export const MAX_POSTED_AT_ONCE = 5;

/** One post may take this long in the pass (a slow platform holds up one notice, not the pass). */
const POST_TIMEOUT_MS = 5_000;
/** The least time worth starting a post with. */
const MIN_POST_MS = 300;

/** Claims the notice's due deliveries to `sinks`, posts them in parallel until `until`, settles them, and lists what is left. */
async function postDue(
  deps: NotifyDeps,
  id: string,
  sinks: readonly string[],
  until: number,
  by: string,
  report: ReportLog,
  /** When it was listed, as far as the pass knows: a listing younger than LISTING_GRACE_MS may be waiting for its entry. */
  listedAt = 0,
): Promise<{ readonly sent: string[]; readonly refused: string[]; readonly failed: string[]; readonly tried: string[] }> {
  const none = { sent: [], refused: [], failed: [], tried: [] };
  const key = outboxKeyOf(id);
  let claimed: Claimed;
  try {
    // A purchase's later news waits, per sink, for its "bought" to be posted there (or given up).
    const predecessor = predecessorOf(id);
    if (predecessor !== undefined) {
      const waiting = pendingSinksOf(await deps.store.update<OutboxEntry, OutboxEntry | undefined>(outboxKeyOf(predecessor), readValue), deps.now());
      sinks = sinks.filter((s) => !waiting.has(s));
      if (sinks.length === 0) return none;
    }
    // The claim outlives the post's own time a little: a post still in flight is never taken twice.
    claimed = await deps.store.update<OutboxEntry, Claimed>(key, (current) => claimDeliveries(current, sinks, by, until + CLAIM_MARGIN_MS, deps.now()));
  } catch (error) {
    report.problem(error, `notice ${id} could not be claimed; the next pass tries it`);
    return none;
  }
  if (claimed.kind === 'gone') {
    // Listed and never queued (the invocation died between), or expired from the store: off the list,
    // once it is old enough that its entry is not on its way.
    if (deps.now() - listedAt >= LISTING_GRACE_MS) await index(deps, [{ id, summary: { expiresAt: 0 } }], report);
    return none;
  }
  if (claimed.kind === 'expired') {
    for (const u of claimed.undelivered) report.undelivered.push({ id, sink: u.sink, reason: `expired after ${u.attempts} attempt(s)${u.lastError !== undefined ? `; last: ${u.lastError}` : ''}` });
    await index(deps, [{ id, summary: { expiresAt: 0 } }], report);
    return none;
  }
  // Nothing due for these sinks: the listing follows the entry (off the list when nothing is left).
  if (claimed.kind === 'nothing') {
    if (claimed.summary.nextAt === undefined) await index(deps, [{ id, summary: claimed.summary }], report);
    return none;
  }
  const { notice } = claimed;
  const results = await Promise.all(claimed.sinks.map(async (name) => ({ sink: name, delivery: await deliverTo(deps, name, notice, until) })));
  let summary: OutboxSummary | undefined;
  try {
    summary = await deps.store.update<OutboxEntry, OutboxSummary | undefined>(key, (current) => settleDeliveries(current, results, by, deps.now()));
  } catch (error) {
    // The claims lapse: the pass posts again (at least once, then maybe twice).
    report.problem(error, `notice ${id}: what its posts did could not be recorded; the next pass may post it again`);
  }
  if (summary !== undefined) await index(deps, [{ id, summary }], report);
  for (const r of results) if (!r.delivery.ok && !r.delivery.retry) report.undelivered.push({ id, sink: r.sink, reason: r.delivery.reason });
  for (const { sink, delivery } of results) {
    if (delivery.ok) deps.failing?.delete(sink);
    else if (delivery.retry) deps.failing?.set(sink, { until: deps.now() + Math.max(FAILING_SINK_MS, delivery.retryAfterMs ?? 0), rateLimited: delivery.retryAfterMs !== undefined });
  }
  return {
    sent: results.filter((r) => r.delivery.ok).map((r) => r.sink),
    refused: results.filter((r) => !r.delivery.ok && !r.delivery.retry).map((r) => r.sink),
    failed: results.filter((r) => !r.delivery.ok && r.delivery.retry).map((r) => r.sink),
    tried: results.map((r) => r.sink),
  };
}

const CLAIM_MARGIN_MS = 2_000;

/** The sink asked this instance to wait (Retry-After, a documented throttle) and the wait is not over. */
function rateLimited(deps: NotifyDeps, sink: string, now: number): boolean {
  const failing = deps.failing?.get(sink);
  return failing !== undefined && failing.rateLimited && failing.until > now;
}

/** A chat command's purchase: its later news (ready, failed) goes to the conversation too; its first reply said what was bought. */
function toConversation(notice: Notice): boolean {
  return notice.why.origin?.kind === 'chat' && (notice.kind === 'ready' || notice.kind === 'failed');
}

async function deliverTo(deps: NotifyDeps, name: string, notice: Notice, until: number): Promise<Delivery> {
  const sink = deps.sinks.get(name);
  // A sink removed from the config since the notice was queued: nothing to post it to.
  if (sink === undefined) return { ok: false, retry: false, reason: `sink ${name} is no longer in the config` };
  let message;
  try {
    message = renderNotice(notice, sink.language, deps.notify.consoleLink);
  } catch (error) {
    // A notice this version cannot read (written by another, the store outlives deploys): given up.
    return { ok: false, retry: false, reason: `the notice could not be rendered: ${(error as Error).name}: ${(error as Error).message}` };
  }
  const timeout = Math.max(1, until - deps.now());
  try {
    return await sink.deliver(notice, message, AbortSignal.timeout(timeout), deps.now());
  } catch (error) {
    // A sink never throws; if one does, it is a bug, and still never costs the scale-out.
    return { ok: false, retry: true, reason: `the ${sink.type} sink ${name} failed: ${(error as Error).name}` };
  }
}

/** Updates the outbox's list; false when the store failed (said in the report). */
async function index(deps: NotifyDeps, updates: ReadonlyArray<{ readonly id: string; readonly summary: OutboxSummary }>, report: ReportLog): Promise<boolean> {
  try {
    const dropped = await deps.store.update<OutboxIndex, readonly string[]>(OUTBOX_INDEX_KEY, (current) => indexOutbox(current, updates, deps.now()));
    for (const d of dropped) report.undelivered.push({ id: d, sink: '*', reason: 'the outbox is full: the least recently listed notice was dropped from it' });
    return true;
  } catch (error) {
    report.problem(error, `the outbox list could not be updated for ${updates.map((u) => u.id).join(', ')}`);
    return false;
  }
}

/** How long a listing may wait for its entry before the pass takes it off the list. */
const LISTING_GRACE_MS = 60_000;

class ReportLog {
  readonly posts: Array<NotifyReport['posts'][number]> = [];
  readonly known: string[] = [];
  readonly undelivered: Array<NotifyReport['undelivered'][number]> = [];
  readonly problems: string[] = [];

  /**
   * A store failure (the error family's code, e.g. StoreUnavailable) or a bug (its name and
   * message): either is said in the log line, and neither costs the scale-out or the pass. Read by
   * shape, not class: this module ships in notify.js, beside the function's own errors.ts.
   */
  problem(error: unknown, what: string): void {
    const e = error as { code?: unknown; name?: unknown; message?: unknown } | undefined;
    this.problems.push(`${what} (${typeof e?.code === 'string' ? e.code : `${String(e?.name ?? 'Error')}: ${String(e?.message ?? error)}`})`);
  }

  done(): NotifyReport {
    return { posts: this.posts, known: this.known, undelivered: this.undelivered, problems: this.problems };
  }
}
