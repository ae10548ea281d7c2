import type { Config } from '../config/config';
import { MARK_KEYS } from '../core/marks';
import type { ClusterConfig } from '../core/model';
import { indexPurchase, liveInstancesOf, purchaseExpiry, purchaseIndexKeyOf, purchaseKeyOf, type PurchaseIndex, type PurchaseRecord } from '../core/purchase';
import {
  asksOf,
  dropReleaseLock,
  nextDrainStep,
  planRelease,
  releaseAsksKeyOf,
  releaseLockKeyOf,
  releasePolicyOf,
  takeReleaseAsks,
  takeReleaseLock,
  type ClusterLoad,
  type InstanceRelease,
  type ReleaseAsks,
  type ReleaseCandidate,
  type ReleaseLock,
} from '../core/release';
import { readValue } from '../core/store-step';
import { ScaleOutError } from '../errors';
import { instanceIdOfProviderID, type KubeApi, type KubeNode, type KubePod } from '../kubernetes/kube-api';
import type { StateStore } from '../store/state-store';
import { deleteInstances, type TkeCallOptions } from '../tke/call-tke';
import type { TkeApi } from '../tke/tke-api';
import { indexedPurchases, readPurchase } from './purchase-reads';

/**
 * The pass's share of giving nodes back (core/release.ts), per cluster whose Kubernetes API the
 * config names, one pass at a time per cluster (a lock in the store):
 *
 *   plan     the asks waiting (a low alarm, a command), newest node first, within the floor, the
 *            disruption budget, operators' annotations, the delay after a purchase and the guard;
 *            each chosen node's release is written in its purchase's record before anything is done
 *   drain    one step per node per pass: cordon; evict its pods (not DaemonSet, not mirror pods)
 *            through the Eviction API, a 429 (a PodDisruptionBudget) tried again next pass; wait
 *            for them to go; past the drain's time, stuck (left cordoned) unless forced
 *   delete   DeleteClusterInstances (`terminate`; `retain` for prepaid), Succ or NotFound: released
 *
 * Only instances with the function's record AND a node carrying both its marks (owner, purchase),
 * matched by providerID. What fails is tried again by the next pass; each step is written back.
 */
export interface ReleaseDeps {
  readonly config: Config;
  readonly store: StateStore;
  readonly tke: TkeApi;
  /** The cluster's Kubernetes API, when the config names one and its env is set. */
  readonly kubeFor: (cluster: ClusterConfig) => KubeApi | undefined;
  readonly now: () => number;
  readonly passId: string;
}

/** What the pass did to give nodes back, per cluster, for its log line. */
export interface ReleaseReport {
  readonly cluster: string;
  readonly planned?: readonly string[];
  readonly held?: ReadonlyArray<{ readonly instanceId: string; readonly reason: string; readonly detail: string }>;
  /** Per instance: the step taken (cordoned, evicting n, refused n, waiting, deleted, stuck, released). */
  readonly steps?: Readonly<Record<string, string>>;
  readonly problems?: readonly string[];
}

export async function releaseNodes(deps: ReleaseDeps, deadline: number): Promise<ReleaseReport[]> {
  const reports: ReleaseReport[] = [];
  for (const cluster of deps.config.clusters.values()) {
    const kube = deps.kubeFor(cluster);
    if (kube === undefined) continue;
    if (deadline - deps.now() < MIN_CLUSTER_MS) break;
    const report = await releaseInCluster(deps, cluster, kube, deadline);
    if (report !== undefined) reports.push(report);
  }
  return reports;
}

const MIN_CLUSTER_MS = 2_000;

async function releaseInCluster(deps: ReleaseDeps, cluster: ClusterConfig, kube: KubeApi, deadline: number): Promise<ReleaseReport | undefined> {
  const { store, now, config } = deps;
  const asks = asksOf(await store.update<ReleaseAsks, ReleaseAsks | undefined>(releaseAsksKeyOf(cluster.clusterId), readValue));
  const live = (await indexedPurchases(store, cluster.clusterId)).filter((e) => e.live === true);
  if (asks.length === 0 && live.length === 0) return undefined;
  const records = (await Promise.all(live.map((e) => readPurchase(store, cluster.clusterId, e.id)))).filter((r): r is PurchaseRecord => r !== undefined);
  const releasing = records.flatMap((r) => Object.entries(r.instances ?? {}).filter(([, i]) => i.release !== undefined && !['released', 'restored'].includes(i.release.state)).map(([id]) => ({ record: r, id })));
  if (asks.length === 0 && releasing.length === 0) return undefined;

  const lockKey = releaseLockKeyOf(cluster.clusterId);
  if (!(await store.update<ReleaseLock, boolean>(lockKey, (current) => takeReleaseLock(current, deps.passId, deadline + LOCK_MARGIN_MS, now())))) {
    return { cluster: cluster.alias, problems: ['another pass is giving this cluster\'s nodes back'] };
  }
  const problems: string[] = [];
  const steps: Record<string, string> = {};
  let planned: string[] | undefined;
  let held: ReleaseReport['held'];
  try {
    const signal = () => AbortSignal.timeout(Math.max(1, Math.min(deps.config.tke.attemptTimeoutMs, deadline - now())));
    let nodes: KubeNode[];
    let pods: KubePod[];
    try {
      // Every node: the guard weighs what would remain of the whole cluster, not of the function's nodes alone.
      nodes = await kube.listNodes('', signal());
      pods = await kube.listPods(undefined, signal());
    } catch (error) {
      if (!(error instanceof ScaleOutError)) throw error;
      return { cluster: cluster.alias, problems: [`${error.code}: ${error.message}`] };
    }
    // Only a node that carries both marks of the purchase whose record names its instance.
    const nodeOf = new Map<string, KubeNode>();
    for (const node of nodes) {
      const id = instanceIdOfProviderID(node.providerID);
      if (id !== undefined) nodeOf.set(id, node);
    }
    const ownNode = (record: PurchaseRecord, instanceId: string): KubeNode | undefined => {
      const node = nodeOf.get(instanceId);
      return node !== undefined && node.labels[MARK_KEYS.owner] === record.owner && node.labels[MARK_KEYS.purchase] === record.id ? node : undefined;
    };
    const changes = new Map<string, Map<string, InstanceRelease>>();
    const change = (record: PurchaseRecord, instanceId: string, release: InstanceRelease) => {
      const forRecord = changes.get(record.id) ?? new Map<string, InstanceRelease>();
      forRecord.set(instanceId, release);
      changes.set(record.id, forRecord);
    };

    // 1. plan the asks.
    if (asks.length > 0) {
      const candidates: ReleaseCandidate[] = records.flatMap((r) =>
        liveInstancesOf(r)
          .filter((id) => r.instances?.[id]?.release === undefined || r.instances[id]!.release!.state === 'restored')
          .filter((id) => asks.every((a) => a.template === undefined) || asks.some((a) => a.template === undefined || a.template === r.template))
          .map((id) => ({ instanceId: id, purchaseId: r.id, clusterId: r.clusterId, since: r.instances?.[id]?.readyAt ?? r.readyAt ?? r.requestedAt, ...(ownNode(r, id) !== undefined && { node: ownNode(r, id)! }) })),
      );
      const count = asks.some((a) => a.count === 'all') ? Infinity : asks.reduce((n, a) => n + (a.count as number), 0);
      const policy = releasePolicyOf(cluster.release, candidates.length + releasing.length);
      const lastPurchaseAt = Math.max(0, ...(await indexedPurchases(store, cluster.clusterId)).map((e) => e.at));
      const plan = planRelease(candidates, count, releasing.length, policy, loadOf(nodes, pods), lastPurchaseAt > 0 ? lastPurchaseAt : undefined, now());
      const reason = asks.map((a) => a.reason).join('; ');
      for (const c of plan.release) {
        const record = records.find((r) => r.id === c.purchaseId)!;
        const release: InstanceRelease = { state: 'cordoned', reason, startedAt: now(), drainUntil: now() + cluster.release.drainTimeoutSeconds * 1000, nodeName: c.node!.name, ...(cluster.release.force && { force: true as const }) };
        change(record, c.instanceId, release);
        releasing.push({ record, id: c.instanceId });
      }
      planned = plan.release.map((c) => c.instanceId);
      held = plan.held;
    }

    // 2. one step per node on its way out.
    for (const { record, id } of releasing) {
      if (deadline - now() < MIN_STEP_MS) break;
      const release = changes.get(record.id)?.get(id) ?? record.instances![id]!.release!;
      const node = ownNode(record, id);
      const podsOn = node === undefined ? [] : pods.filter((p) => p.nodeName === node.name && !p.mirror && !p.ownerKinds.includes('DaemonSet'));
      const step = nextDrainStep(release, { nodeListed: node !== undefined, unschedulable: node?.unschedulable === true, podsToEvict: podsOn }, now());
      try {
        switch (step.kind) {
          case 'cordon':
            await kube.setUnschedulable(node!.name, true, signal());
            change(record, id, { ...release, state: 'draining' });
            steps[id] = 'cordoned';
            break;
          case 'evict': {
            const outcomes = await Promise.all(step.pods.map((p) => kube.evict(p.namespace, p.name, signal())));
            const refused = outcomes.filter((o) => o === 'refused').length;
            change(record, id, { ...release, state: 'draining', ...(refused > 0 && { refusals: (release.refusals ?? 0) + refused }) });
            steps[id] = refused > 0 ? `evicting ${outcomes.length - refused}, refused ${refused} (a PodDisruptionBudget; tried again next pass)` : `evicting ${outcomes.length}`;
            break;
          }
          case 'wait':
            steps[id] = step.why;
            break;
          case 'stuck':
            if (release.state !== 'stuck') change(record, id, { ...release, state: 'stuck', lastError: step.why });
            steps[id] = `stuck: ${step.why}`;
            break;
          case 'delete': {
            const mode = record.offering.chargeType === 'PREPAID' || record.offering.chargeType === 'CDHPAID' ? 'retain' : 'terminate';
            const options: TkeCallOptions = { deadline, now, policy: config.tke };
            const deleted = await deleteInstances(deps.tke, record.region, record.clusterId, [id], { mode, force: false }, options);
            const r = deleted.response;
            if (r.succeeded.includes(id) || r.notFound.includes(id)) {
              change(record, id, { ...release, state: 'released', releasedAt: now() });
              steps[id] = `released (${mode})`;
            } else {
              change(record, id, { ...release, state: 'deleting', lastError: 'DeleteClusterInstances answered it in FailedInstanceIds' });
              steps[id] = 'deleting: not deleted yet';
            }
            break;
          }
          case 'done':
            break;
        }
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        // Nothing lost: the state written is the last one reached; the next pass takes the step again.
        problems.push(`${id}: ${error.code}: ${error.message}`);
        steps[id] = `failed, tried again next pass: ${error.code}`;
      }
    }

    // 3. write each purchase once, and its index entry (live until every node is given back).
    const retentionMs = config.purchases.retentionDays * 86_400_000;
    for (const [purchaseId, instances] of changes) {
      const written = await store.update<PurchaseRecord, PurchaseRecord | undefined>(purchaseKeyOf(cluster.clusterId, purchaseId), (current) => {
        if (current === undefined) return { write: { kind: 'keep' }, result: undefined };
        const next: PurchaseRecord = { ...current, instances: { ...current.instances, ...Object.fromEntries([...instances].map(([id, release]) => [id, { ...current.instances![id]!, release }])) } };
        return { write: { kind: 'put', value: next, expiresAt: purchaseExpiry(next, now(), retentionMs) }, result: next };
      });
      if (written !== undefined && liveInstancesOf(written).length === 0) {
        await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(cluster.clusterId), (current) =>
          indexPurchase(current, { id: written.id, clusterId: written.clusterId, at: written.requestedAt, expiresAt: purchaseExpiry(written, now(), retentionMs), live: false }, now()),
        );
      }
    }
    if (asks.length > 0) await store.update<ReleaseAsks, void>(releaseAsksKeyOf(cluster.clusterId), (current) => takeReleaseAsks(current, asks.map((a) => a.id), now()));
  } finally {
    await store.update<ReleaseLock, void>(lockKey, (current) => dropReleaseLock(current, deps.passId)).catch(() => undefined);
  }
  return {
    cluster: cluster.alias,
    ...(planned !== undefined && planned.length > 0 && { planned }),
    ...(held !== undefined && held.length > 0 && { held }),
    ...(Object.keys(steps).length > 0 && { steps }),
    ...(problems.length > 0 && { problems }),
  };
}

const LOCK_MARGIN_MS = 5_000;
const MIN_STEP_MS = 1_000;

/** The guard's view: every schedulable node's allocatable and what its pods (not finished) request. */
function loadOf(nodes: readonly KubeNode[], pods: readonly KubePod[]): ClusterLoad | undefined {
  if (nodes.length === 0) return undefined;
  const requested = new Map<string, { cpuMillis: number; memoryBytes: number }>();
  for (const p of pods) {
    if (p.nodeName === undefined) continue;
    const r = requested.get(p.nodeName) ?? { cpuMillis: 0, memoryBytes: 0 };
    requested.set(p.nodeName, { cpuMillis: r.cpuMillis + p.requests.cpuMillis, memoryBytes: r.memoryBytes + p.requests.memoryBytes });
  }
  return { nodes: new Map(nodes.filter((n) => !n.unschedulable).map((n) => [n.name, { allocatable: n.allocatable, requested: requested.get(n.name) ?? { cpuMillis: 0, memoryBytes: 0 } }])) };
}
