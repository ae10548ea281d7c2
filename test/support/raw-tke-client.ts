import * as http from 'node:http';
import * as net from 'node:net';
import { tke } from 'tencentcloud-sdk-nodejs-tke';
import { SANDBOX_CREDENTIAL } from '../../dev/sandbox/tke-sandbox';

/**
 * The official SDK's TKE client on its own, routed like our adapter routes it to the sandbox at
 * `url` (the SDK alone would sign for service "127"): for tests that call TKE's actions as any
 * SDK user would, not through the function's adapter.
 */
export function rawTkeClient(url: string, region: string): InstanceType<typeof tke.v20180525.Client> {
  const port = Number(new URL(url).port);
  const agent = new (class extends http.Agent {
    override createConnection(): net.Socket {
      return net.connect({ host: '127.0.0.1', port });
    }
  })();
  return new tke.v20180525.Client({
    credential: { secretId: SANDBOX_CREDENTIAL.secretId, secretKey: SANDBOX_CREDENTIAL.secretKey },
    region,
    profile: { httpProfile: { endpoint: 'tke.tencentcloudapi.com', protocol: 'http://', agent } },
  });
}
