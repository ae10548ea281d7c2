import type { CreateClusterInstancesRequest } from '../tke/tke-params';
import { clientTokenFor } from './client-token';
import { deleteAt, writeAt } from './json-path';
import { writeMarks } from './marks';
import type { ResolvedScaleOut } from './scale-out-request';

/** A rendered request with the ClientToken of exactly it, and which rung of the ladder it is. */
export interface RenderedRequest {
  readonly request: CreateClusterInstancesRequest;
  readonly clientToken: string;
  /** 1 = the template as written; 2, 3, ... = its ladder's alternatives (core/rungs.ts). */
  readonly rung: number;
}

/**
 * Renders a resolved request into TKE's CreateClusterInstances parameters, with the ClientToken of
 * exactly this request (core/client-token.ts). Pure and deterministic: the same resolved request
 * and rung give byte-identical output, token included, so a retry sends what the first attempt
 * sent, and two rungs (different RunInstancePara) never share a token.
 *
 * RunInstancePara is a JSON *string* of CVM RunInstances parameters (seed doc); the rung's
 * replacements, then the event's params, then the function's marks (its labels and tags,
 * core/marks.ts), then InstanceCount and ClientToken are written into it here and nowhere else. (A param never writes a path a rung replaces: config/template-ladder.ts refuses that.)
 */
export function renderCreateClusterInstances(resolved: ResolvedScaleOut, rung = 1): RenderedRequest {
  const unsigned = renderWith(resolved, rung, undefined);
  const clientToken = clientTokenFor(resolved.cluster.clusterId, resolved.template.name, resolved.eventId, unsigned);
  return { request: renderWith(resolved, rung, clientToken), clientToken, rung };
}

function renderWith(resolved: ResolvedScaleOut, rung: number, clientToken: string | undefined): CreateClusterInstancesRequest {
  const { template } = resolved;
  const runInstancePara = structuredClone(template.runInstancePara) as Record<string, unknown>;
  let advanced =
    template.instanceAdvancedSettings === undefined
      ? undefined
      : (structuredClone(template.instanceAdvancedSettings) as Record<string, unknown>);

  if (rung > 1) {
    const alternative = template.ladder?.alternatives[rung - 2];
    if (alternative === undefined) throw new Error(`template ${template.name} has no rung ${rung}`);
    // null removes the value (spot market options on a pay-as-you-go rung).
    for (const set of alternative.sets) {
      if (set.value === null) deleteAt(runInstancePara, set.segments);
      else writeAt(runInstancePara, set.segments, structuredClone(set.value));
    }
  }
  for (const [name, value] of resolved.params) {
    // resolveScaleOut has checked that every param is declared.
    for (const write of template.params.get(name)!.writes) {
      if (write.target === 'RunInstancePara') {
        writeAt(runInstancePara, write.segments, value);
      } else {
        advanced ??= {};
        writeAt(advanced, write.segments, value);
      }
    }
  }
  advanced ??= {};
  writeMarks(runInstancePara, advanced, resolved.marks);
  runInstancePara.InstanceCount = resolved.count;
  if (clientToken !== undefined) runInstancePara.ClientToken = clientToken;

  return {
    ClusterId: resolved.cluster.clusterId,
    RunInstancePara: JSON.stringify(runInstancePara),
    InstanceAdvancedSettings: advanced,
    ...(template.skipValidateOptions !== undefined && { SkipValidateOptions: [...template.skipValidateOptions] }),
  };
}
