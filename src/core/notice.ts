import type { CostKind } from './model';
import type { ScaleOutOrigin, Sizing } from './scale-out-request';

/**
 * What the team is told: one notice per thing that happened, as data (JSON, kept in the outbox
 * until every sink has it). A notice's `id` says what it is about, so the same news is never
 * queued twice (notify/outbox.ts): `bought:<ClusterId>:<purchase>`, likewise `ready:` and
 * `failed:`, and `held-back:<ClusterId>:<reason>:<window>`. Sinks render it (notify/message.ts); the generic
 * webhook sends it as it is.
 */
export type Notice = BoughtNotice | ReadyNotice | FailedNotice | HeldBackNotice | ReleasedNotice | StuckNotice | RestoredNotice;
export type NoticeKind = Notice['kind'];

/** The languages notices are written in (notify/render.ts): the users are on Tencent Cloud. */
export type Language = 'en' | 'zh';
export const LANGUAGES = ['en', 'zh'] as const satisfies readonly Language[];
export const NOTICE_KINDS = ['bought', 'ready', 'failed', 'held-back', 'released', 'stuck', 'restored'] as const satisfies readonly NoticeKind[];

interface NoticeBase {
  readonly id: string;
  /** Epoch ms: when it happened. */
  readonly at: number;
  /** The config's alias of the cluster, and TKE's ID and region. */
  readonly cluster: string;
  readonly clusterId: string;
  readonly region: string;
}

/** Who asked and why: the sender, its event, the alarm (rule, alert, labels, value against threshold) or the chat user and command. */
export interface NoticeWhy {
  readonly source: string;
  readonly eventId: string;
  readonly reason?: string;
  readonly origin?: ScaleOutOrigin;
  readonly sizing?: Sizing;
  /** The chat command as typed, when a person asked. */
  readonly command?: string;
}

export interface NoticePrice {
  readonly amount: number;
  readonly kind: CostKind;
  readonly currency: string;
}

export interface BoughtNotice extends NoticeBase {
  readonly kind: 'bought';
  readonly purchaseId: string;
  readonly template: string;
  /** The rung bought (1: the template as written) and what it is. */
  readonly rung: number;
  readonly instanceType: string;
  readonly zone: string;
  readonly chargeType: string;
  /** Rungs passed over before it, each with why (sold out, over budget, backing off). */
  readonly passedOver?: readonly string[];
  readonly count: number;
  /** What was asked, when the throttle or a template bound lowered it. */
  readonly requestedCount?: number;
  readonly clampedBy?: string;
  readonly instanceIds: readonly string[];
  /** For the whole purchase (every node), as CVM's price inquiry quoted it. */
  readonly price?: NoticePrice;
  /** Nodes being given back that the same scale-out put back in service first (the rest was bought). */
  readonly restored?: readonly string[];
  /** What the budgets leave after it. */
  readonly budgetLeft?: BudgetLeft;
  readonly why: NoticeWhy;
}

export interface BudgetLeft {
  readonly nodes?: { readonly left: number; readonly of: number; readonly windowSeconds: number };
  readonly money?: { readonly currency: string; readonly hourly?: number; readonly prepaid?: number };
}

export interface ReadyNotice extends NoticeBase {
  readonly kind: 'ready';
  readonly purchaseId: string;
  readonly template: string;
  readonly count: number;
  readonly instanceIds: readonly string[];
  /** From the purchase to its last node running. */
  readonly secondsToReady: number;
  readonly why: NoticeWhy;
}

export interface FailedNotice extends NoticeBase {
  readonly kind: 'failed';
  readonly purchaseId: string;
  readonly template: string;
  readonly count: number;
  /** Each instance that failed and what the cleanup did: terminated, removed (still billed), gone, left alone. */
  readonly instances: ReadonlyArray<{ readonly instanceId: string; readonly failedReason?: string; readonly cleanup?: string }>;
  /** The purchase's reason as recorded (TKE's FailedReason, or the provision timeout). */
  readonly reason: string;
  /** What went back to the budgets. */
  readonly givenBack: { readonly nodes: number; readonly money?: number; readonly currency?: string };
  /** The offering backed off (the ladder tries the next rung meanwhile), until when. */
  readonly backOff?: { readonly offering: string; readonly until: number };
  readonly why: NoticeWhy;
}

/** Why scale-outs of a cluster are being refused: said at most once per cluster, reason and window. */
export type HeldBackReason = 'node-budget' | 'money-budget' | 'cluster-ceiling' | 'sold-out';

export interface HeldBackNotice extends NoticeBase {
  readonly kind: 'held-back';
  readonly reason: HeldBackReason;
  /** The refusal's own words (which rule, how much is left, when it lifts). */
  readonly detail: string;
  /** When the same request could pass. */
  readonly retryAt?: number;
  /** When the window it is said once in ends: its outbox entry is kept until then. */
  readonly windowEndsAt?: number;
  readonly template: string;
  readonly why: NoticeWhy;
}

/** Nodes the function gave back, drained and deleted (core/release.ts): once per node. */
export interface ReleasedNotice extends NoticeBase {
  readonly kind: 'released';
  readonly purchaseId: string;
  readonly template: string;
  readonly instanceId: string;
  readonly nodeName: string;
  /** Why: the ask's reason (a low alarm, a command, a lease). */
  readonly reason: string;
  /** From the cordon to the deletion. */
  readonly secondsToRelease: number;
  /** `terminate`, or `retain` (a prepaid instance, still billed). */
  readonly mode: string;
  readonly why: NoticeWhy;
}

/** A scale-out that put nodes being given back in service again instead of buying any (scale-out/restore.ts): once per event. */
export interface RestoredNotice extends NoticeBase {
  readonly kind: 'restored';
  readonly template: string;
  readonly instanceIds: readonly string[];
  readonly why: NoticeWhy;
}

/** A node whose drain ran out of time: left cordoned, not deleted (nothing is forced unless configured). */
export interface StuckNotice extends NoticeBase {
  readonly kind: 'stuck';
  readonly purchaseId: string;
  readonly template: string;
  readonly instanceId: string;
  readonly nodeName: string;
  readonly reason: string;
  /** What still runs on it. */
  readonly detail: string;
  readonly why: NoticeWhy;
}
