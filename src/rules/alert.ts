/**
 * An alarm as the rules see it, whatever sent it: Alertmanager and Grafana alerts map their labels
 * and annotations; a Tencent Cloud Monitor alarm maps its policy, metric, namespace and object.
 * Sources build these (sources/*.ts); rules (rules/plan.ts) match them.
 */
export interface Alert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Tencent Cloud Monitor: the alarm policy ID (policy-xxxxxxxx). */
  readonly policyId?: string;
  /** Tencent Cloud Monitor: metric name (e.g. cpu_usage) and namespace (e.g. QCE/TKE2). */
  readonly metric?: string;
  readonly namespace?: string;
  /** Tencent Cloud Monitor event alarms: the event (e.g. guest_reboot) and its product (e.g. cvm). */
  readonly eventName?: string;
  readonly product?: string;
  /**
   * What makes this alert's firing episode itself, stable across the sender's retries and
   * repeats and new for a new episode. Alertmanager/Grafana: `<fingerprint>/<startsAt seconds>`.
   */
  readonly episode: string;
  /** When the episode started (epoch ms), to pick a group's oldest alert and count repeat periods. */
  readonly startedAt: number;
  /**
   * How long the episode has lasted, when the sender says so itself (Tencent Cloud Monitor's
   * durationTime): repeat periods are counted by it rather than by the function's clock.
   */
  readonly elapsedMs?: number;
  /** Named numeric values the sender sends: Grafana's `values` (by refId), Tencent Cloud Monitor's currentValue. */
  readonly values?: Readonly<Record<string, number | string>>;
  /** The alarm's own threshold and direction, when the sender sends them (Tencent Cloud Monitor's calcValue, calcType). */
  readonly threshold?: number;
  readonly direction?: 'above' | 'below';
}

/** An alert of a delivery that asks for nothing, and why (answered 200 `ignored`, and logged). */
export interface IgnoredAlert {
  readonly episode: string;
  readonly reason: 'resolved' | 'no-rule';
}
