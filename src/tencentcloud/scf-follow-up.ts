import type { Client as ScfClient } from 'tencentcloud-sdk-nodejs-scf/tencentcloud/services/scf/v20180416/scf_client';
import type { FollowUpDispatcher, FollowUpJob } from '../chat/follow-up';
import type { TkeCredentials } from '../tke/sdk-tke-api';
import { routeFor } from './endpoint-route';

/**
 * Chat follow-ups through SCF's own API: `Invoke` of this very function with
 * `InvocationType: "Event"` (asynchronous: SCF queues the event and answers at once; the event is
 * the job, at most 128 KB; tencentcloud-sdk-nodejs-scf's InvokeRequest). Signed by the official
 * SDK with the function's role credentials, so the role needs `scf:InvokeFunction` on this function
 * (docs/DEPLOY.md). `endpointUrl` points it at a stand-in (npm start's, the tests'), routed the way
 * endpoint-route.ts explains.
 */
export interface ScfFollowUpOptions {
  readonly functionName: string;
  readonly namespace: string;
  readonly region: string;
  readonly endpointUrl?: string;
  readonly credentials: () => TkeCredentials;
  readonly timeoutMs: number;
}

/** SCF's limit for an asynchronous invocation's event. */
const MAX_ASYNC_EVENT_BYTES = 128 * 1024;

export function createScfFollowUpDispatcher(options: ScfFollowUpOptions): FollowUpDispatcher {
  const route = routeFor(options.endpointUrl, 'scf.tencentcloudapi.com');
  let client: ScfClient | undefined;
  // Built on the first follow-up, not at cold start: most invocations never need one.
  const scf = (): ScfClient => (client ??= newClient());
  const newClient = (): ScfClient => {
    const { Client } = require('tencentcloud-sdk-nodejs-scf/tencentcloud/services/scf/v20180416/scf_client') as typeof import('tencentcloud-sdk-nodejs-scf/tencentcloud/services/scf/v20180416/scf_client');
    return new Client({
    credential: {
      getCredential: async () => {
        const c = options.credentials();
        return { secretId: c.secretId, secretKey: c.secretKey, ...(c.token !== undefined && { token: c.token }) };
      },
    },
    region: options.region,
    profile: { httpProfile: { endpoint: route.sdkEndpoint, protocol: route.protocol, reqTimeout: Math.ceil(options.timeoutMs / 1000), agent: route.agent } },
    });
  };
  return {
    description: `scf:${options.namespace}/${options.functionName} in ${options.region} (${route.description})`,
    async dispatch(job: FollowUpJob): Promise<void> {
      const event = JSON.stringify(job);
      if (Buffer.byteLength(event) > MAX_ASYNC_EVENT_BYTES) throw new Error(`the follow-up job is ${Buffer.byteLength(event)} bytes; SCF takes at most ${MAX_ASYNC_EVENT_BYTES} for an asynchronous invocation`);
      await scf().Invoke({ FunctionName: options.functionName, Namespace: options.namespace, InvocationType: 'Event', ClientContext: event });
    },
  };
}
