import type { Config } from '../config/config';
import type { NotifyConfig } from '../config/schema';
import type { BudgetLeft } from '../core/notice';
import type { StateStore } from '../store/state-store';
import { drainOutbox, sendNotices, type NotifyDeps, type NotifyReport } from './deliver';
import type { Notice } from '../core/notice';
import type { Sink } from './sinks/sink';

/**
 * What the request path and the timer pass call: `tell` the notices of what just happened (within
 * the time given), `drain` the outbox (the pass). Absent (no `notify:` in the config): the function
 * tells no one but its log.
 */
export interface Notifier {
  tell(notices: readonly Notice[], until: number, by: string): Promise<NoticeLog | undefined>;
  drain(deadline: number, by: string): Promise<NoticeLog | undefined>;
}

/** A request's or pass's notices in its log line: IDs and sink names, never a URL. */
export interface NoticeLog {
  readonly queued?: readonly string[];
  /** `<notice id> → <sink>` posted now. */
  readonly sent?: readonly string[];
  /** Left to the timer pass (not posted in time, or to retry). */
  readonly pending?: readonly string[];
  /** Queued already by an earlier delivery or another instance: nothing done. */
  readonly known?: readonly string[];
  readonly undelivered?: NotifyReport['undelivered'];
  readonly problems?: readonly string[];
  /** The pass: due notices it had no time for. */
  readonly left?: number;
}

/**
 * `budgetLeft`: what a cluster's budgets leave now, for a purchase's notice (the app passes
 * purchases/purchase-reads.ts's read); a read that fails leaves it out of the notice.
 */
export function createNotifier(config: Config, store: StateStore, sinks: ReadonlyMap<string, Sink>, now: () => number, budgetLeft: (cluster: string) => Promise<BudgetLeft | undefined>): Notifier | undefined {
  if (sinks.size === 0) return undefined;
  // Without `notify:`, only chat conversations are told (their sink is the only one).
  const deps: NotifyDeps = { notify: config.notify ?? CONVERSATIONS_ONLY, store, sinks, now, failing: new Map() };
  return {
    // Neither ever throws: telling the team never costs a scale-out or a pass (a bug is said in the log line).
    async tell(notices, until, by) {
      if (notices.length === 0) return undefined;
      try {
        const withBudgets = await Promise.all(notices.map((n) => withBudgetLeft(n)));
        return logOf(await sendNotices(deps, withBudgets, until, by));
      } catch (error) {
        return { problems: [`the notices could not be told: ${(error as Error)?.name}: ${(error as Error)?.message}`] };
      }
    },
    async drain(deadline, by) {
      try {
        const report = await drainOutbox(deps, deadline, by);
        const log = logOf(report);
        return report.left > 0 ? { ...log, left: report.left } : Object.keys(log).length > 0 ? log : undefined;
      } catch (error) {
        return { problems: [`the outbox could not be drained: ${(error as Error)?.name}: ${(error as Error)?.message}`] };
      }
    },
  };

  /** A purchase's notice says what the budgets leave after it: read now (a read that fails leaves it out). */
  async function withBudgetLeft(notice: Notice): Promise<Notice> {
    if (notice.kind !== 'bought' || notice.budgetLeft !== undefined) return notice;
    const left = await budgetLeft(notice.cluster).catch(() => undefined);
    return left === undefined ? notice : { ...notice, budgetLeft: left };
  }
}

/** `notify:` when the config has none: no sink of its own, the schema's defaults. */
const CONVERSATIONS_ONLY: NotifyConfig = { language: 'en', sinks: {}, default: [], clusters: {}, rules: {}, sendWithinMs: 800, retryForSeconds: 6 * 3600 };

function logOf(report: NotifyReport): NoticeLog {
  const some = <T>(list: readonly T[]) => (list.length > 0 ? list : undefined);
  const fields: Record<string, unknown> = {
    queued: some(report.posts.filter((p) => p.queued).map((p) => p.id)),
    sent: some(report.posts.flatMap((p) => p.sent.map((s) => `${p.id} → ${s}`))),
    pending: some(report.posts.flatMap((p) => p.pending.map((s) => `${p.id} → ${s}`))),
    known: some(report.known),
    undelivered: some(report.undelivered),
    problems: some(report.problems),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as NoticeLog;
}
