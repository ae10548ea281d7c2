import type { Catalog, ClusterConfig, ParamSpec, ParamValue } from './model';
import { UnprocessableError } from '../errors';
import type { ResolvedScaleOut, ScaleOutRequest } from './scale-out-request';

/**
 * Checks a normalized request against the operator's config. Pure: the config is the only state.
 * An event can choose only what a template declares: its cluster list, its count bounds, its params.
 */
export function resolveScaleOut(config: Catalog, request: ScaleOutRequest): ResolvedScaleOut {
  const cluster = findCluster(config, request.cluster);
  if (cluster === undefined) throw unknownClusterError(config, request.cluster);
  const template = config.templates.get(request.template);
  if (template === undefined) {
    throw new UnprocessableError(
      'UnknownTemplate',
      `template ${JSON.stringify(request.template)} is not in the config; known: ${[...config.templates.keys()].join(', ')}`,
    );
  }
  if (!template.clusters.includes(cluster.alias)) {
    throw new UnprocessableError(
      'TemplateNotForCluster',
      `template ${template.name} may scale ${template.clusters.join(', ')}, not ${cluster.alias}`,
    );
  }

  const requestedCount = request.count ?? template.count.default;
  const tooMany = Number.isInteger(requestedCount) && requestedCount > template.count.max;
  if (!Number.isInteger(requestedCount) || requestedCount < 1 || (tooMany && !template.count.clamp)) {
    throw new UnprocessableError(
      'CountOutOfRange',
      `count must be a whole number from 1 to ${template.count.max} for template ${template.name}, got ${requestedCount}`,
    );
  }
  // The per-event maximum; with `count.clamp` a larger ask is scaled down to it, not refused.
  const count = tooMany ? template.count.max : requestedCount;

  for (const [name, value] of request.params) {
    const spec = template.params.get(name);
    if (spec === undefined) {
      const declared = [...template.params.keys()];
      throw new UnprocessableError(
        'UnknownParam',
        `params.${name} is not declared by template ${template.name}; ${declared.length > 0 ? `declared: ${declared.join(', ')}` : 'it declares no params'}`,
      );
    }
    const problem = paramValueProblem(spec, value);
    if (problem !== undefined) {
      throw new UnprocessableError('ParamValueNotAllowed', `params.${name}: ${problem}`);
    }
  }

  return {
    source: request.source,
    eventId: request.eventId,
    cluster,
    template,
    count,
    requestedCount,
    params: request.params,
    ...(request.reason !== undefined && { reason: request.reason }),
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
