import type { CreateClusterInstancesRequest, CreateClusterInstancesResponse } from './tke-params';

/**
 * The TKE calls the function makes (CreateClusterInstances to buy, DescribeClusters for the
 * ceiling's node count), declared here so the SDK stays in its adapter (sdk-tke-api.ts) and a test
 * fake is a few lines.
 *
 * Failures are thrown as whatever the transport throws; `describeApiFailure`
 * (tencentcloud/api-failure.ts) reads the fields the SDK's exception carries (code, httpCode,
 * requestId), which a fake can set on a plain Error.
 */
export interface TkeApi {
  /** Where calls go, for /healthz and logs: e.g. "https://tke.tencentcloudapi.com". */
  readonly endpointDescription: string;
  createClusterInstances(
    region: string,
    request: CreateClusterInstancesRequest,
    signal: AbortSignal,
  ): Promise<CreateClusterInstancesResponse>;
  /** DescribeClusters for one cluster: its ClusterNodeNum (for the cluster-ceiling rule). */
  describeClusterNodeCount(region: string, clusterId: string, signal: AbortSignal): Promise<number>;
}
