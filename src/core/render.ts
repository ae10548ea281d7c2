import type { CreateClusterInstancesRequest } from '../tke/tke-params';
import { clientTokenFor } from './client-token';
import { writeAt } from './json-path';
import type { ResolvedScaleOut } from './scale-out-request';

/**
 * Renders a resolved request into TKE's CreateClusterInstances parameters, with the ClientToken of
 * exactly this request (core/client-token.ts). Pure and deterministic: the same resolved request
 * gives byte-identical output, token included, so a retry sends what the first attempt sent.
 *
 * RunInstancePara is a JSON *string* of CVM RunInstances parameters (seed doc); InstanceCount and
 * ClientToken are added to it here and nowhere else.
 */
export function renderCreateClusterInstances(resolved: ResolvedScaleOut): { readonly request: CreateClusterInstancesRequest; readonly clientToken: string } {
  const unsigned = renderWith(resolved, undefined);
  const clientToken = clientTokenFor(resolved.cluster.clusterId, resolved.template.name, resolved.eventId, unsigned);
  return { request: renderWith(resolved, clientToken), clientToken };
}

function renderWith(resolved: ResolvedScaleOut, clientToken: string | undefined): CreateClusterInstancesRequest {
  const { template } = resolved;
  const runInstancePara = structuredClone(template.runInstancePara) as Record<string, unknown>;
  let advanced =
    template.instanceAdvancedSettings === undefined
      ? undefined
      : (structuredClone(template.instanceAdvancedSettings) as Record<string, unknown>);

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
  runInstancePara.InstanceCount = resolved.count;
  if (clientToken !== undefined) runInstancePara.ClientToken = clientToken;

  return {
    ClusterId: resolved.cluster.clusterId,
    RunInstancePara: JSON.stringify(runInstancePara),
    ...(advanced !== undefined && { InstanceAdvancedSettings: advanced }),
    ...(template.skipValidateOptions !== undefined && { SkipValidateOptions: [...template.skipValidateOptions] }),
  };
}
