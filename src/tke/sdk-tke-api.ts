// The 2018-05-25 client alone: the package root also loads the 2022-05-01 client and both versions'
// model modules, which this function never uses.
import { Client as TkeClient20180525 } from 'tencentcloud-sdk-nodejs-tke/tencentcloud/services/tke/v20180525/tke_client';
import type { ApiCredentials } from '../tencentcloud/credentials';
import { clientPerRegion, routeFor, sdkClientConfig } from '../tencentcloud/endpoint-route';
import type { TkeApi } from './tke-api';
import {
  DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT,
  type ClusterInstance,
  type CreateClusterInstancesResponse,
  type DeleteClusterInstancesRequest,
  type DeleteClusterInstancesResponse,
  type DeleteInstancesOptions,
  type DescribeClusterInstancesRequest,
  type DescribeClusterInstancesResponse,
  type InstanceDeletionResult,
  type TkeClusterInstance,
} from './tke-params';

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
  // `request` (AbstractClient's public method), as for CreateClusterInstances below: it takes the AbortSignal.
  const sendIn =
    (region: string): TkeSend =>
    (action, params, signal) =>
      clientFor(region).request(action, params, { signal });

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
    describeClusterInstances: (region, clusterId, instanceIds, signal) => readClusterInstances(sendIn(region), clusterId, instanceIds, signal),
    deleteClusterInstances: (region, clusterId, instanceIds, deleteOptions, signal) => removeClusterInstances(sendIn(region), clusterId, instanceIds, deleteOptions, signal),
  };
}

/** One TKE API call as the SDK client makes it: its answer's `Response` without the envelope, or a throw. */
export type TkeSend = (action: string, params: object, signal: AbortSignal) => Promise<unknown>;

/**
 * DescribeClusterInstances for these instances: at most 100 InstanceIds a call (TKE's Limit is at
 * most 100, so one page can hold every instance a call asks for), and Offset/Limit paging within a
 * call for as long as TotalCount says more may follow. An ID TKE does not return is absent.
 *
 * Never a call without IDs: an empty InstanceIds means every node of the cluster (the model:
 * "如果为空，表示拉取集群下所有节点实例"). An answer without an InstanceSet is an error, never "no
 * instances": the caller would take every instance for gone.
 *
 * Whether TotalCount counts the instances matching InstanceIds or the whole cluster ("集群中实例总
 * 数") is unconfirmed, so paging also stops at an empty page, at a page that brings nothing new, and
 * once every ID asked is found: at most one call more than needed when TotalCount is the cluster's.
 */
export async function readClusterInstances(send: TkeSend, clusterId: string, instanceIds: readonly string[], signal: AbortSignal): Promise<ClusterInstance[]> {
  const unique = [...new Set(instanceIds)];
  const found = new Map<string, ClusterInstance>();
  for (let start = 0; start < unique.length; start += DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT) {
    const chunk = unique.slice(start, start + DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT);
    const asked = new Set(chunk);
    let offset = 0;
    let foundInChunk = 0;
    for (;;) {
      const request: DescribeClusterInstancesRequest = { ClusterId: clusterId, InstanceIds: chunk, Offset: offset, Limit: DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT };
      const response = (await send('DescribeClusterInstances', request, signal)) as DescribeClusterInstancesResponse | null | undefined;
      const page = response?.InstanceSet;
      if (!Array.isArray(page)) {
        // No code: an attempt whose answer tells nothing (call-tke.ts retries it like a lost connection).
        throw Object.assign(new Error('DescribeClusterInstances answered without an InstanceSet'), { requestId: response?.RequestId });
      }
      let added = 0;
      for (const raw of page) {
        const instance = toClusterInstance(raw);
        if (instance === undefined || !asked.has(instance.instanceId) || found.has(instance.instanceId)) continue;
        found.set(instance.instanceId, instance);
        added++;
      }
      foundInChunk += added;
      offset += page.length;
      const total = typeof response?.TotalCount === 'number' ? response.TotalCount : offset;
      if (page.length === 0 || added === 0 || foundInChunk >= chunk.length || offset >= total) break;
    }
  }
  return [...found.values()];
}

/** TKE's Instance as the function reads it; undefined without an InstanceId. */
export function toClusterInstance(raw: TkeClusterInstance | null | undefined): ClusterInstance | undefined {
  if (typeof raw?.InstanceId !== 'string' || raw.InstanceId === '') return undefined;
  const labels = raw.InstanceAdvancedSettings?.Labels;
  return {
    instanceId: raw.InstanceId,
    state: typeof raw.InstanceState === 'string' && raw.InstanceState !== '' ? raw.InstanceState : 'unknown',
    ...(typeof raw.FailedReason === 'string' && raw.FailedReason !== '' && { failedReason: raw.FailedReason }),
    ...(typeof raw.CreatedTime === 'string' && raw.CreatedTime !== '' && { createdTime: raw.CreatedTime }),
    ...(typeof raw.LanIP === 'string' && raw.LanIP !== '' && { lanIp: raw.LanIP }),
    ...(Array.isArray(labels) && {
      labels: Object.fromEntries(labels.filter((l) => typeof l?.Name === 'string' && typeof l.Value === 'string').map((l) => [l.Name, l.Value])),
    }),
  };
}

/**
 * DeleteClusterInstances for these instances, in one call. Every instance asked lands in exactly
 * one list: FailedInstanceIds first (a delete TKE calls failed is never taken for done, whatever
 * else the answer says), then SuccInstanceIds, then NotFoundInstanceIds. An instance the answer
 * does not mention counts as failed: each list "可能返回 null", and the example on Tencent's API page
 * answers a RequestId alone, which tells nothing about any instance. The caller reads again.
 */
export async function removeClusterInstances(
  send: TkeSend,
  clusterId: string,
  instanceIds: readonly string[],
  options: DeleteInstancesOptions,
  signal: AbortSignal,
): Promise<InstanceDeletionResult> {
  const unique = [...new Set(instanceIds)];
  if (unique.length === 0) return { succeeded: [], failed: [], notFound: [] };
  const request: DeleteClusterInstancesRequest = { ClusterId: clusterId, InstanceIds: unique, InstanceDeleteMode: options.mode, ForceDelete: options.force };
  const response = ((await send('DeleteClusterInstances', request, signal)) ?? {}) as DeleteClusterInstancesResponse;
  const listed = (ids: unknown): Set<string> => new Set(Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : []);
  const failed = listed(response.FailedInstanceIds);
  const succeeded = listed(response.SuccInstanceIds);
  const notFound = listed(response.NotFoundInstanceIds);
  const result: InstanceDeletionResult = { succeeded: [], failed: [], notFound: [] };
  for (const id of unique) {
    if (failed.has(id)) result.failed.push(id);
    else if (succeeded.has(id)) result.succeeded.push(id);
    else if (notFound.has(id)) result.notFound.push(id);
    else result.failed.push(id);
  }
  return result;
}
