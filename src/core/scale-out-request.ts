import type { ScaleOutError } from '../errors';
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
}

/** A scale-out a payload asks for that cannot even be planned (an alert's count label is not a number). */
export interface RefusedScaleOut {
  readonly request: ScaleOutRequest;
  readonly error: ScaleOutError;
}
