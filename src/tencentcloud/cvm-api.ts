import type { Client as CvmClient } from 'tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_client';
import type { ApiCredentials } from './credentials';
import { clientPerRegion, routeFor, sdkClientConfig } from './endpoint-route';

export const PUBLIC_CVM_HOST = 'cvm.tencentcloudapi.com';

/**
 * The CVM calls the function makes (API 2017-03-12), through the official SDK
 * (tencentcloud-sdk-nodejs-cvm), signed like the TKE call with the function's role keys:
 *
 *   InquiryPriceRunInstances  the price of a rung, for the money budgets (`cvm:InquiryPriceRunInstances`)
 *   DescribeInstances         the CVM side of what the function bought: its tags (the function's
 *                             marks, checked before anything is deleted), its charge type (prepaid
 *                             instances cannot be terminated), and the instances of a purchase whose
 *                             outcome was unknown, found by its tag (`cvm:DescribeInstances`)
 *
 * `CVM_ENDPOINT` points it elsewhere (the sandbox, a private endpoint) the way endpoint-route.ts
 * explains for TKE_ENDPOINT. Answers that the core reads are returned as they came (`unknown`) or
 * read field by field here, so a changed or broken answer is never taken for something it is not.
 */
export interface CvmApi {
  readonly endpointDescription: string;
  inquirePrice(region: string, params: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<unknown>;
  /**
   * DescribeInstances by instance IDs, or by tags (`tag:<key>` filters, every one must match): as
   * many calls as it takes (at most 100 IDs or 100 answers a call). An instance CVM does not
   * return does not exist (any more).
   */
  describeInstances(region: string, query: CvmInstanceQuery, signal: AbortSignal): Promise<CvmInstance[]>;
}

/** What the money budgets need of CVM. */
export type PriceApi = Pick<CvmApi, 'endpointDescription' | 'inquirePrice'>;

export type CvmInstanceQuery = { readonly instanceIds: readonly string[] } | { readonly tags: Readonly<Record<string, string>> };

/** One CVM instance as DescribeInstances reports it (cvm_models.d.ts `Instance`: the fields read). */
export interface CvmInstance {
  readonly instanceId: string;
  /** CVM's InstanceState (PENDING, LAUNCH_FAILED, RUNNING, …, TERMINATING), as sent. */
  readonly state: string;
  /** PREPAID, POSTPAID_BY_HOUR, SPOTPAID, CDHPAID…, as sent (`unknown` when absent). */
  readonly chargeType: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * DescribeInstances' limits (cvm_models.d.ts DescribeInstancesRequest): "每次请求的实例的上限为100",
 * Limit "最大值为100", "Filters的上限为10，Filter.Values的上限为5", and InstanceIds and Filters never
 * together ("参数不支持同时指定InstanceIds和Filters").
 */
export const DESCRIBE_INSTANCES_MAX_IDS = 100;
export const DESCRIBE_INSTANCES_MAX_FILTERS = 10;

export interface SdkCvmApiOptions {
  readonly endpointUrl?: string;
  readonly credentials: () => ApiCredentials;
  readonly timeoutMs: number;
}

export function createSdkCvmApi(options: SdkCvmApiOptions): CvmApi {
  const route = routeFor(options.endpointUrl, PUBLIC_CVM_HOST);
  // Loaded on the first call, not at cold start: a scale-out without a money budget never needs it.
  const clientFor = clientPerRegion((region): CvmClient => {
    const { Client } = require('tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_client') as typeof import('tencentcloud-sdk-nodejs-cvm/tencentcloud/services/cvm/v20170312/cvm_client');
    return new Client(sdkClientConfig(route, region, options.credentials, options.timeoutMs));
  });
  // AbstractClient's `request`, which takes the AbortSignal (as in tke/sdk-tke-api.ts).
  const call = async (region: string, action: string, params: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<unknown> => (await clientFor(region).request(action, params, { signal })) as unknown;
  return {
    endpointDescription: route.description,
    inquirePrice: (region, params, signal) => call(region, 'InquiryPriceRunInstances', params, signal),
    async describeInstances(region, query, signal) {
      const found: CvmInstance[] = [];
      if ('instanceIds' in query) {
        const ids = [...new Set(query.instanceIds)];
        for (let i = 0; i < ids.length; i += DESCRIBE_INSTANCES_MAX_IDS) {
          const page = ids.slice(i, i + DESCRIBE_INSTANCES_MAX_IDS);
          found.push(...instancesOf(await call(region, 'DescribeInstances', { InstanceIds: page, Limit: DESCRIBE_INSTANCES_MAX_IDS }, signal)));
        }
        return found;
      }
      const filters = Object.entries(query.tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }));
      if (filters.length === 0 || filters.length > DESCRIBE_INSTANCES_MAX_FILTERS) throw new Error(`DescribeInstances takes 1 to ${DESCRIBE_INSTANCES_MAX_FILTERS} filters, not ${filters.length}`);
      for (let offset = 0; ; offset += DESCRIBE_INSTANCES_MAX_IDS) {
        const answer = await call(region, 'DescribeInstances', { Filters: filters, Offset: offset, Limit: DESCRIBE_INSTANCES_MAX_IDS }, signal);
        const page = instancesOf(answer);
        found.push(...page);
        const total = (answer as { TotalCount?: unknown } | null)?.TotalCount;
        // The last page: short, or as far as TotalCount says (a bound on a lying answer too).
        if (page.length < DESCRIBE_INSTANCES_MAX_IDS || typeof total !== 'number' || offset + page.length >= total) return found;
      }
    },
  };
}

/** The instances of a DescribeInstances answer; one without an ID is no instance. */
function instancesOf(answer: unknown): CvmInstance[] {
  const set: unknown = (answer as { InstanceSet?: unknown } | null)?.InstanceSet;
  if (!Array.isArray(set)) return [];
  const instances: CvmInstance[] = [];
  for (const item of set as Array<{ InstanceId?: unknown; InstanceState?: unknown; InstanceChargeType?: unknown; Tags?: unknown } | null>) {
    if (typeof item?.InstanceId !== 'string') continue;
    const tags: Record<string, string> = {};
    if (Array.isArray(item.Tags)) for (const tag of item.Tags as Array<{ Key?: unknown; Value?: unknown } | null>) if (typeof tag?.Key === 'string' && typeof tag.Value === 'string') tags[tag.Key] = tag.Value;
    instances.push({
      instanceId: item.InstanceId,
      state: typeof item.InstanceState === 'string' ? item.InstanceState : 'unknown',
      chargeType: typeof item.InstanceChargeType === 'string' ? item.InstanceChargeType : 'unknown',
      tags,
    });
  }
  return instances;
}
