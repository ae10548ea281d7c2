import { tke } from 'tencentcloud-sdk-nodejs-tke';
import { routeFor } from '../src/tencentcloud/endpoint-route';
/** CreateClusterInstances example 2 of the seed, verbatim: what the function renders for `multi-disk`. */
import seedExample2 from '../test/fixtures/seed-example-2.json';

/**
 * The baseline every figure is divided by: the official SDK's own client, used the plain way
 * (package root import, generated method), calling the same sandbox with the same parameters as
 * the function sends, over the same route (src/tencentcloud/endpoint-route.ts: signed for
 * tke.tencentcloudapi.com as a real call is, through a keep-alive agent connected to the sandbox),
 * so that both pay the same for sockets.
 */
export const SANDBOX_KEY = { secretId: 'AKIDsandboxLOCALONLY0000000000000000', secretKey: 'sandbox-secret-key-local-only-000000' };

export function sdkBaselineClient(sandboxUrl: string, region: string) {
  const route = routeFor(sandboxUrl, 'tke.tencentcloudapi.com');
  return new tke.v20180525.Client({
    credential: SANDBOX_KEY,
    region,
    profile: { httpProfile: { endpoint: route.sdkEndpoint, protocol: route.protocol, agent: route.agent } },
  });
}

const SEED_RUN_INSTANCE_PARA = JSON.parse(seedExample2.RunInstancePara) as Record<string, unknown>;

/** One bare CreateClusterInstances of one node: the seed's example 2, on its cluster or another. */
export function sdkBaselineCall(client: ReturnType<typeof sdkBaselineClient>, clientToken: string, clusterId = seedExample2.ClusterId) {
  return client.CreateClusterInstances({
    ClusterId: clusterId,
    RunInstancePara: JSON.stringify({ ...SEED_RUN_INSTANCE_PARA, InstanceCount: 1, ClientToken: clientToken }),
    // The SDK's typings make optional fields required (docs/PLATFORM.md); the seed's body is the API's.
    InstanceAdvancedSettings: seedExample2.InstanceAdvancedSettings as never,
  });
}
