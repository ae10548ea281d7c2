import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { KubeApiError } from '../errors';
import { cpuMillis, memoryBytes } from './quantity';

/**
 * The Kubernetes API of a cluster, for what giving nodes back needs and nothing else: list nodes
 * by label, cordon and uncordon one, list pods, evict a pod (policy/v1 Eviction, which honours
 * PodDisruptionBudgets). Five REST calls over node:https with the cluster's CA and a bearer token
 * or a client certificate:
 * the official client (@kubernetes/client-node) needs Node ≥ 22 from 2.x and brings a dependency
 * tree the size of the whole zip from 1.x, for calls this small (docs/DESIGN.md, Dependencies).
 *
 * Every call is bounded by `signal`; a failure is a KubeApiError naming the call and the status,
 * never the token.
 */
export interface KubeApi {
  readonly description: string;
  /** Nodes with the labels `labelSelector` names (`k=v,k2=v2`); '' for every node. */
  listNodes(labelSelector: string, signal: AbortSignal): Promise<KubeNode[]>;
  /** Cordon (true) or uncordon (false): a merge patch of spec.unschedulable. */
  setUnschedulable(nodeName: string, unschedulable: boolean, signal: AbortSignal): Promise<void>;
  /** Pods not finished; on one node when `nodeName` is given. */
  listPods(nodeName: string | undefined, signal: AbortSignal): Promise<KubePod[]>;
  /** `evicted` (201/200), `refused` (429: a PodDisruptionBudget says not now), `gone` (404). */
  evict(namespace: string, name: string, signal: AbortSignal): Promise<'evicted' | 'refused' | 'gone'>;
}

export interface KubeNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** TKE's CVM nodes: `qcloud:///<zone>/<instance-id>`. */
  readonly providerID?: string;
  readonly unschedulable: boolean;
  readonly allocatable: { readonly cpuMillis: number; readonly memoryBytes: number };
  readonly createdAt?: number;
}

export interface KubePod {
  readonly namespace: string;
  readonly name: string;
  readonly nodeName?: string;
  /** Kinds of its owners (DaemonSet: a drain leaves it, the DaemonSet controller ignores unschedulable). */
  readonly ownerKinds: readonly string[];
  /** A static pod's mirror (annotation kubernetes.io/config.mirror): not evictable through the API. */
  readonly mirror: boolean;
  /** metadata.deletionTimestamp set: on its way out. */
  readonly terminating: boolean;
  /** Sum of its containers' requests. */
  readonly requests: { readonly cpuMillis: number; readonly memoryBytes: number };
}

export interface KubeApiOptions {
  /** https://<intranet endpoint> (or http://127.0.0.1:… for the local sandbox). */
  readonly server: string;
  /**
   * Who the function is to the API server: a bearer token (a ServiceAccount's), or a client
   * certificate and its key, PEM (a kubeconfig user's `client-certificate-data` and
   * `client-key-data`, decoded: k8s.io/client-go tools/clientcmd/api/v1 types.go, AuthInfo).
   */
  readonly credentials: { readonly token: string } | { readonly certPem: string; readonly keyPem: string };
  /** PEM of the cluster's CA (the kubeconfig's certificate-authority-data, decoded). */
  readonly caPem?: string;
}

/** The instance ID in a TKE node's providerID (`qcloud:///ap-guangzhou-4/ins-abc123`), if it is one. */
export function instanceIdOfProviderID(providerID: string | undefined): string | undefined {
  if (providerID === undefined) return undefined;
  const match = /^qcloud:\/\/\/[^/]*\/(ins-[a-z0-9]+)$/.exec(providerID);
  return match?.[1];
}

export function createKubeApi(options: KubeApiOptions): KubeApi {
  const base = new URL(options.server);
  const bearer = 'token' in options.credentials ? options.credentials.token : undefined;
  const clientCert = 'certPem' in options.credentials ? options.credentials : undefined;
  const send = (method: string, path: string, signal: AbortSignal, body?: unknown, contentType = 'application/json'): Promise<{ status: number; json: unknown }> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      // A kubeconfig's server may carry a path (a proxy's): the API's paths go under it.
      const request = (base.protocol === 'https:' ? httpsRequest : httpRequest)(
        new URL(`${base.pathname.replace(/\/$/, '')}${path}`, base.origin),
        {
          method,
          headers: { ...(bearer !== undefined && { authorization: `Bearer ${bearer}` }), accept: 'application/json', ...(payload !== undefined && { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }) },
          ...(options.caPem !== undefined && { ca: options.caPem }),
          ...(clientCert !== undefined && { cert: clientCert.certPem, key: clientCert.keyPem }),
          signal,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            // A node or pod list of a big cluster is a few MB; past 64 MB something is wrong.
            if (size > MAX_ANSWER_BYTES) response.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
            else chunks.push(chunk);
          });
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text === '' ? undefined : JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: response.statusCode ?? 0, json });
          });
        },
      );
      request.on('error', reject);
      request.end(payload);
    });

  const call = async (what: string, method: string, path: string, signal: AbortSignal, body?: unknown, contentType?: string) => {
    try {
      return await send(method, path, signal, body, contentType);
    } catch (error) {
      throw new KubeApiError(what, undefined, (error as Error).name === 'AbortError' ? 'timed out' : (error as Error).message);
    }
  };
  const failed = (what: string, answer: { status: number; json: unknown }) => new KubeApiError(what, answer.status, statusMessage(answer.json));

  return {
    description: `${base.origin} (${bearer !== undefined ? 'bearer token' : 'client certificate'}${options.caPem !== undefined ? ', cluster CA' : ''})`,
    async listNodes(labelSelector, signal) {
      const what = labelSelector === '' ? 'GET nodes' : `GET nodes (labelSelector ${labelSelector})`;
      const answer = await call(what, 'GET', labelSelector === '' ? '/api/v1/nodes' : `/api/v1/nodes?labelSelector=${encodeURIComponent(labelSelector)}`, signal);
      if (answer.status !== 200) throw failed(what, answer);
      return itemsOf(answer.json).map(nodeOf).filter((n): n is KubeNode => n !== undefined);
    },
    async setUnschedulable(nodeName, unschedulable, signal) {
      const what = `PATCH node ${nodeName} (spec.unschedulable: ${unschedulable})`;
      const answer = await call(what, 'PATCH', `/api/v1/nodes/${encodeURIComponent(nodeName)}`, signal, { spec: { unschedulable } }, 'application/merge-patch+json');
      if (answer.status !== 200) throw failed(what, answer);
    },
    async listPods(nodeName, signal) {
      const what = `GET pods${nodeName !== undefined ? ` on ${nodeName}` : ''}`;
      const selector = ['status.phase!=Succeeded', 'status.phase!=Failed', ...(nodeName !== undefined ? [`spec.nodeName=${nodeName}`] : [])].join(',');
      const answer = await call(what, 'GET', `/api/v1/pods?fieldSelector=${encodeURIComponent(selector)}`, signal);
      if (answer.status !== 200) throw failed(what, answer);
      return itemsOf(answer.json).map(podOf).filter((p): p is KubePod => p !== undefined);
    },
    async evict(namespace, name, signal) {
      const what = `POST eviction of pod ${namespace}/${name}`;
      const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } };
      const answer = await call(what, 'POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/eviction`, signal, body);
      if (answer.status === 200 || answer.status === 201) return 'evicted';
      if (answer.status === 429) return 'refused';
      if (answer.status === 404) return 'gone';
      throw failed(what, answer);
    },
  };
}

const MAX_ANSWER_BYTES = 64 * 2 ** 20;

function itemsOf(json: unknown): unknown[] {
  const items = (json as { items?: unknown } | undefined)?.items;
  return Array.isArray(items) ? items : [];
}

function strings(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function nodeOf(item: unknown): KubeNode | undefined {
  const n = item as { metadata?: Record<string, unknown>; spec?: Record<string, unknown>; status?: { allocatable?: Record<string, unknown> } } | null;
  const name = n?.metadata?.name;
  if (typeof name !== 'string') return undefined;
  const created = typeof n?.metadata?.creationTimestamp === 'string' ? Date.parse(n.metadata.creationTimestamp) : NaN;
  return {
    name,
    labels: strings(n?.metadata?.labels),
    annotations: strings(n?.metadata?.annotations),
    ...(typeof n?.spec?.providerID === 'string' && { providerID: n.spec.providerID }),
    unschedulable: n?.spec?.unschedulable === true,
    allocatable: { cpuMillis: cpuMillis(n?.status?.allocatable?.cpu) ?? 0, memoryBytes: memoryBytes(n?.status?.allocatable?.memory) ?? 0 },
    ...(Number.isFinite(created) && { createdAt: created }),
  };
}

function podOf(item: unknown): KubePod | undefined {
  const p = item as { metadata?: Record<string, unknown>; spec?: { nodeName?: unknown; containers?: unknown } } | null;
  const name = p?.metadata?.name;
  const namespace = p?.metadata?.namespace;
  if (typeof name !== 'string' || typeof namespace !== 'string') return undefined;
  const owners = Array.isArray(p?.metadata?.ownerReferences) ? (p.metadata.ownerReferences as Array<{ kind?: unknown }>) : [];
  let cpu = 0;
  let memory = 0;
  for (const c of Array.isArray(p?.spec?.containers) ? (p.spec.containers as Array<{ resources?: { requests?: Record<string, unknown> } }>) : []) {
    cpu += cpuMillis(c?.resources?.requests?.cpu) ?? 0;
    memory += memoryBytes(c?.resources?.requests?.memory) ?? 0;
  }
  return {
    namespace,
    name,
    ...(typeof p?.spec?.nodeName === 'string' && { nodeName: p.spec.nodeName }),
    ownerKinds: owners.map((o) => o?.kind).filter((k): k is string => typeof k === 'string'),
    mirror: strings(p?.metadata?.annotations)['kubernetes.io/config.mirror'] !== undefined,
    terminating: typeof p?.metadata?.deletionTimestamp === 'string',
    requests: { cpuMillis: cpu, memoryBytes: memory },
  };
}

/** The API's Status message, short; the token is never in it (it is in a header the API does not echo). */
function statusMessage(json: unknown): string {
  const message = (json as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message.slice(0, 300) : 'no Status message';
}
