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
}

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
}

/** What resolving a request needs of the config: its clusters and templates. */
export interface Catalog {
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  readonly templates: ReadonlyMap<string, TemplateConfig>;
}
