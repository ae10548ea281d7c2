import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { header, readBody, startLocalApiServer, type LocalApiServer } from './api3-server';
import { allocatableOf, nodeSizeOf, parseQuantity, regionLabelOf, zoneIdOf, type SandboxNodeSize } from './kube-node-facts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError, type FieldRequirement, type LabelRequirement } from './kube-selectors';
import { DEFAULT_SANDBOX_CLUSTERS, type SandboxInstance, type TkeSandbox } from './tke-sandbox';
import { takeFault } from './fault-queue';

/**
 * A local stand-in for the Kubernetes API server of the TKE sandbox's clusters (issue 19: giving
 * nodes back means cordon, evict, then DeleteClusterInstances, and TKE has no drain API for CVM
 * nodes). One server serves every cluster, each under its own path prefix, the way a kubeconfig's
 * `server:` may carry a path (`serverUrl(clusterId)` = `<url>/clusters/<ClusterId>`), each with its
 * own bearer token. It is faithful to the documented API for exactly what the function uses:
 *
 *   GET   …/api/v1/nodes?labelSelector=&fieldSelector=&limit=&continue=      NodeList
 *   GET   …/api/v1/nodes/{name}                                              Node, or 404
 *   PATCH …/api/v1/nodes/{name}     merge-patch+json or strategic-merge-patch+json, 415 otherwise:
 *                                   spec.unschedulable, metadata.labels/annotations (resourceVersion
 *                                   as a precondition, 409); anything else 422 (a sandbox choice)
 *   GET   …/api/v1/pods?fieldSelector=spec.nodeName=<node>&labelSelector=    PodList (all namespaces)
 *   GET   …/api/v1/namespaces/{ns}/pods[?…]                                  PodList of a namespace
 *   GET   …/api/v1/namespaces/{ns}/pods/{name}                               Pod, or 404
 *   POST  …/api/v1/namespaces/{ns}/pods/{name}/eviction   policy/v1 Eviction: 201, 429 (a
 *                                   PodDisruptionBudget refuses), 404, 400; `?dryRun=All`
 *
 * Every answer that is not a resource is a `Status` object (`{"kind":"Status","apiVersion":"v1",
 * "status":"Failure","reason":…,"code":…}`), as the apiserver sends: 401 Unauthorized without the
 * cluster's token (kubernetes.io/docs/reference/access-authn-authz/authentication/: a request that
 * cannot be authenticated is rejected with 401), 404 NotFound (`nodes "x" not found`), 400 BadRequest,
 * 405 MethodNotAllowed, 409 Conflict, 415 UnsupportedMediaType, 422 Invalid, 429 TooManyRequests.
 *
 * Where its objects come from:
 *  - Nodes are read from the TKE sandbox on every answer, never copied: a `running` instance of the
 *    cluster is a Node (initializing and failed ones are not), one DeleteClusterInstances removed is
 *    gone. Named by its LAN IP, as TKE names nodes by default, so a caller must match instances by
 *    `spec.providerID`, `qcloud:///<zone ID>/<instance ID>`; the zone there, and in the
 *    topology labels, is CVM's numeric zone ID (100003 for ap-guangzhou-3), not the zone's name:
 *    kubernetes/autoscaler's TKE provider (cluster-autoscaler/cloudprovider/tencentcloud/
 *    tencentcloud_auto_scaling_group.go, "qcloud:///100003/ins-3ven36lk") and captured TKE nodes
 *    (`ProviderID: qcloud:///100003/ins-jifjbvhg`, labels `topology.kubernetes.io/zone: "100006"`,
 *    `topology.kubernetes.io/region: gz`, `cloud.tencent.com/node-instance-id`) agree. Labels: the
 *    instance's (InstanceAdvancedSettings.Labels) with the standard and TKE ones over them.
 *    `status.allocatable` = capacity − TKE's reservation (tencentcloud.com/document/product/457/48777:
 *    "Allocable = Capacity - Reserved - Eviction - Threshold", CPU 0.1 core up to 4 cores…, memory
 *    25 % of the first 4 GB…) − the kubelet's default hard eviction threshold `memory.available<100Mi`
 *    (kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/), in the forms a
 *    kubelet reports: `cpu: "1900m"`, `memory: "3043328Ki"` for a 2-core 4 GiB S5.MEDIUM4 (the
 *    sizes, reservation and zone forms: kube-node-facts.ts).
 *  - Pods are the sandbox's own: every node gets one pod per DaemonSet (kube-proxy by default,
 *    ownerReferences kind DaemonSet, tolerating `node.kubernetes.io/unschedulable`), tests and
 *    `npm start` add workload pods (`addPod`, `POST /__kube/pods`) and delete them as a
 *    workload scaled down does (`deletePod`: Terminating for its grace, not replaced). A mirror pod (a static pod
 *    the kubelet shows in the API) carries the `kubernetes.io/config.mirror` annotation
 *    (kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-config-mirror).
 *  - Eviction follows kubernetes/kubernetes pkg/registry/core/pod/storage/eviction.go: the name in
 *    the body must be the URL's (400 "name in URL does not match name in Eviction object"); a
 *    Pending or already terminating pod is deleted without looking at budgets; otherwise a pod under
 *    a refusing budget answers 429 "Cannot evict pod as it would violate the pod's disruption
 *    budget." with a `DisruptionBudget` cause; else the pod is deleted: `metadata.deletionTimestamp`
 *    set to now + its grace period (it is Terminating) and it leaves the lists once that time has
 *    come on the clock (kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/, "How
 *    API-initiated eviction works"), answered `201` with a `Status` of `Success` (the create
 *    handler answers 201 and fills a Status's code with it; the page's "200 OK" is not what the
 *    apiserver sends). A budget is a rule on the pod: refuse until a time of the clock
 *    (`pdbBlocksUntil`) and/or for so many attempts (`pdbBlocksTimes`).
 *  - Controllers, kept small: an evicted ReplicaSet, StatefulSet or Job pod is replaced once gone
 *    (a new name, the StatefulSet's the same) and placed by a small scheduler on a Ready,
 *    schedulable node where its requests fit (least allocated first, kube-scheduler's default
 *    scoring), else it stays Pending; a DaemonSet or mirror pod comes back on its own node; a bare
 *    pod is not replaced; pods of a node that is gone are deleted with it (pod garbage collection).
 *  - Cordoning adds the `node.kubernetes.io/unschedulable:NoSchedule` taint as the node controller
 *    does (kubernetes.io/docs/reference/labels-annotations-taints/), and uncordoning removes it.
 *
 * Faults (`injectFault`, `POST /__kube/faults`), for "the Kubernetes API fails mid-drain": for the
 * next `times` calls (default 1), after letting `after` through, of a verb (`list-nodes`,
 * `get-node`, `patch-node`, `list-pods`, `get-pod`, `evict`) and/or a cluster or any: answer a
 * `status` (500 InternalError, 503 ServiceUnavailable, 429 as API Priority and Fairness throttles,
 * with Retry-After: 1; a Status body), `hang` (never answer), `drop` (close the connection) or
 * `delay` the real answer by `ms`.
 *
 * Control routes (no token; a path the API never has): GET /__kube/clusters (server URL, token,
 * nodes and pods of each), GET /__kube/calls, GET|POST /__kube/pods, POST /__kube/faults,
 * POST /__kube/reset.
 *
 * The clock is the TKE sandbox's (`tke.clock()`): the test that moves it moves nodes joining and
 * pods terminating together.
 *
 * Sandbox choices, unconfirmed against a real TKE cluster: a real kubelet registers its Node while
 * TKE still reports the instance `initializing` (NotReady at first); here the Node appears when the
 * instance is `running`, Ready, dated by the instance's CreatedTime. Zone IDs and short region
 * names are known for ap-guangzhou, ap-shanghai and ap-beijing only ("captured TKE nodes" above are
 * a public test fixture's, not Tencent's documentation). `pods` allocatable is the kubelet's default
 * 110. A Terminating pod leaves at its deletionTimestamp exactly (a real one leaves when the kubelet
 * has stopped it, often sooner). A budget is a per-pod rule, not a PodDisruptionBudget object with a
 * selector; a dry-run eviction does not use up `pdbBlocksTimes`. PATCH fields other than those above
 * are refused (422) and JSON Patch and server-side apply answer 415, though Kubernetes takes them.
 */

export type { SandboxNodeSize } from './kube-node-facts';

/** What one call of the API did, by the function's words for it. */
export const KUBE_VERBS = ['list-nodes', 'get-node', 'patch-node', 'list-pods', 'get-pod', 'evict'] as const;
export type KubeVerb = (typeof KUBE_VERBS)[number];

export const KUBE_FAULT_KINDS = ['status', 'hang', 'drop', 'delay'] as const;

export type KubeFault = (
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'delay'; readonly ms: number }
) & {
  /** Only calls of this verb; any when absent. */
  readonly verb?: KubeVerb;
  /** Only calls to this cluster's API; any when absent. */
  readonly clusterId?: string;
  /** How many matching calls it applies to (default 1). */
  readonly times?: number;
  /** Matching calls to let through first (default 0). */
  readonly after?: number;
};

/** Who owns a pod (its controller's kind), which decides what becomes of it once evicted. */
export const POD_OWNER_KINDS = ['ReplicaSet', 'StatefulSet', 'Job', 'DaemonSet', 'None'] as const;
export type PodOwnerKind = (typeof POD_OWNER_KINDS)[number];

export interface SandboxPodSpec {
  /** Which cluster: needed only when `nodeName` is absent (a node name says its cluster). */
  readonly clusterId?: string;
  /** Default "default". */
  readonly namespace?: string;
  readonly name: string;
  /** The node it runs on; absent: the sandbox's scheduler places it, or it stays Pending. */
  readonly nodeName?: string;
  /** Its container's resource requests, as quantities: `{ cpu: "500m", memory: "1Gi" }`. */
  readonly requests?: { readonly cpu?: string; readonly memory?: string };
  /** Default ReplicaSet. */
  readonly ownerKind?: PodOwnerKind;
  /** The owner's name; default: the pod's name without its last `-` part ("web-7d4b9-x2x5q" → "web-7d4b9"). */
  readonly ownerName?: string;
  /** A mirror pod (a static pod of the kubelet): annotation kubernetes.io/config.mirror, owned by its Node. */
  readonly mirror?: boolean;
  readonly labels?: Readonly<Record<string, string>>;
  /** spec.terminationGracePeriodSeconds: how long it stays Terminating once evicted. Default: the sandbox's (30, PodSpec's default). */
  readonly terminationGracePeriodSeconds?: number;
  /** A PodDisruptionBudget refuses its eviction (429) until this time of the clock (ms since the epoch). */
  readonly pdbBlocksUntil?: number;
  /** A PodDisruptionBudget refuses this many eviction attempts (429), then allows. */
  readonly pdbBlocksTimes?: number;
  /** The budget's name in the 429's cause; default "<owner name>-pdb". */
  readonly pdbName?: string;
}

export interface SandboxDaemonSet {
  readonly namespace: string;
  readonly name: string;
  readonly requests?: { readonly cpu?: string; readonly memory?: string };
}

export interface KubeSandboxOptions {
  /** Whose instances are the nodes: read on every answer. Its clock is this API's clock. */
  readonly tke: TkeSandbox;
  /** The clusters served and the bearer token each takes (ClusterId → token). Default: the TKE sandbox's default clusters, with `kubeSandboxToken(id)`. */
  readonly clusters?: Readonly<Record<string, string>>;
  /** Run on every node. Default: kube-system/kube-proxy, requesting 100m CPU and 128Mi. */
  readonly daemonSets?: readonly SandboxDaemonSet[];
  /** spec.terminationGracePeriodSeconds of pods that do not say (default 30, PodSpec's default). */
  readonly terminationGracePeriodSeconds?: number;
  /** Replace evicted ReplicaSet, StatefulSet and Job pods once gone (default true). */
  readonly replaceEvictedPods?: boolean;
  /** Sizes by instance type, over what the type's name says. */
  readonly nodeSizes?: Readonly<Record<string, SandboxNodeSize>>;
}

export interface KubeCall {
  readonly at: number;
  readonly clusterId: string | undefined;
  readonly verb: KubeVerb | undefined;
  readonly method: string;
  /** The path below the cluster's prefix: /api/v1/nodes/10.0.0.12. */
  readonly path: string;
  /** The query string, without "?". */
  readonly query: string;
  readonly contentType: string | undefined;
  /** The parsed JSON body, when there was one. */
  readonly body?: unknown;
  /** The status answered; 0 when the answer was dropped or never came (a fault). */
  readonly status: number;
  readonly fault?: KubeFault['kind'];
}

/** The token `npm start` and the tests give the function for a sandbox cluster's API. Not a secret: local only. */
export function kubeSandboxToken(clusterId: string): string {
  return `sandbox-kube-token-${clusterId}`;
}

/** An object as the API shows it. */
export type KubeObject = Record<string, unknown> & { readonly metadata: Record<string, unknown> };

const DEFAULT_DAEMON_SETS: readonly SandboxDaemonSet[] = [{ namespace: 'kube-system', name: 'kube-proxy', requests: { cpu: '100m', memory: '128Mi' } }];
/** PodSpec.terminationGracePeriodSeconds' default. */
const DEFAULT_GRACE_SECONDS = 30;
/** The kubelet's default maxPods. Unconfirmed for TKE, where it depends on the cluster's network (a captured node shows 253). */
const PODS_PER_NODE = '110';
const UNSCHEDULABLE_TAINT_KEY = 'node.kubernetes.io/unschedulable';
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** The fields a Pod and a Node may be selected by (kubernetes/kubernetes pkg/apis/core/v1/conversion.go), those the sandbox knows. */
const POD_FIELDS = new Set(['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'status.phase']);
const NODE_FIELDS = new Set(['metadata.name', 'spec.unschedulable']);
/** The patch types the apiserver takes for built-in resources, in its 415's words. */
const PATCH_TYPES = 'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json';
const MERGE_PATCH_TYPES = new Set(['application/merge-patch+json', 'application/strategic-merge-patch+json']);

/** A pod as the sandbox keeps it; what the API shows is derived (`podObject`). */
interface PodState {
  readonly clusterId: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  resourceVersion: string;
  readonly createdAt: number;
  nodeName: string | undefined;
  readonly requests: { readonly cpu?: string; readonly memory?: string };
  readonly ownerKind: PodOwnerKind;
  readonly ownerName: string;
  readonly mirror: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly graceSeconds: number;
  /** deletionTimestamp (ms): Terminating until then, gone after. */
  deleteAt?: number;
  deletionGraceSeconds?: number;
  /** Deleted by its controller (its workload scaled down, `deletePod`): not replaced once gone. */
  scaledDown?: boolean;
  readonly pdb?: { readonly name: string; readonly until?: number; timesLeft?: number };
}

/** What the API keeps of a node besides the instance it is: the edits PATCH made. */
interface NodeEdits {
  readonly clusterId: string;
  readonly name: string;
  readonly uid: string;
  resourceVersion: string;
  unschedulable: boolean;
  taintAddedAt?: number;
  labels: Record<string, string | null>;
  annotations: Record<string, string | null>;
}

/** A node as it is now: its instance and what the API added. */
interface LiveNode {
  readonly instance: SandboxInstance;
  readonly edits: NodeEdits;
}

/** An HTTP answer: a status and a JSON body (a resource or a Status), and headers. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export class KubeSandbox {
  private readonly tke: TkeSandbox;
  private readonly tokens: ReadonlyMap<string, string>;
  private readonly daemonSets: readonly SandboxDaemonSet[];
  private readonly graceSeconds: number;
  private readonly replaceEvicted: boolean;
  private readonly sizes: Readonly<Record<string, SandboxNodeSize>>;
  private readonly recorded: KubeCall[] = [];
  private readonly faults: Array<KubeFault & { remaining: number; skip: number }> = [];
  /** By instance ID: every node seen, and what PATCH changed on it. */
  private readonly nodeEdits = new Map<string, NodeEdits>();
  /** By "<cluster>/<namespace>/<name>". */
  private readonly podStates = new Map<string, PodState>();
  private revision = 0;
  private server: LocalApiServer | undefined;

  constructor(options: KubeSandboxOptions) {
    this.tke = options.tke;
    this.tokens = new Map(Object.entries(options.clusters ?? Object.fromEntries(DEFAULT_SANDBOX_CLUSTERS.map((c) => [c.clusterId, kubeSandboxToken(c.clusterId)]))));
    this.daemonSets = options.daemonSets ?? DEFAULT_DAEMON_SETS;
    this.graceSeconds = options.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    this.replaceEvicted = options.replaceEvictedPods ?? true;
    this.sizes = options.nodeSizes ?? {};
    for (const ds of this.daemonSets) checkedRequests(ds.requests);
  }

  /** Listens on 127.0.0.1 (port 0 = any free port); resolves to the base URL. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = await startLocalApiServer((req, res) => this.serve(req, res), port, host);
    return this.server.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }

  url(): string {
    if (this.server === undefined) throw new Error('the Kubernetes sandbox is not started');
    return this.server.url;
  }

  /** The API server URL to configure for a cluster: `<url>/clusters/<ClusterId>`. */
  serverUrl(clusterId: string): string {
    this.served(clusterId);
    return `${this.url()}/clusters/${clusterId}`;
  }

  /** The bearer token a cluster's API takes. */
  token(clusterId: string): string {
    return this.served(clusterId);
  }

  /** The cluster's nodes as the API shows them now (all of them, or one cluster's). */
  nodes(clusterId?: string): KubeObject[] {
    this.sync();
    return this.liveNodes(clusterId).map((node) => this.nodeObject(node));
  }

  /** The pods as the API shows them now (Terminating ones included). */
  pods(clusterId?: string): KubeObject[] {
    this.sync();
    return this.sortedPods(clusterId).map((pod) => this.podObject(pod));
  }

  /** Places a pod (see SandboxPodSpec); throws on a bad spec, an unknown node or a name taken. Answers the pod as the API shows it. */
  addPod(spec: SandboxPodSpec): KubeObject {
    this.sync();
    const pod = this.newPodState(spec);
    this.podStates.set(podKey(pod), pod);
    this.schedulePending();
    return this.podObject(pod);
  }

  /**
   * Deletes a pod as its controller does when its workload is scaled down (a Deployment's replicas
   * lowered: the ReplicaSet controller DELETEs the pods it no longer wants): Terminating for its
   * grace period, then gone, and not replaced. A Pending pod goes at once. DaemonSet and mirror pods
   * are not deleted this way (their controller, the kubelet, brings them back). Answers the pod as
   * the API shows it now.
   */
  deletePod(clusterId: string, namespace: string, name: string): KubeObject {
    this.sync();
    const pod = this.podStates.get(`${clusterId}/${namespace}/${name}`);
    if (pod === undefined) throw new Error(`no pod ${namespace}/${name} in ${clusterId}`);
    if (pod.ownerKind === 'DaemonSet' || pod.mirror) throw new Error(`${namespace}/${name} is a DaemonSet or mirror pod: its controller would bring it back`);
    pod.scaledDown = true;
    if (pod.deleteAt === undefined) {
      const seconds = pod.nodeName === undefined ? 0 : pod.graceSeconds;
      pod.deleteAt = this.tke.clock() + seconds * 1000;
      pod.deletionGraceSeconds = seconds;
      pod.resourceVersion = this.nextRevision();
    }
    const shown = this.podObject(pod);
    this.sync();
    return shown;
  }

  injectFault(fault: KubeFault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1, skip: fault.after ?? 0 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Every call so far, in order. */
  calls(): KubeCall[] {
    return [...this.recorded];
  }

  /** Forgets calls, faults, pods and PATCH edits; nodes are the TKE sandbox's instances again, each with its DaemonSet pods. */
  reset(): void {
    this.recorded.length = 0;
    this.faults.length = 0;
    this.nodeEdits.clear();
    this.podStates.clear();
    this.sync();
  }

  // ---- the HTTP edge --------------------------------------------------------------------------

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://kube-sandbox');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/__kube/')) return this.control(method, url.pathname, rawBody, res);

    const prefix = /^\/clusters\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const clusterId = prefix?.[1] !== undefined ? safeDecode(prefix[1]) : undefined;
    const path = prefix?.[2] ?? url.pathname;
    const route = routeOf(method, path);
    const contentType = header(req, 'content-type');
    const body = parseJsonOrRaw(rawBody);
    const record = (status: number, fault?: KubeFault['kind']) =>
      this.recorded.push({
        at: this.tke.clock(),
        clusterId,
        verb: route?.verb,
        method,
        path,
        query: url.search.replace(/^\?/, ''),
        contentType,
        ...(body !== undefined && { body }),
        status,
        ...(fault !== undefined && { fault }),
      });

    const fault = clusterId === undefined ? undefined : this.takeFault(clusterId, route?.verb);
    if (fault?.kind === 'drop') {
      record(0, 'drop');
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      // Never answered: the caller's timeout is what ends it (stop() closes the connection).
      record(0, 'hang');
      return new Promise<void>(() => undefined);
    }
    let answer: Answer;
    if (fault?.kind === 'status') answer = injectedStatus(fault.status);
    else {
      try {
        answer = this.answer(clusterId, req, route, url.searchParams, contentType, rawBody);
      } catch (error) {
        if (!(error instanceof KubeError)) throw error;
        answer = statusAnswer(error);
      }
    }
    if (fault?.kind === 'delay') await sleep(fault.ms);
    record(answer.status, fault?.kind);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body));
  }

  /** The cluster, the token, the route: then the verb's handler. */
  private answer(clusterId: string | undefined, req: IncomingMessage, route: Route | undefined, query: URLSearchParams, contentType: string | undefined, rawBody: Buffer): Answer {
    if (clusterId === undefined || !this.tokens.has(clusterId)) {
      throw new KubeError(404, 'NotFound', `sandbox: no cluster's API here; the API of a cluster is under /clusters/<ClusterId> (${[...this.tokens.keys()].join(', ')})`);
    }
    const bearer = /^Bearer (.+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
    if (bearer !== this.tokens.get(clusterId)) throw new KubeError(401, 'Unauthorized', 'Unauthorized');
    if (route === undefined) throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
    if (route.verb === undefined) throw new KubeError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    this.sync();
    switch (route.verb) {
      case 'list-nodes':
        return { status: 200, body: this.listNodes(clusterId, query) };
      case 'get-node':
        return { status: 200, body: { kind: 'Node', apiVersion: 'v1', ...this.nodeObject(this.liveNode(clusterId, route.name!)) } };
      case 'patch-node':
        return { status: 200, body: { kind: 'Node', apiVersion: 'v1', ...this.patchNode(clusterId, route.name!, contentType, rawBody, isDryRun(query)) } };
      case 'list-pods':
        return { status: 200, body: this.listPods(clusterId, route.namespace, query) };
      case 'get-pod':
        return { status: 200, body: { kind: 'Pod', apiVersion: 'v1', ...this.podObject(this.pod(clusterId, route.namespace!, route.name!)) } };
      case 'evict':
        return this.evict(clusterId, route.namespace!, route.name!, contentType, rawBody, query);
    }
  }

  // ---- the verbs ------------------------------------------------------------------------------

  private listNodes(clusterId: string, query: URLSearchParams): Record<string, unknown> {
    const labels = labelSelectorOf(query);
    const fields = fieldSelectorOf(query, NODE_FIELDS);
    const items = this.liveNodes(clusterId)
      .map((node) => this.nodeObject(node))
      .filter((node) => matchesLabels(labels, labelsOf(node)) && matchesFields(fields, { 'metadata.name': String(node.metadata.name), 'spec.unschedulable': String((node.spec as { unschedulable?: boolean }).unschedulable === true) }));
    return this.list('NodeList', items, query);
  }

  private listPods(clusterId: string, namespace: string | undefined, query: URLSearchParams): Record<string, unknown> {
    const labels = labelSelectorOf(query);
    const fields = fieldSelectorOf(query, POD_FIELDS);
    const items = this.sortedPods(clusterId)
      .filter((pod) => namespace === undefined || pod.namespace === namespace)
      .filter((pod) => matchesLabels(labels, pod.labels) && matchesFields(fields, podFields(pod)))
      .map((pod) => this.podObject(pod));
    return this.list('PodList', items, query);
  }

  /**
   * A list in the apiserver's shape: items without kind and apiVersion, the list's resourceVersion,
   * and `limit`/`continue` chunking (kubernetes.io/docs/reference/using-api/api-concepts/,
   * "Retrieving large results sets in chunks"): `continue` is empty on the last chunk.
   */
  private list(kind: string, items: KubeObject[], query: URLSearchParams): Record<string, unknown> {
    const limit = query.get('limit');
    const start = query.get('continue');
    let offset = 0;
    if (start !== null && start !== '') {
      offset = Number(Buffer.from(start, 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0) throw new KubeError(400, 'BadRequest', 'continue key is not valid');
    }
    let page = items.slice(offset);
    let next: string | undefined;
    if (limit !== null && limit !== '') {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 0) throw new KubeError(400, 'BadRequest', `limit must be a whole number: ${limit}`);
      if (n > 0 && page.length > n) {
        page = page.slice(0, n);
        next = Buffer.from(String(offset + n), 'utf8').toString('base64url');
      }
    }
    return {
      kind,
      apiVersion: 'v1',
      metadata: { resourceVersion: String(this.revision), ...(next !== undefined && { continue: next, remainingItemCount: items.length - offset - page.length }) },
      items: page,
    };
  }

  /**
   * PATCH /api/v1/nodes/{name}, as `kubectl cordon` sends it (`{"spec":{"unschedulable":true}}`):
   * JSON merge patch (RFC 7386: a member set to null is removed) and strategic merge patch, which for
   * these fields merges the same way. JSON Patch and server-side apply are real patch types the
   * sandbox does not implement: 415 with its reason, rather than a change it would get wrong.
   */
  private patchNode(clusterId: string, name: string, contentType: string | undefined, rawBody: Buffer, dryRun: boolean): KubeObject {
    const node = this.liveNode(clusterId, name);
    const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json-patch+json' || type === 'application/apply-patch+yaml') {
      throw new KubeError(415, 'UnsupportedMediaType', `sandbox: ${type} is a patch type Kubernetes takes but this sandbox does not implement; send application/merge-patch+json`);
    }
    if (!MERGE_PATCH_TYPES.has(type)) throw new KubeError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES}`);
    let patch: unknown;
    try {
      patch = JSON.parse(rawBody.toString('utf8'));
    } catch (error) {
      throw new KubeError(400, 'BadRequest', `error decoding patch: ${(error as Error).message}`);
    }
    if (!isRecord(patch)) throw new KubeError(400, 'BadRequest', 'error decoding patch: a merge patch is a JSON object');
    const change = nodeChangeOf(patch, name);
    if (change.resourceVersion !== undefined && change.resourceVersion !== node.edits.resourceVersion) {
      throw new KubeError(409, 'Conflict', `Operation cannot be fulfilled on nodes "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: 'nodes' });
    }
    const edits: NodeEdits = dryRun ? { ...node.edits, labels: { ...node.edits.labels }, annotations: { ...node.edits.annotations } } : node.edits;
    if (change.unschedulable !== undefined && change.unschedulable !== edits.unschedulable) {
      edits.unschedulable = change.unschedulable;
      edits.taintAddedAt = change.unschedulable ? this.tke.clock() : undefined;
    }
    Object.assign(edits.labels, change.labels);
    Object.assign(edits.annotations, change.annotations);
    if (!dryRun) edits.resourceVersion = this.nextRevision();
    return this.nodeObject({ instance: node.instance, edits });
  }

  /** POST …/pods/{name}/eviction: see the file's comment; kubernetes/kubernetes pkg/registry/core/pod/storage/eviction.go. */
  private evict(clusterId: string, namespace: string, name: string, contentType: string | undefined, rawBody: Buffer, query: URLSearchParams): Answer {
    const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new KubeError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf');
    }
    let eviction: unknown;
    try {
      eviction = JSON.parse(rawBody.toString('utf8'));
    } catch (error) {
      throw new KubeError(400, 'BadRequest', `error decoding Eviction: ${(error as Error).message}`);
    }
    if (!isRecord(eviction) || eviction.kind !== 'Eviction' || (eviction.apiVersion !== 'policy/v1' && eviction.apiVersion !== 'policy/v1beta1')) {
      throw new KubeError(400, 'BadRequest', 'not a Eviction object: the body must be {"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":…,"namespace":…}}');
    }
    const metadata = isRecord(eviction.metadata) ? eviction.metadata : {};
    if (metadata.name !== name) throw new KubeError(400, 'BadRequest', 'name in URL does not match name in Eviction object');
    if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
      throw new KubeError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    const deleteOptions = isRecord(eviction.deleteOptions) ? eviction.deleteOptions : {};
    const grace = deleteOptions.gracePeriodSeconds;
    if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0)) {
      throw new KubeError(422, 'Invalid', 'deleteOptions.gracePeriodSeconds must be a whole number from 0');
    }
    const dryRun = isDryRun(query) || (Array.isArray(deleteOptions.dryRun) && deleteOptions.dryRun.includes('All'));
    const pod = this.pod(clusterId, namespace, name);

    // "Evicting a terminal pod should result in direct deletion of pod": so is a Pending one, and
    // one already being deleted (canIgnorePDB). Else the budget decides.
    const ignoresBudget = pod.nodeName === undefined || pod.deleteAt !== undefined;
    if (!ignoresBudget && pod.pdb !== undefined && this.budgetRefuses(pod, dryRun)) {
      const guarded = [...this.podStates.values()].filter((p) => p.clusterId === clusterId && p.namespace === namespace && p.pdb?.name === pod.pdb!.name && p.deleteAt === undefined).length;
      throw new KubeError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
        causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pod.pdb.name} needs ${guarded} healthy pods and has ${guarded} currently` }],
      });
    }
    if (!dryRun && pod.deleteAt === undefined) {
      const seconds = pod.nodeName === undefined ? 0 : ((grace as number | undefined) ?? pod.graceSeconds);
      pod.deleteAt = this.tke.clock() + seconds * 1000;
      pod.deletionGraceSeconds = seconds;
      pod.resourceVersion = this.nextRevision();
      this.sync();
    }
    return { status: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
  }

  /** Whether the pod's budget refuses an eviction now; a real (not dry-run) refusal uses up one of `pdbBlocksTimes`. */
  private budgetRefuses(pod: PodState, dryRun: boolean): boolean {
    const pdb = pod.pdb!;
    const byTime = pdb.until !== undefined && this.tke.clock() < pdb.until;
    const byCount = (pdb.timesLeft ?? 0) > 0;
    if (byCount && !dryRun) pdb.timesLeft!--;
    return byTime || byCount;
  }

  // ---- what the API sees: reconciled from the TKE sandbox and the clock -------------------------

  /**
   * Brings the sandbox's own state up to the TKE sandbox and the clock, as the controllers would:
   * new nodes get their DaemonSet pods; pods of nodes gone are deleted (pod garbage collection);
   * pods whose deletionTimestamp has come are gone, and their controllers replace them; Pending
   * pods are scheduled where they fit.
   */
  private sync(): void {
    const now = this.tke.clock();
    const live = new Map<string, SandboxInstance & { clusterId: string }>();
    for (const clusterId of this.tokens.keys()) {
      for (const instance of this.tke.instancesOf(clusterId)) {
        if (instance.InstanceState === 'running') live.set(instance.InstanceId, { ...instance, clusterId });
      }
    }
    for (const [instanceId, instance] of live) {
      if (this.nodeEdits.has(instanceId)) continue;
      this.nodeEdits.set(instanceId, {
        clusterId: instance.clusterId,
        name: instance.LanIP,
        uid: uidFrom(`node/${instance.clusterId}/${instanceId}`),
        resourceVersion: this.nextRevision(),
        unschedulable: false,
        labels: {},
        annotations: {},
      });
      for (const ds of this.daemonSets) this.addDaemonPod(instance.clusterId, instance.LanIP, ds);
    }
    const nodeNames = new Set<string>();
    for (const [instanceId, edits] of this.nodeEdits) {
      if (live.has(instanceId)) nodeNames.add(`${edits.clusterId}/${edits.name}`);
      else this.nodeEdits.delete(instanceId);
    }
    for (const [key, pod] of this.podStates) {
      const nodeGone = pod.nodeName !== undefined && !nodeNames.has(`${pod.clusterId}/${pod.nodeName}`);
      const deleted = pod.deleteAt !== undefined && pod.deleteAt <= now;
      if (!nodeGone && !deleted) continue;
      this.podStates.delete(key);
      this.replace(pod, nodeGone);
    }
    this.schedulePending();
  }

  /** What the pod's controller does once it is gone. */
  private replace(gone: PodState, nodeGone: boolean): void {
    if (gone.ownerKind === 'DaemonSet' || gone.mirror) {
      if (nodeGone || gone.nodeName === undefined) return;
      if (gone.mirror) {
        this.podStates.set(podKey(gone), { ...gone, uid: randomUUID(), resourceVersion: this.nextRevision(), createdAt: this.tke.clock(), deleteAt: undefined, deletionGraceSeconds: undefined });
        return;
      }
      const ds = this.daemonSets.find((d) => d.namespace === gone.namespace && d.name === gone.ownerName);
      this.addDaemonPod(gone.clusterId, gone.nodeName, ds ?? { namespace: gone.namespace, name: gone.ownerName, requests: gone.requests });
      return;
    }
    if (gone.ownerKind === 'None' || !this.replaceEvicted || gone.scaledDown === true) return;
    const name = gone.ownerKind === 'StatefulSet' ? gone.name : `${gone.ownerName}-${suffix()}`;
    this.podStates.set(`${gone.clusterId}/${gone.namespace}/${name}`, {
      ...gone,
      name,
      uid: randomUUID(),
      resourceVersion: this.nextRevision(),
      createdAt: this.tke.clock(),
      nodeName: undefined,
      deleteAt: undefined,
      deletionGraceSeconds: undefined,
      pdb: gone.pdb === undefined ? undefined : { name: gone.pdb.name },
    });
  }

  /**
   * The sandbox's scheduler: each Pending pod goes to the Ready, schedulable node of its cluster
   * where its requests fit beside what the node's pods (Terminating ones included) request, the
   * least allocated first (kube-scheduler's default NodeResourcesFit scoring, LeastAllocated).
   */
  private schedulePending(): void {
    for (const pod of [...this.podStates.values()].sort(byKey)) {
      if (pod.nodeName !== undefined || pod.deleteAt !== undefined) continue;
      const want = requestsOf(pod.requests);
      const candidates = this.liveNodes(pod.clusterId)
        .filter((node) => !node.edits.unschedulable)
        .map((node) => ({ node, free: this.freeOn(node) }))
        .filter(({ free }) => free.cpu >= want.cpu && free.memory >= want.memory)
        .sort((a, b) => b.free.cpu - a.free.cpu || a.node.edits.name.localeCompare(b.node.edits.name));
      const chosen = candidates[0];
      if (chosen === undefined) continue;
      pod.nodeName = chosen.node.edits.name;
      pod.resourceVersion = this.nextRevision();
    }
  }

  private freeOn(node: LiveNode): { cpu: number; memory: number } {
    const allocatable = allocatableOf(this.sizeOf(node.instance.InstanceType));
    const used = [...this.podStates.values()]
      .filter((p) => p.clusterId === node.edits.clusterId && p.nodeName === node.edits.name)
      .map((p) => requestsOf(p.requests))
      .reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory }), { cpu: 0, memory: 0 });
    return { cpu: allocatable.milliCpu / 1000 - used.cpu, memory: allocatable.memoryKi * 1024 - used.memory };
  }

  private addDaemonPod(clusterId: string, nodeName: string, ds: SandboxDaemonSet): void {
    const pod: PodState = {
      clusterId,
      namespace: ds.namespace,
      name: `${ds.name}-${suffix()}`,
      uid: randomUUID(),
      resourceVersion: this.nextRevision(),
      createdAt: this.tke.clock(),
      nodeName,
      requests: ds.requests ?? {},
      ownerKind: 'DaemonSet',
      ownerName: ds.name,
      mirror: false,
      labels: { 'k8s-app': ds.name },
      graceSeconds: this.graceSeconds,
    };
    this.podStates.set(podKey(pod), pod);
  }

  private newPodState(spec: SandboxPodSpec): PodState {
    if (typeof spec.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(spec.name) || spec.name.length > 253) {
      throw new Error(`a pod's name is a DNS subdomain (lower case alphanumerics, '-' and '.'): ${JSON.stringify(spec.name)}`);
    }
    const namespace = spec.namespace ?? 'default';
    const ownerKind = spec.ownerKind ?? 'ReplicaSet';
    if (!POD_OWNER_KINDS.includes(ownerKind)) throw new Error(`ownerKind is one of ${POD_OWNER_KINDS.join(', ')}`);
    let clusterId = spec.clusterId;
    if (spec.nodeName !== undefined) {
      const node = this.liveNodes(clusterId).find((n) => n.edits.name === spec.nodeName);
      if (node === undefined) throw new Error(`no node ${spec.nodeName}${clusterId === undefined ? '' : ` in ${clusterId}`} (a node exists once its instance is running)`);
      clusterId = node.edits.clusterId;
    }
    if (clusterId === undefined) throw new Error('a pod without nodeName needs its clusterId');
    this.served(clusterId);
    if (spec.mirror === true && spec.nodeName === undefined) throw new Error('a mirror pod is on a node: give its nodeName');
    if (this.podStates.has(`${clusterId}/${namespace}/${spec.name}`)) throw new Error(`pods "${spec.name}" already exists in ${clusterId}/${namespace}`);
    const requests = checkedRequests(spec.requests);
    const grace = spec.terminationGracePeriodSeconds ?? this.graceSeconds;
    if (!Number.isInteger(grace) || grace < 0) throw new Error('terminationGracePeriodSeconds is a whole number from 0');
    if (spec.pdbBlocksTimes !== undefined && (!Number.isInteger(spec.pdbBlocksTimes) || spec.pdbBlocksTimes < 0)) throw new Error('pdbBlocksTimes is a whole number from 0');
    if (spec.pdbBlocksUntil !== undefined && !Number.isFinite(spec.pdbBlocksUntil)) throw new Error('pdbBlocksUntil is a time of the clock, in ms');
    const ownerName = spec.ownerName ?? (spec.mirror === true ? spec.nodeName! : spec.name.replace(/-[^-]+$/, ''));
    const guarded = spec.pdbBlocksUntil !== undefined || spec.pdbBlocksTimes !== undefined || spec.pdbName !== undefined;
    return {
      clusterId,
      namespace,
      name: spec.name,
      uid: randomUUID(),
      resourceVersion: this.nextRevision(),
      createdAt: this.tke.clock(),
      nodeName: spec.nodeName,
      requests,
      ownerKind: spec.mirror === true ? 'None' : ownerKind,
      ownerName,
      mirror: spec.mirror === true,
      labels: { ...(spec.labels ?? {}) },
      graceSeconds: grace,
      ...(guarded && {
        pdb: {
          name: spec.pdbName ?? `${ownerName}-pdb`,
          ...(spec.pdbBlocksUntil !== undefined && { until: spec.pdbBlocksUntil }),
          ...(spec.pdbBlocksTimes !== undefined && { timesLeft: spec.pdbBlocksTimes }),
        },
      }),
    };
  }

  // ---- objects as the API shows them ----------------------------------------------------------

  private liveNodes(clusterId?: string): LiveNode[] {
    const nodes: LiveNode[] = [];
    for (const id of clusterId === undefined ? this.tokens.keys() : [clusterId]) {
      for (const instance of this.tke.instancesOf(id)) {
        const edits = this.nodeEdits.get(instance.InstanceId);
        if (instance.InstanceState === 'running' && edits !== undefined) nodes.push({ instance, edits });
      }
    }
    // The apiserver lists in key order: by name.
    return nodes.sort((a, b) => a.edits.name.localeCompare(b.edits.name));
  }

  private liveNode(clusterId: string, name: string): LiveNode {
    const node = this.liveNodes(clusterId).find((n) => n.edits.name === name);
    if (node === undefined) throw new KubeError(404, 'NotFound', `nodes "${name}" not found`, { name, kind: 'nodes' });
    return node;
  }

  private pod(clusterId: string, namespace: string, name: string): PodState {
    const pod = this.podStates.get(`${clusterId}/${namespace}/${name}`);
    if (pod === undefined) throw new KubeError(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
    return pod;
  }

  private sortedPods(clusterId?: string): PodState[] {
    return [...this.podStates.values()].filter((p) => clusterId === undefined || p.clusterId === clusterId).sort(byKey);
  }

  /** A Node (core/v1), as a TKE node shows it: see the file's comment for the labels, providerID and allocatable. */
  private nodeObject({ instance, edits }: LiveNode): KubeObject {
    const zone = instance.Zone;
    const zoneId = zoneIdOf(zone);
    const region = regionLabelOf(zone);
    const size = this.sizeOf(instance.InstanceType);
    const allocatable = allocatableOf(size);
    const created = instance.CreatedTime;
    const standard: Record<string, string> = {
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/instance-type': instance.InstanceType,
      'beta.kubernetes.io/os': 'linux',
      'cloud.tencent.com/node-instance-id': instance.InstanceId,
      'failure-domain.beta.kubernetes.io/region': region,
      'failure-domain.beta.kubernetes.io/zone': zoneId,
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': edits.name,
      'kubernetes.io/os': 'linux',
      'node.kubernetes.io/instance-type': instance.InstanceType,
      'topology.com.tencent.cloud.csi.cbs/zone': zone,
      'topology.kubernetes.io/region': region,
      'topology.kubernetes.io/zone': zoneId,
    };
    const labels = withoutNulls({ ...Object.fromEntries(instance.Labels.map((l) => [l.Name, l.Value])), ...standard, ...edits.labels });
    const annotations = withoutNulls({ 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true', ...edits.annotations });
    const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: kubeTime(this.tke.clock()), lastTransitionTime: created, reason, message });
    return {
      metadata: { name: edits.name, uid: edits.uid, resourceVersion: edits.resourceVersion, creationTimestamp: created, labels, annotations },
      spec: {
        providerID: `qcloud:///${zoneId}/${instance.InstanceId}`,
        // `unschedulable` is omitted when false, as the apiserver's JSON omits an empty field.
        ...(edits.unschedulable && { unschedulable: true, taints: [{ key: UNSCHEDULABLE_TAINT_KEY, effect: 'NoSchedule', timeAdded: kubeTime(edits.taintAddedAt ?? this.tke.clock()) }] }),
      },
      status: {
        capacity: { cpu: String(size.cpu), memory: `${size.memoryGiB * 1024 * 1024}Ki`, pods: PODS_PER_NODE },
        allocatable: { cpu: `${allocatable.milliCpu}m`, memory: `${allocatable.memoryKi}Ki`, pods: PODS_PER_NODE },
        conditions: [
          condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
          condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
          condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
          condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
        ],
        addresses: [
          { type: 'InternalIP', address: instance.LanIP },
          { type: 'Hostname', address: edits.name },
        ],
        nodeInfo: { operatingSystem: 'linux', architecture: 'amd64', kubeletVersion: 'v1.30.0-tke.1', containerRuntimeVersion: 'containerd://1.6.9-tke.1' },
      },
    };
  }

  /** A Pod (core/v1): the fields a drain reads, no more. */
  private podObject(pod: PodState): KubeObject {
    const owner =
      pod.mirror
        ? { apiVersion: 'v1', kind: 'Node', name: pod.nodeName, uid: this.nodeUid(pod), controller: true }
        : pod.ownerKind === 'None'
          ? undefined
          : { apiVersion: pod.ownerKind === 'Job' ? 'batch/v1' : 'apps/v1', kind: pod.ownerKind, name: pod.ownerName, uid: uidFrom(`${pod.ownerKind}/${pod.clusterId}/${pod.namespace}/${pod.ownerName}`), controller: true, blockOwnerDeletion: true };
    const scheduled = pod.nodeName !== undefined;
    const requests = Object.fromEntries(Object.entries(pod.requests).filter(([, v]) => v !== undefined));
    return {
      metadata: {
        name: pod.name,
        namespace: pod.namespace,
        uid: pod.uid,
        resourceVersion: pod.resourceVersion,
        creationTimestamp: kubeTime(pod.createdAt),
        labels: { ...pod.labels },
        ...(pod.mirror && { annotations: { [MIRROR_ANNOTATION]: createHash('md5').update(pod.uid).digest('hex'), 'kubernetes.io/config.source': 'file' } }),
        ...(owner !== undefined && { ownerReferences: [owner] }),
        ...(pod.deleteAt !== undefined && { deletionTimestamp: kubeTime(pod.deleteAt), deletionGracePeriodSeconds: pod.deletionGraceSeconds }),
      },
      spec: {
        ...(scheduled && { nodeName: pod.nodeName }),
        containers: [{ name: pod.ownerKind === 'DaemonSet' ? pod.ownerName : 'main', image: `sandbox/${pod.ownerName}:latest`, resources: Object.keys(requests).length === 0 ? {} : { requests } }],
        restartPolicy: pod.ownerKind === 'Job' ? 'Never' : 'Always',
        schedulerName: 'default-scheduler',
        terminationGracePeriodSeconds: pod.graceSeconds,
        // The DaemonSet controller adds this toleration to its pods (kubernetes.io/docs/concepts/workloads/controllers/daemonset/, "Taints and tolerations").
        ...(pod.ownerKind === 'DaemonSet' && { tolerations: [{ key: UNSCHEDULABLE_TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }] }),
      },
      status: scheduled
        ? { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }] }
        : {
            phase: 'Pending',
            conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `0/${this.liveNodes(pod.clusterId).length} nodes are available: no Ready, schedulable node has room for the pod's requests (sandbox scheduler)` }],
          },
    };
  }

  private nodeUid(pod: PodState): string | undefined {
    return [...this.nodeEdits.values()].find((e) => e.clusterId === pod.clusterId && e.name === pod.nodeName)?.uid;
  }

  private sizeOf(instanceType: string): SandboxNodeSize {
    return nodeSizeOf(instanceType, this.sizes);
  }

  private served(clusterId: string): string {
    const token = this.tokens.get(clusterId);
    if (token === undefined) throw new Error(`the Kubernetes sandbox does not serve ${clusterId} (it serves ${[...this.tokens.keys()].join(', ')})`);
    return token;
  }

  private nextRevision(): string {
    return String(++this.revision);
  }

  private takeFault(clusterId: string, verb: KubeVerb | undefined): (KubeFault & { remaining: number }) | undefined {
    return takeFault(this.faults, (f) => (f.verb === undefined || f.verb === verb) && (f.clusterId === undefined || f.clusterId === clusterId));
  }

  // ---- control routes -------------------------------------------------------------------------

  private control(method: string, path: string, body: Buffer, res: ServerResponse): void {
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value, null, 2));
    };
    if (method === 'GET' && path === '/__kube/calls') return json(200, this.recorded);
    if (method === 'GET' && path === '/__kube/clusters') {
      return json(
        200,
        [...this.tokens].map(([clusterId, token]) => ({ clusterId, server: `${this.url()}/clusters/${clusterId}`, token, nodes: this.nodes(clusterId), pods: this.pods(clusterId) })),
      );
    }
    if (path === '/__kube/pods') {
      if (method === 'GET') return json(200, this.pods());
      if (method !== 'POST') return json(405, { error: 'GET or POST' });
      const items = itemsOf(body);
      if (items === undefined) return json(400, { error: 'body: a pod spec or a list of them, as JSON' });
      const added: KubeObject[] = [];
      for (const item of items) {
        try {
          if (!isRecord(item)) throw new Error('a pod spec is an object');
          const until = item.pdbBlocksUntil;
          added.push(this.addPod({ ...(item as unknown as SandboxPodSpec), ...(typeof until === 'string' && { pdbBlocksUntil: Date.parse(until) }) }));
        } catch (error) {
          return json(400, {
            error: (error as Error).message,
            spec: '{"name", "nodeName"? | "clusterId", "namespace"?, "requests"?: {"cpu": "500m", "memory": "1Gi"}, "ownerKind"?, "ownerName"?, "mirror"?, "labels"?, "terminationGracePeriodSeconds"?, "pdbBlocksUntil"?: ms or ISO time, "pdbBlocksTimes"?, "pdbName"?}',
            added,
          });
        }
      }
      return json(200, added);
    }
    if (method === 'POST' && path === '/__kube/faults') {
      const items = itemsOf(body);
      const invalid = items?.find((f) => !isKubeFault(f));
      if (items === undefined || invalid !== undefined) {
        return json(400, { error: `a fault: {"kind": ${KUBE_FAULT_KINDS.join('|')}, "status"? (for status), "ms"? (for delay), "verb"?: ${KUBE_VERBS.join('|')}, "clusterId"?, "times"?, "after"?}`, got: invalid });
      }
      for (const fault of items as KubeFault[]) this.injectFault(fault);
      return json(200, { queued: this.faults.length });
    }
    if (method === 'POST' && path === '/__kube/reset') {
      this.reset();
      return json(200, { reset: true });
    }
    return json(404, { error: 'control routes: GET /__kube/clusters, GET /__kube/calls, GET|POST /__kube/pods, POST /__kube/faults, POST /__kube/reset' });
  }
}

// ---- routes ---------------------------------------------------------------------------------

interface Route {
  /** Undefined: a known path, a method it does not take (405). */
  readonly verb: KubeVerb | undefined;
  readonly namespace?: string;
  readonly name?: string;
}

function routeOf(method: string, path: string): Route | undefined {
  const segments = path.split('/').filter((s) => s !== '').map(safeDecode);
  if (segments.includes(undefined)) return undefined;
  const [api, v1, ...rest] = segments as string[];
  if (api !== 'api' || v1 !== 'v1') return undefined;
  const only = (verb: KubeVerb, allowed: string, extra: Omit<Route, 'verb'> = {}): Route => ({ verb: method === allowed ? verb : undefined, ...extra });
  if (rest.length === 1 && rest[0] === 'nodes') return only('list-nodes', 'GET');
  if (rest.length === 2 && rest[0] === 'nodes') return { verb: method === 'GET' ? 'get-node' : method === 'PATCH' ? 'patch-node' : undefined, name: rest[1] };
  if (rest.length === 1 && rest[0] === 'pods') return only('list-pods', 'GET');
  if (rest[0] === 'namespaces' && rest[2] === 'pods') {
    const namespace = rest[1];
    if (rest.length === 3) return only('list-pods', 'GET', { namespace });
    if (rest.length === 4) return only('get-pod', 'GET', { namespace, name: rest[3] });
    if (rest.length === 5 && rest[4] === 'eviction') return only('evict', 'POST', { namespace, name: rest[3] });
  }
  return undefined;
}

// ---- answers --------------------------------------------------------------------------------

function statusAnswer(error: KubeError): Answer {
  return {
    status: error.code,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: error.message, reason: error.reason, ...(error.details !== undefined && { details: error.details }), code: error.code },
  };
}

/** An injected failure, in the Status the apiserver (or, for 429, API Priority and Fairness) sends. */
function injectedStatus(status: number): Answer {
  const reasons: Record<number, [string, string]> = {
    429: ['TooManyRequests', 'Too many requests, please try again later.'],
    500: ['InternalError', 'Internal error occurred: sandbox: injected fault'],
    503: ['ServiceUnavailable', 'sandbox: injected fault: the server is currently unable to handle the request'],
    504: ['Timeout', 'sandbox: injected fault: the server was unable to return a response in the time allotted'],
  };
  const [reason, message] = reasons[status] ?? ['InternalError', `sandbox: injected HTTP ${status}`];
  const answer = statusAnswer(new KubeError(status, reason, message, status === 429 ? { retryAfterSeconds: 1 } : undefined));
  return status === 429 ? { ...answer, headers: { 'retry-after': '1' } } : answer;
}

// ---- what a patch may change ----------------------------------------------------------------

interface NodeChange {
  readonly unschedulable?: boolean;
  readonly labels: Record<string, string | null>;
  readonly annotations: Record<string, string | null>;
  readonly resourceVersion?: string;
}

/** The node fields the sandbox applies; anything else is refused (422), so that a caller changing more is caught here. */
function nodeChangeOf(patch: Record<string, unknown>, name: string): NodeChange {
  const invalid = (field: string, why: string) => new KubeError(422, 'Invalid', `Node "${name}" is invalid: ${field}: ${why}`, { name, kind: 'Node', causes: [{ reason: 'FieldValueInvalid', message: why, field }] });
  const refuse = (field: string) => invalid(field, 'sandbox: only spec.unschedulable, metadata.labels and metadata.annotations can be patched here');
  const labels: Record<string, string | null> = {};
  const annotations: Record<string, string | null> = {};
  let unschedulable: boolean | undefined;
  let resourceVersion: string | undefined;
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'apiVersion' || key === 'kind') continue;
    if (key === 'spec') {
      if (value === null) continue;
      if (!isRecord(value)) throw invalid('spec', 'must be an object');
      for (const [field, v] of Object.entries(value)) {
        if (field !== 'unschedulable') throw refuse(`spec.${field}`);
        if (v !== null && typeof v !== 'boolean') throw invalid('spec.unschedulable', 'must be true, false or null');
        unschedulable = v === true;
      }
      continue;
    }
    if (key === 'metadata') {
      if (!isRecord(value)) throw invalid('metadata', 'must be an object');
      for (const [field, v] of Object.entries(value)) {
        if (field === 'name' && v === name) continue;
        if (field === 'resourceVersion' && typeof v === 'string') {
          resourceVersion = v;
          continue;
        }
        if (field !== 'labels' && field !== 'annotations') throw refuse(`metadata.${field}`);
        if (!isRecord(v)) throw invalid(`metadata.${field}`, 'must be an object of strings');
        for (const [k, s] of Object.entries(v)) {
          if (s !== null && typeof s !== 'string') throw invalid(`metadata.${field}.${k}`, 'must be a string or null');
          (field === 'labels' ? labels : annotations)[k] = s;
        }
      }
      continue;
    }
    throw refuse(key);
  }
  return { ...(unschedulable !== undefined && { unschedulable }), labels, annotations, ...(resourceVersion !== undefined && { resourceVersion }) };
}

function checkedRequests(requests: SandboxPodSpec['requests']): { cpu?: string; memory?: string } {
  if (requests === undefined) return {};
  if (!isRecord(requests)) throw new Error('requests: {"cpu": "500m", "memory": "1Gi"}');
  for (const [key, value] of Object.entries(requests)) {
    if (key !== 'cpu' && key !== 'memory') throw new Error(`requests: cpu and memory only, not ${key}`);
    if (typeof value !== 'string' || parseQuantity(value) < 0) throw new Error(`requests.${key}: a quantity ("500m", "1Gi"), not ${JSON.stringify(value)}`);
  }
  return { ...(requests.cpu !== undefined && { cpu: requests.cpu }), ...(requests.memory !== undefined && { memory: requests.memory }) };
}

/** Cores and bytes. */
function requestsOf(requests: PodState['requests']): { cpu: number; memory: number } {
  return { cpu: requests.cpu === undefined ? 0 : parseQuantity(requests.cpu), memory: requests.memory === undefined ? 0 : parseQuantity(requests.memory) };
}

// ---- small helpers --------------------------------------------------------------------------

function labelSelectorOf(query: URLSearchParams): LabelRequirement[] {
  try {
    return parseLabelSelector(query.get('labelSelector') ?? '');
  } catch (error) {
    if (error instanceof SelectorError) throw new KubeError(400, 'BadRequest', error.message);
    throw error;
  }
}

function fieldSelectorOf(query: URLSearchParams, supported: ReadonlySet<string>): FieldRequirement[] {
  try {
    return parseFieldSelector(query.get('fieldSelector') ?? '', supported);
  } catch (error) {
    if (error instanceof SelectorError) throw new KubeError(400, 'BadRequest', error.message);
    throw error;
  }
}

function podFields(pod: PodState): Record<string, string> {
  return {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'spec.nodeName': pod.nodeName ?? '',
    'spec.restartPolicy': pod.ownerKind === 'Job' ? 'Never' : 'Always',
    'spec.schedulerName': 'default-scheduler',
    'status.phase': pod.nodeName === undefined ? 'Pending' : 'Running',
  };
}

function labelsOf(object: KubeObject): Record<string, string> {
  return (object.metadata.labels as Record<string, string> | undefined) ?? {};
}

/** `dryRun=All`, the only value the apiserver takes. */
function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  if (values.some((v) => v !== 'All')) throw new KubeError(400, 'BadRequest', `Invalid dryRun: ${values.join(',')}: the only value is All`);
  return values.length > 0;
}

function podKey(pod: Pick<PodState, 'clusterId' | 'namespace' | 'name'>): string {
  return `${pod.clusterId}/${pod.namespace}/${pod.name}`;
}

function byKey(a: PodState, b: PodState): number {
  return a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

function withoutNulls(record: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter((entry): entry is [string, string] => entry[1] !== null));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isKubeFault(value: unknown): value is KubeFault {
  if (!isRecord(value) || !(KUBE_FAULT_KINDS as readonly unknown[]).includes(value.kind)) return false;
  const whole = (v: unknown, min: number) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= min);
  if (value.kind === 'status' && !(typeof value.status === 'number' && Number.isInteger(value.status) && value.status >= 400 && value.status <= 599)) return false;
  if (value.kind === 'delay' && !(typeof value.ms === 'number' && value.ms >= 0)) return false;
  if (value.verb !== undefined && !(KUBE_VERBS as readonly unknown[]).includes(value.verb)) return false;
  return (value.clusterId === undefined || typeof value.clusterId === 'string') && whole(value.times, 1) && whole(value.after, 0);
}

function itemsOf(body: Buffer): unknown[] | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return undefined;
  }
}

/** A path segment, decoded; undefined when its %-escapes are malformed (a 404, not a 500). */
function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function parseJsonOrRaw(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return body.toString('utf8');
  }
}

/** The apiserver's time form: RFC 3339, whole seconds, UTC ("2023-05-23T11:29:27Z"). */
function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A stable UUID-shaped uid from a seed, so that a node keeps its uid across answers. */
function uidFrom(seed: string): string {
  const hex = createHash('sha1').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The 5 characters a generateName adds ("web-7d4b9-x2x5q"). */
function suffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
