import type { Client as CvmClient } from 'tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_client';
import type { ApiCredentials } from './credentials';
import { clientPerRegion, routeFor, sdkClientConfig } from './endpoint-route';

export const PUBLIC_CVM_HOST = 'cvm.tencentcloudapi.com';

/**
 * CVM's InquiryPriceRunInstances (API 2017-03-12) through the official SDK
 * (tencentcloud-sdk-nodejs-cvm), signed like the TKE call with the function's role keys, so the
 * role needs `cvm:InquiryPriceRunInstances` (docs/DEPLOY.md). `CVM_ENDPOINT` points it elsewhere
 * (the sandbox, a private endpoint) the way endpoint-route.ts explains for TKE_ENDPOINT.
 *
 * The answer is returned as it came (`unknown`): core/price.ts reads it and refuses anything it
 * cannot read, so a changed or broken answer can never be taken for a price of zero.
 */
export interface PriceApi {
  readonly endpointDescription: string;
  inquirePrice(region: string, params: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<unknown>;
}

export interface SdkPriceApiOptions {
  readonly endpointUrl?: string;
  readonly credentials: () => ApiCredentials;
  readonly timeoutMs: number;
}

export function createSdkPriceApi(options: SdkPriceApiOptions): PriceApi {
  const route = routeFor(options.endpointUrl, PUBLIC_CVM_HOST);
  // Loaded on the first price asked, not at cold start: only a config with a money budget needs it.
  const clientFor = clientPerRegion((region): CvmClient => {
    const { Client } = require('tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_client') as typeof import('tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_client');
    return new Client(sdkClientConfig(route, region, options.credentials, options.timeoutMs));
  });
  return {
    endpointDescription: route.description,
    async inquirePrice(region, params, signal) {
      // AbstractClient's `request`, which takes the AbortSignal (as in tke/sdk-tke-api.ts).
      return (await clientFor(region).request('InquiryPriceRunInstances', params, { signal })) as unknown;
    },
  };
}
