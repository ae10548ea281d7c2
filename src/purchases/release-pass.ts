import type { Config } from '../config/config';
import { deleteModeOf } from '../core/cleanup';
import { MARK_KEYS } from '../core/marks';
import type { ClusterConfig } from '../core/model';
import { indexPurchase, liveInstancesOf, markReleasing, purchaseExpiry, purchaseIndexKeyOf, purchaseKeyOf, type PurchaseIndex, type PurchaseIndexEntry, type PurchaseRecord } from '../core/purchase';
import {
  addReleaseAsk,
  anyRestorable,
  asksOf,
  beginDeleting,
  givingBack,
  sameRelease,
  dropReleaseLock,
  nextDrainStep,
  planRelease,
  noteLatest,
  putBackKeyOf,
  releaseAsksKeyOf,
  releaseBeganKeyOf,
  releaseLockKeyOf,
  releasePolicyOf,
  takeReleaseAsks,
  takeReleaseLock,
  withdrawReleaseAsks,
  type ClusterLoad,
  type InstanceRelease,
  type ReleaseAsk,
  type ReleaseAsks,
  type LastAt,
  type ReleaseCandidate,
  type ReleaseLock,
  type ReleasePlan,
  type ReleaseRequest,
} from '../core/release';
import { findCluster, unknownClusterError } from '../core/resolve';
import type { ReleaseOutcome } from '../sources/webhook-source';
import { readValue } from '../core/store-step';
import type { Notice } from '../core/notice';
import { releasedNotice, stuckNotice } from '../notify/news';
import { ScaleOutError, UnprocessableError } from '../errors';
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
  /** Queues notices for the team (a node released, a drain stuck); absent: no one is told. */
  readonly queueNews?: (notices: readonly Notice[]) => Promise<unknown>;
}

/** What a sender's ask needs: no pass of its own. */
export type ReleaseAskDeps = Omit<ReleaseDeps, 'passId' | 'queueNews'>;

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
  // Asks whose time has come (a release on resolution waits for the alarm to stay resolved).
  const dueAsks = async () => asksOf(await store.update<ReleaseAsks, ReleaseAsks | undefined>(releaseAsksKeyOf(cluster.clusterId), readValue)).filter((a) => (a.notBefore ?? 0) <= now());
  let asks = await dueAsks();
  let { entries, records } = await liveRecords(store, cluster);
  if (asks.length === 0 && records.length === 0) return undefined;
  // Leases that ended: the template's maxLifetime after the purchase, whatever the alarms say.
  const leaseDueOf = (of: readonly PurchaseRecord[]) =>
    of.filter((r) => {
      const lease = config.templates.get(r.template)?.maxLifetimeSeconds;
      return lease !== undefined && now() - (r.createdAt ?? r.requestedAt) >= lease * 1000;
    });
  if (asks.length === 0 && releasingOf(records).length === 0 && restoringOf(records).length === 0 && leaseDueOf(records).length === 0) return undefined;

  const lockKey = releaseLockKeyOf(cluster.clusterId);
  if (!(await store.update<ReleaseLock, boolean>(lockKey, (current) => takeReleaseLock(current, deps.passId, deadline + LOCK_MARGIN_MS, now())))) {
    return { cluster: cluster.alias, problems: ['another pass is giving this cluster\'s nodes back'] };
  }
  // Read again under the lock: a scale-out may have put nodes back, and withdrawn the asks for
  // them, since (scale-out/restore.ts).
  [asks, { entries, records }] = await Promise.all([dueAsks(), liveRecords(store, cluster)]).catch(async (error: unknown) => {
    await store.update<ReleaseLock, void>(lockKey, (current) => dropReleaseLock(current, deps.passId)).catch(() => undefined);
    throw error;
  });
  const general = asks.filter((a) => a.boughtBy === undefined);
  const episodic = asks.filter((a) => a.boughtBy !== undefined);
  const leaseDue = leaseDueOf(records);
  const releasing = releasingOf(records);
  const problems: string[] = [];
  const retentionMs = config.purchases.retentionDays * 86_400_000;
  const expiryOf = (next: PurchaseRecord) => purchaseExpiry(next, now(), retentionMs);
  const steps: Record<string, string> = {};
  let planned: string[] | undefined;
  let held: ReleaseReport['held'];
  const settled: Array<{ ids: string[]; planned: number; held: NonNullable<ReleaseReport['held']>; delayed: boolean }> = [];
  try {
    const signal = () => AbortSignal.timeout(Math.max(1, Math.min(deps.config.tke.attemptTimeoutMs, deadline - now())));
    let fleet: Fleet;
    try {
      fleet = await readFleet(kube, signal);
    } catch (error) {
      if (!(error instanceof ScaleOutError)) throw error;
      return { cluster: cluster.alias, problems: [`${error.code}: ${error.message}`] };
    }
    const { nodes, pods, ownNode } = fleet;
    const changes = new Map<string, Map<string, InstanceRelease>>();
    const change = (record: PurchaseRecord, instanceId: string, release: InstanceRelease) => {
      const forRecord = changes.get(record.id) ?? new Map<string, InstanceRelease>();
      forRecord.set(instanceId, release);
      changes.set(record.id, forRecord);
    };
    /** A chosen node's release begins: its first state, written before anything is done to it. */
    const start = (record: PurchaseRecord, c: ReleaseCandidate, reason: string, lease = false) => {
      change(record, c.instanceId, { state: 'cordoned', reason, startedAt: now(), drainUntil: now() + cluster.release.drainTimeoutSeconds * 1000, nodeName: c.node!.name, ...(cluster.release.force && { force: true as const }), ...(lease && { lease: true as const }) });
      releasing.push({ record, id: c.instanceId });
    };
    // The function's newest purchase and newest release begun in the cluster, once for every plan
    // of this pass (the delay after a purchase, the cooldown).
    const history = asks.length > 0 || leaseDue.length > 0 ? await historyOf(store, cluster, entries) : {};

    // 1. plan the asks that are due: those of any of the function's nodes together, then each
    // that is for what one alarm episode bought (a rule's release on resolution) on its own.
    if (general.length > 0) {
      const plan = planAsks(deps, cluster, fleet, records, releasing.length, general, ownedOf(records), history);
      const reason = general.map((a) => a.reason).join('; ');
      for (const c of plan.release) {
        const record = records.find((r) => r.id === c.purchaseId)!;
        start(record, c, reason);
      }
      planned = plan.release.map((c) => c.instanceId);
      held = plan.held;
      settled.push({ ids: general.map((a) => a.id), planned: plan.release.length, held: plan.held, delayed: plan.notBefore !== undefined });
    }
    for (const ask of episodic) {
      const taken = new Set(releasing.map((r) => r.id));
      const bought = records.filter((r) => boughtBy(r, ask.boughtBy!));
      const plan = planAsks(deps, cluster, fleet, bought, releasing.length, [ask], ownedOf(records), history, taken);
      for (const c of plan.release) {
        const record = records.find((r) => r.id === c.purchaseId)!;
        start(record, c, ask.reason);
      }
      planned = [...(planned ?? []), ...plan.release.map((c) => c.instanceId)];
      held = [...(held ?? []), ...plan.held];
      settled.push({ ids: [ask.id], planned: plan.release.length, held: plan.held, delayed: plan.notBefore !== undefined });
    }
    // 1b. leases that ended, within the same policy (the guard still holds), after the asks.
    if (leaseDue.length > 0) {
      const taken = new Set(releasing.map((r) => r.id));
      const lease: ReleaseAsk = { id: 'lease', count: 'all', reason: 'lease ended', at: now() };
      const plan = planAsks(deps, cluster, fleet, leaseDue, releasing.length, [lease], ownedOf(records), history, taken);
      for (const c of plan.release) {
        const record = records.find((r) => r.id === c.purchaseId)!;
        const lease = config.templates.get(record.template)?.maxLifetimeSeconds ?? 0;
        const said = lease >= 3600 ? `${Math.round(lease / 360) / 10} h` : `${Math.round(lease / 60)} min`;
        start(record, c, `its lease of ${said} (template ${record.template}, maxLifetime) ended`, true);
      }
      planned = [...(planned ?? []), ...plan.release.map((c) => c.instanceId)];
      held = [...(held ?? []), ...plan.held];
    }

    // The cooldown starts now for the next plans (of later passes).
    if ((planned ?? []).length > 0) {
      const began = now();
      await store.update<LastAt, void>(releaseBeganKeyOf(cluster.clusterId), (current) => noteLatest(current, began, cluster.release.cooldownSeconds * 1000)).catch((error: unknown) => {
        if (!(error instanceof ScaleOutError)) throw error;
        problems.push(`the release's start could not be noted (${error.code}): the next plans are not held by release.cooldown`);
      });
    }

    // 2. one step per node on its way out, and per node a scale-out claimed but did not uncordon.
    for (const { record, id } of [...releasing, ...restoringOf(records)]) {
      if (deadline - now() < MIN_STEP_MS) break;
      const release = changes.get(record.id)?.get(id) ?? record.instances![id]!.release!;
      const node = ownNode(record, id);
      // Its node is there but no longer carries both of the function's marks (an operator took it
      // over): left alone, whatever its state. Only a node that is gone leaves TKE's side to finish.
      if (node === undefined && fleet.listed(id)) {
        steps[id] = "left alone: its node no longer carries the function's marks";
        continue;
      }
      const podsOn = node === undefined ? [] : pods.filter((p) => p.nodeName === node.name && !p.mirror && !p.ownerKinds.includes('DaemonSet'));
      const step = nextDrainStep(release, { nodeListed: node !== undefined, unschedulable: node?.unschedulable === true, podsToEvict: podsOn }, now());
      try {
        switch (step.kind) {
          case 'cordon':
            await kube.setUnschedulable(node!.name, true, signal());
            change(record, id, { ...release, state: 'draining' });
            steps[id] = 'cordoned';
            break;
          case 'uncordon':
            await kube.setUnschedulable(node!.name, false, signal());
            change(record, id, { ...release, state: 'restored', restoredAt: now() });
            steps[id] = 'put back in service (uncordoned)';
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
            if (release.state !== 'deleting') {
              // Said before it is done: once deleting, no scale-out puts it back.
              const seen = records.find((r) => r.id === record.id)?.instances?.[id]?.release;
              const marked = await store.update<PurchaseRecord, PurchaseRecord | undefined>(purchaseKeyOf(cluster.clusterId, record.id), (current) => beginDeleting(current, id, seen, release, expiryOf));
              if (marked === undefined) {
                steps[id] = 'not deleted: put back in service meanwhile';
                break;
              }
              // What the pass writes last is judged against what it wrote here.
              records = records.map((r) => (r.id === marked.id ? marked : r));
            }
            const mode = deleteModeOf(record.offering.chargeType);
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
            // A claim for putting it back whose node is schedulable already: nothing left to do.
            if (release.state === 'restoring') change(record, id, { ...release, state: 'restored', restoredAt: now() });
            break;
        }
      } catch (error) {
        if (!(error instanceof ScaleOutError)) throw error;
        // Nothing lost: the state written is the last one reached; the next pass takes the step again.
        problems.push(`${id}: ${error.code}: ${error.message}`);
        steps[id] = `failed, tried again next pass: ${error.code}`;
      }
    }

    // 3. write each purchase once, and its index entry (live until every node is given back). A
    // node whose release moved on since the pass read it (a scale-out put it back after a lock
    // that lapsed) keeps what the other wrote: the pass's step for it is dropped.
    for (const [purchaseId, instances] of changes) {
      const read = records.find((r) => r.id === purchaseId);
      const written = await store.update<PurchaseRecord, PurchaseRecord | undefined>(purchaseKeyOf(cluster.clusterId, purchaseId), (current) => {
        if (current === undefined) return { write: { kind: 'keep' }, result: undefined };
        const unmoved = [...instances].filter(([id]) => sameRelease(current.instances?.[id]?.release, read?.instances?.[id]?.release));
        if (unmoved.length === 0) return { write: { kind: 'keep' }, result: current };
        const next: PurchaseRecord = { ...current, instances: { ...current.instances, ...Object.fromEntries(unmoved.map(([id, release]) => [id, { ...current.instances![id]!, release }])) } };
        return { write: { kind: 'put', value: next, expiresAt: expiryOf(next) }, result: next };
      });
      // News: each node given back, each drain that ran out of time, once (the notice's ID is the node's).
      if (written !== undefined && deps.queueNews !== undefined) {
        const before = records.find((r) => r.id === purchaseId);
        const news: Notice[] = [];
        for (const [id] of instances) {
          const release = written.instances?.[id]?.release;
          if (release === undefined) continue;
          const was = before?.instances?.[id]?.release?.state;
          if (release.state === 'released' && was !== 'released') news.push(releasedNotice(written, id, release, deleteModeOf(written.offering.chargeType), now()));
          if (release.state === 'stuck' && was !== 'stuck') news.push(stuckNotice(written, id, release, release.lastError ?? 'pods left on it', now()));
        }
        if (news.length > 0) await deps.queueNews(news);
      }
      if (written !== undefined && liveInstancesOf(written).length === 0) {
        await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(cluster.clusterId), (current) =>
          indexPurchase(current, { id: written.id, clusterId: written.clusterId, at: written.requestedAt, expiresAt: expiryOf(written), live: false, releasing: false }, now()),
        );
      } else if (written !== undefined) {
        // A scale-out reads only the records whose entry says a node could be put back (scale-out/restore.ts).
        await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(cluster.clusterId), (current) => markReleasing(current, written.id, anyRestorable(written), now()));
      }
    }
    // A record the pass left as it was whose entry does not say yet that a node of it could be put
    // back (written before the index said so): it says so now.
    const flagged = new Set(entries.filter((e) => e.releasing === true).map((e) => e.id));
    for (const record of records.filter((r) => !changes.has(r.id) && !flagged.has(r.id) && anyRestorable(r))) {
      await store.update<PurchaseIndex, void>(purchaseIndexKeyOf(cluster.clusterId), (current) => markReleasing(current, record.id, true, now()));
    }
    for (const { ids, planned: count, held: kept, delayed } of settled) {
      // Held back only for a while (the disruption budget: the nodes on their way out will be gone;
      // the delay after a purchase: it ends): the rest waits. The floor, the guard, an operator's
      // annotation would hold it back as long: the ask is done, and said.
      // Within the delay after a purchase the ask waits even if nothing is a candidate yet (nodes still joining).
      const onlyBudget = delayed || (kept.length > 0 && kept.every((h) => h.reason === 'disruption-budget' || h.reason === 'delay-after-purchase' || h.reason === 'cooldown'));
      await store.update<ReleaseAsks, void>(releaseAsksKeyOf(cluster.clusterId), (current) => takeReleaseAsks(current, ids, now(), count, onlyBudget));
    }
  } finally {
    await store.update<ReleaseLock, void>(lockKey, (current) => dropReleaseLock(current, deps.passId)).catch(() => undefined);
  }
  if ((planned ?? []).length === 0 && (held ?? []).length === 0 && Object.keys(steps).length === 0 && problems.length === 0) return undefined;
  return {
    cluster: cluster.alias,
    ...(planned !== undefined && planned.length > 0 && { planned }),
    ...(held !== undefined && held.length > 0 && { held }),
    ...(Object.keys(steps).length > 0 && { steps }),
    ...(problems.length > 0 && { problems }),
  };
}

const LOCK_MARGIN_MS = 5_000;


/** What the pass reads of a cluster to give nodes back: every node and pod, and which node is whose. */
interface Fleet {
  readonly nodes: readonly KubeNode[];
  readonly pods: readonly KubePod[];
  /** The node of a purchase's instance, if it carries both of the function's marks for that purchase (matched by providerID). */
  readonly ownNode: (record: PurchaseRecord, instanceId: string) => KubeNode | undefined;
  /** Whether any node is the instance's (marked or not). */
  readonly listed: (instanceId: string) => boolean;
}

async function readFleet(kube: KubeApi, signal: () => AbortSignal): Promise<Fleet> {
  // Every node: the guard weighs what would remain of the whole cluster, not of the function's nodes alone.
  const nodes = await kube.listNodes('', signal());
  const pods = await kube.listPods(undefined, signal());
  const byInstance = new Map<string, KubeNode>();
  for (const node of nodes) {
    const id = instanceIdOfProviderID(node.providerID);
    if (id !== undefined) byInstance.set(id, node);
  }
  return {
    nodes,
    pods,
    listed: (instanceId) => byInstance.has(instanceId),
    ownNode: (record, instanceId) => {
      const node = byInstance.get(instanceId);
      return node !== undefined && node.labels[MARK_KEYS.owner] === record.owner && node.labels[MARK_KEYS.purchase] === record.id ? node : undefined;
    },
  };
}

/** Which of the cluster's live nodes the asks take now (core/release.ts, planRelease). */
function planAsks(
  deps: Pick<ReleaseDeps, 'now'>,
  cluster: ClusterConfig,
  fleet: Fleet,
  records: readonly PurchaseRecord[],
  releasing: number,
  asks: readonly ReleaseAsk[],
  /** The function's nodes in the cluster in all, the floor's base. */
  owned: number,
  history: ReleaseHistory,
  taken: ReadonlySet<string> = new Set(),
): ReleasePlan {
  const templates = new Set(asks.map((a) => a.template));
  const candidates: ReleaseCandidate[] = records.flatMap((r) =>
    liveInstancesOf(r)
      .filter((id) => !taken.has(id) && (r.instances?.[id]?.release === undefined || r.instances[id]!.release!.state === 'restored'))
      // An ask for one template's nodes takes only those; an ask without one, any.
      .filter(() => templates.has(undefined) || templates.has(r.template))
      .map((id) => {
        const node = fleet.ownNode(r, id);
        // Newest by when it was bought (Tencent Auto Scaling's NEWEST_INSTANCE goes by creation time).
        return { instanceId: id, purchaseId: r.id, clusterId: r.clusterId, since: r.createdAt ?? r.requestedAt, ...(node !== undefined && { node }) };
      }),
  );
  const count = asks.some((a) => a.count === 'all') ? Infinity : asks.reduce((n, a) => n + (a.count as number), 0);
  const policy = releasePolicyOf(cluster.release, owned);
  return planRelease(candidates, count, releasing, policy, loadOf(fleet.nodes, fleet.pods), history.lastPurchaseAt, deps.now(), owned, history.lastReleaseAt);
}

/** When the function last bought in the cluster (its purchase index) and last began giving a node back, if ever. */
interface ReleaseHistory {
  readonly lastPurchaseAt?: number;
  readonly lastReleaseAt?: number;
}

async function historyOf(store: StateStore, cluster: ClusterConfig, entries: readonly PurchaseIndexEntry[]): Promise<ReleaseHistory> {
  const atOf = async (key: string) => {
    const at = (await store.update<LastAt, LastAt | undefined>(key, readValue))?.at;
    return typeof at === 'number' ? at : 0;
  };
  // Nodes a scale-out put back count as a purchase: the delay after one holds for them too.
  const bought = Math.max(0, ...entries.map((e) => e.at), await atOf(putBackKeyOf(cluster.clusterId)));
  const began = await atOf(releaseBeganKeyOf(cluster.clusterId));
  return { ...(bought > 0 && { lastPurchaseAt: bought }), ...(began > 0 && { lastReleaseAt: began }) };
}

/**
 * An ask to give nodes back, from a sender: refused (422) when the cluster is unknown or the config
 * names no Kubernetes API for it; a dry run plans it now and says what would go; else it is queued
 * for the pass, once per event.
 */
export async function askRelease(deps: ReleaseAskDeps, request: ReleaseRequest): Promise<ReleaseOutcome> {
  const cluster = findCluster(deps.config, request.cluster);
  if (cluster === undefined) return { ok: false, request, error: unknownClusterError(deps.config, request.cluster) };
  if (request.template !== undefined && !deps.config.templates.has(request.template)) {
    return { ok: false, request, error: new UnprocessableError('UnknownTemplate', `template: unknown template ${JSON.stringify(request.template)}; declared: ${[...deps.config.templates.keys()].join(', ')}`) };
  }
  const kube = deps.kubeFor(cluster);
  if (kube === undefined) {
    return { ok: false, request, error: new UnprocessableError('ReleaseNotConfigured', `cluster ${cluster.alias}: no Kubernetes API is configured (clusters.${cluster.alias}.kubernetes, with its env vars set), so its nodes cannot be drained and given back`) };
  }
  const ask: ReleaseAsk = {
    id: `${request.source}:${request.eventId}`,
    count: request.count,
    reason: request.reason ?? `${request.source} event ${request.eventId}`,
    at: deps.now(),
    ...(request.template !== undefined && { template: request.template }),
    ...(request.boughtBy !== undefined && { boughtBy: request.boughtBy }),
    ...(request.notBefore !== undefined && { notBefore: request.notBefore }),
  };
  try {
    if (request.dryRun === true) {
      const { entries, records } = await liveRecords(deps.store, cluster);
      const releasing = releasingOf(records).length;
      const deadline = deps.now() + deps.config.tke.attemptTimeoutMs;
      const fleet = await readFleet(kube, () => AbortSignal.timeout(Math.max(1, deadline - deps.now())));
      // What one alarm episode bought, for a release on resolution; else any of the function's nodes.
      const from = ask.boughtBy === undefined ? records : records.filter((r) => boughtBy(r, ask.boughtBy!));
      const plan = planAsks(deps, cluster, fleet, from, releasing, [ask], ownedOf(records), await historyOf(deps.store, cluster, entries));
      return { ok: true, request, status: 'dry-run', plan: { wouldRelease: plan.release.map((c) => c.instanceId), held: plan.held } };
    }
    const added = await deps.store.update<ReleaseAsks, 'added' | 'known'>(releaseAsksKeyOf(cluster.clusterId), (current) => addReleaseAsk(current, ask, deps.now()));
    return { ok: true, request, status: added === 'added' ? 'release-requested' : 'replayed' };
  } catch (error) {
    if (!(error instanceof ScaleOutError)) throw error;
    return { ok: false, request, error };
  }
}

/** The instances on their way out: a release started, not yet released (nor put back). */
function releasingOf(records: readonly PurchaseRecord[]): Array<{ record: PurchaseRecord; id: string }> {
  return records.flatMap((r) => Object.entries(r.instances ?? {}).filter(([, i]) => givingBack(i.release)).map(([id]) => ({ record: r, id })));
}

/** The instances a scale-out claimed to put back whose uncordon it may not have done (scale-out/restore.ts). */
function restoringOf(records: readonly PurchaseRecord[]): Array<{ record: PurchaseRecord; id: string }> {
  return records.flatMap((r) => Object.entries(r.instances ?? {}).filter(([, i]) => i.release?.state === 'restoring').map(([id]) => ({ record: r, id })));
}


/** A rule's alarm fires again: its waiting releases on resolution in the cluster are withdrawn (the need is back). */
export async function withdrawReleases(deps: ReleaseAskDeps, withdraw: ReadonlyArray<{ readonly rule: string; readonly cluster: string }>): Promise<void> {
  for (const w of withdraw) {
    const cluster = deps.config.clusters.get(w.cluster);
    if (cluster !== undefined) await deps.store.update<ReleaseAsks, number>(releaseAsksKeyOf(cluster.clusterId), (current) => withdrawReleaseAsks(current, w.rule, deps.now()));
  }
}

/** Whether the purchase was made by that rule for that alarm episode. */
function boughtBy(record: PurchaseRecord, by: { readonly rule: string; readonly episode: string }): boolean {
  const origin = record.askedBy.origin;
  return origin?.kind === 'alert' && origin.rule === by.rule && origin.episode === by.episode;
}

/** The function's nodes in the cluster: every live instance, those being given back included. */
function ownedOf(records: readonly PurchaseRecord[]): number {
  return records.reduce((n, r) => n + liveInstancesOf(r).length, 0);
}

/** The cluster's purchases as its index lists them (read once: the delay after a purchase reads it too), and the records of those whose nodes run. */
async function liveRecords(store: StateStore, cluster: ClusterConfig): Promise<{ entries: readonly PurchaseIndexEntry[]; records: PurchaseRecord[] }> {
  const entries = await indexedPurchases(store, cluster.clusterId);
  const live = entries.filter((e) => e.live === true);
  return { entries, records: (await Promise.all(live.map((e) => readPurchase(store, cluster.clusterId, e.id)))).filter((r): r is PurchaseRecord => r !== undefined) };
}
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
