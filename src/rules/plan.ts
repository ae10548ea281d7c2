import type { RuleConfig } from '../config/load-config';
import type { AlertSourceName } from '../config/schema';
import { UnprocessableError } from '../errors';
import type { RefusedScaleOut, ScaleOutRequest } from '../core/scale-out-request';
import type { ReleaseRequest } from '../core/release';
import type { Alert, IgnoredAlert } from './alert';
import { sizeFor } from './sizing';
import { durationSeconds } from '../config/duration';

/**
 * Which scale-outs a delivery of alarms asks for. Pure: the rules and the alerts are all it reads.
 *
 * - Resolved alerts, and firing alerts no rule matches, ask for nothing (the sender gets a 2xx,
 *   status `ignored`, and the log line says why).
 * - A rule makes ONE scale-out for all the alerts of the delivery it matches (a group of ten pods
 *   firing is one reason to add nodes, not ten), unless it says `perAlert: true`.
 * - The event ID of a rule's scale-out is `<rule>/<episode of the oldest matching firing alert>`,
 *   where an episode is `<fingerprint>/<startsAt>`. So it is stable while that alert keeps firing,
 *   across the sender's retries, repeats (repeat_interval) and group changes: an alert joining the
 *   group, or a younger one resolving, re-sends the same event (a replay, no new nodes). When the
 *   oldest resolves while others still fire, the next oldest names a new event: the condition
 *   outlived its first cause, and the throttle (cooldown, budget) decides whether that is worth
 *   more nodes. A new firing episode of the same alert has a new startsAt, hence a new event.
 * - The count comes from the same alert as the event ID, so a re-send can never ask a different
 *   count for the same event.
 */
export type { IgnoredAlert } from './alert';

export interface ScaleOutPlan {
  readonly requests: readonly ScaleOutRequest[];
  /**
   * Asks to give nodes back: a scale-in rule's (a low alarm firing, one per episode and period), and
   * a scale-out rule's release on resolution (what the resolved episode bought, after `after`).
   */
  readonly releases: readonly ReleaseRequest[];
  /** Rules with a release on resolution whose alarm fires: their waiting asks are withdrawn (the need is back). */
  readonly withdraw: ReadonlyArray<{ readonly rule: string; readonly cluster: string }>;
  readonly ignored: readonly IgnoredAlert[];
  /**
   * Scale-outs a rule asks for that cannot be made (the alert's count label is not a number): each
   * is answered and logged on its own; the rest of the delivery goes on. One bad alert must not
   * drop a whole group, since a sender that gets a 4xx never sends it again.
   */
  readonly refused: readonly RefusedScaleOut[];
}

/**
 * `now` counts a repeating rule's periods (`rules[].repeat.every`) for senders that do not say how
 * long the alarm has lasted: the period is part of the event ID, so every delivery within one
 * period is one event (a replay), and the next period a new scale-out, judged by the throttle.
 */
export function planScaleOuts(rules: readonly RuleConfig[], source: AlertSourceName, alerts: readonly Alert[], now: number): ScaleOutPlan {
  const firing = alerts.filter((a) => a.status === 'firing');
  const matchedEpisodes = new Set<string>();
  const requests: ScaleOutRequest[] = [];
  const releases: ReleaseRequest[] = [];
  const refused: RefusedScaleOut[] = [];

  for (const rule of rules) {
    if (!rule.sources.includes(source)) continue;
    const matched = firing.filter((alert) => matches(rule, alert));
    if (matched.length === 0) continue;
    matched.forEach((a) => matchedEpisodes.add(a.episode));
    const triggers = rule.perAlert ? matched : [oldest(matched)];
    for (const alert of triggers) {
      const planned = requestFor(rule, source, alert, matched.length, now);
      if (rule.action === 'scale-in') {
        // A low alarm: give nodes back, as many as the rule's count or step says (its default when unreadable).
        const r = planned.request;
        releases.push({ source, eventId: r.eventId, cluster: r.cluster, count: r.count ?? 1, ...(rule.scale.template !== undefined && { template: rule.scale.template }), ...(r.reason !== undefined && { reason: r.reason }), ...(r.dryRun === true && { dryRun: true }) });
      } else if (planned.problem === undefined) requests.push(planned.request);
      else refused.push({ request: planned.request, error: planned.problem });
    }
  }

  // Release on resolution (opt-in): a resolved episode of such a rule, while none of its alerts
  // fires in this delivery, asks to give back what that episode bought, once it has stayed resolved
  // `after`; the rule firing again withdraws the rule's waiting asks.
  const withdraw: Array<{ rule: string; cluster: string }> = [];
  for (const rule of rules) {
    if (rule.release === undefined || !rule.sources.includes(source)) continue;
    const ofRule = alerts.filter((a) => matches(rule, a));
    if (ofRule.some((a) => a.status === 'firing')) {
      withdraw.push({ rule: rule.name, cluster: rule.scale.cluster });
      continue;
    }
    for (const alert of ofRule) {
      matchedEpisodes.add(alert.episode);
      const name = alert.labels.alertname ?? alert.metric ?? alert.eventName ?? alert.policyId ?? 'alert';
      releases.push({
        source,
        eventId: `${rule.name}/${alert.episode}/resolved`,
        cluster: rule.scale.cluster,
        count: 'all',
        ...(rule.scale.template !== undefined && { template: rule.scale.template }),
        reason: `rule ${rule.name}: ${name} resolved (release on resolution, after ${rule.release.after})`,
        boughtBy: { rule: rule.name, episode: alert.episode },
        notBefore: now + durationSeconds(rule.release.after) * 1000,
      });
    }
  }

  const ignored: IgnoredAlert[] = alerts
    .filter((a) => !matchedEpisodes.has(a.episode))
    .map((a) => ({ episode: a.episode, reason: a.status === 'resolved' ? 'resolved' : 'no-rule' }));
  return { requests, releases, withdraw, ignored, refused };
}

function matches(rule: RuleConfig, alert: Alert): boolean {
  const { labels, annotations, policyId, metric, namespace, eventName, product } = rule.match;
  return (
    matchesAll(labels, alert.labels) &&
    matchesAll(annotations, alert.annotations) &&
    matchesOne(policyId, alert.policyId) &&
    matchesOne(metric, alert.metric) &&
    // Tencent's own samples write namespaces both ways (QCE/TKE2, qce/cvm): case does not matter.
    matchesOne(lowerCase(namespace), alert.namespace?.toLowerCase()) &&
    matchesOne(eventName, alert.eventName) &&
    matchesOne(product, alert.product)
  );
}

function matchesAll(wanted: Readonly<Record<string, string | readonly string[]>> | undefined, actual: Readonly<Record<string, string>>): boolean {
  if (wanted === undefined) return true;
  return Object.entries(wanted).every(([name, value]) => matchesOne(value, Object.hasOwn(actual, name) ? actual[name] : undefined));
}

function matchesOne(wanted: string | readonly string[] | undefined, actual: string | undefined): boolean {
  if (wanted === undefined) return true;
  if (actual === undefined) return false;
  return typeof wanted === 'string' ? wanted === actual : wanted.includes(actual);
}

function lowerCase(wanted: string | readonly string[] | undefined): string | readonly string[] | undefined {
  if (wanted === undefined) return undefined;
  return typeof wanted === 'string' ? wanted.toLowerCase() : wanted.map((w) => w.toLowerCase());
}

function oldest(alerts: readonly Alert[]): Alert {
  return [...alerts].sort((a, b) => a.startedAt - b.startedAt || (a.episode < b.episode ? -1 : 1))[0]!;
}

/** The scale-out a rule asks for on behalf of `alert`, or why it cannot be made (with the request it would have been). */
function requestFor(rule: RuleConfig, source: AlertSourceName, alert: Alert, groupSize: number, now: number): { request: ScaleOutRequest; problem?: UnprocessableError } {
  const size = sizeFor(rule, alert);
  const name = alert.labels.alertname ?? alert.metric ?? alert.eventName ?? alert.policyId ?? 'alert';
  const episode = `${rule.name}/${alert.episode}`;
  const period = periodOf(rule, alert, now);
  const request: ScaleOutRequest = {
    source,
    // The first period keeps the episode's own event ID (as without repeat); later ones add theirs.
    eventId: period === undefined || period === 0 ? episode : `${episode}/p${period}`,
    cluster: rule.scale.cluster,
    template: rule.scale.template ?? '',
    ...(!(size instanceof UnprocessableError) && size.count !== undefined && { count: size.count }),
    params: new Map(),
    reason: `rule ${rule.name}: ${name}${groupSize > 1 && !rule.perAlert ? ` and ${groupSize - 1} more firing` : ''}${period !== undefined && period > 0 ? `, still firing (period ${period})` : ''}`,
    ...(!(size instanceof UnprocessableError) && size.sizing !== undefined && { sizing: size.sizing }),
    ...(period !== undefined && {
      repeat: { period, episode, ...(rule.repeat!.warmUp !== undefined && { warmUpSeconds: durationSeconds(rule.repeat!.warmUp) }) },
    }),
    origin: { kind: 'alert', rule: rule.name, alert: name, episode: alert.episode, ...(Object.keys(alert.labels).length > 0 && { labels: alert.labels }), ...(alert.policyId !== undefined && { policyId: alert.policyId }) },
  };
  return size instanceof UnprocessableError ? { request, problem: size } : { request };
}

/** Which `every` of its episode the alarm is in: by how long the sender says it has lasted, else by the clock. */
function periodOf(rule: RuleConfig, alert: Alert, now: number): number | undefined {
  if (rule.repeat === undefined) return undefined;
  const everyMs = durationSeconds(rule.repeat.every) * 1000;
  const elapsed = alert.elapsedMs ?? now - alert.startedAt;
  return Math.max(0, Math.floor(elapsed / everyMs));
}
