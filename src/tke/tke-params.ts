/**
 * The request shape of TKE CreateClusterInstances (API 2018-05-25), kept free of SDK types so that
 * the core and its fakes do not depend on the SDK's typings (which also mark optional fields of
 * InstanceAdvancedSettings as required; the API docs say optional).
 */
export interface CreateClusterInstancesRequest {
  ClusterId: string;
  /** A JSON string of CVM RunInstances parameters (seed doc: "json化字符串格式"). */
  RunInstancePara: string;
  InstanceAdvancedSettings?: Record<string, unknown>;
  SkipValidateOptions?: string[];
}

export interface CreateClusterInstancesResponse {
  InstanceIdSet: string[];
  RequestId: string;
}

/**
 * Top-level CVM RunInstances parameters (cloud.tencent.com/document/api/213/15730) that may appear
 * in RunInstancePara. Used to catch a misspelt key in a template at cold start instead of at the
 * first alarm. test/unit/tke/tke-params.test.ts compares this list with the official CVM SDK's
 * RunInstancesRequest model (a dev dependency), so it cannot drift from CVM again.
 */
export const RUN_INSTANCE_PARA_KEYS = [
  'InstanceChargeType',
  'InstanceChargePrepaid',
  'Placement',
  'InstanceType',
  'ImageId',
  'SystemDisk',
  'DataDisks',
  'VirtualPrivateCloud',
  'InternetAccessible',
  'InstanceCount',
  'MinCount',
  'InstanceName',
  'LoginSettings',
  'SecurityGroupIds',
  'EnhancedService',
  'ClientToken',
  'HostName',
  'ActionTimer',
  'DisasterRecoverGroupIds',
  'TagSpecification',
  'InstanceMarketOptions',
  'UserData',
  'Metadata',
  'DryRun',
  'CpuTopology',
  'CamRoleName',
  'HpcClusterId',
  'LaunchTemplate',
  'DedicatedClusterId',
  'ChcIds',
  'PartitionNumber',
  'DisableApiTermination',
  'EnableJumboFrame',
  'NetworkInterfaces',
] as const;

/**
 * RunInstancePara keys the function writes itself, per event: a template may not set them.
 * ClientToken is CVM's idempotency key ("without it there is no idempotency"); InstanceCount is the
 * event's count, bounded by the template.
 */
export const FUNCTION_OWNED_RUN_INSTANCE_PARA_KEYS = ['ClientToken', 'InstanceCount'] as const;

/** Fields of TKE's InstanceAdvancedSettings (tencentcloud-sdk-nodejs-tke, tke_models.d.ts). */
export const INSTANCE_ADVANCED_SETTINGS_KEYS = [
  'DesiredPodNumber',
  'GPUArgs',
  'PreStartUserScript',
  'Taints',
  'MountTarget',
  'DockerGraphPath',
  'UserScript',
  'Unschedulable',
  'Labels',
  'DataDisks',
  'ExtraArgs',
] as const;

/** CVM's limit on ClientToken (docs/PLATFORM.md). */
export const CLIENT_TOKEN_MAX_LENGTH = 64;
