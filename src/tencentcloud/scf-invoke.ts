import type { Client as ScfClient } from 'tencentcloud-sdk-nodejs-scf/tencentcloud/services/scf/v20180416/scf_client';
import type { ApiCredentials } from './credentials';
import { routeFor, sdkClientConfig } from './endpoint-route';

/**
 * An asynchronous invocation of an SCF function through SCF's own API: `Invoke` with
 * `InvocationType: "Event"` (SCF queues the event and answers at once; the event at most 128 KB;
 * tencentcloud-sdk-nodejs-scf's InvokeRequest). Signed by the official SDK with the function's role
 * credentials, so the role needs `scf:InvokeFunction` on the function it invokes (docs/DEPLOY.md).
 * The function invokes itself this way for chat follow-ups (sources/chat/follow-up.ts).
 * `endpointUrl` points it at a stand-in (npm start's, the tests'), routed the way
 * endpoint-route.ts explains.
 */
export interface ScfAsyncInvoker {
  /** Where events go, for logs: e.g. "scf:default/tke-scaleout in ap-guangzhou (https://…)". */
  readonly description: string;
  invoke(event: object): Promise<void>;
}

export interface ScfInvokeOptions {
  readonly functionName: string;
  readonly namespace: string;
  readonly region: string;
  readonly endpointUrl?: string;
  readonly credentials: () => ApiCredentials;
  readonly timeoutMs: number;
}

/** SCF's limit for an asynchronous invocation's event. */
const MAX_ASYNC_EVENT_BYTES = 128 * 1024;

export function createScfAsyncInvoker(options: ScfInvokeOptions): ScfAsyncInvoker {
  const route = routeFor(options.endpointUrl, 'scf.tencentcloudapi.com');
  let client: ScfClient | undefined;
  // Built on the first invocation of it, not at cold start: most invocations never need one.
  const scf = (): ScfClient => (client ??= newClient());
  const newClient = (): ScfClient => {
    const { Client } = require('tencentcloud-sdk-nodejs-scf/tencentcloud/services/scf/v20180416/scf_client') as typeof import('tencentcloud-sdk-nodejs-scf/tencentcloud/services/scf/v20180416/scf_client');
    return new Client(sdkClientConfig(route, options.region, options.credentials, options.timeoutMs));
  };
  return {
    description: `scf:${options.namespace}/${options.functionName} in ${options.region} (${route.description})`,
    async invoke(payload: object): Promise<void> {
      const event = JSON.stringify(payload);
      if (Buffer.byteLength(event) > MAX_ASYNC_EVENT_BYTES) throw new Error(`the event is ${Buffer.byteLength(event)} bytes; SCF takes at most ${MAX_ASYNC_EVENT_BYTES} for an asynchronous invocation`);
      await scf().Invoke({ FunctionName: options.functionName, Namespace: options.namespace, InvocationType: 'Event', ClientContext: event });
    },
  };
}
