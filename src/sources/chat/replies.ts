import type { ClusterStatus } from '../../core/purchase';
import type { ReleaseOutcome, ScaleOutOutcome } from '../webhook-source';
import { TkeCallError } from '../../errors';
import { COMMAND_USAGE } from './command';
import { describeStep, type LadderPlan, type RungPreview } from '../../core/rungs';

/** What the bot says, in plain text every chat renders. */
export function helpText(problem: string | undefined, clusters: readonly string[]): string {
  return [
    ...(problem !== undefined ? [`Not understood: ${problem}.`] : []),
    `Usage: ${COMMAND_USAGE}`,
    `Clusters: ${clusters.join(', ')}. Without a template, the first one the config lists for the cluster is used.`,
    'Add --dry-run to see what would be sent to TKE without sending it.',
  ].join('\n');
}

export function notAllowedText(user: string): string {
  return `You may not scale clusters from here (user ${user}). Ask an operator to add your user ID to the allow-list.`;
}

/**
 * `followUpComing`: a follow-up was handed off for an unknown outcome (chat/follow-up.ts), so the
 * text promises the outcome later instead of sending the user to look.
 */
export function outcomeText(outcome: ScaleOutOutcome, followUpComing = false): string {
  if (outcome.ok) {
    const a = outcome.answer;
    const what = `${a.count} node${a.count === 1 ? '' : 's'} on ${a.clusterId} with template ${a.template}`;
    const clamped = a.clampedBy !== undefined ? ` (asked ${a.requestedCount}; limited by ${a.clampedBy})` : '';
    const back = a.restored === undefined ? '' : `${a.restored.length} node${a.restored.length === 1 ? '' : 's'} being given back (${a.restored.join(', ')})`;
    if (outcome.status === 'dry-run' && outcome.preview === undefined) return `Dry run, nothing changed. Would put back in service ${back} instead of buying.`;
    if (outcome.status === 'restored') return `Put back in service ${back} on ${a.clusterId} instead of buying: they were being drained, and are schedulable again.`;
    const putBack = back === '' ? '' : ` Put back in service first: ${back}.`;
    if (outcome.status === 'dry-run') {
      const plan = a.plan === undefined ? '' : ` Ladder: ${a.plan.rungs.map(describePreview).join('; ')}.${a.plan.budgetLeft === undefined ? '' : ` Budget left: ${describeLeft(a.plan.budgetLeft)}.`}`;
      return `Dry run, nothing sent. Would add ${what}${clamped}: CreateClusterInstances ${JSON.stringify(outcome.preview)}${plan}${putBack.replace('Put back in service first', 'Would put back in service first')}`;
    }
    const ids = a.instanceIds.join(', ');
    // One line for the ladder and the money: which rung was bought, at what price, and what was passed over.
    const rung = a.bought === undefined ? '' : ` Bought ${describeStep(a.bought).replace(/: bought$/, '')}${a.skipped !== undefined ? `; passed over ${a.skipped.map((s) => describeStep(s)).join('; ')}` : ''}.`;
    if (outcome.status === 'replayed' && a.instanceIds.length === 0) return `Already done for this command: put back in service ${back} instead of buying.`;
    return outcome.status === 'created'
      ? `Requested ${what}${clamped}: ${ids} (TKE RequestId ${a.requestId}).${rung}${putBack}`
      : `Already done for this command: ${what}: ${ids} (TKE RequestId ${a.requestId}).${rung}${putBack}`;
  }
  const e = outcome.error;
  if (e instanceof TkeCallError && e.outcomeUnknown) {
    // The request reached TKE (or may have) and no answer came in time: TKE may be creating the
    // nodes right now. "Not scaled" would be false and invite a second purchase; the cooldown now
    // holds new scale-outs of this cluster, so retyping the command would only be held back.
    const token = outcome.clientToken !== undefined ? `, ClientToken ${outcome.clientToken}` : '';
    const next = followUpComing
      ? `I will post the outcome here once TKE answers (event ${outcome.request.eventId}${token}); do not ask again meanwhile.`
      : `Check the node list of cluster ${outcome.request.cluster} in the TKE console before asking again (event ${outcome.request.eventId}${token}); new scale-outs of this cluster wait for the cooldown.`;
    return `Sent to TKE, but no answer came in time (${e.code}): the nodes may be being created now. ${next}`;
  }
  // The throttle's message already names the rule and the time it lifts.
  if (e.code === 'Throttled') return `Held back: ${e.message.replace(/^throttled by /, '')}`;
  const requestId = (e.details as { requestId?: string } | undefined)?.requestId;
  const retry = e.status >= 500 ? ' This may pass: try again in a minute.' : '';
  return `Not scaled: ${e.message} (${e.code}${requestId !== undefined ? `, TKE RequestId ${requestId}` : ''}).${retry}`;
}

function describePreview(p: RungPreview): string {
  const price = p.price === undefined ? (p.priceUnavailable !== undefined ? ', no price' : '') : `, ${p.price.amount.toFixed(2)} ${p.price.currency}${p.price.kind === 'hourly' ? '/h' : ''}`;
  const skip = p.wouldSkip === undefined ? '' : ` (would skip: ${p.wouldSkip})`;
  return `${p.rung}. ${p.instanceType} in ${p.zone} (${p.chargeType})${price}${skip}`;
}

function describeLeft(left: NonNullable<LadderPlan['budgetLeft']>): string {
  const parts = [left.hourly !== undefined ? `${left.hourly.toFixed(2)} ${left.currency}/h` : undefined, left.prepaid !== undefined ? `${left.prepaid.toFixed(2)} ${left.currency} prepaid` : undefined];
  return parts.filter((p) => p !== undefined).join(', ');
}

/** The follow-up's message: the final outcome of a command whose first answer said "may be in progress". */
export function followUpText(outcome: ScaleOutOutcome): string {
  const command = `/scaleout ${outcome.request.cluster} ${outcome.request.count ?? ''}`.trimEnd();
  if (!outcome.ok && outcome.error instanceof TkeCallError && outcome.error.outcomeUnknown) {
    const e = outcome.error;
    const token = outcome.clientToken !== undefined ? ` (ClientToken ${outcome.clientToken})` : '';
    return `Follow-up on ${command}: TKE still gave no answer (${e.code}); the nodes may exist. Check the node list of cluster ${outcome.request.cluster} in the TKE console${token} before asking again.`;
  }
  return `Follow-up on ${command}: ${outcomeText(outcome)}`;
}

/** `/scaleout status`: each cluster's node budget, what it bought that is not done, and its newest purchases. */
export function statusText(statuses: readonly ClusterStatus[], now: number): string {
  if (statuses.length === 0) return 'No cluster to report on.';
  return statuses
    .map((s) => {
      const budget =
        'unavailable' in s.nodeBudget
          ? `node budget: ${s.nodeBudget.unavailable}`
          : `node budget: ${s.nodeBudget.used} used, ${s.nodeBudget.left} left per ${s.nodeBudget.windowSeconds} s${s.nodeBudget.cooldownUntil !== undefined && s.nodeBudget.cooldownUntil > now ? `, cooldown for ${Math.ceil((s.nodeBudget.cooldownUntil - now) / 1000)} s` : ''}`;
      const open = Object.entries(s.open).filter(([, n]) => (n ?? 0) > 0);
      const openText = open.length === 0 ? 'nothing in progress' : `in progress: ${open.map(([state, n]) => `${n} ${state}`).join(', ')}`;
      const recent = s.recent.map((p) => `${p.id} ${p.count} node(s) ${p.state}, ${Math.max(0, Math.round((now - p.requestedAt) / 60_000))} min ago${p.failedReason !== undefined ? ` (${p.failedReason.slice(0, 120)})` : ''}`);
      return [`${s.cluster} (${s.clusterId}): ${budget}; ${openText}.`, ...recent.map((r) => `  ${r}`)].join('\n');
    })
    .join('\n');
}

/** `/scalein`: queued for the pass, what a dry run would give back and keep, or why not. */
export function releaseText(outcome: ReleaseOutcome): string {
  const r = outcome.request;
  if (!outcome.ok) return `Not given back: ${outcome.error.message} (${outcome.error.code}).`;
  if (outcome.status === 'dry-run') {
    const keep = outcome.plan.held.map((h) => `${h.instanceId} (${h.reason}: ${h.detail})`).join('; ');
    return `Dry run, nothing changed. Would give back ${outcome.plan.wouldRelease.length === 0 ? 'no node' : outcome.plan.wouldRelease.join(', ')} of ${r.cluster}${keep !== '' ? `; would keep ${keep}` : ''}.`;
  }
  const what = r.count === 'all' ? 'every node the policy allows' : `${r.count} node${r.count === 1 ? '' : 's'}`;
  return outcome.status === 'replayed'
    ? `Already asked: ${what} of ${r.cluster} are being given back.`
    : `Giving back ${what} of ${r.cluster}, newest first: each is cordoned, drained and deleted over the next minutes (the team's channel says when).`;
}
