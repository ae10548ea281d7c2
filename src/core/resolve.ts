import type { Catalog, ClusterConfig, ParamSpec, ParamValue } from './model';
import { UnprocessableError } from '../errors';
import { purchaseIdOf } from './marks';
import type { ResolvedScaleOut, ScaleOutRequest } from './scale-out-request';

/**
 * Checks a normalized request against the operator's config. Pure: the config is the only state,
 * and the verdict is data, like every decision of core/ (a refusal carries the 422 to answer).
 * An event can choose only what a template declares: its cluster list, its count bounds, its params.
 */
export type Resolution = { readonly kind: 'resolved'; readonly resolved: ResolvedScaleOut } | { readonly kind: 'refused'; readonly error: UnprocessableError };

export function resolveScaleOut(config: Catalog, request: ScaleOutRequest): Resolution {
  const refused = (code: string, message: string): Resolution => ({ kind: 'refused', error: new UnprocessableError(code, message) });
  const cluster = findCluster(config, request.cluster);
  if (cluster === undefined) return { kind: 'refused', error: unknownClusterError(config, request.cluster) };
  const template = config.templates.get(request.template);
  if (template === undefined) {
    return refused('UnknownTemplate', `template ${JSON.stringify(request.template)} is not in the config; known: ${[...config.templates.keys()].join(', ')}`);
  }
  if (!template.clusters.includes(cluster.alias)) {
    return refused('TemplateNotForCluster', `template ${template.name} may scale ${template.clusters.join(', ')}, not ${cluster.alias}`);
  }

  const requestedCount = request.count ?? template.count.default;
  const tooMany = Number.isInteger(requestedCount) && requestedCount > template.count.max;
  if (!Number.isInteger(requestedCount) || requestedCount < 1 || (tooMany && !template.count.clamp)) {
    return refused('CountOutOfRange', `count must be a whole number from 1 to ${template.count.max} for template ${template.name}, got ${requestedCount}`);
  }
  // The per-event maximum; with `count.clamp` a larger ask is scaled down to it, not refused.
  const count = tooMany ? template.count.max : requestedCount;

  for (const [name, value] of request.params) {
    const spec = template.params.get(name);
    if (spec === undefined) {
      const declared = [...template.params.keys()];
      return refused('UnknownParam', `params.${name} is not declared by template ${template.name}; ${declared.length > 0 ? `declared: ${declared.join(', ')}` : 'it declares no params'}`);
    }
    const problem = paramValueProblem(spec, value);
    if (problem !== undefined) {
      return refused('ParamValueNotAllowed', `params.${name}: ${problem}`);
    }
  }

  return {
    kind: 'resolved',
    resolved: {
      source: request.source,
      eventId: request.eventId,
      cluster,
      template,
      marks: { owner: config.purchases.owner, purchase: purchaseIdOf(request.source, request.eventId) },
      count,
      requestedCount,
      params: request.params,
      ...(request.reason !== undefined && { reason: request.reason }),
      ...(request.sizing !== undefined && { sizing: request.sizing }),
      ...(request.repeat !== undefined && { repeat: request.repeat }),
    },
  };
}

/** By alias first; a ClusterId is accepted too, but only one the config declares. */
export function findCluster(config: Catalog, nameOrId: string): ClusterConfig | undefined {
  return config.clusters.get(nameOrId) ?? [...config.clusters.values()].find((c) => c.clusterId === nameOrId);
}

export function unknownClusterError(config: Catalog, nameOrId: string): UnprocessableError {
  return new UnprocessableError('UnknownCluster', `cluster ${JSON.stringify(nameOrId)} is not in the config; known: ${describeClusters(config)}`);
}

function describeClusters(config: Catalog): string {
  return [...config.clusters.values()].map((c) => `${c.alias} (${c.clusterId})`).join(', ');
}

function paramValueProblem(spec: ParamSpec, value: ParamValue): string | undefined {
  if (spec.values !== undefined) {
    return spec.values.includes(value)
      ? undefined
      : `${JSON.stringify(value)} is not one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a number, got ${JSON.stringify(value)}`;
  if (spec.integer && !Number.isInteger(value)) return `must be a whole number, got ${value}`;
  if (value < spec.min! || value > spec.max!) return `must be from ${spec.min} to ${spec.max}, got ${value}`;
  return undefined;
}
