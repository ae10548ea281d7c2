import type { ClusterConfig, CostBudget, TemplateConfig } from '../core/model';
import type { RawConfig, RuleInput } from './schema';

export type { ClusterConfig, ParamSpec, ParamTarget, ParamValue, ParamWrite, TemplateConfig } from '../core/model';

/**
 * The validated, frozen config every request reads. Built once per cold start (load-config.ts):
 * the schema's output (schema.ts), assembled and checked across fields (assemble-config.ts), frozen.
 */
export interface Config {
  readonly origin: string;
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  readonly templates: ReadonlyMap<string, TemplateConfig>;
  readonly sources: RawConfig['sources'];
  readonly rules: readonly RuleConfig[];
  readonly limits: RawConfig['limits'];
  readonly store: RawConfig['store'];
  readonly idempotency: RawConfig['idempotency'];
  readonly tke: RawConfig['tke'];
  /** The deployment's money budget, across every cluster (core/cost-budget.ts). */
  readonly costBudget?: CostBudget;
  readonly purchases: RawConfig['purchases'];
  readonly capacity: RawConfig['capacity'];
  readonly pricing: RawConfig['pricing'];
  readonly health?: RawConfig['health'];
  readonly notify?: RawConfig['notify'];
}

/** A rule as validated: which alarms of which senders scale which cluster with which template. */
export type RuleConfig = RuleInput;
