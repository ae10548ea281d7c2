import { describeError, type ErrorFields } from '../log/describe-error';
import type { IgnoredAlert } from '../rules/plan';
import type { ScaleOutTrace, TracedOutcome } from './lifecycle';
import type { NoticeLog } from '../notify/notifier';

/**
 * The fields of the one structured log line written per request (scf/decision-log.ts adds
 * status, duration and the invocation). Built at the edge from what the steps returned: nothing
 * writes into it while a request is being handled.
 */
export interface DecisionRecord extends Partial<ScaleOutTrace> {
  outcome?: DecisionOutcome;
  source?: string;
  note?: string;
  replyNote?: string;
  /** This invocation finished a chat scale-out an earlier one handed off (sources/chat/follow-up.ts). */
  followUp?: true;
  ignored?: readonly IgnoredAlert[];
  results?: readonly DecisionRecord[];
  error?: ErrorFields;
  /** What was told the team (notify/notifier.ts): notice IDs and sink names. */
  notices?: NoticeLog;
  /** Asks to give nodes back (purchases/release-pass.ts): queued, known, a dry run's plan, or refused. */
  scaleIn?: ReadonlyArray<Record<string, unknown>>;
}

export type DecisionOutcome =
  | 'created'
  | 'restored'
  | 'replayed'
  | 'dry-run'
  | 'health'
  | 'purchases'
  | 'rejected'
  | 'failed'
  | 'throttled'
  | 'ignored'
  | 'answered'
  | 'mixed';

/** One scale-out's part of the log line. */
export function decisionOfOutcome(outcome: TracedOutcome): DecisionRecord {
  if (outcome.ok) return { ...outcome.trace, outcome: outcome.status };
  const { error, trace } = outcome;
  // A failed call whose nodes may exist says so in `settlement: "unknown"`.
  const kind: DecisionOutcome = trace.throttledBy !== undefined ? 'throttled' : error.status >= 500 ? 'failed' : 'rejected';
  return { ...trace, outcome: kind, error: describeError(error) };
}

/** A delivery of several scale-outs (an Alertmanager group matching several rules) logs each. */
export function decisionOfOutcomes(outcomes: readonly TracedOutcome[]): DecisionRecord {
  const results = outcomes.map(decisionOfOutcome);
  if (results.length === 1) return results[0]!;
  return { outcome: summarize(results), results };
}

function summarize(records: readonly DecisionRecord[]): DecisionOutcome | undefined {
  const outcomes = new Set(records.map((r) => r.outcome));
  if (outcomes.size === 1) return [...outcomes][0];
  if (records.some((r) => r.outcome === 'failed')) return 'failed';
  return 'mixed';
}
