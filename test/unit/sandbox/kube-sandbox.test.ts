import { allocatableOf, parseQuantity, sizeFromInstanceType } from '../../../dev/sandbox/kube-node-facts';
import { kubeSandboxToken, KubeSandbox, type KubeObject } from '../../../dev/sandbox/kube-sandbox';
import { matchesLabels, parseLabelSelector, SelectorError } from '../../../dev/sandbox/kube-selectors';
import { TkeSandbox } from '../../../dev/sandbox/tke-sandbox';
import { rawTkeClient } from '../../support/raw-tke-client';

/**
 * The Kubernetes API stand-in against its real HTTP server, with the TKE sandbox it reads nodes
 * from: instances are bought and deleted through the official TKE SDK (signed as any SDK user
 * signs), and the API is called with fetch as a client would. The clock is the TKE sandbox's,
 * moved by `offsetMs` (kept under the 5 minutes a TC3 signature may be off).
 *
 * What each behaviour follows is cited beside it; the stand-in's own comment has the full list.
 */
const CLUSTER = 'cls-kube0001';
const OTHER = 'cls-kube0002';
const REGION = 'ap-guangzhou';
const TOKEN = 'token-of-cls-kube0001';
const OWNER = { Name: 'tke-scaleout/owner', Value: 'tke-scaleout' };

let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const tke = new TkeSandbox({
  clusters: [
    { clusterId: CLUSTER, region: REGION, initialNodes: 1, maxNodes: 100 },
    { clusterId: OTHER, region: REGION, initialNodes: 1, maxNodes: 100 },
  ],
  now: clock,
  joinSeconds: 20,
});
const kube = new KubeSandbox({ tke, clusters: { [CLUSTER]: TOKEN, [OTHER]: kubeSandboxToken(OTHER) } });
let tkeUrl: string;

beforeAll(async () => {
  tkeUrl = await tke.start();
  await kube.start();
});
afterAll(async () => {
  await kube.stop();
  await tke.stop();
});
beforeEach(() => {
  offsetMs = 0;
  tke.reset();
  kube.reset();
});

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, any>;
}

/** A call to the cluster's API, as a client sends it: the bearer token, JSON. */
async function api(path: string, init: { method?: string; body?: unknown; contentType?: string; token?: string | null; cluster?: string; signal?: AbortSignal } = {}): Promise<Reply> {
  const token = init.token === undefined ? TOKEN : init.token;
  const res = await fetch(`${kube.serverUrl(init.cluster ?? CLUSTER)}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      accept: 'application/json',
      ...(token !== null && { authorization: `Bearer ${token}` }),
      ...(init.body !== undefined && { 'content-type': init.contentType ?? 'application/json' }),
    },
    ...(init.body !== undefined && { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
    ...(init.signal !== undefined && { signal: init.signal }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

const patchNode = (name: string, patch: unknown, contentType = 'application/merge-patch+json', query = '') => api(`/api/v1/nodes/${name}${query}`, { method: 'PATCH', body: patch, contentType });
const evict = (namespace: string, name: string, extra: Record<string, unknown> = {}, query = '') =>
  api(`/api/v1/namespaces/${namespace}/pods/${name}/eviction${query}`, { method: 'POST', body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, ...extra } });

let token = 0;
/** Buys `count` instances through the official SDK, with the node labels the function sets; answers the instances (with their LAN IPs). */
async function buy(count: number, purchase: string, para: Record<string, unknown> = {}): Promise<Array<{ id: string; lanIp: string }>> {
  const created = await rawTkeClient(tkeUrl, REGION).CreateClusterInstances({
    ClusterId: CLUSTER,
    RunInstancePara: JSON.stringify({ Placement: { Zone: 'ap-guangzhou-3' }, InstanceType: 'S5.MEDIUM4', InstanceCount: count, ClientToken: `kube-${++token}`, ...para }),
    InstanceAdvancedSettings: { Labels: [OWNER, { Name: 'tke-scaleout/purchase', Value: purchase }] },
  } as never);
  const ids = created.InstanceIdSet!;
  return ids.map((id) => ({ id, lanIp: tke.instancesOf(CLUSTER).find((i) => i.InstanceId === id)!.LanIP }));
}

/** Moves the clock past the TKE sandbox's joinSeconds: what was bought is running. */
const joined = () => {
  offsetMs += 21_000;
};

const names = (list: Reply) => (list.body.items as KubeObject[]).map((o) => o.metadata.name as string);

describe('who may call', () => {
  it('answers 401 with a Status without the cluster token, and a token opens its own cluster only', async () => {
    // kubernetes.io/docs/reference/access-authn-authz/authentication/: a request that cannot be authenticated gets 401.
    const unauthorized = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };
    expect(await api('/api/v1/nodes', { token: null })).toMatchObject({ status: 401, body: unauthorized });
    expect(await api('/api/v1/nodes', { token: 'wrong' })).toMatchObject({ status: 401, body: unauthorized });
    expect(await api('/api/v1/nodes', { token: kubeSandboxToken(OTHER) })).toMatchObject({ status: 401 });
    expect((await api('/api/v1/nodes', { cluster: OTHER, token: kubeSandboxToken(OTHER) })).status).toBe(200);
    expect(kube.token(CLUSTER)).toBe(TOKEN);
    expect(kube.serverUrl(CLUSTER)).toBe(`${kube.url()}/clusters/${CLUSTER}`);
    expect(() => kube.serverUrl('cls-unknown')).toThrow(/does not serve/);
  });

  it('answers a Status for a path or a method the API does not have', async () => {
    expect(await api('/api/v1/secrets')).toMatchObject({ status: 404, body: { kind: 'Status', reason: 'NotFound', code: 404 } });
    expect(await api('/api/v1/nodes/10.0.0.1', { method: 'DELETE' })).toMatchObject({ status: 405, body: { reason: 'MethodNotAllowed', code: 405 } });
    const res = await fetch(`${kube.url()}/clusters/cls-unknown/api/v1/nodes`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(404);
  });
});

describe('nodes are the running instances of the TKE sandbox', () => {
  it('a bought instance is a Node only once running: named by its LAN IP, matched by providerID, with its labels and allocatable', async () => {
    const [bought] = await buy(1, 'p-0000000000000001');
    const selector = `?labelSelector=${encodeURIComponent('tke-scaleout/owner=tke-scaleout')}`;
    expect(names(await api(`/api/v1/nodes${selector}`))).toEqual([]); // initializing: no Node yet
    expect(await api(`/api/v1/nodes/${bought!.lanIp}`)).toMatchObject({
      status: 404,
      body: { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: `nodes "${bought!.lanIp}" not found`, details: { name: bought!.lanIp, kind: 'nodes' } },
    });

    joined();
    const list = await api(`/api/v1/nodes${selector}`);
    expect(list.body).toMatchObject({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: expect.any(String) } });
    expect(names(list)).toEqual([bought!.lanIp]);
    const node = (await api(`/api/v1/nodes/${bought!.lanIp}`)).body;
    expect(node).toMatchObject({ kind: 'Node', apiVersion: 'v1' });
    expect(list.body.items[0]).not.toHaveProperty('kind'); // list items carry no kind, as the apiserver sends them
    // The name is the LAN IP, not the instance: the instance is in spec.providerID, with CVM's
    // numeric zone ID (kubernetes/autoscaler's TKE provider: "qcloud:///100003/ins-3ven36lk").
    expect(node.metadata.name).not.toBe(bought!.id);
    expect(node.spec).toEqual({ providerID: `qcloud:///100003/${bought!.id}` });
    expect(node.metadata.creationTimestamp).toBe(tke.instancesOf(CLUSTER).find((i) => i.InstanceId === bought!.id)!.CreatedTime);
    expect(node.metadata.labels).toMatchObject({
      'tke-scaleout/owner': 'tke-scaleout',
      'tke-scaleout/purchase': 'p-0000000000000001',
      'kubernetes.io/hostname': bought!.lanIp,
      'topology.kubernetes.io/zone': '100003',
      'topology.kubernetes.io/region': 'gz',
      'node.kubernetes.io/instance-type': 'S5.MEDIUM4',
      'cloud.tencent.com/node-instance-id': bought!.id,
    });
    // TKE's reservation (tencentcloud.com/document/product/457/48777) for 2 cores and 4 GiB: 0.1
    // core and 25 % of memory, then the kubelet's 100Mi hard eviction threshold:
    // 4194304Ki − 1048576Ki − 102400Ki = 3043328Ki.
    expect(node.status.capacity).toEqual({ cpu: '2', memory: '4194304Ki', pods: '110' });
    expect(node.status.allocatable).toEqual({ cpu: '1900m', memory: '3043328Ki', pods: '110' });
    expect(node.status.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True', reason: 'KubeletReady' }));
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: bought!.lanIp });
  });

  it("shows the cluster's pre-existing nodes too, without the function's labels, and no other cluster's", async () => {
    const [bought] = await buy(1, 'p-0000000000000002');
    joined();
    const all = await api('/api/v1/nodes');
    expect(all.body.items).toHaveLength(2);
    const initial = (all.body.items as KubeObject[]).find((n) => n.metadata.name !== bought!.lanIp)!;
    expect(initial.metadata.labels).not.toHaveProperty('tke-scaleout/owner');
    expect((initial.spec as { providerID: string }).providerID).toMatch(/^qcloud:\/\/\/100001\/ins-/); // the TKE sandbox puts initial nodes in <region>-1
    expect(names(await api('/api/v1/nodes', { cluster: OTHER, token: kubeSandboxToken(OTHER) }))).toEqual([tke.instancesOf(OTHER)[0]!.LanIP]);
    expect(names(await api(`/api/v1/nodes?labelSelector=${encodeURIComponent('!tke-scaleout/owner')}`))).toEqual([initial.metadata.name]);
  });

  it('a node DeleteClusterInstances removes disappears, and its pods with it', async () => {
    const [a, b] = await buy(2, 'p-0000000000000003');
    joined();
    kube.addPod({ name: 'web-5d9f8-abcde', nodeName: a!.lanIp, requests: { cpu: '500m', memory: '1Gi' } });
    await patchNode(a!.lanIp, { spec: { unschedulable: true } });
    const answer = await rawTkeClient(tkeUrl, REGION).DeleteClusterInstances({ ClusterId: CLUSTER, InstanceIds: [a!.id], InstanceDeleteMode: 'terminate' });
    expect(answer.SuccInstanceIds).toEqual([a!.id]);
    expect((await api(`/api/v1/nodes/${a!.lanIp}`)).status).toBe(404);
    expect(names(await api(`/api/v1/nodes?labelSelector=${encodeURIComponent('tke-scaleout/purchase=p-0000000000000003')}`))).toEqual([b!.lanIp]);
    // Pod garbage collection deletes the pods of a node that is gone; the ReplicaSet replaces its pod.
    expect(names(await api(`/api/v1/pods?fieldSelector=spec.nodeName=${a!.lanIp}`))).toEqual([]);
    const web = (await api('/api/v1/namespaces/default/pods')).body.items as KubeObject[];
    expect(web).toHaveLength(1);
    expect(web[0]!.metadata.name).toMatch(/^web-5d9f8-[a-z0-9]{5}$/);
    expect([b!.lanIp, tke.instancesOf(CLUSTER).find((i) => i.Labels.length === 0)!.LanIP]).toContain((web[0]!.spec as { nodeName?: string }).nodeName);
  });
});

describe('list selectors', () => {
  it('labelSelector: equality, inequality, set-based and existence requirements, ANDed; a bad one is a 400', async () => {
    // kubernetes.io/docs/concepts/overview/working-with-objects/labels/, "Label selectors".
    const [one] = await buy(1, 'p-000000000000000a');
    const [two] = await buy(1, 'p-000000000000000b');
    joined();
    const initial = tke.instancesOf(CLUSTER).find((i) => i.Labels.length === 0)!.LanIP;
    const select = async (selector: string) => names(await api(`/api/v1/nodes?labelSelector=${encodeURIComponent(selector)}`)).sort();
    expect(await select('tke-scaleout/owner=tke-scaleout,tke-scaleout/purchase==p-000000000000000a')).toEqual([one!.lanIp]);
    expect(await select('tke-scaleout/purchase in (p-000000000000000a, p-000000000000000b)')).toEqual([one!.lanIp, two!.lanIp].sort());
    // "!=" and notin also select the objects without the key.
    expect(await select('tke-scaleout/purchase!=p-000000000000000a')).toEqual([initial, two!.lanIp].sort());
    expect(await select('tke-scaleout/purchase notin (p-000000000000000a)')).toEqual([initial, two!.lanIp].sort());
    expect(await select('tke-scaleout/owner')).toEqual([one!.lanIp, two!.lanIp].sort());
    expect(await select('')).toHaveLength(3);
    expect(await api(`/api/v1/nodes?labelSelector=${encodeURIComponent('tke-scaleout/owner in (a b')}`)).toMatchObject({ status: 400, body: { kind: 'Status', reason: 'BadRequest', code: 400 } });
  });

  it('fieldSelector: the fields a resource supports, = and !=; an unsupported field is a 400', async () => {
    // kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/.
    const [one] = await buy(1, 'p-000000000000000c');
    joined();
    expect(names(await api(`/api/v1/nodes?fieldSelector=metadata.name=${one!.lanIp}`))).toEqual([one!.lanIp]);
    expect(names(await api(`/api/v1/nodes?fieldSelector=metadata.name!=${one!.lanIp}`))).not.toContain(one!.lanIp);
    expect(await api('/api/v1/nodes?fieldSelector=spec.providerID=x')).toMatchObject({ status: 400, body: { reason: 'BadRequest', message: 'field label not supported: spec.providerID' } });
    expect(await api('/api/v1/pods?fieldSelector=spec.foo=x')).toMatchObject({ status: 400, body: { message: 'field label not supported: spec.foo' } });
  });

  it('limit and continue chunk a list; the last chunk has no continue', async () => {
    // kubernetes.io/docs/reference/using-api/api-concepts/, "Retrieving large results sets in chunks".
    await buy(2, 'p-000000000000000d');
    joined();
    const first = await api('/api/v1/nodes?limit=2');
    expect(first.body.items).toHaveLength(2);
    expect(first.body.metadata).toMatchObject({ continue: expect.any(String), remainingItemCount: 1 });
    const rest = await api(`/api/v1/nodes?limit=2&continue=${first.body.metadata.continue}`);
    expect(rest.body.items).toHaveLength(1);
    expect(rest.body.metadata).not.toHaveProperty('continue');
    expect([...names(first), ...names(rest)]).toEqual(names(await api('/api/v1/nodes')));
  });

  it('the selector parser: keys are qualified names, values at most 63 characters', () => {
    expect(matchesLabels(parseLabelSelector('a.example.com/b=c, !d, e notin (f)'), { 'a.example.com/b': 'c' })).toBe(true);
    expect(() => parseLabelSelector('UPPER.example.com/b=c')).toThrow(SelectorError);
    expect(() => parseLabelSelector(`a=${'v'.repeat(64)}`)).toThrow(SelectorError);
    expect(() => parseLabelSelector('a=b,,c')).toThrow(SelectorError);
  });
});

describe('cordon: PATCH spec.unschedulable', () => {
  it('cordons and uncordons with a merge patch or a strategic merge patch, and the taint follows', async () => {
    // `kubectl cordon` sends {"spec":{"unschedulable":true}}; NodeSpec.unschedulable: "controls node
    // schedulability of new pods"; the node.kubernetes.io/unschedulable:NoSchedule taint goes with it
    // (kubernetes.io/docs/reference/labels-annotations-taints/).
    const [node] = await buy(1, 'p-0000000000000010');
    joined();
    const cordoned = await patchNode(node!.lanIp, { spec: { unschedulable: true } });
    expect(cordoned.status).toBe(200);
    expect(cordoned.body).toMatchObject({ kind: 'Node', metadata: { name: node!.lanIp }, spec: { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } });
    expect((await api(`/api/v1/nodes/${node!.lanIp}`)).body.spec.unschedulable).toBe(true);
    expect(names(await api('/api/v1/nodes?fieldSelector=spec.unschedulable=true'))).toEqual([node!.lanIp]);
    expect(Number(cordoned.body.metadata.resourceVersion)).toBeGreaterThan(0);

    const uncordoned = await patchNode(node!.lanIp, { spec: { unschedulable: false } }, 'application/strategic-merge-patch+json; charset=utf-8');
    expect(uncordoned.status).toBe(200);
    expect(uncordoned.body.spec).toEqual({ providerID: `qcloud:///100003/${node!.id}` }); // false is omitted, and the taint is gone
    expect(kube.calls().filter((c) => c.verb === 'patch-node').map((c) => c.body)).toEqual([{ spec: { unschedulable: true } }, { spec: { unschedulable: false } }]);
  });

  it('refuses other content types (415), other fields (422), a stale resourceVersion (409); dryRun=All changes nothing', async () => {
    const [node] = await buy(1, 'p-0000000000000011');
    joined();
    expect(await patchNode(node!.lanIp, { spec: { unschedulable: true } }, 'application/json')).toMatchObject({
      status: 415,
      body: { kind: 'Status', reason: 'UnsupportedMediaType', code: 415, message: expect.stringContaining('application/merge-patch+json') },
    });
    expect((await patchNode(node!.lanIp, [{ op: 'replace', path: '/spec/unschedulable', value: true }], 'application/json-patch+json')).status).toBe(415);
    expect(await patchNode(node!.lanIp, { spec: { providerID: 'qcloud:///1/ins-x' } })).toMatchObject({ status: 422, body: { reason: 'Invalid', code: 422 } });
    expect((await patchNode(node!.lanIp, { spec: { unschedulable: 'yes' } })).status).toBe(422);
    expect((await patchNode(node!.lanIp, '{not json')).status).toBe(400);
    expect(await patchNode(node!.lanIp, { metadata: { resourceVersion: '1' }, spec: { unschedulable: true } })).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
    expect((await patchNode('10.9.9.9', { spec: { unschedulable: true } })).status).toBe(404);

    const dry = await patchNode(node!.lanIp, { spec: { unschedulable: true } }, 'application/merge-patch+json', '?dryRun=All');
    expect(dry.body.spec.unschedulable).toBe(true);
    expect((await api(`/api/v1/nodes/${node!.lanIp}`)).body.spec).not.toHaveProperty('unschedulable');
  });

  it('merges labels and annotations (null removes one), guarded by resourceVersion', async () => {
    const [node] = await buy(1, 'p-0000000000000012');
    joined();
    const before = (await api(`/api/v1/nodes/${node!.lanIp}`)).body;
    const marked = await patchNode(node!.lanIp, { metadata: { resourceVersion: before.metadata.resourceVersion, annotations: { 'tke-scaleout/draining': 'p-0000000000000012' } } });
    expect(marked.body.metadata.annotations).toMatchObject({ 'tke-scaleout/draining': 'p-0000000000000012' });
    const unmarked = await patchNode(node!.lanIp, { metadata: { annotations: { 'tke-scaleout/draining': null } } });
    expect(unmarked.body.metadata.annotations).not.toHaveProperty('tke-scaleout/draining');
    expect(unmarked.body.metadata.labels).toMatchObject({ 'tke-scaleout/owner': 'tke-scaleout' });
  });
});

describe('pods', () => {
  it('lists the pods of a node by fieldSelector spec.nodeName; DaemonSet and mirror pods are recognisable', async () => {
    const [node, other] = await buy(2, 'p-0000000000000020');
    joined();
    kube.addPod({ name: 'web-5d9f8-abcde', nodeName: node!.lanIp, requests: { cpu: '500m', memory: '1Gi' }, labels: { app: 'web' } });
    kube.addPod({ namespace: 'kube-system', name: `static-agent-${node!.lanIp}`, nodeName: node!.lanIp, mirror: true });
    const onNode = await api(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node!.lanIp}`)}`);
    expect(onNode.body).toMatchObject({ kind: 'PodList', apiVersion: 'v1' });
    const pods = onNode.body.items as Array<Record<string, any>>;
    expect(pods).toHaveLength(3);

    // Every node runs the DaemonSet's pod, owned by the DaemonSet (ownerReferences, controller).
    const daemon = pods.find((p) => p.metadata.namespace === 'kube-system' && p.metadata.name.startsWith('kube-proxy-'))!;
    expect(daemon.metadata.ownerReferences).toEqual([expect.objectContaining({ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'kube-proxy', controller: true })]);
    expect(daemon.spec.tolerations).toContainEqual({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' });
    // A mirror pod carries kubernetes.io/config.mirror (kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-config-mirror).
    const mirror = pods.find((p) => p.metadata.name.startsWith('static-agent-'))!;
    expect(mirror.metadata.annotations).toHaveProperty(['kubernetes.io/config.mirror']);
    expect(mirror.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Node', name: node!.lanIp })]);
    const web = pods.find((p) => p.metadata.name === 'web-5d9f8-abcde')!;
    expect(web).toMatchObject({
      metadata: { namespace: 'default', labels: { app: 'web' }, ownerReferences: [expect.objectContaining({ kind: 'ReplicaSet', name: 'web-5d9f8' })] },
      spec: { nodeName: node!.lanIp, containers: [{ resources: { requests: { cpu: '500m', memory: '1Gi' } } }], terminationGracePeriodSeconds: 30 },
      status: { phase: 'Running' },
    });
    expect(web.metadata).not.toHaveProperty('deletionTimestamp');

    // All pods, a namespace's, one by name, by label.
    const all = names(await api('/api/v1/pods'));
    expect(all.filter((n) => n.startsWith('kube-proxy-'))).toHaveLength(3); // the initial node, `node` and `other`
    expect(names(await api('/api/v1/namespaces/default/pods'))).toEqual(['web-5d9f8-abcde']);
    expect(names(await api('/api/v1/pods?labelSelector=app%3Dweb'))).toEqual(['web-5d9f8-abcde']);
    expect((await api('/api/v1/namespaces/default/pods/web-5d9f8-abcde')).body).toMatchObject({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web-5d9f8-abcde' } });
    expect(await api('/api/v1/namespaces/default/pods/nope')).toMatchObject({ status: 404, body: { message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } } });
    expect(names(await api(`/api/v1/pods?fieldSelector=spec.nodeName=${other!.lanIp}`))).toHaveLength(1);
  });

  it('addPod refuses an unknown node, a bad quantity and a name taken; POST /__kube/pods places pods over HTTP', async () => {
    const [node] = await buy(1, 'p-0000000000000021');
    expect(() => kube.addPod({ name: 'early', nodeName: node!.lanIp })).toThrow(/no node/); // not running yet
    joined();
    expect(() => kube.addPod({ name: 'bad', nodeName: node!.lanIp, requests: { cpu: 'lots' } })).toThrow(/quantities must match/);
    kube.addPod({ name: 'web-1', nodeName: node!.lanIp });
    expect(() => kube.addPod({ name: 'web-1', nodeName: node!.lanIp })).toThrow(/already exists/);

    const until = new Date(clock() + 60_000).toISOString();
    const res = await fetch(`${kube.url()}/__kube/pods`, { method: 'POST', body: JSON.stringify([{ name: 'db-0', nodeName: node!.lanIp, ownerKind: 'StatefulSet', pdbBlocksUntil: until }]) });
    expect(res.status).toBe(200);
    expect((await evict('default', 'db-0')).status).toBe(429);
    expect((await fetch(`${kube.url()}/__kube/pods`, { method: 'POST', body: JSON.stringify({ name: 'x', requests: { gpu: '1' } }) })).status).toBe(400);
    const clusters = (await (await fetch(`${kube.url()}/__kube/clusters`)).json()) as Array<{ clusterId: string; server: string; token: string; pods: unknown[] }>;
    expect(clusters.find((c) => c.clusterId === CLUSTER)).toMatchObject({ server: kube.serverUrl(CLUSTER), token: TOKEN });
  });

  it('a pod without a node is scheduled where its requests fit, least allocated first, or stays Pending until a node joins', async () => {
    // kube-scheduler's default NodeResourcesFit scoring is LeastAllocated.
    const [small] = await buy(1, 'p-0000000000000022');
    joined();
    kube.addPod({ name: 'busy-1', nodeName: small!.lanIp, requests: { cpu: '1' } });
    const placed = kube.addPod({ clusterId: CLUSTER, name: 'web-abc12', requests: { cpu: '500m' } });
    expect((placed.spec as { nodeName: string }).nodeName).not.toBe(small!.lanIp); // the initial node has more room
    const big = kube.addPod({ clusterId: CLUSTER, name: 'batch-xyz12', requests: { cpu: '3', memory: '2Gi' } });
    expect(big.status).toMatchObject({ phase: 'Pending' });
    expect(names(await api('/api/v1/pods?fieldSelector=status.phase=Pending'))).toEqual(['batch-xyz12']);
    const [large] = await buy(1, 'p-0000000000000023', { InstanceType: 'S5.LARGE8' });
    joined();
    const now = (await api('/api/v1/namespaces/default/pods/batch-xyz12')).body;
    expect(now).toMatchObject({ spec: { nodeName: large!.lanIp }, status: { phase: 'Running' } });
  });
});

describe('a workload scaled down', () => {
  it('deletePod: the pod is Terminating for its grace period, then gone, and not replaced; a Pending one goes at once', async () => {
    // A Deployment scaled down: the ReplicaSet controller deletes the pods it no longer wants
    // (kubernetes.io/docs/concepts/workloads/controllers/replicaset/, "Scaling a ReplicaSet"), and a
    // deleted pod terminates for its grace period (kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
    const [node] = await buy(1, 'p-0000000000000025');
    joined();
    kube.addPod({ name: 'web-5d9f8-aaaaa', nodeName: node!.lanIp, requests: { cpu: '500m' }, terminationGracePeriodSeconds: 10 });
    kube.addPod({ clusterId: CLUSTER, name: 'web-5d9f8-bbbbb', requests: { cpu: '64' } }); // fits nowhere: Pending
    const deleted = kube.deletePod(CLUSTER, 'default', 'web-5d9f8-aaaaa');
    expect(deleted.metadata).toMatchObject({ deletionTimestamp: expect.any(String), deletionGracePeriodSeconds: 10 });
    kube.deletePod(CLUSTER, 'default', 'web-5d9f8-bbbbb');
    expect(names(await api('/api/v1/namespaces/default/pods'))).toEqual(['web-5d9f8-aaaaa']);
    offsetMs += 10_000;
    expect(names(await api('/api/v1/namespaces/default/pods'))).toEqual([]);
    const proxy = kube.pods(CLUSTER).find((p) => (p.metadata.name as string).startsWith('kube-proxy-'))!;
    expect(() => kube.deletePod(CLUSTER, 'kube-system', proxy.metadata.name as string)).toThrow(/DaemonSet/);
    expect(() => kube.deletePod(CLUSTER, 'default', 'nope')).toThrow(/no pod/);
  });
});

describe('eviction', () => {
  it('201 with a Success Status; the pod is Terminating until its grace period has passed on the clock, then gone, and replaced elsewhere', async () => {
    // kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/, "How API-initiated eviction works";
    // the 201 and its Status: the apiserver's create handler (kubernetes/kubernetes eviction.go returns Status Success).
    const [a, b] = await buy(2, 'p-0000000000000030');
    joined();
    kube.addPod({ name: 'web-5d9f8-abcde', nodeName: a!.lanIp, requests: { cpu: '500m', memory: '1Gi' }, terminationGracePeriodSeconds: 10 });
    await patchNode(a!.lanIp, { spec: { unschedulable: true } });

    const evicted = await evict('default', 'web-5d9f8-abcde');
    expect(evicted).toMatchObject({ status: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } });
    const terminating = (await api('/api/v1/namespaces/default/pods/web-5d9f8-abcde')).body;
    expect(terminating.metadata).toMatchObject({ deletionTimestamp: expect.any(String), deletionGracePeriodSeconds: 10 });
    expect(Date.parse(terminating.metadata.deletionTimestamp) - clock()).toBeGreaterThan(8_000);
    expect(names(await api(`/api/v1/pods?fieldSelector=spec.nodeName=${a!.lanIp}`))).toContain('web-5d9f8-abcde');
    // Evicting a pod already being deleted deletes it without a budget: 201 again, nothing changes.
    expect((await evict('default', 'web-5d9f8-abcde')).status).toBe(201);

    offsetMs += 10_000;
    expect((await api('/api/v1/namespaces/default/pods/web-5d9f8-abcde')).status).toBe(404);
    const onA = names(await api(`/api/v1/pods?fieldSelector=spec.nodeName=${a!.lanIp}`));
    expect(onA).toHaveLength(1);
    expect(onA[0]).toMatch(/^kube-proxy-/);
    // The ReplicaSet's replacement: a new name, not on the cordoned node.
    const replacement = (await api('/api/v1/namespaces/default/pods')).body.items[0];
    expect(replacement.metadata.name).toMatch(/^web-5d9f8-[a-z0-9]{5}$/);
    expect(replacement.metadata.name).not.toBe('web-5d9f8-abcde');
    expect([b!.lanIp, tke.instancesOf(CLUSTER).find((i) => i.Labels.length === 0)!.LanIP]).toContain(replacement.spec.nodeName);
  });

  it("429 while a PodDisruptionBudget refuses (for N attempts, or until a time), then 201", async () => {
    // eviction.go: "Cannot evict pod as it would violate the pod's disruption budget.", a DisruptionBudget cause.
    const [node] = await buy(1, 'p-0000000000000031');
    joined();
    kube.addPod({ name: 'api-7c6d5-aaaaa', nodeName: node!.lanIp, pdbBlocksTimes: 2, pdbName: 'api-pdb', terminationGracePeriodSeconds: 0 });
    kube.addPod({ name: 'cache-0', nodeName: node!.lanIp, ownerKind: 'StatefulSet', pdbBlocksUntil: clock() + 60_000 });

    const refused = await evict('default', 'api-7c6d5-aaaaa');
    expect(refused).toMatchObject({
      status: 429,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'TooManyRequests',
        code: 429,
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget api-pdb needs 1 healthy pods and has 1 currently' }] },
      },
    });
    // A dry run is answered as the real one would be and uses nothing up.
    expect((await evict('default', 'api-7c6d5-aaaaa', {}, '?dryRun=All')).status).toBe(429);
    expect((await evict('default', 'api-7c6d5-aaaaa')).status).toBe(429);
    expect((await evict('default', 'api-7c6d5-aaaaa', {}, '?dryRun=All')).status).toBe(201);
    expect((await api('/api/v1/namespaces/default/pods/api-7c6d5-aaaaa')).body.metadata).not.toHaveProperty('deletionTimestamp');
    expect((await evict('default', 'api-7c6d5-aaaaa')).status).toBe(201);
    expect((await api('/api/v1/namespaces/default/pods/api-7c6d5-aaaaa')).status).toBe(404); // grace 0: gone at once

    expect((await evict('default', 'cache-0')).status).toBe(429);
    offsetMs += 30_000;
    expect((await evict('default', 'cache-0')).status).toBe(429);
    offsetMs += 31_000;
    expect((await evict('default', 'cache-0')).status).toBe(201);
    expect(kube.calls().filter((c) => c.verb === 'evict').map((c) => c.status)).toEqual([429, 429, 429, 201, 201, 429, 429, 201]);
  });

  it('a Pending pod is evicted without asking its budget', async () => {
    // eviction.go canIgnorePDB: Succeeded, Failed and Pending pods, and pods being deleted.
    const pending = kube.addPod({ clusterId: CLUSTER, name: 'huge-abcde', requests: { cpu: '64' }, pdbBlocksTimes: 5 });
    expect(pending.status).toMatchObject({ phase: 'Pending' });
    expect((await evict('default', 'huge-abcde')).status).toBe(201);
  });

  it('404 for a pod that is not there; 400 for a body that is not an Eviction of that pod; 415 for a body that is not JSON', async () => {
    const [node] = await buy(1, 'p-0000000000000032');
    joined();
    kube.addPod({ name: 'web-1', nodeName: node!.lanIp });
    expect(await evict('default', 'nope')).toMatchObject({ status: 404, body: { kind: 'Status', reason: 'NotFound', code: 404, message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } } });
    expect((await evict('other-namespace', 'web-1')).status).toBe(404);
    const post = (body: unknown, contentType?: string) => api('/api/v1/namespaces/default/pods/web-1/eviction', { method: 'POST', body, ...(contentType !== undefined && { contentType }) });
    expect(await post({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-2', namespace: 'default' } })).toMatchObject({
      status: 400,
      body: { reason: 'BadRequest', message: 'name in URL does not match name in Eviction object' },
    });
    expect((await post({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-1', namespace: 'kube-system' } })).status).toBe(400);
    expect((await post({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1' } })).status).toBe(400);
    expect((await post('name=web-1', 'text/plain')).status).toBe(415);
    expect((await api('/api/v1/namespaces/default/pods/web-1/eviction', { method: 'GET' })).status).toBe(405);
    // policy/v1beta1 is still taken (eviction.go AcceptsGroupVersion).
    expect((await post({ apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name: 'web-1', namespace: 'default' } })).status).toBe(201);
  });
});

describe('faults, for the Kubernetes API failing mid-drain', () => {
  it('answers a status for the next N calls of a verb, then normally; other verbs are untouched', async () => {
    const [node] = await buy(1, 'p-0000000000000040');
    joined();
    kube.addPod({ name: 'web-1', nodeName: node!.lanIp });
    kube.injectFault({ kind: 'status', status: 503, verb: 'evict', times: 2 });
    expect(await evict('default', 'web-1')).toMatchObject({ status: 503, body: { kind: 'Status', reason: 'ServiceUnavailable', code: 503 } });
    expect((await api('/api/v1/nodes')).status).toBe(200);
    expect((await evict('default', 'web-1')).status).toBe(503);
    expect((await evict('default', 'web-1')).status).toBe(201);

    kube.injectFault({ kind: 'status', status: 500, verb: 'patch-node', after: 1 });
    expect((await patchNode(node!.lanIp, { spec: { unschedulable: true } })).status).toBe(200);
    expect(await patchNode(node!.lanIp, { spec: { unschedulable: true } })).toMatchObject({ status: 500, body: { reason: 'InternalError' } });
    expect((await patchNode(node!.lanIp, { spec: { unschedulable: true } })).status).toBe(200);

    // A 429 from API Priority and Fairness, not a budget: Retry-After, no DisruptionBudget cause.
    kube.injectFault({ kind: 'status', status: 429, verb: 'list-pods' });
    const throttled = await api('/api/v1/pods');
    expect(throttled).toMatchObject({ status: 429, body: { reason: 'TooManyRequests', details: { retryAfterSeconds: 1 } } });
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(throttled.body.details).not.toHaveProperty('causes');
  });

  it('hangs, drops the connection, or delays; a fault for another cluster does not touch this one', async () => {
    kube.injectFault({ kind: 'hang', verb: 'list-nodes' });
    await expect(api('/api/v1/nodes', { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    kube.injectFault({ kind: 'drop' });
    await expect(api('/api/v1/nodes')).rejects.toThrow();
    kube.injectFault({ kind: 'delay', ms: 150 });
    const started = Date.now();
    expect((await api('/api/v1/nodes')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    kube.injectFault({ kind: 'status', status: 500, clusterId: OTHER });
    expect((await api('/api/v1/nodes')).status).toBe(200);
    expect((await api('/api/v1/nodes', { cluster: OTHER, token: kubeSandboxToken(OTHER) })).status).toBe(500);
    expect(kube.calls().map((c) => [c.clusterId, c.verb, c.status, c.fault])).toEqual([
      [CLUSTER, 'list-nodes', 0, 'hang'],
      [CLUSTER, 'list-nodes', 0, 'drop'],
      [CLUSTER, 'list-nodes', 200, 'delay'],
      [CLUSTER, 'list-nodes', 200, undefined],
      [OTHER, 'list-nodes', 500, 'status'],
    ]);
  });

  it('takes faults over HTTP, checked, and forgets them at reset', async () => {
    const post = (body: unknown) => fetch(`${kube.url()}/__kube/faults`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post({ kind: 'status', status: 503, verb: 'evict', times: 3 })).status).toBe(200);
    expect((await post({ kind: 'status', status: 200 })).status).toBe(400);
    expect((await post({ kind: 'explode' })).status).toBe(400);
    expect((await post({ kind: 'hang', verb: 'delete-everything' })).status).toBe(400);
    expect((await fetch(`${kube.url()}/__kube/reset`, { method: 'POST' })).status).toBe(200);
    expect(kube.calls()).toEqual([]);
    const [node] = await buy(1, 'p-0000000000000041');
    joined();
    kube.addPod({ name: 'web-1', nodeName: node!.lanIp });
    expect((await evict('default', 'web-1')).status).toBe(201);
  });
});

describe('node sizes and quantities', () => {
  it("reads a size from CVM's instance type name", () => {
    expect(sizeFromInstanceType('S5.MEDIUM4')).toEqual({ cpu: 2, memoryGiB: 4 });
    expect(sizeFromInstanceType('S5.2XLARGE16')).toEqual({ cpu: 8, memoryGiB: 16 });
    expect(sizeFromInstanceType('SA3.MEDIUM2')).toEqual({ cpu: 2, memoryGiB: 2 });
    expect(sizeFromInstanceType('S3.SMALL1')).toEqual({ cpu: 1, memoryGiB: 1 });
    expect(sizeFromInstanceType('GN10X.2XLARGE40')).toEqual({ cpu: 8, memoryGiB: 40 });
    expect(sizeFromInstanceType('custom')).toBeUndefined();
  });

  it("reserves what TKE's page says, in its own examples", () => {
    // tencentcloud.com/document/product/457/48777: 32 cores reserve 0.8, 96 cores 2; 8 GB reserves
    // 1,843 MB, 12 GB 2,252 MB, 32 GB 3,645 MB; then the kubelet's 100Mi eviction threshold.
    const reservedMiB = (memoryGiB: number) => (memoryGiB * 1024 * 1024 - 100 * 1024 - allocatableOf({ cpu: 1, memoryGiB }).memoryKi) / 1024;
    expect(allocatableOf({ cpu: 32, memoryGiB: 8 }).milliCpu).toBe(31_200);
    expect(allocatableOf({ cpu: 96, memoryGiB: 8 }).milliCpu).toBe(94_000);
    expect(allocatableOf({ cpu: 4, memoryGiB: 8 }).milliCpu).toBe(3_900);
    expect(Math.floor(reservedMiB(8))).toBe(1843);
    expect(Math.floor(reservedMiB(12))).toBe(2252);
    expect(Math.floor(reservedMiB(32))).toBe(3645);
  });

  it('parses resource quantities as the API writes them', () => {
    // kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/.
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('3043328Ki')).toBe(3043328 * 1024);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(() => parseQuantity('1.5 cores')).toThrow();
  });
});
