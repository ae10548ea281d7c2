import * as http from 'node:http';
import * as net from 'node:net';
import { tke } from 'tencentcloud-sdk-nodejs-tke';
/** CreateClusterInstances example 2 of the seed, verbatim: what the function renders for `multi-disk`. */
import seedExample2 from '../test/fixtures/seed-example-2.json';

/**
 * The baseline every figure is divided by: the official SDK's own client, used the plain way
 * (package root import, generated method), calling the same sandbox with the same parameters as
 * the function sends. It signs for tke.tencentcloudapi.com, as a real call does, and its agent
 * connects to the sandbox (the SDK signs for the endpoint's first label, so "127.0.0.1:port" would
 * sign for service "127"); keep-alive, like the function's agent, so both pay the same for sockets.
 */
export const SANDBOX_KEY = { secretId: 'AKIDsandboxLOCALONLY0000000000000000', secretKey: 'sandbox-secret-key-local-only-000000' };

export function sdkBaselineClient(sandboxUrl: string, region: string) {
  const { hostname, port } = new URL(sandboxUrl);
  const agent = new (class extends http.Agent {
    override createConnection(): net.Socket {
      return net.connect({ host: hostname, port: Number(port) });
    }
  })({ keepAlive: true });
  return new tke.v20180525.Client({
    credential: SANDBOX_KEY,
    region,
    profile: { httpProfile: { endpoint: 'tke.tencentcloudapi.com', protocol: 'http://', agent } },
  });
}

/** One bare CreateClusterInstances of `count` nodes for the multi-disk cluster. */
export function sdkBaselineCall(client: ReturnType<typeof sdkBaselineClient>, clientToken: string, count = 1) {
  const runInstancePara = JSON.parse(seedExample2.RunInstancePara) as Record<string, unknown>;
  return client.CreateClusterInstances({
    ClusterId: seedExample2.ClusterId,
    RunInstancePara: JSON.stringify({ ...runInstancePara, InstanceCount: count, ClientToken: clientToken }),
    // The SDK's typings make optional fields required (platform-facts.md); the seed's body is the API's.
    InstanceAdvancedSettings: seedExample2.InstanceAdvancedSettings as never,
  });
}
