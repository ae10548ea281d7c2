import type { CreateClusterInstancesRequest, CreateClusterInstancesResponse } from './tke-params';

/**
 * The one TKE method the core needs, declared here so the SDK stays in its adapter
 * (sdk-tke-api.ts) and a test fake is three lines.
 *
 * Failures are thrown as whatever the transport throws; `describeTkeFailure` reads the fields the
 * SDK's exception carries (code, httpCode, requestId), which a fake can set on a plain Error.
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

export interface TkeFailure {
  /** TKE's error code; absent when no API answer arrived. */
  readonly code?: string;
  /** Set when the endpoint answered with a status other than 200. */
  readonly httpCode?: number;
  readonly requestId?: string;
  readonly message: string;
}

export function describeTkeFailure(error: unknown): TkeFailure {
  const e = (error ?? {}) as { code?: unknown; httpCode?: unknown; requestId?: unknown; message?: unknown };
  return {
    ...(typeof e.code === 'string' && e.code !== '' && { code: e.code }),
    ...(typeof e.httpCode === 'number' && { httpCode: e.httpCode }),
    ...(typeof e.requestId === 'string' && e.requestId !== '' && { requestId: e.requestId }),
    message: typeof e.message === 'string' ? e.message : String(error),
  };
}
