import type { ClusterInstance, CreateClusterInstancesRequest, CreateClusterInstancesResponse, DeleteInstancesOptions, InstanceDeletionResult } from './tke-params';

export type { ClusterInstance, ClusterInstanceState, DeleteInstancesOptions, InstanceDeleteMode, InstanceDeletionResult } from './tke-params';

/**
 * The TKE calls the function makes (CreateClusterInstances to buy, DescribeClusters for the
 * ceiling's node count, DescribeClusterInstances and DeleteClusterInstances to see whether what
 * it bought joined and to remove what never does), declared here so the SDK stays in its adapter
 * (sdk-tke-api.ts) and a test fake is a few lines.
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
  /**
   * DescribeClusterInstances for these instances, as many calls as it takes (at most 100 IDs a
   * call). An ID TKE does not return is absent from the answer: not in the cluster (never joined
   * it, or removed). No IDs: no call, and no instances (TKE would answer every node of the cluster).
   */
  describeClusterInstances(region: string, clusterId: string, instanceIds: readonly string[], signal: AbortSignal): Promise<ClusterInstance[]>;
  /** DeleteClusterInstances for these instances, in one call. No IDs: no call, nothing deleted. */
  deleteClusterInstances(
    region: string,
    clusterId: string,
    instanceIds: readonly string[],
    options: DeleteInstancesOptions,
    signal: AbortSignal,
  ): Promise<InstanceDeletionResult>;
}
