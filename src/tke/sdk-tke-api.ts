// The 2018-05-25 client alone: the package root also loads the 2022-05-01 client and both versions'
// model modules, which this function never uses.
import { Client as TkeClient20180525 } from 'tencentcloud-sdk-nodejs-tke/tencentcloud/services/tke/v20180525/tke_client';
import type { ApiCredentials } from '../tencentcloud/credentials';
import { clientPerRegion, routeFor, sdkClientConfig } from '../tencentcloud/endpoint-route';
import type { TkeApi } from './tke-api';
import type { CreateClusterInstancesResponse } from './tke-params';

const TKE_API_VERSION_CLIENT = TkeClient20180525;
type TkeSdkClient = InstanceType<typeof TKE_API_VERSION_CLIENT>;

export const PUBLIC_TKE_HOST = 'tke.tencentcloudapi.com';

/** The function's role keys (tencentcloud/credentials.ts). */
export type TkeCredentials = ApiCredentials;

export interface SdkTkeApiOptions {
  /**
   * Where to send calls: unset for the public endpoint, or a URL (`TKE_ENDPOINT`) such as
   * `http://127.0.0.1:9001` (a sandbox) or `https://tke.internal.tencentcloudapi.com` (private).
   */
  readonly endpointUrl?: string;
  /** Read before every call: SCF's role credentials are temporary and arrive through the environment. */
  readonly credentials: () => TkeCredentials;
  /** Upper bound the SDK itself applies to one attempt; the caller also passes an AbortSignal. */
  readonly attemptTimeoutMs: number;
}

/**
 * TKE through the official SDK, which does the TC3-HMAC-SHA256 signing. TKE_ENDPOINT is honoured
 * the way src/tencentcloud/endpoint-route.ts explains: signed as tke.tencentcloudapi.com, connected
 * to where TKE_ENDPOINT says, always through our own keep-alive agent.
 */
export function createSdkTkeApi(options: SdkTkeApiOptions): TkeApi {
  const route = routeFor(options.endpointUrl, PUBLIC_TKE_HOST);
  const clientFor = clientPerRegion((region): TkeSdkClient => new TKE_API_VERSION_CLIENT(sdkClientConfig(route, region, options.credentials, options.attemptTimeoutMs)));

  return {
    endpointDescription: route.description,
    async createClusterInstances(region, request, signal): Promise<CreateClusterInstancesResponse> {
      // `request` (AbstractClient's public method) rather than the generated CreateClusterInstances,
      // whose second parameter is only a callback: this is where the SDK takes an AbortSignal.
      // Our request type is the API's (the SDK's typings make optional fields required).
      // The shape is checked by the caller (call-tke.ts), which treats an answer without
      // InstanceIdSet as a failed attempt rather than as "no nodes".
      return (await clientFor(region).request('CreateClusterInstances', request, { signal })) as CreateClusterInstancesResponse;
    },
    async describeClusterNodeCount(region, clusterId, signal): Promise<number> {
      const response = (await clientFor(region).request('DescribeClusters', { ClusterIds: [clusterId] }, { signal })) as {
        Clusters?: Array<{ ClusterId?: string; ClusterNodeNum?: number }>;
        RequestId?: string;
      };
      const cluster = response.Clusters?.find((c) => c.ClusterId === clusterId);
      if (cluster === undefined || typeof cluster.ClusterNodeNum !== 'number') {
        // Shaped like the SDK's API error so the caller classifies it (422: the config names a cluster TKE does not have).
        throw Object.assign(new Error(`DescribeClusters does not list ${clusterId} in ${region}`), {
          code: 'ResourceNotFound',
          requestId: response.RequestId,
        });
      }
      return cluster.ClusterNodeNum;
    },
  };
}
