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

// --- The instances of a cluster: DescribeClusterInstances and DeleteClusterInstances -----------
//
// Shapes of TKE 2018-05-25 as the SDK models them (tencentcloud-sdk-nodejs-tke,
// tencentcloud/services/tke/v20180525/tke_models.d.ts: DescribeClusterInstancesRequest/Response,
// Instance, Label, DeleteClusterInstancesRequest/Response) and Tencent's API pages
// (cloud.tencent.com/document/api/457/31863, 457/31864). Kept here, free of SDK types and importing
// nothing, so that core's decisions about purchases can take what was observed (`ClusterInstance`)
// without reaching into the adapter. docs/PLATFORM.md has the facts and what is unconfirmed.

/**
 * DescribeClusterInstances' `Limit` at most ("返回数量，默认为20，最大值为100"). The adapter also sends
 * at most this many InstanceIds per call: a page can then hold every instance the call asks for.
 */
export const DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT = 100;
/** DescribeClusterInstances' `Limit` when none is sent. */
export const DESCRIBE_CLUSTER_INSTANCES_DEFAULT_LIMIT = 20;

export interface DescribeClusterInstancesRequest {
  ClusterId: string;
  /** Default 0. */
  Offset?: number;
  /** Default 20, at most 100. */
  Limit?: number;
  /** CVM IDs (`ins-…`). Empty or absent means EVERY node of the cluster (the model says so). */
  InstanceIds?: string[];
  /** WORKER when absent (the model: "默认为WORKER类型"); also MASTER, ETCD, MASTER_ETCD. */
  InstanceRole?: string;
}

/** TKE's `Label`: a Kubernetes node label as InstanceAdvancedSettings carries it. */
export interface TkeLabel {
  Name: string;
  Value: string;
}

/** TKE's `Instance` (the fields the function reads; every one optional in the model). */
export interface TkeClusterInstance {
  InstanceId?: string;
  InstanceRole?: string;
  /** "实例异常(或者处于初始化中)的原因": why it is failed, or still initializing. */
  FailedReason?: string | null;
  /** "running 运行中，initializing 初始化中，failed 异常". */
  InstanceState?: string;
  DrainStatus?: string;
  InstanceAdvancedSettings?: { Labels?: TkeLabel[] | null; [key: string]: unknown } | null;
  CreatedTime?: string;
  /** "此字段可能返回 null". */
  LanIP?: string | null;
  NodePoolId?: string;
  AutoscalingGroupId?: string;
}

export interface DescribeClusterInstancesResponse {
  /** "集群中实例总数". */
  TotalCount?: number;
  InstanceSet?: TkeClusterInstance[];
  RequestId?: string;
}

/** DeleteClusterInstances' `InstanceDeleteMode` values. */
export const INSTANCE_DELETE_MODES = ['terminate', 'retain'] as const;
/** `terminate`: destroy the CVM ("仅支持按量计费云主机实例": pay-as-you-go only); `retain`: only remove it from the cluster. */
export type InstanceDeleteMode = (typeof INSTANCE_DELETE_MODES)[number];

export interface DeleteClusterInstancesRequest {
  ClusterId: string;
  InstanceIds: string[];
  /** Optional on the API page (no default stated), required in the SDK's model: always sent. */
  InstanceDeleteMode: InstanceDeleteMode;
  /** "当节点在初始化时，可以指定参数为TRUE": may be true while the node is initializing. */
  ForceDelete?: boolean;
}

/** Each list "可能返回 null". */
export interface DeleteClusterInstancesResponse {
  SuccInstanceIds?: string[] | null;
  FailedInstanceIds?: string[] | null;
  NotFoundInstanceIds?: string[] | null;
  RequestId?: string;
}

/** InstanceState values the model names; TKE's value is kept as it is, whatever it is. */
export const CLUSTER_INSTANCE_STATES = ['running', 'initializing', 'failed'] as const;
// `string & {}` keeps the named states visible to the editor while any other value TKE sends still fits.
export type ClusterInstanceState = (typeof CLUSTER_INSTANCE_STATES)[number] | (string & {});

/** One node of a cluster as DescribeClusterInstances reports it. */
export interface ClusterInstance {
  /** The CVM ID (`ins-…`). */
  readonly instanceId: string;
  /** TKE's InstanceState, as sent (`unknown` when the answer has none). */
  readonly state: ClusterInstanceState;
  /** TKE's FailedReason when not empty; a running node may carry one too (TKE's example: "=Ready:True"). */
  readonly failedReason?: string;
  /** TKE's CreatedTime, as sent (TKE's example: "2021-02-22T07:14:11Z"). */
  readonly createdTime?: string;
  readonly lanIp?: string;
  /** The node's InstanceAdvancedSettings.Labels, when the answer has them. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface DeleteInstancesOptions {
  readonly mode: InstanceDeleteMode;
  /** ForceDelete: needed, the API page suggests, for a node still initializing. */
  readonly force: boolean;
}

/** What DeleteClusterInstances says it did with each instance asked. */
export interface InstanceDeletionResult {
  /** SuccInstanceIds. */
  readonly succeeded: string[];
  /** FailedInstanceIds, and any instance asked that the answer does not mention. */
  readonly failed: string[];
  /** NotFoundInstanceIds: not in the cluster (already removed, or never in it). */
  readonly notFound: string[];
}
