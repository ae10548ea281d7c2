import type { Config } from '../config/config';
import { costScopesOf } from '../core/cost-budget';
import type { ScaleOutAnswer } from '../core/idempotency';
import type { PurchaseRecord } from '../core/purchase';
import { describeStep } from '../core/rungs';
import type { ResolvedScaleOut, ScaleOutRequest } from '../core/scale-out-request';
import type { Offering } from '../core/sold-out';
import { throttleRulesOf } from '../core/throttle';
import { SoldOutError, ThrottledError, TkeCallError, type ScaleOutError } from '../errors';
import { capacityCodeOf } from '../tke/tke-errors';
import type { BoughtNotice, FailedNotice, HeldBackNotice, HeldBackReason, NoticeWhy, ReadyNotice, ReleasedNotice, RestoredNotice, StuckNotice } from '../core/notice';
import type { InstanceRelease } from '../core/release';

/**
 * What is news, and its notice: pure functions from what the lifecycle and the pass already know.
 * Each notice's ID names what it is about, so the outbox queues the same news once
 * (notify/outbox.ts) however many deliveries, retries or passes see it.
 */

/**
 * Whether anyone hears a scale-out's news: the sinks of `notify:`, or the conversation a chat
 * command came from. Nobody: no notice is made (nor its code run).
 */
export function anyoneListens(config: Pick<Config, 'notify'>, asked: Pick<ScaleOutRequest, 'origin'>): boolean {
  return config.notify !== undefined || asked.origin?.kind === 'chat';
}

/** A purchase TKE answered with instances (a scale-out's call, a re-send, or a pass that found an unknown outcome's nodes). */
export function boughtNotice(
  purchase: Pick<PurchaseRecord, 'id' | 'cluster' | 'clusterId' | 'region' | 'template' | 'rung' | 'offering' | 'count' | 'instanceIds' | 'price' | 'askedBy'>,
  at: number,
  more: { readonly answer?: ScaleOutAnswer; readonly asked?: ScaleOutRequest } = {},
): BoughtNotice {
  const { answer, asked } = more;
  return {
    kind: 'bought',
    id: `bought:${purchase.clusterId}:${purchase.id}`,
    at,
    cluster: purchase.cluster,
    clusterId: purchase.clusterId,
    region: purchase.region,
    purchaseId: purchase.id,
    template: purchase.template,
    rung: purchase.rung,
    instanceType: purchase.offering.instanceType,
    zone: purchase.offering.zone,
    chargeType: purchase.offering.chargeType,
    ...(answer?.skipped !== undefined && answer.skipped.length > 0 && { passedOver: answer.skipped.map(describeStep) }),
    count: purchase.count,
    ...(answer?.requestedCount !== undefined && { requestedCount: answer.requestedCount }),
    ...(answer?.clampedBy !== undefined && { clampedBy: answer.clampedBy }),
    instanceIds: purchase.instanceIds,
    ...(purchase.price !== undefined && { price: purchase.price }),
    ...(answer?.restored !== undefined && answer.restored.length > 0 && { restored: answer.restored }),
    why: whyOf(purchase.askedBy, asked),
  };
}

/** A scale-out put nodes being given back in service instead of buying: news like a purchase, once per event (its purchase ID is the event's). */
export function restoredNotice(resolved: ResolvedScaleOut, asked: ScaleOutRequest, instanceIds: readonly string[], at: number): RestoredNotice {
  return {
    kind: 'restored',
    id: `restored:${resolved.cluster.clusterId}:${resolved.marks.purchase}`,
    at,
    cluster: resolved.cluster.alias,
    clusterId: resolved.cluster.clusterId,
    region: resolved.cluster.region,
    template: resolved.template.name,
    instanceIds,
    why: whyOf({ source: asked.source, eventId: asked.eventId, ...(asked.reason !== undefined && { reason: asked.reason }) }, asked),
  };
}

/** Every node of the purchase runs. */
export function readyNotice(record: PurchaseRecord, at: number): ReadyNotice {
  const since = record.createdAt ?? record.requestedAt;
  return { ...ofPurchase(record, 'ready', at), instanceIds: record.instanceIds, secondsToReady: Math.max(0, ((record.readyAt ?? at) - since) / 1000) };
}

/** What every notice about one purchase says first: which purchase, where, of what, and who asked. */
function ofPurchase<K extends 'ready' | 'failed' | 'released' | 'stuck'>(record: PurchaseRecord, kind: K, at: number) {
  return {
    kind,
    id: `${kind}:${record.clusterId}:${record.id}`,
    at,
    cluster: record.cluster,
    clusterId: record.clusterId,
    region: record.region,
    purchaseId: record.id,
    template: record.template,
    count: record.count,
    why: whyOf(record.askedBy),
  };
}

/**
 * The purchase ended with nodes that never joined, cleaned up (or left alone, when they carry no
 * mark of the function): which, why, what the budgets got back, and the offering's back-off.
 */
export function failedNotice(record: PurchaseRecord, at: number, backOff?: FailedNotice['backOff']): FailedNotice {
  const all = Object.entries(record.instances ?? {});
  const failed = all.filter(([, i]) => i.cleanup !== undefined || (i.state !== 'running' && i.state !== 'gone'));
  // None failed by the function's reading: they all went (someone else removed them); list them all.
  const instances = (failed.length > 0 ? failed : all).map(([instanceId, i]) => ({ instanceId, ...(i.failedReason !== undefined && { failedReason: i.failedReason }), ...(i.cleanup !== undefined && { cleanup: i.cleanup }) }));
  return {
    ...ofPurchase(record, 'failed', at),
    instances,
    reason: record.failedReason ?? 'failed',
    givenBack: givenBackOf(record),
    ...(backOff !== undefined && { backOff }),
  };
}

/** A node given back, drained and deleted. */
export function releasedNotice(record: PurchaseRecord, instanceId: string, release: InstanceRelease, mode: string, at: number): ReleasedNotice {
  return {
    ...ofPurchase(record, 'released', at),
    id: `released:${record.clusterId}:${instanceId}`,
    instanceId,
    nodeName: release.nodeName,
    reason: release.reason,
    secondsToRelease: Math.max(0, ((release.releasedAt ?? at) - release.startedAt) / 1000),
    mode,
  };
}

/** A node whose drain ran out of time, left cordoned. */
export function stuckNotice(record: PurchaseRecord, instanceId: string, release: InstanceRelease, detail: string, at: number): StuckNotice {
  return { ...ofPurchase(record, 'stuck', at), id: `stuck:${record.clusterId}:${instanceId}`, instanceId, nodeName: release.nodeName, reason: release.reason, detail };
}

/**
 * A scale-out refused because a budget is spent, the ceiling is reached or CVM is sold out
 * everywhere: news once per cluster, reason and window (the node budget's window; the money
 * budget's; the sold-out memory's), not once per refused delivery. A cooldown, a warm-up or an
 * event in flight are the throttle working as meant: no news.
 */
export function heldBackNotice(config: Config, resolved: ResolvedScaleOut, asked: ScaleOutRequest, error: ScaleOutError, at: number): HeldBackNotice | undefined {
  const reason = heldBackReasonOf(error);
  if (reason === undefined) return undefined;
  const windowSeconds =
    reason === 'sold-out'
      ? config.capacity.soldOutSeconds
      : reason === 'money-budget'
        ? (costScopesOf(resolved.cluster, config.costBudget)[0]?.budget.windowSeconds ?? 3600)
        : throttleRulesOf(resolved.cluster, resolved.template).windowSeconds;
  const window = Math.floor(at / (windowSeconds * 1000));
  const windowEndsAt = (window + 1) * windowSeconds * 1000;
  const retryAt = error.retryAfterSeconds === undefined ? undefined : at + error.retryAfterSeconds * 1000;
  return {
    kind: 'held-back',
    id: `held-back:${resolved.cluster.clusterId}:${reason}:${window}`,
    at,
    cluster: resolved.cluster.alias,
    clusterId: resolved.cluster.clusterId,
    region: resolved.cluster.region,
    reason,
    detail: error.message,
    ...(retryAt !== undefined && { retryAt }),
    windowEndsAt,
    template: resolved.template.name,
    why: whyOf({ source: asked.source, eventId: asked.eventId, ...(asked.reason !== undefined && { reason: asked.reason }), ...(asked.origin !== undefined && { origin: asked.origin }) }, asked),
  };
}

/** What the cleanups gave back, as core/cleanup.ts's refundOf counted it: each node, and the hourly money of each no longer billed. */
function givenBackOf(record: PurchaseRecord): FailedNotice['givenBack'] {
  const back = Object.values(record.instances ?? {}).filter((i) => i.givenBack === true);
  const price = record.price;
  const billedNoMore = back.filter((i) => i.cleanup !== 'removed').length;
  const money = price?.kind === 'hourly' && record.count > 0 ? Math.round((price.amount / record.count) * billedNoMore * 100) / 100 : 0;
  return { nodes: back.length, ...(money > 0 && { money, currency: price!.currency }) };
}

function heldBackReasonOf(error: ScaleOutError): HeldBackReason | undefined {
  if (error instanceof SoldOutError) return 'sold-out';
  // A template of one rung that CVM refused for capacity: sold out on every rung it has. (An
  // unknown outcome is no refusal: it may have bought.)
  if (error instanceof TkeCallError && !error.outcomeUnknown && capacityCodeOf(error.code, error.message) !== undefined) return 'sold-out';
  if (!(error instanceof ThrottledError)) return undefined;
  const byRule: Record<string, HeldBackReason> = { 'node-budget': 'node-budget', 'cluster-ceiling': 'cluster-ceiling', 'cost-budget': 'money-budget' };
  return byRule[error.rule];
}

function whyOf(askedBy: PurchaseRecord['askedBy'], asked?: ScaleOutRequest): NoticeWhy {
  const origin = askedBy.origin ?? asked?.origin;
  return {
    source: askedBy.source,
    eventId: askedBy.eventId,
    ...(askedBy.reason !== undefined && { reason: askedBy.reason }),
    ...(origin !== undefined && { origin }),
    ...(asked?.sizing !== undefined && { sizing: asked.sizing }),
    ...(origin?.kind === 'chat' && asked !== undefined && { command: `/scaleout ${asked.cluster}${asked.count !== undefined ? ` ${asked.count}` : ''}${asked.template !== '' ? ` ${asked.template}` : ''}` }),
  };
}

/** "S5.MEDIUM4 in ap-guangzhou-3 (POSTPAID_BY_HOUR)": an offering in a line. */
export function offeringText(o: Offering): string {
  return `${o.instanceType} in ${o.zone} (${o.chargeType})`;
}
