import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, authenticateTc3, header, parseParams, readBody, send, startLocalApiServer, type ApiCredential, type LocalApiServer } from './api3-server';
import { parseTc3Authorization } from './tc3-signature';
import { takeFault } from './fault-queue';
import { PRICE_INQUIRY_KEYS } from '../../src/core/price';
import { DESCRIBE_CLUSTER_INSTANCES_DEFAULT_LIMIT, DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT, INSTANCE_DELETE_MODES, type InstanceDeleteMode, type TkeLabel } from '../../src/tke/tke-params';

/**
 * A local stand-in for tke.tencentcloudapi.com (API 3.0, version 2018-05-25), faithful where the
 * function depends on it:
 *
 *  - every call must carry a valid TC3-HMAC-SHA256 signature for service "tke", made with a key the
 *    sandbox knows, within 5 minutes of its clock (AuthFailure.* otherwise);
 *  - answers come in the real envelope, `{"Response": {..., "RequestId"}}`, HTTP 200 even for errors;
 *  - CreateClusterInstances honours ClientToken: the same token returns the same InstanceIdSet and
 *    adds no node; DescribeClusters and DescribeClusterInstances report what was created;
 *  - a created instance is `initializing` for `joinSeconds` of the sandbox's clock (`now`), then
 *    `running`; instance faults (`instanceFaults`, `POST /__sandbox/instance-faults`) make the
 *    instances a purchase creates in a zone or of a type end `failed` with a FailedReason, or stay
 *    `initializing` for ever. Each instance keeps its zone, type, charge type, CVM tags
 *    (RunInstancePara.TagSpecification) and node labels (InstanceAdvancedSettings.Labels);
 *  - DescribeClusterInstances pages (Offset, Limit: default 20, at most 100) and filters
 *    (InstanceIds, InstanceRole); DeleteClusterInstances removes instances from the cluster
 *    (`terminate` or `retain`, kept in `deleted`) and sorts the IDs into SuccInstanceIds,
 *    FailedInstanceIds and NotFoundInstanceIds;
 *  - the seed's error codes come back for their situations: unknown cluster, cluster not running,
 *    node quota, bad parameters, sold-out instance type;
 *  - faults can be injected (error code, HTTP status, delay, dropped connection before or after the
 *    nodes are created) through `injectFault` or `POST /__sandbox/faults`, for any action or one by
 *    name; `drop-after-create` drops the answer after whatever the action did (after a
 *    DeleteClusterInstances the instances are gone and the answer lost);
 *  - CVM stock that runs out: per zone and per zone and instance type (`stock`, `POST /__sandbox/stock`),
 *    consumed by every purchase; a sold-out type answers the seed's
 *    ResourceInsufficient.SpecifiedInstanceType, a sold-out zone answers FailedOperation.CvmCommon with
 *    CVM's ResourcesSoldOut.AvailableZone in its message (how TKE passes a CVM refusal on);
 *  - CVM's InquiryPriceRunInstances (service "cvm", version 2017-03-12, signed for cvm) from a price
 *    table (`prices`, `POST /__sandbox/prices`), answered in the Price/ItemPrice shape of
 *    tencentcloud-sdk-nodejs-cvm's models. One server answers both services: point TKE_ENDPOINT and
 *    CVM_ENDPOINT at it; which API a call is for is read off its signature's credential scope.
 *  - CVM's DescribeInstances: the region's CVMs (every node, and those removed with `retain`) with
 *    their tags and charge type, by InstanceIds or by Filters (`tag:<key>` among them);
 *
 * Control routes live under /__sandbox/, a path the SDK never calls: GET calls, GET clusters (with
 * each instance's state, tags and labels), GET deleted, GET/POST stock, GET/POST prices, POST faults,
 * GET/POST instance-faults, POST reset.
 *
 * Where TKE's documentation leaves a behaviour open, the sandbox picks one and says so in a comment
 * marked "unconfirmed" (docs/PLATFORM.md lists them).
 */

export const SANDBOX_API_VERSION = '2018-05-25';
export const SANDBOX_CVM_API_VERSION = '2017-03-12';
const SERVICE = 'tke';
/** InquiryPriceRunInstances' parameters (tencentcloud-sdk-nodejs-cvm's InquiryPriceRunInstancesRequest; test/unit/tke/tke-params.test.ts checks the list). */
const PRICE_PARAMS = new Set<string>([...PRICE_INQUIRY_KEYS, 'ClientToken']);

/** Per instance: its list price an hour (pay-as-you-go) and a month (prepaid). Spot: a fifth of the hourly. */
export interface SandboxPrice {
  readonly hourly: number;
  readonly monthly: number;
}

/** Prices of the instance types the example config and the tests use; other types cost `DEFAULT_PRICE`. */
export const DEFAULT_SANDBOX_PRICES: Readonly<Record<string, SandboxPrice>> = {
  'S3.SMALL1': { hourly: 0.12, monthly: 58 },
  'S5.SMALL2': { hourly: 0.2, monthly: 96 },
  'S5.MEDIUM4': { hourly: 0.4, monthly: 192 },
  'S5.LARGE8': { hourly: 0.8, monthly: 384 },
  'S5.2XLARGE16': { hourly: 1.6, monthly: 768 },
  'SA2.MEDIUM4': { hourly: 0.34, monthly: 165 },
  'GN10X.2XLARGE40': { hourly: 15.2, monthly: 7296 },
};
const DEFAULT_PRICE: SandboxPrice = { hourly: 1, monthly: 480 };
const MAX_INSTANCE_COUNT = 500;
const SKIP_VALIDATE_OPTIONS = new Set(['GlobalRouteCIDRCheck', 'VpcCniCIDRCheck']);
const CREATE_PARAMS = new Set(['ClusterId', 'RunInstancePara', 'InstanceAdvancedSettings', 'SkipValidateOptions']);
/** DescribeClusterInstancesRequest's fields (tke_models.d.ts). */
const DESCRIBE_INSTANCES_PARAMS = new Set(['ClusterId', 'Offset', 'Limit', 'InstanceIds', 'InstanceRole', 'Filters']);
/** The DescribeInstancesRequest fields of CVM (cvm_models.d.ts). */
const CVM_DESCRIBE_PARAMS = new Set(['InstanceIds', 'Filters', 'Offset', 'Limit']);
/** DeleteClusterInstancesRequest's fields (tke_models.d.ts). */
const DELETE_INSTANCES_PARAMS = new Set(['ClusterId', 'InstanceIds', 'InstanceDeleteMode', 'ForceDelete', 'ResourceDeleteOptions']);
/**
 * InstanceRole values: the request's model names WORKER (its default, spelt "WOKRER" there), MASTER,
 * ETCD, MASTER_ETCD; Instance.InstanceRole's adds ALL. The sandbox's clusters are managed: workers only.
 */
const INSTANCE_ROLES = new Set(['WORKER', 'MASTER', 'ETCD', 'MASTER_ETCD', 'ALL']);
/** The only Filters names DescribeClusterInstances takes (its model); no sandbox node is in a node pool. */
const INSTANCE_FILTER_NAMES = new Set(['nodepool-id', 'nodepool-instance-type']);
/** How long a created instance stays `initializing` unless the options say otherwise. */
export const DEFAULT_JOIN_SECONDS = 20;
/**
 * A running node's FailedReason in TKE's own example answer (tencentcloud-cli,
 * tccli/examples/tke/v20180525/DescribeClusterInstances.md): a running node's FailedReason is not
 * necessarily empty. What TKE puts there while a node initializes is unconfirmed: the sandbox sends "".
 */
const RUNNING_FAILED_REASON = '=Ready:True';
/** The initial nodes were created this long before the sandbox started: long joined. */
const INITIAL_NODE_AGE_MS = 24 * 3600 * 1000;

export type SandboxCredential = ApiCredential;

export interface SandboxClusterSpec {
  readonly clusterId: string;
  readonly region: string;
  readonly name?: string;
  /** Node quota: CreateClusterInstances past it fails with FailedOperation.QuotaMaxNodLimit. */
  readonly maxNodes?: number;
  readonly initialNodes?: number;
  readonly status?: 'Running' | 'Creating' | 'Abnormal' | 'Upgrading';
}

export type SandboxFault = (
  | { readonly kind: 'error'; readonly code: string; readonly message?: string }
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'drop' }
  | { readonly kind: 'drop-after-create' }
  /** An answer of the right envelope whose content is not what the API documents (a price as a string). */
  | { readonly kind: 'malformed' }
  /** This exact answer (RequestId added), whatever the call asked: a price of 0 or of 1e308, say. */
  | { readonly kind: 'answer'; readonly response: Record<string, unknown> }
) & {
  /** Only calls of this action; any action when absent. */
  readonly action?: string;
  /** How many matching calls it applies to (default 1). */
  readonly times?: number;
  /** Matching calls to let through untouched first (default 0): "the second CreateClusterInstances". */
  readonly after?: number;
};

const FAULT_KINDS: ReadonlyArray<SandboxFault['kind']> = ['error', 'http', 'delay', 'drop', 'drop-after-create', 'malformed', 'answer'];

/**
 * What becomes of the instances a purchase creates, in `zone` and/or of `instanceType` (absent:
 * any), settled when each is created: `fail` ends `failed` with `reason` as its FailedReason once
 * `joinSeconds` have passed, `never` stays `initializing` (a node that never joins). `times`: how
 * many instances it applies to (default: every one, until reset). The first matching fault wins.
 */
export type SandboxInstanceFault = ({ readonly kind: 'fail'; readonly reason: string } | { readonly kind: 'never' }) & {
  readonly zone?: string;
  readonly instanceType?: string;
  readonly times?: number;
};

export interface SandboxTag {
  readonly Key: string;
  readonly Value: string;
}

export interface SandboxCall {
  readonly action: string;
  readonly region: string | undefined;
  readonly host: string | undefined;
  readonly service: string | undefined;
  readonly secretId: string | undefined;
  /** The parsed JSON body. */
  readonly params: Record<string, unknown>;
  /** The error code answered, if any. */
  readonly errorCode?: string;
  readonly instanceIds?: readonly string[];
}

/** An instance of a cluster as it is now (its state depends on the sandbox's clock): for tests and GET /__sandbox/clusters. */
export interface SandboxInstance {
  readonly InstanceId: string;
  readonly InstanceRole: 'WORKER';
  readonly InstanceState: 'running' | 'initializing' | 'failed';
  readonly FailedReason: string;
  /** "2021-02-22T07:14:11Z", the form of TKE's example answer. */
  readonly CreatedTime: string;
  readonly LanIP: string;
  readonly InstanceType: string;
  readonly Zone: string;
  /** RunInstancePara.InstanceChargeType (POSTPAID_BY_HOUR when absent, as CVM's default). */
  readonly InstanceChargeType: string;
  /** RunInstancePara.TagSpecification's tags for ResourceType "instance". */
  readonly Tags: readonly SandboxTag[];
  /** InstanceAdvancedSettings.Labels. */
  readonly Labels: readonly TkeLabel[];
}

/** An instance DeleteClusterInstances removed: destroyed (`terminate`) or left running outside the cluster (`retain`). */
export interface SandboxDeletion {
  readonly clusterId: string;
  readonly instanceId: string;
  readonly mode: InstanceDeleteMode;
  readonly forced: boolean;
  /** The sandbox's clock at the deletion, ISO 8601. */
  readonly at: string;
  /** The instance as it was when deleted. */
  readonly instance: SandboxInstance;
}

/** What the sandbox keeps of an instance; its state is derived from `createdAt`, `fate` and the clock. */
interface SandboxNode {
  readonly instanceId: string;
  readonly createdAt: number;
  readonly lanIp: string;
  readonly instanceType: string;
  readonly zone: string;
  readonly chargeType: string;
  readonly tags: readonly SandboxTag[];
  readonly advancedSettings: Readonly<Record<string, unknown>>;
  readonly labels: readonly TkeLabel[];
  readonly fate: { readonly kind: 'join' } | { readonly kind: 'fail'; readonly reason: string } | { readonly kind: 'never' };
}

interface ClusterState {
  readonly spec: Required<Omit<SandboxClusterSpec, 'initialNodes'>>;
  readonly instances: SandboxNode[];
}

export interface TkeSandboxOptions {
  readonly credentials?: readonly SandboxCredential[];
  readonly clusters?: readonly SandboxClusterSpec[];
  /** Instance types reported as sold out everywhere: ResourceInsufficient.SpecifiedInstanceType. */
  readonly soldOutInstanceTypes?: readonly string[];
  /**
   * Instances left to sell, by "<zone>/<instance type>" or by "<zone>" (every type there); absent
   * keys are unlimited. Each purchase takes its count; more than is left is refused.
   */
  readonly stock?: Readonly<Record<string, number>>;
  /** InquiryPriceRunInstances' table, by instance type (DEFAULT_SANDBOX_PRICES when absent). */
  readonly prices?: Readonly<Record<string, SandboxPrice>>;
  /** The sandbox's clock (ms): signatures' 5 minutes and instances' join time are measured on it. */
  readonly now?: () => number;
  /**
   * The clock a signature's 5 minutes are measured on, when not `now`: a simulation whose clock runs
   * hours ahead of the machine's (test/support/closed-loop.ts) passes Date.now here, since the SDK
   * signs with the machine's clock (tencentcloud-sdk-nodejs-common's http_connection.js:
   * `new Date().getTime()`) and the real API checks it against its own real clock.
   */
  readonly signatureNow?: () => number;
  /** Seconds a created instance stays `initializing` before it is `running` (or `failed`); default 20. */
  readonly joinSeconds?: number;
  /** Instance faults in force from the start (and again after reset). */
  readonly instanceFaults?: readonly SandboxInstanceFault[];
}

/** The key `npm start` gives the function when it runs against the sandbox. Not a secret: local only. */
export const SANDBOX_CREDENTIAL: SandboxCredential = {
  secretId: 'AKIDsandboxLOCALONLY0000000000000000',
  secretKey: 'sandbox-secret-key-local-only-000000',
};

/** The clusters of config/example.yaml, so `npm start` works out of the box. */
export const DEFAULT_SANDBOX_CLUSTERS: readonly SandboxClusterSpec[] = [
  { clusterId: 'cls-e55paxnt', region: 'ap-guangzhou', name: 'demo', maxNodes: 50, initialNodes: 3 },
  { clusterId: 'cls-nfjdk3n0', region: 'ap-beijing', name: 'demo-bj', maxNodes: 50, initialNodes: 3 },
  { clusterId: 'cls-sh7k2m9q', region: 'ap-shanghai', name: 'demo-sh', maxNodes: 50, initialNodes: 3 },
];

export class TkeSandbox {
  readonly calls: SandboxCall[] = [];
  /** Every instance DeleteClusterInstances removed, in order. */
  readonly deleted: SandboxDeletion[] = [];
  private readonly credentials: Map<string, SandboxCredential>;
  private readonly clusters = new Map<string, ClusterState>();
  private readonly tokens = new Map<string, readonly string[]>();
  /** Nodes DeleteClusterInstances removed, by cluster: a retained one is still a CVM. */
  private readonly removed = new Map<string, SandboxNode[]>();
  private readonly faults: Array<SandboxFault & { remaining: number; skip: number }> = [];
  /** `remaining` undefined: applies to every instance that matches, until reset. */
  private readonly instanceFaults: Array<SandboxInstanceFault & { remaining?: number }> = [];
  private readonly joinMs: number;
  private readonly soldOut: Set<string>;
  private readonly stock = new Map<string, number>();
  private prices = new Map<string, SandboxPrice>();
  private readonly now: () => number;
  private readonly signatureNow: () => number;
  private server: LocalApiServer | undefined;
  private ipCounter = 10;

  constructor(private readonly options: TkeSandboxOptions = {}) {
    this.credentials = new Map((options.credentials ?? [SANDBOX_CREDENTIAL]).map((c) => [c.secretId, c]));
    this.soldOut = new Set(options.soldOutInstanceTypes ?? []);
    this.now = options.now ?? Date.now;
    this.signatureNow = options.signatureNow ?? this.now;
    this.joinMs = (options.joinSeconds ?? DEFAULT_JOIN_SECONDS) * 1000;
    this.reset();
  }

  /** Listens on 127.0.0.1 (port 0 = any free port); resolves to the base URL. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = await startLocalApiServer((req, res) => this.serve(req, res), port, host);
    return this.server.url;
  }

  /** The base URL it listens on (after start). */
  url(): string {
    if (this.server === undefined) throw new Error('the sandbox is not started');
    return this.server.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }

  injectFault(fault: SandboxFault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1, skip: fault.after ?? 0 });
  }

  /** Drop the faults not yet used up; calls, tokens and nodes stay. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** What becomes of instances created from now on (SandboxInstanceFault); added after those in force. */
  injectInstanceFault(fault: SandboxInstanceFault): void {
    this.instanceFaults.push({ ...fault, ...(fault.times !== undefined && { remaining: fault.times }) });
  }

  /** The instance faults in force, with how many instances each still applies to (`remaining`; absent: all). */
  instanceFaultsInForce(): Array<SandboxInstanceFault & { remaining?: number }> {
    return this.instanceFaults.map((f) => ({ ...f }));
  }

  /** Forget calls, tokens, faults, created and deleted nodes: back to the initial clusters and options. */
  reset(): void {
    this.calls.length = 0;
    this.deleted.length = 0;
    this.removed.clear();
    this.tokens.clear();
    this.faults.length = 0;
    this.instanceFaults.length = 0;
    for (const fault of this.options.instanceFaults ?? []) this.injectInstanceFault(fault);
    this.clusters.clear();
    this.stock.clear();
    for (const [key, left] of Object.entries(this.options.stock ?? {})) this.stock.set(key, left);
    this.prices = new Map(Object.entries(this.options.prices ?? DEFAULT_SANDBOX_PRICES));
    for (const spec of this.options.clusters ?? DEFAULT_SANDBOX_CLUSTERS) {
      const state: ClusterState = {
        spec: {
          clusterId: spec.clusterId,
          region: spec.region,
          name: spec.name ?? spec.clusterId,
          maxNodes: spec.maxNodes ?? 50,
          status: spec.status ?? 'Running',
        },
        instances: [],
      };
      for (let i = 0; i < (spec.initialNodes ?? 0); i++) {
        state.instances.push(this.newNode({ instanceType: 'S5.MEDIUM4', zone: `${spec.region}-1`, createdAt: this.now() - INITIAL_NODE_AGE_MS, fate: { kind: 'join' } }));
      }
      this.clusters.set(spec.clusterId, state);
    }
  }

  /** Sets what is left to sell, by "<zone>/<type>" or "<zone>"; a negative number makes it unlimited again. */
  setStock(stock: Readonly<Record<string, number>>): void {
    for (const [key, left] of Object.entries(stock)) {
      if (left < 0) this.stock.delete(key);
      else this.stock.set(key, left);
    }
  }

  stockLeft(): Record<string, number> {
    return Object.fromEntries(this.stock);
  }

  setPrices(prices: Readonly<Record<string, SandboxPrice>>): void {
    for (const [type, price] of Object.entries(prices)) this.prices.set(type, price);
  }

  /**
   * The sandbox's clock (ms), for stand-ins composed with this one: the Kubernetes API stand-in
   * (kube-sandbox.ts) reads time here, so that the one clock a test moves drives both.
   */
  clock(): number {
    return this.now();
  }

  /** Nodes of a cluster as they are now, for tests. */
  instancesOf(clusterId: string): readonly SandboxInstance[] {
    return (this.clusters.get(clusterId)?.instances ?? []).map((node) => this.snapshot(node));
  }

  /** Successful CreateClusterInstances calls that added nodes (not ClientToken replays). */
  get createdCalls(): SandboxCall[] {
    return this.calls.filter((c) => c.action === 'CreateClusterInstances' && c.errorCode === undefined && c.instanceIds !== undefined);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://sandbox');
    if (url.pathname.startsWith('/__sandbox/')) return this.control(req.method ?? 'GET', url.pathname, body, res);
    if (req.method !== 'POST' || url.pathname !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('the sandbox answers API 3.0 calls: POST /');
      return;
    }

    const action = header(req, 'x-tc-action') ?? '';
    const fault = this.takeFault(action);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'http') {
      res.writeHead(fault.status, { 'content-type': 'text/plain' }).end(`sandbox: injected HTTP ${fault.status}`);
      return;
    }

    const requestId = randomUUID();
    let params: Record<string, unknown> = {};
    const auth = parseTc3Authorization(header(req, 'authorization') ?? '');
    const record = (extra: Partial<SandboxCall>) =>
      this.calls.push({
        action,
        region: header(req, 'x-tc-region'),
        host: header(req, 'host'),
        service: auth?.service,
        secretId: auth?.secretId,
        params,
        ...extra,
      });
    // One server, two services: the signature's credential scope says which API the call is for.
    const service = auth?.service === 'cvm' ? 'cvm' : SERVICE;
    const version = service === 'cvm' ? SANDBOX_CVM_API_VERSION : SANDBOX_API_VERSION;
    try {
      authenticateTc3(req, body, { service, credentials: this.credentials, now: this.signatureNow });
      params = parseParams(req, body);
      if (header(req, 'x-tc-version') !== version) {
        throw new ApiError('InvalidParameterValue', `X-TC-Version must be ${version} for ${service}`);
      }
      if (fault?.kind === 'error') throw new ApiError(fault.code, fault.message ?? `sandbox: injected ${fault.code}`);
      const region = header(req, 'x-tc-region');
      if (region === undefined) throw new ApiError('MissingParameter', 'the X-TC-Region header is required');
      const { response, createdIds } = service === 'cvm' ? { response: this.dispatchCvm(action, region, params), createdIds: undefined } : this.dispatch(action, region, params);
      record(createdIds === undefined ? {} : { instanceIds: createdIds });
      if (fault?.kind === 'drop-after-create') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'delay') await sleep(fault.ms);
      if (fault?.kind === 'malformed') return send(res, { Price: { InstancePrice: { UnitPrice: 'free' } }, RequestId: requestId });
      if (fault?.kind === 'answer') return send(res, { ...fault.response, RequestId: requestId });
      send(res, { ...response, RequestId: requestId });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      record({ errorCode: error.code });
      if (fault?.kind === 'delay') await sleep(fault.ms);
      send(res, { Error: { Code: error.code, Message: error.message }, RequestId: requestId });
    }
  }

  /** The action's answer, and the IDs of nodes it added (none for a ClientToken replay). */
  private dispatch(action: string, region: string, params: Record<string, unknown>): { response: Record<string, unknown>; createdIds?: string[] } {
    switch (action) {
      case 'CreateClusterInstances':
        return this.createClusterInstances(region, params);
      case 'DescribeClusters':
        return { response: this.describeClusters(region, params) };
      case 'DescribeClusterInstances':
        return { response: this.describeClusterInstances(region, params) };
      case 'DeleteClusterInstances':
        return { response: this.deleteClusterInstances(region, params) };
      default:
        throw new ApiError('InvalidAction', `the action ${JSON.stringify(action)} is not supported by the sandbox`);
    }
  }

  private createClusterInstances(region: string, params: Record<string, unknown>): { response: Record<string, unknown>; createdIds?: string[] } {
    for (const key of Object.keys(params)) {
      if (!CREATE_PARAMS.has(key)) throw new ApiError('UnknownParameter', `the parameter ${key} is not recognized`);
    }
    const cluster = this.clusterIn(region, params.ClusterId);
    if (typeof params.RunInstancePara !== 'string') {
      throw new ApiError(params.RunInstancePara === undefined ? 'MissingParameter' : 'InvalidParameter', 'RunInstancePara must be a JSON string');
    }
    let para: Record<string, unknown>;
    try {
      para = JSON.parse(params.RunInstancePara) as Record<string, unknown>;
    } catch {
      throw new ApiError('InvalidParameter', 'RunInstancePara is not valid JSON');
    }
    if (typeof para !== 'object' || para === null || Array.isArray(para)) throw new ApiError('InvalidParameter', 'RunInstancePara must be a JSON object');
    if (params.SkipValidateOptions !== undefined) {
      const options = params.SkipValidateOptions;
      if (!Array.isArray(options) || !options.every((o) => typeof o === 'string' && SKIP_VALIDATE_OPTIONS.has(o))) {
        throw new ApiError('InvalidParameter', 'SkipValidateOptions accepts GlobalRouteCIDRCheck and VpcCniCIDRCheck');
      }
    }
    const token = para.ClientToken;
    if (token !== undefined && (typeof token !== 'string' || token.length > 64 || !/^[\x20-\x7e]+$/.test(token))) {
      throw new ApiError('InvalidParameter', 'ClientToken must be at most 64 ASCII characters');
    }
    if (typeof token === 'string') {
      const earlier = this.tokens.get(`${cluster.spec.clusterId}/${token}`);
      // Idempotent: the same token gets the first call's instances and adds none.
      if (earlier !== undefined) return { response: { InstanceIdSet: [...earlier] } };
    }
    if (cluster.spec.status !== 'Running') {
      throw new ApiError('FailedOperation.ClusterState', `cluster ${cluster.spec.clusterId} is ${cluster.spec.status}, not Running`);
    }
    const count = para.InstanceCount ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_INSTANCE_COUNT) {
      throw new ApiError('InvalidParameter', `InstanceCount must be a whole number from 1 to ${MAX_INSTANCE_COUNT}`);
    }
    const zone = (para.Placement as { Zone?: unknown } | undefined)?.Zone;
    if (typeof zone !== 'string') throw new ApiError('InvalidParameter', 'RunInstancePara.Placement.Zone is required');
    if (!zone.startsWith(`${region}-`)) throw new ApiError('InvalidParameter', `zone ${zone} is not in region ${region}`);
    const instanceType = typeof para.InstanceType === 'string' ? para.InstanceType : 'S1.SMALL1';
    const chargeType = para.InstanceChargeType ?? 'POSTPAID_BY_HOUR';
    if (typeof chargeType !== 'string') throw new ApiError('InvalidParameter', 'RunInstancePara.InstanceChargeType must be a string');
    const tags = instanceTagsOf(para.TagSpecification);
    const advancedSettings = advancedSettingsOf(params.InstanceAdvancedSettings);
    if (this.soldOut.has(instanceType)) {
      throw new ApiError('ResourceInsufficient.SpecifiedInstanceType', `instance type ${instanceType} is sold out in ${zone}`);
    }
    const zoneLeft = this.stock.get(zone);
    const typeLeft = this.stock.get(`${zone}/${instanceType}`);
    if (zoneLeft !== undefined && zoneLeft < count) {
      // How TKE passes on a CVM refusal: its own CvmCommon code, CVM's code and words in the message.
      throw new ApiError('FailedOperation.CvmCommon', `CVM RunInstances failed: [ResourcesSoldOut.AvailableZone] 该可用区已售罄 (zone ${zone} has ${zoneLeft} left, ${count} asked)`);
    }
    if (typeLeft !== undefined && typeLeft < count) {
      throw new ApiError('ResourceInsufficient.SpecifiedInstanceType', `CVM资源不足: instance type ${instanceType} has ${typeLeft} left in ${zone}, ${count} asked`);
    }
    if (cluster.instances.length + count > cluster.spec.maxNodes) {
      throw new ApiError(
        'FailedOperation.QuotaMaxNodLimit',
        `cluster ${cluster.spec.clusterId} has ${cluster.instances.length} nodes; ${count} more would pass its quota of ${cluster.spec.maxNodes}`,
      );
    }
    if (zoneLeft !== undefined) this.stock.set(zone, zoneLeft - count);
    if (typeLeft !== undefined) this.stock.set(`${zone}/${instanceType}`, typeLeft - count);
    const created = Array.from({ length: count }, () =>
      this.newNode({ instanceType, zone, chargeType, tags, advancedSettings, createdAt: this.now(), fate: this.fateOf(zone, instanceType) }),
    );
    cluster.instances.push(...created);
    const ids = created.map((i) => i.instanceId);
    if (typeof token === 'string') this.tokens.set(`${cluster.spec.clusterId}/${token}`, ids);
    return { response: { InstanceIdSet: ids }, createdIds: ids };
  }

  /** CVM's actions: InquiryPriceRunInstances and DescribeInstances. */
  private dispatchCvm(action: string, region: string, params: Record<string, unknown>): Record<string, unknown> {
    if (action === 'DescribeInstances') return this.describeCvmInstances(region, params);
    if (action !== 'InquiryPriceRunInstances') throw new ApiError('InvalidAction', `the action ${JSON.stringify(action)} is not supported by the sandbox's CVM`);
    for (const key of Object.keys(params)) {
      if (!PRICE_PARAMS.has(key)) throw new ApiError('UnknownParameter', `the parameter ${key} is not recognized`);
    }
    const zone = (params.Placement as { Zone?: unknown } | undefined)?.Zone;
    if (typeof zone !== 'string') throw new ApiError('MissingParameter', 'Placement.Zone is required');
    if (!zone.startsWith(`${region}-`)) throw new ApiError('InvalidParameterValue', `zone ${zone} is not in region ${region}`);
    if (typeof params.ImageId !== 'string') throw new ApiError('MissingParameter', 'ImageId is required');
    const count = params.InstanceCount ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 100) throw new ApiError('InvalidParameterValue', 'InstanceCount must be a whole number from 1 to 100');
    const type = typeof params.InstanceType === 'string' ? params.InstanceType : 'S1.SMALL1';
    // CVM prices only what it could sell: an offering without stock is refused with
    // ResourcesSoldOut.SpecifiedInstanceType, the one stock code tencentcloud-sdk-go's
    // cvm/v20170312/client.go lists for InquiryPriceRunInstances (RunInstances lists more).
    const zoneLeft = this.stock.get(zone);
    const typeLeft = this.stock.get(`${zone}/${type}`);
    if (this.soldOut.has(type) || (zoneLeft !== undefined && zoneLeft < count) || (typeLeft !== undefined && typeLeft < count)) {
      throw new ApiError('ResourcesSoldOut.SpecifiedInstanceType', `该实例规格已售罄: ${type} in ${zone} (${count} asked)`);
    }
    const price = this.prices.get(type) ?? DEFAULT_PRICE;
    const chargeType = params.InstanceChargeType ?? 'POSTPAID_BY_HOUR';
    const cents = (n: number) => Math.round(n * 100) / 100;
    let instancePrice: Record<string, unknown>;
    if (chargeType === 'PREPAID') {
      const period = (params.InstanceChargePrepaid as { Period?: unknown } | undefined)?.Period;
      if (typeof period !== 'number' || !Number.isInteger(period) || period < 1) throw new ApiError('MissingParameter', 'InstanceChargePrepaid.Period is required for PREPAID');
      const original = cents(price.monthly * period * count);
      instancePrice = { OriginalPrice: original, DiscountPrice: original, Discount: 100 };
    } else if (chargeType === 'POSTPAID_BY_HOUR' || chargeType === 'SPOTPAID') {
      const unit = cents((chargeType === 'SPOTPAID' ? price.hourly / 5 : price.hourly) * count);
      instancePrice = { UnitPrice: unit, UnitPriceDiscount: unit, ChargeUnit: 'HOUR', Discount: 100 };
    } else {
      throw new ApiError('InvalidParameterValue', `InstanceChargeType ${String(chargeType)} is not supported by the sandbox`);
    }
    const internet = params.InternetAccessible as { InternetChargeType?: unknown; InternetMaxBandwidthOut?: unknown } | undefined;
    const bandwidth = typeof internet?.InternetMaxBandwidthOut === 'number' ? internet.InternetMaxBandwidthOut : 0;
    const bandwidthPrice =
      bandwidth === 0
        ? undefined
        : internet?.InternetChargeType === 'TRAFFIC_POSTPAID_BY_HOUR'
          ? { UnitPrice: 0.8, UnitPriceDiscount: 0.8, ChargeUnit: 'GB', Discount: 100 }
          : { UnitPrice: cents(0.06 * bandwidth * count), UnitPriceDiscount: cents(0.06 * bandwidth * count), ChargeUnit: 'HOUR', Discount: 100 };
    return { Price: { InstancePrice: instancePrice, ...(bandwidthPrice !== undefined && { BandwidthPrice: bandwidthPrice }) } };
  }

  /**
   * CVM's DescribeInstances (cvm_models.d.ts DescribeInstancesRequest/Response): the CVMs of the
   * region, which are every cluster's nodes and the ones DeleteClusterInstances removed with
   * `retain` (a terminated one is gone). By InstanceIds (at most 100) or by Filters (at most 10,
   * 5 values each; `tag:<key>`, `tag-key`, `instance-id`, `instance-charge-type`, `zone` here),
   * never both, as the model says; Offset and Limit (default 20, at most 100). Each instance has
   * CVM's fields the function reads: InstanceId, InstanceState (RUNNING: the CVM runs whether or not
   * its node joined), InstanceChargeType, Tags, Placement, InstanceType.
   */
  private describeCvmInstances(region: string, params: Record<string, unknown>): Record<string, unknown> {
    for (const key of Object.keys(params)) {
      if (!CVM_DESCRIBE_PARAMS.has(key)) throw new ApiError('UnknownParameter', `the parameter ${key} is not recognized`);
    }
    const ids = params.InstanceIds;
    const filters = params.Filters;
    if (ids !== undefined && filters !== undefined) throw new ApiError('InvalidParameterValue.InstanceIdsAndFiltersConflict', 'InstanceIds and Filters cannot be given together');
    if (ids !== undefined && (!Array.isArray(ids) || ids.length > 100 || !ids.every((id) => typeof id === 'string'))) throw new ApiError('InvalidParameterValue', 'InstanceIds: at most 100 instance IDs');
    const offset = params.Offset ?? 0;
    const limit = params.Limit ?? 20;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new ApiError('InvalidParameterValue', 'Offset must be a whole number from 0');
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 100) throw new ApiError('InvalidParameterValue.LimitExceeded', 'Limit must be a whole number from 1 to 100');
    const tests: Array<(node: SandboxNode) => boolean> = [];
    if (filters !== undefined) {
      if (!Array.isArray(filters) || filters.length > 10) throw new ApiError('InvalidFilter', 'Filters: at most 10');
      for (const filter of filters as Array<{ Name?: unknown; Values?: unknown } | null>) {
        const name = filter?.Name;
        const values = filter?.Values;
        if (typeof name !== 'string' || !Array.isArray(values) || values.length === 0 || values.length > 5 || !values.every((v) => typeof v === 'string')) {
          throw new ApiError('InvalidFilter', 'each filter: {"Name": string, "Values": 1 to 5 strings}');
        }
        const wanted = new Set(values as string[]);
        if (name.startsWith('tag:')) tests.push((node) => node.tags.some((t) => t.Key === name.slice(4) && wanted.has(t.Value)));
        else if (name === 'tag-key') tests.push((node) => node.tags.some((t) => wanted.has(t.Key)));
        else if (name === 'instance-id') tests.push((node) => wanted.has(node.instanceId));
        else if (name === 'instance-charge-type') tests.push((node) => wanted.has(node.chargeType));
        else if (name === 'zone') tests.push((node) => wanted.has(node.zone));
        else throw new ApiError('InvalidFilter', `the sandbox's CVM does not filter by ${name}`);
      }
    }
    const wantedIds = Array.isArray(ids) ? new Set(ids as string[]) : undefined;
    const retained = this.deleted.filter((d) => d.mode === 'retain').map((d) => d.instanceId);
    const nodes = [...this.clusters.values()]
      .filter((c) => c.spec.region === region)
      .flatMap((c) => [...c.instances, ...(this.removed.get(c.spec.clusterId) ?? []).filter((n) => retained.includes(n.instanceId))])
      .filter((node) => (wantedIds === undefined || wantedIds.has(node.instanceId)) && tests.every((test) => test(node)));
    return {
      TotalCount: nodes.length,
      InstanceSet: nodes.slice(offset, offset + limit).map((node) => ({
        InstanceId: node.instanceId,
        InstanceState: 'RUNNING',
        InstanceChargeType: node.chargeType,
        InstanceType: node.instanceType,
        Placement: { Zone: node.zone },
        Tags: node.tags.map((t) => ({ ...t })),
      })),
    };
  }

  /** Sets a CVM instance's tags (as someone editing them in the console would): for tests of the function's marks. */
  setTags(instanceId: string, tags: readonly SandboxTag[]): void {
    for (const cluster of this.clusters.values()) {
      const index = cluster.instances.findIndex((node) => node.instanceId === instanceId);
      if (index >= 0) cluster.instances[index] = { ...cluster.instances[index]!, tags: [...tags] };
    }
  }

  /** Removes an instance from its cluster and destroys it, as an operator in the console would (not a call of the function's). */
  destroy(instanceId: string): boolean {
    for (const cluster of this.clusters.values()) {
      const index = cluster.instances.findIndex((node) => node.instanceId === instanceId);
      if (index >= 0) {
        cluster.instances.splice(index, 1);
        return true;
      }
    }
    return false;
  }

  private describeClusters(region: string, params: Record<string, unknown>): Record<string, unknown> {
    const ids = Array.isArray(params.ClusterIds) ? new Set(params.ClusterIds as string[]) : undefined;
    const clusters = [...this.clusters.values()]
      .filter((c) => c.spec.region === region && (ids === undefined || ids.has(c.spec.clusterId)))
      .map((c) => ({
        ClusterId: c.spec.clusterId,
        ClusterName: c.spec.name,
        ClusterType: 'MANAGED_CLUSTER',
        ClusterStatus: c.spec.status,
        ClusterNodeNum: c.instances.length,
      }));
    return { TotalCount: clusters.length, Clusters: clusters };
  }

  /**
   * DescribeClusterInstances (tke_models.d.ts DescribeClusterInstancesRequest/Response; Tencent's API
   * page 457/31863). An unknown cluster answers InvalidParameter.ClusterNotFound, the code
   * tencentcloud-sdk-go's tke/v20180525/client.go lists for this action (not FailedOperation's).
   */
  private describeClusterInstances(region: string, params: Record<string, unknown>): Record<string, unknown> {
    for (const key of Object.keys(params)) {
      if (!DESCRIBE_INSTANCES_PARAMS.has(key)) throw new ApiError('UnknownParameter', `the parameter ${key} is not recognized`);
    }
    const cluster = this.clusterIn(region, params.ClusterId, 'InvalidParameter.ClusterNotFound');
    const offset = params.Offset ?? 0;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new ApiError('InvalidParameter.Param', 'Offset must be a whole number from 0');
    const limit = params.Limit ?? DESCRIBE_CLUSTER_INSTANCES_DEFAULT_LIMIT;
    // "返回数量，默认为20，最大值为100". Whether TKE refuses a larger Limit or quietly answers 100 is
    // unconfirmed: the sandbox refuses it (InvalidParameter.Param, listed for this action in
    // tencentcloud-sdk-go), so that a caller asking for more is caught here rather than losing instances there.
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT) {
      throw new ApiError('InvalidParameter.Param', `Limit must be a whole number from 1 to ${DESCRIBE_CLUSTER_INSTANCES_MAX_LIMIT}`);
    }
    if (params.InstanceIds !== undefined && (!Array.isArray(params.InstanceIds) || !params.InstanceIds.every((id) => typeof id === 'string'))) {
      throw new ApiError('InvalidParameter.Param', 'InstanceIds must be a list of instance IDs');
    }
    const role = params.InstanceRole ?? 'WORKER';
    if (typeof role !== 'string' || !INSTANCE_ROLES.has(role)) throw new ApiError('InvalidParameter.Param', `InstanceRole must be one of ${[...INSTANCE_ROLES].join(', ')}`);
    const filters = params.Filters ?? [];
    if (!Array.isArray(filters) || !filters.every((f) => typeof (f as { Name?: unknown } | null)?.Name === 'string' && INSTANCE_FILTER_NAMES.has((f as { Name: string }).Name))) {
      throw new ApiError('InvalidParameter.Param', `Filters: Name must be one of ${[...INSTANCE_FILTER_NAMES].join(', ')}`);
    }
    // An empty InstanceIds means every node ("如果为空，表示拉取集群下所有节点实例").
    const ids = Array.isArray(params.InstanceIds) && params.InstanceIds.length > 0 ? new Set(params.InstanceIds as string[]) : undefined;
    const matching = cluster.instances.filter(
      // Only workers here; every filter names a node pool, and no sandbox node is in one.
      (node) => (role === 'WORKER' || role === 'ALL') && filters.length === 0 && (ids === undefined || ids.has(node.instanceId)),
    );
    // TotalCount: the model says "集群中实例总数" (the cluster's instances); whether it counts the
    // instances matching InstanceIds or the whole cluster is unconfirmed. The sandbox counts the
    // matches; the adapter (src/tke/sdk-tke-api.ts) pages correctly either way.
    return { TotalCount: matching.length, InstanceSet: matching.slice(offset, offset + limit).map((node) => this.asTkeInstance(node)) };
  }

  /**
   * DeleteClusterInstances (tke_models.d.ts DeleteClusterInstancesRequest/Response; Tencent's API
   * page 457/31864): removes instances from the cluster and says, for each ID, whether it was
   * removed (SuccInstanceIds), could not be (FailedInstanceIds) or is not in the cluster
   * (NotFoundInstanceIds). Error codes from tencentcloud-sdk-go's tke/v20180525/client.go list for
   * this action: FailedOperation.ClusterNotFound, FailedOperation.ClusterState, InvalidParameter.
   */
  private deleteClusterInstances(region: string, params: Record<string, unknown>): Record<string, unknown> {
    for (const key of Object.keys(params)) {
      if (!DELETE_INSTANCES_PARAMS.has(key)) throw new ApiError('UnknownParameter', `the parameter ${key} is not recognized`);
    }
    const cluster = this.clusterIn(region, params.ClusterId);
    if (params.InstanceIds === undefined) throw new ApiError('MissingParameter', 'InstanceIds is required');
    if (!Array.isArray(params.InstanceIds) || params.InstanceIds.length === 0 || !params.InstanceIds.every((id) => typeof id === 'string')) {
      throw new ApiError('InvalidParameter', 'InstanceIds must be a non-empty list of instance IDs');
    }
    const mode = params.InstanceDeleteMode;
    if (mode !== undefined && !(INSTANCE_DELETE_MODES as readonly unknown[]).includes(mode)) {
      throw new ApiError('InvalidParameter', `InstanceDeleteMode must be one of ${INSTANCE_DELETE_MODES.join(', ')}`);
    }
    if (params.ForceDelete !== undefined && typeof params.ForceDelete !== 'boolean') throw new ApiError('InvalidParameter', 'ForceDelete must be a boolean');
    if (params.ResourceDeleteOptions !== undefined && !Array.isArray(params.ResourceDeleteOptions)) throw new ApiError('InvalidParameter', 'ResourceDeleteOptions must be a list');
    // Unconfirmed which cluster states refuse it; the old CCS API (DeleteClusterInstances on
    // ccs.api.qcloud.com) took Running, Isolated and Abnormal clusters.
    if (cluster.spec.status === 'Creating' || cluster.spec.status === 'Upgrading') {
      throw new ApiError('FailedOperation.ClusterState', `cluster ${cluster.spec.clusterId} is ${cluster.spec.status}`);
    }
    const force = params.ForceDelete === true;
    const succeeded: string[] = [];
    const failed: string[] = [];
    const notFound: string[] = [];
    for (const id of new Set(params.InstanceIds as string[])) {
      const index = cluster.instances.findIndex((node) => node.instanceId === id);
      if (index < 0) {
        notFound.push(id);
        continue;
      }
      const node = cluster.instances[index]!;
      const now = this.snapshot(node);
      // InstanceDeleteMode is optional on the API page with no default stated (the SDK's model makes
      // it required). Unconfirmed: absent, the sandbox does what the old CCS API documented for its
      // nodeDeleteMode: pay-as-you-go instances are terminated, prepaid ones only removed.
      const effective: InstanceDeleteMode = (mode as InstanceDeleteMode | undefined) ?? (node.chargeType === 'PREPAID' ? 'retain' : 'terminate');
      // "terminate（销毁实例，仅支持按量计费云主机实例）": terminate is for pay-as-you-go only. How TKE
      // answers terminate for a PREPAID instance (a failed ID, an error for the whole call, or a
      // quiet retain) is unconfirmed: the sandbox puts it in FailedInstanceIds and leaves it be.
      if (effective === 'terminate' && node.chargeType === 'PREPAID') {
        failed.push(id);
        continue;
      }
      // "是否强制删除(当节点在初始化时，可以指定参数为TRUE)": that a node still initializing cannot be
      // deleted without ForceDelete is unconfirmed (the page only says it may be forced then): the
      // sandbox fails it, so a caller that removes nodes which never joined must force.
      if (now.InstanceState === 'initializing' && !force) {
        failed.push(id);
        continue;
      }
      cluster.instances.splice(index, 1);
      this.removed.set(cluster.spec.clusterId, [...(this.removed.get(cluster.spec.clusterId) ?? []), node]);
      succeeded.push(id);
      this.deleted.push({ clusterId: cluster.spec.clusterId, instanceId: id, mode: effective, forced: force, at: new Date(this.now()).toISOString(), instance: now });
      // The stock the instance took does not come back: CVM's stock is not the sandbox's to model that far.
    }
    return { SuccInstanceIds: succeeded, FailedInstanceIds: failed, NotFoundInstanceIds: notFound };
  }

  private clusterIn(region: string, clusterId: unknown, notFoundCode = 'FailedOperation.ClusterNotFound'): ClusterState {
    if (clusterId === undefined) throw new ApiError('MissingParameter', 'ClusterId is required');
    const cluster = typeof clusterId === 'string' ? this.clusters.get(clusterId) : undefined;
    if (cluster === undefined || cluster.spec.region !== region) {
      throw new ApiError(notFoundCode, `cluster ${String(clusterId)} is not found in ${region}`);
    }
    return cluster;
  }

  private newNode(spec: Pick<SandboxNode, 'instanceType' | 'zone' | 'createdAt' | 'fate'> & Partial<Pick<SandboxNode, 'chargeType' | 'tags' | 'advancedSettings'>>): SandboxNode {
    const n = this.ipCounter++;
    const advancedSettings = spec.advancedSettings ?? {};
    return {
      instanceId: `ins-${randomBytes(6).toString('hex').slice(0, 8)}`,
      createdAt: spec.createdAt,
      lanIp: `10.0.${Math.floor(n / 250)}.${(n % 250) + 2}`,
      instanceType: spec.instanceType,
      zone: spec.zone,
      chargeType: spec.chargeType ?? 'POSTPAID_BY_HOUR',
      tags: spec.tags ?? [],
      advancedSettings,
      labels: (advancedSettings.Labels as TkeLabel[] | undefined) ?? [],
      fate: spec.fate,
    };
  }

  /** What becomes of an instance created now in `zone` of `instanceType`: the first instance fault that matches, else it joins. */
  private fateOf(zone: string, instanceType: string): SandboxNode['fate'] {
    const fault = this.instanceFaults.find((f) => (f.zone === undefined || f.zone === zone) && (f.instanceType === undefined || f.instanceType === instanceType));
    if (fault === undefined) return { kind: 'join' };
    if (fault.remaining !== undefined && --fault.remaining <= 0) this.instanceFaults.splice(this.instanceFaults.indexOf(fault), 1);
    return fault.kind === 'fail' ? { kind: 'fail', reason: fault.reason } : { kind: 'never' };
  }

  /** The instance as it is now, on the sandbox's clock. */
  private snapshot(node: SandboxNode): SandboxInstance {
    const joined = this.now() - node.createdAt >= this.joinMs;
    const state =
      node.fate.kind === 'never' || !joined
        ? { InstanceState: 'initializing' as const, FailedReason: '' }
        : node.fate.kind === 'fail'
          ? { InstanceState: 'failed' as const, FailedReason: node.fate.reason }
          : { InstanceState: 'running' as const, FailedReason: RUNNING_FAILED_REASON };
    return {
      InstanceId: node.instanceId,
      InstanceRole: 'WORKER',
      ...state,
      CreatedTime: tkeTime(node.createdAt),
      LanIP: node.lanIp,
      InstanceType: node.instanceType,
      Zone: node.zone,
      InstanceChargeType: node.chargeType,
      Tags: node.tags,
      Labels: node.labels,
    };
  }

  /** The instance in DescribeClusterInstances' answer: TKE's `Instance` fields (tke_models.d.ts), no more. */
  private asTkeInstance(node: SandboxNode): Record<string, unknown> {
    const now = this.snapshot(node);
    return {
      InstanceId: now.InstanceId,
      InstanceRole: now.InstanceRole,
      FailedReason: now.FailedReason,
      InstanceState: now.InstanceState,
      // What the purchase gave, Labels always there (TKE's example answer shows Unschedulable 0 among them).
      InstanceAdvancedSettings: { Unschedulable: 0, ...node.advancedSettings, Labels: node.labels },
      CreatedTime: now.CreatedTime,
      LanIP: now.LanIP,
    };
  }

  private takeFault(action: string): (SandboxFault & { remaining: number }) | undefined {
    return takeFault(this.faults, (f) => f.action === undefined || f.action === action);
  }

  private control(method: string, path: string, body: Buffer, res: ServerResponse): void {
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value, null, 2));
    };
    if (method === 'GET' && path === '/__sandbox/calls') return json(200, this.calls);
    if (method === 'GET' && path === '/__sandbox/clusters') {
      return json(200, [...this.clusters.values()].map((c) => ({ ...c.spec, nodes: c.instances.length, instances: c.instances.map((node) => this.snapshot(node)) })));
    }
    if (method === 'GET' && path === '/__sandbox/deleted') return json(200, this.deleted);
    if (path === '/__sandbox/instance-faults') {
      if (method === 'GET') return json(200, this.instanceFaultsInForce());
      if (method !== 'POST') return json(405, { error: 'GET or POST' });
      const list = itemsOf(body);
      if (list === undefined) return json(400, { error: 'body must be an instance fault or a list of them as JSON' });
      const invalid = list.find((f) => !isInstanceFault(f));
      if (invalid !== undefined) {
        return json(400, { error: 'an instance fault: {"kind":"fail","reason":"…"} or {"kind":"never"}, with "zone", "instanceType" (strings) and "times" (a whole number from 1) optional', got: invalid });
      }
      for (const fault of list as SandboxInstanceFault[]) this.injectInstanceFault(fault);
      return json(200, this.instanceFaultsInForce());
    }
    if (path === '/__sandbox/stock' || path === '/__sandbox/prices') {
      if (method === 'GET') return json(200, path === '/__sandbox/stock' ? this.stockLeft() : Object.fromEntries(this.prices));
      if (method !== 'POST') return json(405, { error: 'GET or POST' });
      let table: unknown;
      try {
        table = JSON.parse(body.toString('utf8'));
      } catch {
        return json(400, { error: 'body must be a JSON object' });
      }
      if (typeof table !== 'object' || table === null || Array.isArray(table)) return json(400, { error: 'body must be a JSON object' });
      if (path === '/__sandbox/stock') {
        const bad = Object.entries(table).find(([, v]) => typeof v !== 'number' || !Number.isInteger(v));
        if (bad !== undefined) return json(400, { error: 'stock: {"<zone>/<instance type>" or "<zone>": whole number left (negative: unlimited)}', got: bad });
        this.setStock(table as Record<string, number>);
        return json(200, this.stockLeft());
      }
      const bad = Object.entries(table).find(([, v]) => typeof (v as SandboxPrice | null)?.hourly !== 'number' || typeof (v as SandboxPrice | null)?.monthly !== 'number');
      if (bad !== undefined) return json(400, { error: 'prices: {"<instance type>": {"hourly": n, "monthly": n}}', got: bad });
      this.setPrices(table as Record<string, SandboxPrice>);
      return json(200, Object.fromEntries(this.prices));
    }
    if (method === 'POST' && path === '/__sandbox/reset') {
      this.reset();
      return json(200, { reset: true });
    }
    if (method === 'POST' && path === '/__sandbox/faults') {
      const items = itemsOf(body);
      if (items === undefined) return json(400, { error: 'body must be a fault or a list of faults as JSON' });
      const list = items as SandboxFault[];
      const invalid = list.find(
        (f) => typeof f !== 'object' || f === null || !FAULT_KINDS.includes(f.kind) || (f.kind === 'answer' && (typeof f.response !== 'object' || f.response === null || Array.isArray(f.response))),
      );
      if (invalid !== undefined) {
        return json(400, { error: `each fault needs a kind: ${FAULT_KINDS.join(', ')} (answer: with a response object)`, got: invalid });
      }
      for (const fault of list) this.injectFault(fault);
      return json(200, { queued: this.faults.length });
    }
    return json(404, {
      error:
        'control routes: GET /__sandbox/calls, GET /__sandbox/clusters, GET /__sandbox/deleted, GET/POST /__sandbox/stock, GET/POST /__sandbox/prices, POST /__sandbox/faults, GET/POST /__sandbox/instance-faults, POST /__sandbox/reset',
    });
  }
}

/** A control route's body: one item or a list of them, as JSON; undefined when it is not JSON. */
function itemsOf(body: Buffer): unknown[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** An injected delay; unref'd so that a sandbox stopped mid-delay does not hold the process open. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** TKE's CreatedTime form in its example answer: "2021-02-22T07:14:11Z" (UTC, whole seconds). */
function tkeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * RunInstancePara.TagSpecification (CVM RunInstances: `[{ResourceType, Tags: [{Key, Value}]}]`):
 * the tags of ResourceType "instance", the ones the CVM itself carries.
 */
function instanceTagsOf(specification: unknown): SandboxTag[] {
  if (specification === undefined) return [];
  const isTag = (t: unknown): t is SandboxTag => typeof (t as SandboxTag | null)?.Key === 'string' && typeof (t as SandboxTag).Value === 'string';
  if (
    !Array.isArray(specification) ||
    !specification.every((spec) => typeof (spec as { ResourceType?: unknown } | null)?.ResourceType === 'string' && Array.isArray((spec as { Tags?: unknown }).Tags) && (spec as { Tags: unknown[] }).Tags.every(isTag))
  ) {
    throw new ApiError('InvalidParameter', 'RunInstancePara.TagSpecification must be [{"ResourceType": "instance", "Tags": [{"Key": "…", "Value": "…"}]}]');
  }
  return (specification as Array<{ ResourceType: string; Tags: SandboxTag[] }>)
    .filter((spec) => spec.ResourceType === 'instance')
    .flatMap((spec) => spec.Tags.map((t) => ({ Key: t.Key, Value: t.Value })));
}

/** CreateClusterInstances' InstanceAdvancedSettings, its Labels checked: `[{Name, Value}]` (TKE's Label). */
function advancedSettingsOf(settings: unknown): Record<string, unknown> {
  if (settings === undefined) return {};
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw new ApiError('InvalidParameter', 'InstanceAdvancedSettings must be an object');
  const labels = (settings as { Labels?: unknown }).Labels;
  if (labels !== undefined && (!Array.isArray(labels) || !labels.every((l) => typeof (l as TkeLabel | null)?.Name === 'string' && typeof (l as TkeLabel).Value === 'string'))) {
    throw new ApiError('InvalidParameter', 'InstanceAdvancedSettings.Labels must be [{"Name": "…", "Value": "…"}]');
  }
  return { ...(settings as Record<string, unknown>), ...(labels !== undefined && { Labels: (labels as TkeLabel[]).map((l) => ({ Name: l.Name, Value: l.Value })) }) };
}

function isInstanceFault(value: unknown): value is SandboxInstanceFault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const f = value as Record<string, unknown>;
  const kindOk = (f.kind === 'fail' && typeof f.reason === 'string') || f.kind === 'never';
  const optional = (key: string) => f[key] === undefined || typeof f[key] === 'string';
  const timesOk = f.times === undefined || (typeof f.times === 'number' && Number.isInteger(f.times) && f.times >= 1);
  return kindOk && optional('zone') && optional('instanceType') && timesOk;
}
