import type { CreateClusterInstancesRequest } from '../tke/tke-params';
import { writeAt } from './json-path';
import type { ResolvedScaleOut } from './scale-out-request';

/**
 * Renders a resolved request into TKE's CreateClusterInstances parameters. Pure and deterministic:
 * the same resolved request and token give byte-identical output, so a retry sends what the first
 * attempt sent.
 *
 * RunInstancePara is a JSON *string* of CVM RunInstances parameters (seed doc); InstanceCount and
 * ClientToken are added to it here and nowhere else.
 */
export function renderCreateClusterInstances(
  resolved: ResolvedScaleOut,
  clientToken: string,
): CreateClusterInstancesRequest {
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
  runInstancePara.ClientToken = clientToken;

  return {
    ClusterId: resolved.cluster.clusterId,
    RunInstancePara: JSON.stringify(runInstancePara),
    ...(advanced !== undefined && { InstanceAdvancedSettings: advanced }),
    ...(template.skipValidateOptions !== undefined && { SkipValidateOptions: [...template.skipValidateOptions] }),
  };
}
