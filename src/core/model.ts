import type { PathSegment } from './json-path';

/**
 * The operator's catalog as the decision core sees it: clusters, templates and their params and
 * throttle rules, validated and frozen by config/load-config.ts at cold start. Types only: core/
 * owns them, and the loader builds them (so the core never depends on how config is read).
 */

/** Throttle rules of one scope (core/throttle.ts): the top-level defaults with a cluster's or template's overrides. */
export interface ThrottleRules {
  readonly cooldownSeconds: number;
  readonly windowSeconds: number;
  readonly maxNodesPerWindow: number;
  readonly maxClusterNodes?: number;
}

/** What a template's own `throttle` overrides. */
export type ThrottleOverride = Partial<ThrottleRules>;

export interface ClusterConfig {
  readonly alias: string;
  readonly clusterId: string;
  readonly region: string;
  /** The cluster's throttle: the top-level defaults with its overrides. */
  readonly throttle: ThrottleRules;
  /** The money its scale-outs may commit per window (core/cost-budget.ts); absent: counted in nodes only. */
  readonly costBudget?: CostBudget;
  /** How its Kubernetes API is reached (env var names); absent: its nodes are never given back. */
  /** Its Kubernetes API: the endpoint, a bearer token or a client certificate and key, the CA; each the name of an env var. */
  readonly kubernetes?: { readonly serverEnv: string; readonly tokenEnv?: string; readonly clientCertEnv?: string; readonly clientKeyEnv?: string; readonly caEnv?: string };
  /** Giving its nodes back (core/release.ts): the top-level `release` with its overrides. */
  readonly release: ReleaseSettings;
}

/**
 * A budget in money (core/cost-budget.ts), per rolling window:
 *   hourly   pay-as-you-go (POSTPAID_BY_HOUR, SPOTPAID): the run-rate the window's scale-outs may
 *            add, in currency per hour (the sum of each purchase's hourly price);
 *   prepaid  PREPAID: what the window's purchases may commit in all (their discounted prices).
 * A charge type without its limit is not bought at all on that cluster.
 */
export interface CostBudget {
  /** The account's billing currency, which InquiryPriceRunInstances answers in: CNY or USD. */
  readonly currency: 'CNY' | 'USD';
  readonly windowSeconds: number;
  readonly hourly?: number;
  readonly prepaid?: number;
}

/** Which of a CostBudget's limits a purchase counts against. */
export type CostKind = 'hourly' | 'prepaid';

export type ParamTarget = 'RunInstancePara' | 'InstanceAdvancedSettings';
export type ParamValue = string | number | boolean;

export interface ParamSpec {
  readonly name: string;
  readonly description?: string;
  /** Every place the value is written. */
  readonly writes: readonly ParamWrite[];
  readonly values?: readonly ParamValue[];
  readonly min?: number;
  readonly max?: number;
  readonly integer: boolean;
}

export interface ParamWrite {
  readonly path: string;
  readonly target: ParamTarget;
  /** The path inside the target object. */
  readonly segments: readonly PathSegment[];
}

export interface TemplateConfig {
  readonly name: string;
  readonly description?: string;
  readonly clusters: readonly string[];
  readonly count: { readonly default: number; readonly max: number; readonly clamp: boolean };
  readonly runInstancePara: Readonly<Record<string, unknown>>;
  readonly instanceAdvancedSettings?: Readonly<Record<string, unknown>>;
  readonly skipValidateOptions?: readonly string[];
  readonly params: ReadonlyMap<string, ParamSpec>;
  /** Set when the template is throttled on its own (per cluster) rather than with its cluster. */
  readonly throttle?: ThrottleOverride;
  /** Set when the template's nodes have their own provision timeout (else purchases.provisionTimeoutSeconds). */
  readonly provisionTimeoutSeconds?: number;
  /** A lease on its nodes: given back this long after they were bought (core/release.ts). */
  readonly maxLifetimeSeconds?: number;
  /** Alternatives tried in order when CVM is sold out (core/rungs.ts). Absent: the template alone. */
  readonly ladder?: Ladder;
}

/**
 * A template's fallback ladder. Rung 1 is the template as written; each later rung is the template
 * with a few RunInstancePara values replaced, only at paths the template declares `overridable`.
 */
export interface Ladder {
  readonly overridable: readonly string[];
  /** Rungs 2, 3, ...: what each one replaces. */
  readonly alternatives: readonly LadderAlternative[];
}

export interface LadderAlternative {
  readonly sets: ReadonlyArray<{ readonly path: string; readonly segments: readonly PathSegment[]; readonly value: unknown }>;
}

/** What resolving a request needs of the config: its clusters and templates. */
export interface Catalog {
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  readonly templates: ReadonlyMap<string, TemplateConfig>;
  /** Who bought it, on every node's labels and instance's tags (core/marks.ts). */
  readonly purchases: { readonly owner: string };
}

/** How a cluster's nodes are given back (config `release`, core/release.ts). */
export interface ReleaseSettings {
  readonly floor: number;
  /** A count, or a share of the function's nodes in the cluster ("10%"). */
  readonly maxDisrupted: number | string;
  readonly keepRequestedBelow: number | false;
  readonly delayAfterPurchaseSeconds: number;
  /** No release begins within this long of the last one begun in the cluster. */
  readonly cooldownSeconds: number;
  readonly drainTimeoutSeconds: number;
  readonly force: boolean;
}
