import type { ScaleOutError } from '../errors';
import type { PurchaseMarks } from './marks';
import type { ClusterConfig, ParamValue, TemplateConfig } from './model';

/**
 * What every sender's payload becomes: one request to add nodes. Sources fill it from their own
 * formats (sources/*.ts); from here on nothing knows which sender it came from except by `source`.
 */
export interface ScaleOutRequest {
  /** The sender's name (the `<source>` of `/hooks/<source>`): event IDs are unique per sender. */
  readonly source: string;
  /** Stable across the sender's retries and repeats of one event; new for a new event. */
  readonly eventId: string;
  /** A cluster alias from the config, or a ClusterId the config declares. */
  readonly cluster: string;
  readonly template: string;
  /** Nodes to add; the template's default when absent. */
  readonly count?: number;
  readonly params: ReadonlyMap<string, ParamValue>;
  /** Free text for the log: why the sender asked. */
  readonly reason?: string;
  /** Resolve and render only: show what would be sent, send nothing, record nothing. */
  readonly dryRun?: boolean;
  /** How an alarm rule sized the count (rules/sizing.ts), for the answer and the log line. */
  readonly sizing?: Sizing;
  /** A rule that repeats while its alarm keeps firing: which period of the episode this is. */
  readonly repeat?: RepeatPeriod;
  /** Who or what asked, as the sender names it: kept on the purchase's record (`askedBy`). */
  readonly origin?: ScaleOutOrigin;
}

/**
 * What asked for a scale-out, beyond the sender and its event ID: an alarm (the rule that matched,
 * the alert's name, labels and episode, Alertmanager's/Grafana's `<fingerprint>/<startsAt>` or
 * Tencent Cloud Monitor's policy) or a chat command (its user and conversation).
 */
export type ScaleOutOrigin =
  | { readonly kind: 'alert'; readonly rule: string; readonly alert: string; readonly episode: string; readonly labels?: Readonly<Record<string, string>>; readonly policyId?: string }
  | { readonly kind: 'chat'; readonly user: string; readonly conversation?: string };

/** How a rule's count was chosen from the alarm: which step or severity, or why the default. */
export interface Sizing {
  readonly by: 'steps' | 'severity';
  readonly value?: number;
  readonly threshold?: number;
  readonly direction?: 'above' | 'below';
  /** How far the value is beyond the threshold, in the alarm's direction. */
  readonly excess?: number;
  readonly step?: { readonly from: number; readonly to?: number };
  readonly severity?: string;
  /** Set when the rule's default count was used instead, and why. */
  readonly fallback?: string;
}

/** One period of a repeating rule's alarm episode (config `rules[].repeat`). */
export interface RepeatPeriod {
  /** 0 for the episode's first `every`, 1 for the next, ... */
  readonly period: number;
  /** The rule and the alarm episode, the same in every period: what warm-up is counted by. */
  readonly episode: string;
  readonly warmUpSeconds?: number;
}

/** A request checked against the config: every name resolved, every value within its bounds. */
export interface ResolvedScaleOut {
  readonly source: string;
  readonly eventId: string;
  readonly cluster: ClusterConfig;
  readonly template: TemplateConfig;
  /** What will be asked of TKE so far (the throttle may lower it further). */
  readonly count: number;
  /** What the sender asked (or the template default), when `count` differs because it was clamped. */
  readonly requestedCount: number;
  readonly params: ReadonlyMap<string, ParamValue>;
  readonly reason?: string;
  readonly sizing?: Sizing;
  readonly repeat?: RepeatPeriod;
  /** Who buys and which purchase this is: written on the nodes and instances (core/marks.ts). */
  readonly marks: PurchaseMarks;
}

/** A scale-out a payload asks for that cannot even be planned (an alert's count label is not a number). */
export interface RefusedScaleOut {
  readonly request: ScaleOutRequest;
  readonly error: ScaleOutError;
}
