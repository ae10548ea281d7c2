import type { ReleaseSettings } from './model';
import type { StoreStep } from './store-step';

/**
 * Giving back what the function bought (issue 19): which of its nodes go, and how each goes, as
 * pure decisions over data the pass reads (the purchase records, the cluster's nodes and pods from
 * the Kubernetes API). The I/O (cordon, evict, DeleteClusterInstances) is the pass's; every step is
 * one a pass takes at most once, claimed in the record like the rest of a purchase's life.
 *
 * Which nodes: only the function's own (its label on the node AND its record), newest first (Tencent
 * Auto Scaling's NEWEST_INSTANCE), never below the floor, never more disrupted at once than the
 * disruption budget, never one an operator protected (Karpenter's `karpenter.sh/do-not-disrupt`,
 * cluster-autoscaler's `cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"`), never
 * within the scale-in delay after the function's last purchase in the cluster (cluster-autoscaler's
 * scale-down-delay-after-add, 10 min), and only while what remains would stay below
 * `keepRequestedBelow` of its allocatable CPU and memory requested by pods (the guard against
 * releasing the very nodes an alarm's load needs: cluster-autoscaler's scale-down-utilization-
 * threshold, 0.5, is the same idea per node).
 *
 * How each goes, a state per instance, advanced one step per pass:
 *
 *   cordoned ─▶ draining ─▶ deleting ─▶ released
 *      │            │  └─ a pod's eviction refused (429: a PodDisruptionBudget): tried next pass
 *      │            └──── drain time over: stuck, left cordoned, said (never forced unless the rule says)
 *      └────────────┴─ a scale-out of its template comes while it is cordoned, draining or stuck:
 *                      restoring ─▶ restored (uncordoned, back in service, counted as that
 *                      scale-out's nodes instead of buying; never once deleting has begun, never
 *                      a node whose lease ended)
 */

/**
 * An ask to give nodes back, as a sender states it (the generic call's `"action": "scale-in"`, a
 * chat `/scalein`, a low alarm's rule): which cluster, how many (or all the policy allows), why.
 */
export interface ReleaseRequest {
  readonly source: string;
  readonly eventId: string;
  /** A cluster alias from the config, or a ClusterId it declares. */
  readonly cluster: string;
  readonly count: number | 'all';
  /** Only this template's nodes. */
  readonly template?: string;
  readonly reason?: string;
  /** Say what would go, change nothing. */
  readonly dryRun?: boolean;
  /** Only the nodes one alarm episode bought (a rule's release on resolution): `<rule>` and `<episode>`. */
  readonly boughtBy?: { readonly rule: string; readonly episode: string };
  /** Not before this (epoch ms): the alarm must stay resolved that long; firing again withdraws the ask. */
  readonly notBefore?: number;
}

/** A node the function may give back: its own, recorded, running. */
export interface ReleaseCandidate {
  readonly instanceId: string;
  readonly purchaseId: string;
  readonly clusterId: string;
  /** When it was bought: newest go first. */
  readonly since: number;
  /** The Kubernetes node, when the API lists it (matched by spec.providerID). */
  readonly node?: NodeView;
}

/** What the pass reads of a node (the Kubernetes API's Node). */
export interface NodeView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly unschedulable: boolean;
  /** Allocatable, in millicores and bytes. */
  readonly allocatable: { readonly cpuMillis: number; readonly memoryBytes: number };
}

/** The cluster's load as the guard sees it: every schedulable node's allocatable and what pods request on each. */
export interface ClusterLoad {
  /** Per node name: allocatable and requested (pods not finished), in millicores and bytes. */
  readonly nodes: ReadonlyMap<string, { readonly allocatable: { readonly cpuMillis: number; readonly memoryBytes: number }; readonly requested: { readonly cpuMillis: number; readonly memoryBytes: number } }>;
}

export interface ReleasePolicy {
  /** The function's nodes never fewer than this in the cluster (0: all may go). */
  readonly floor: number;
  /** At most this many of the function's nodes being given back at once (cordoned, draining, deleting). */
  readonly maxDisrupted: number;
  /** Release only while the remaining nodes stay below this share of allocatable CPU and memory requested (0..1); undefined: no guard. */
  readonly keepRequestedBelow?: number;
  /** No release within this long of the function's last purchase in the cluster. */
  readonly delayAfterPurchaseMs: number;
  /** No release begins within this long of the last one begun in the cluster (a scale-in cooldown). */
  readonly cooldownMs?: number;
}

/**
 * The policy for a cluster whose function's nodes number `owned` (being given back included): a
 * share in `maxDisrupted` ("10%") rounds up, at least one node (Karpenter's budgets round the same way).
 */
export function releasePolicyOf(settings: ReleaseSettings, owned: number): ReleasePolicy {
  const share = typeof settings.maxDisrupted === 'string' ? Number(settings.maxDisrupted.replace('%', '')) / 100 : undefined;
  return {
    floor: settings.floor,
    maxDisrupted: share === undefined ? (settings.maxDisrupted as number) : Math.max(1, Math.ceil(owned * share)),
    ...(settings.keepRequestedBelow !== false && { keepRequestedBelow: settings.keepRequestedBelow }),
    delayAfterPurchaseMs: settings.delayAfterPurchaseSeconds * 1000,
    cooldownMs: settings.cooldownSeconds * 1000,
  };
}

/** Why a node the ask would have taken stays. */
export type HeldReason = 'floor' | 'disruption-budget' | 'protected' | 'guard' | 'delay-after-purchase' | 'cooldown' | 'not-in-cluster';

export interface ReleasePlan {
  /** The nodes to start giving back now, newest first. */
  readonly release: readonly ReleaseCandidate[];
  /** What the ask wanted but stays, and why (for the answer, the log and `--dry-run`). */
  readonly held: ReadonlyArray<{ readonly instanceId: string; readonly reason: HeldReason; readonly detail: string }>;
  /** Set within the delay after a purchase: nothing goes before then (nodes still joining included). */
  readonly notBefore?: number;
}

/** The annotations by which an operator says "do not take this node" (Karpenter, cluster-autoscaler). */
export const DO_NOT_DISRUPT: ReadonlyArray<readonly [string, string | undefined]> = [
  ['karpenter.sh/do-not-disrupt', 'true'],
  ['cluster-autoscaler.kubernetes.io/scale-down-disabled', 'true'],
];

/**
 * Which of `candidates` to start giving back for an ask of `count` nodes (Infinity: all it may).
 * `releasing`: how many of the function's nodes in the cluster are being given back already (they
 * count against the disruption budget and are not candidates); `owned`: all of its nodes there. `lastPurchaseAt`: the function's
 * newest purchase in the cluster. Linear in the candidates (sorted once).
 */
export function planRelease(
  candidates: readonly ReleaseCandidate[],
  count: number,
  releasing: number,
  policy: ReleasePolicy,
  load: ClusterLoad | undefined,
  lastPurchaseAt: number | undefined,
  now: number,
  /** The function's nodes in the cluster in all (for the floor), when more than the candidates and those being given back (an ask for one template's nodes). */
  owned = candidates.length + releasing,
  /** When the function last began giving one of its nodes in the cluster back (the cooldown's start). */
  lastReleaseAt?: number,
): ReleasePlan {
  const newestFirst = [...candidates].sort((a, b) => b.since - a.since || (a.instanceId < b.instanceId ? 1 : -1));
  const held: Array<ReleasePlan['held'][number]> = [];
  const hold = (c: ReleaseCandidate, reason: HeldReason, detail: string) => held.push({ instanceId: c.instanceId, reason, detail });
  if (lastPurchaseAt !== undefined && now - lastPurchaseAt < policy.delayAfterPurchaseMs) {
    const until = new Date(lastPurchaseAt + policy.delayAfterPurchaseMs).toISOString();
    for (const c of newestFirst.slice(0, Math.min(count, newestFirst.length))) hold(c, 'delay-after-purchase', `the function bought in this cluster less than ${Math.round(policy.delayAfterPurchaseMs / 60_000)} min ago; not before ${until}`);
    return { release: [], held, notBefore: lastPurchaseAt + policy.delayAfterPurchaseMs };
  }
  const cooldownMs = policy.cooldownMs ?? 0;
  if (lastReleaseAt !== undefined && now - lastReleaseAt < cooldownMs) {
    const until = new Date(lastReleaseAt + cooldownMs).toISOString();
    for (const c of newestFirst.slice(0, Math.min(count, newestFirst.length))) hold(c, 'cooldown', `the function began giving a node of this cluster back less than ${Math.round(cooldownMs / 60_000)} min ago (release.cooldown); not before ${until}`);
    return { release: [], held, notBefore: lastReleaseAt + cooldownMs };
  }
  // Of the function's nodes, how many may go at all (the floor), and how many at once (the budget).
  // Those being given back already are as good as gone: the floor counts what remains.
  let room = Math.min(owned - releasing - policy.floor, policy.maxDisrupted - releasing);
  // The guard's running totals: what remains if the chosen nodes go.
  const totals = load === undefined ? undefined : sumLoad(load);
  const release: ReleaseCandidate[] = [];
  // Nodes the ask wanted that the floor or the budget keeps: only as many as it still wanted.
  let keptForRoom = 0;
  for (const c of newestFirst) {
    if (release.length + keptForRoom >= count) break;
    if (c.node === undefined) {
      hold(c, 'not-in-cluster', 'the Kubernetes API does not list its node (matched by providerID)');
      continue;
    }
    const protection = DO_NOT_DISRUPT.find(([key, value]) => c.node!.annotations[key] !== undefined && (value === undefined || c.node!.annotations[key] === value));
    if (protection !== undefined) {
      hold(c, 'protected', `annotated ${protection[0]}=${c.node.annotations[protection[0]]}`);
      continue;
    }
    if (room <= 0) {
      const floorBinds = owned - releasing - policy.floor <= policy.maxDisrupted - releasing;
      hold(c, floorBinds ? 'floor' : 'disruption-budget', floorBinds ? `the function keeps at least ${policy.floor} of its nodes in the cluster` : `at most ${policy.maxDisrupted} of its nodes are given back at once (${releasing} already)`);
      keptForRoom++;
      continue;
    }
    if (totals !== undefined && policy.keepRequestedBelow !== undefined) {
      const node = load!.nodes.get(c.node.name);
      const after = node === undefined ? totals : { cpu: totals.cpu - node.allocatable.cpuMillis, memory: totals.memory - node.allocatable.memoryBytes, cpuRequested: totals.cpuRequested, memoryRequested: totals.memoryRequested };
      const cpuShare = after.cpu > 0 ? after.cpuRequested / after.cpu : Infinity;
      const memoryShare = after.memory > 0 ? after.memoryRequested / after.memory : Infinity;
      if (cpuShare >= policy.keepRequestedBelow || memoryShare >= policy.keepRequestedBelow) {
        hold(c, 'guard', `without it the cluster's pods would request ${percent(cpuShare)} of the CPU and ${percent(memoryShare)} of the memory left, not below ${percent(policy.keepRequestedBelow)}`);
        // An older node may be smaller: it is weighed in turn.
        continue;
      }
      totals.cpu = after.cpu;
      totals.memory = after.memory;
    }
    release.push(c);
    room--;
  }
  return { release, held };
}

function sumLoad(load: ClusterLoad): { cpu: number; memory: number; cpuRequested: number; memoryRequested: number } {
  let cpu = 0;
  let memory = 0;
  let cpuRequested = 0;
  let memoryRequested = 0;
  for (const n of load.nodes.values()) {
    cpu += n.allocatable.cpuMillis;
    memory += n.allocatable.memoryBytes;
    cpuRequested += n.requested.cpuMillis;
    memoryRequested += n.requested.memoryBytes;
  }
  return { cpu, memory, cpuRequested, memoryRequested };
}

function percent(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)} %` : 'all';
}

/** One node's way out, kept in its purchase's record (per instance). */
export interface InstanceRelease {
  readonly state: 'cordoned' | 'draining' | 'deleting' | 'released' | 'stuck' | 'restoring' | 'restored';
  /** Why it is given back: the low alarm's rule, a resolution, a lease, a command. */
  readonly reason: string;
  /** Its lease ended (a template's maxLifetime): it goes whatever the alarms say, so no scale-out puts it back. */
  readonly lease?: true;
  /** The scale-out (its idempotency key) that put it back in service, and when: a redelivery of that event counts it again instead of taking another. */
  readonly restoredBy?: string;
  readonly restoredAt?: number;
  readonly startedAt: number;
  /** The drain gives up after this (then `stuck`: left cordoned, said; forced only if `force`). */
  readonly drainUntil: number;
  readonly force?: true;
  readonly nodeName: string;
  /** Pods whose eviction was refused last pass (429), and how often in all. */
  readonly refusals?: number;
  readonly lastError?: string;
  readonly releasedAt?: number;
}

/** What a pass sees of a node being given back. */
export interface DrainView {
  /** The node still exists in the Kubernetes API. */
  readonly nodeListed: boolean;
  readonly unschedulable: boolean;
  /** Pods on it that a drain must evict: not DaemonSet-managed, not mirror pods, not finished. */
  readonly podsToEvict: ReadonlyArray<{ readonly namespace: string; readonly name: string; readonly terminating: boolean }>;
}

/** What the pass does next for one node, as data. */
export type DrainStep =
  | { readonly kind: 'cordon' }
  | { readonly kind: 'uncordon' }
  | { readonly kind: 'evict'; readonly pods: ReadonlyArray<{ readonly namespace: string; readonly name: string }> }
  | { readonly kind: 'wait'; readonly why: string }
  | { readonly kind: 'delete' }
  | { readonly kind: 'stuck'; readonly why: string }
  | { readonly kind: 'done' };

/**
 * The next step for a node on its way out, from its state and what the pass sees now. A pass takes
 * one step per node; what fails (an API error, a refused eviction) is tried again by the next pass.
 */
export function nextDrainStep(release: InstanceRelease, view: DrainView, now: number): DrainStep {
  if (release.state === 'released' || release.state === 'restored') return { kind: 'done' };
  // A scale-out claimed it and may have died before its uncordon: the pass finishes it. Its node
  // gone from the cluster since: it serves nothing, and only TKE's side is left, as for any node.
  if (release.state === 'restoring') return !view.nodeListed ? { kind: 'delete' } : view.unschedulable ? { kind: 'uncordon' } : { kind: 'done' };
  if (release.state === 'deleting') return { kind: 'delete' };
  // Gone from Kubernetes already (deleted by someone, or the deletion's answer was lost): only TKE's side is left.
  if (!view.nodeListed) return { kind: 'delete' };
  if (!view.unschedulable) return { kind: 'cordon' };
  const live = view.podsToEvict.filter((p) => !p.terminating);
  if (view.podsToEvict.length === 0) return { kind: 'delete' };
  if (now >= release.drainUntil) {
    if (release.force === true) return { kind: 'delete' };
    return { kind: 'stuck', why: `${view.podsToEvict.length} pod(s) still on it after the drain's time: ${view.podsToEvict.slice(0, 5).map((p) => `${p.namespace}/${p.name}`).join(', ')}` };
  }
  if (live.length === 0) return { kind: 'wait', why: `${view.podsToEvict.length} pod(s) terminating` };
  return { kind: 'evict', pods: live.map(({ namespace, name }) => ({ namespace, name })) };
}

/**
 * Asks to give a cluster's nodes back, waiting for the pass (a low alarm, a command, a resolution,
 * a lease): one store key per cluster, each ask once by its ID (a redelivery adds nothing), taken by
 * the pass that plans them. Bounded: the newest asks are kept.
 */
export interface ReleaseAsk {
  /** The event's ID (sender and event), so a redelivery is one ask. */
  readonly id: string;
  /** Nodes to give back; `all`: every one the policy allows. */
  readonly count: number | 'all';
  readonly reason: string;
  readonly at: number;
  /** Only this template's nodes. */
  readonly template?: string;
  /** Only the nodes one alarm episode bought (ReleaseRequest). */
  readonly boughtBy?: { readonly rule: string; readonly episode: string };
  /** Not planned before this. */
  readonly notBefore?: number;
}

export interface ReleaseAsks {
  readonly asks: readonly ReleaseAsk[];
  /**
   * The IDs of asks a pass has taken, and when: a redelivery of one after the pass took it (an
   * alarm sender re-sending a firing group: Alertmanager every repeat_interval) is the same ask,
   * not a new one. Kept as long as an ask.
   */
  readonly taken?: ReadonlyArray<{ readonly id: string; readonly at: number }>;
}

export const MAX_RELEASE_ASKS = 100;

export function releaseAsksKeyOf(clusterId: string): string {
  return `release-asks:{${clusterId}}`;
}

/** Adds an ask, unless its ID is there already. Kept a day: an ask no pass took by then is stale. */
export function addReleaseAsk(current: ReleaseAsks | undefined, ask: ReleaseAsk, now: number): StoreStep<ReleaseAsks, 'added' | 'known'> {
  const asks = asksOf(current);
  const taken = takenOf(current, now);
  if (asks.some((a) => a.id === ask.id) || taken.some((t) => t.id === ask.id)) return { write: { kind: 'keep' }, result: 'known' };
  const next = [...asks, ask].slice(-MAX_RELEASE_ASKS);
  return { write: { kind: 'put', value: { asks: next, ...(taken.length > 0 && { taken }) }, expiresAt: now + ASK_KEEP_MS }, result: 'added' };
}

/**
 * Settles the asks a pass planned (by ID), oldest first: `planned` nodes are taken off their counts.
 * `waitForRest`: what is left waits for the next pass (only something that passes held it back: the
 * disruption budget, the delay after a purchase); else the asks are done, and the pass has said what
 * it could not give back and why (the floor, the guard, an operator's annotation: waiting would not
 * change it). An ask waits a day at most.
 */
export function takeReleaseAsks(current: ReleaseAsks | undefined, ids: readonly string[], now: number, planned = Infinity, waitForRest = false): StoreStep<ReleaseAsks, void> {
  const asks = asksOf(current);
  let toTake = planned;
  const left: ReleaseAsk[] = [];
  for (const a of asks) {
    if (now - a.at >= ASK_KEEP_MS) continue;
    if (!ids.includes(a.id)) {
      left.push(a);
      continue;
    }
    if (!waitForRest) continue;
    if (a.count === 'all') {
      left.push(a);
      continue;
    }
    const taken = Math.min(a.count, toTake);
    toTake -= taken;
    if (a.count - taken > 0) left.push({ ...a, count: a.count - taken });
  }
  if (left.length === asks.length && left.every((a, i) => a === asks[i])) return { write: { kind: 'keep' }, result: undefined };
  const done = asks.filter((a) => ids.includes(a.id) && !left.some((l) => l.id === a.id)).map((a) => ({ id: a.id, at: now }));
  return { write: { kind: 'put', value: { asks: left, taken: [...takenOf(current, now), ...done].slice(-MAX_RELEASE_ASKS) }, expiresAt: now + ASK_KEEP_MS }, result: undefined };
}

const ASK_KEEP_MS = 86_400_000;

/** The IDs of asks taken within the day, as stored; entries that cannot be read are left out. */
function takenOf(current: ReleaseAsks | undefined, now: number): Array<{ id: string; at: number }> {
  const taken: unknown = current?.taken;
  if (!Array.isArray(taken)) return [];
  return taken.filter((t: Partial<{ id: string; at: number }> | null): t is { id: string; at: number } => typeof t?.id === 'string' && typeof t.at === 'number' && now - t.at < ASK_KEEP_MS);
}

/** The asks as stored; ones that cannot be read are left out (the store outlives deploys). */
export function asksOf(current: ReleaseAsks | undefined): ReleaseAsk[] {
  const asks: unknown = current?.asks;
  if (!Array.isArray(asks)) return [];
  return asks.filter((a: Partial<ReleaseAsk> | null): a is ReleaseAsk => typeof a?.id === 'string' && (a.count === 'all' || (typeof a.count === 'number' && a.count > 0)) && typeof a.reason === 'string' && typeof a.at === 'number');
}

/**
 * One pass at a time gives a cluster's nodes back: the floor and the disruption budget are counted
 * over the whole cluster, so two passes planning at once (an overlapping timer, another instance)
 * could each stay within them and together break them. A pass holds the lock alone until `until`.
 *
 * Scale-outs putting nodes back (scale-out/restore.ts) hold it together (`restores`): their claims
 * are atomic per record, so they need not exclude each other, only a pass (which could delete a
 * node one of them is putting back). A pass waits for them; they wait for no one but a pass.
 */
export interface ReleaseLock {
  /** The pass holding it alone. */
  readonly by?: string;
  readonly until?: number;
  /** The scale-outs holding it together, each until its own time. */
  readonly restores?: ReadonlyArray<{ readonly by: string; readonly until: number }>;
}

export function releaseLockKeyOf(clusterId: string): string {
  return `release-lock:{${clusterId}}`;
}

/** A pass takes the lock: unless another pass or any scale-out putting nodes back holds it. */
export function takeReleaseLock(current: ReleaseLock | undefined, by: string, until: number, now: number): StoreStep<ReleaseLock, boolean> {
  if (passHolding(current, now) !== undefined && current!.by !== by) return { write: { kind: 'keep' }, result: false };
  if (restoresOf(current, now).length > 0) return { write: { kind: 'keep' }, result: false };
  return { write: { kind: 'put', value: { by, until }, expiresAt: until }, result: true };
}

export function dropReleaseLock(current: ReleaseLock | undefined, by: string): StoreStep<ReleaseLock, void> {
  return current?.by === by && restoresOfAny(current).length === 0 ? { write: { kind: 'delete' }, result: undefined } : { write: { kind: 'keep' }, result: undefined };
}

/** A scale-out putting nodes back joins the others doing so: unless a pass holds the lock. */
export function takeRestoreLock(current: ReleaseLock | undefined, by: string, until: number, now: number): StoreStep<ReleaseLock, boolean> {
  if (passHolding(current, now) !== undefined) return { write: { kind: 'keep' }, result: false };
  const restores = [...restoresOf(current, now).filter((r) => r.by !== by), { by, until }];
  return { write: { kind: 'put', value: { restores }, expiresAt: Math.max(...restores.map((r) => r.until)) }, result: true };
}

export function dropRestoreLock(current: ReleaseLock | undefined, by: string, now: number): StoreStep<ReleaseLock, void> {
  const all = restoresOfAny(current);
  if (!all.some((r) => r.by === by)) return { write: { kind: 'keep' }, result: undefined };
  const restores = restoresOf(current, now).filter((r) => r.by !== by);
  const pass = passHolding(current, now);
  if (restores.length === 0 && pass === undefined) return { write: { kind: 'delete' }, result: undefined };
  const value: ReleaseLock = { ...(pass !== undefined && pass), ...(restores.length > 0 && { restores }) };
  return { write: { kind: 'put', value, expiresAt: Math.max(pass?.until ?? 0, ...restores.map((r) => r.until)) }, result: undefined };
}

function passHolding(current: ReleaseLock | undefined, now: number): { by: string; until: number } | undefined {
  return typeof current?.by === 'string' && typeof current.until === 'number' && current.until > now ? { by: current.by, until: current.until } : undefined;
}

function restoresOfAny(current: ReleaseLock | undefined): Array<{ by: string; until: number }> {
  const restores: unknown = current?.restores;
  if (!Array.isArray(restores)) return [];
  return restores.filter((r: { by?: unknown; until?: unknown } | null): r is { by: string; until: number } => typeof r?.by === 'string' && typeof r.until === 'number');
}

function restoresOf(current: ReleaseLock | undefined, now: number): Array<{ by: string; until: number }> {
  return restoresOfAny(current).filter((r) => r.until > now);
}

/**
 * When something last happened in a cluster that holds releases back for a while, kept as long as
 * it holds them: the function last began giving one of its nodes back (`release-began`: the
 * scale-in cooldown counts from it; the records cannot say once a purchase's nodes are all gone),
 * or last put nodes back in service (`put-back`: counted as a purchase for the delay after one, so
 * that the nodes a scale-out just put back are not drained again at once).
 */
export interface LastAt {
  readonly at: number;
}

export function releaseBeganKeyOf(clusterId: string): string {
  return `release-began:{${clusterId}}`;
}

export function putBackKeyOf(clusterId: string): string {
  return `put-back:{${clusterId}}`;
}

export function noteLatest(current: LastAt | undefined, at: number, holdsMs: number): StoreStep<LastAt, void> {
  if (typeof current?.at === 'number' && current.at >= at) return { write: { kind: 'keep' }, result: undefined };
  return { write: { kind: 'put', value: { at }, expiresAt: at + Math.max(holdsMs, 1000) }, result: undefined };
}

/** The rule's alarm fires again: its asks to give back what an episode bought are withdrawn (the need came back). */
export function withdrawReleaseAsks(current: ReleaseAsks | undefined, rule: string, now: number): StoreStep<ReleaseAsks, number> {
  return withdrawAsks(current, (a) => a.boughtBy?.rule === rule, now);
}

/**
 * Withdraws the waiting asks `withdrawn` picks; how many. What was taken stays remembered; what is
 * withdrawn was not taken, so the same event delivered again asks anew.
 */
function withdrawAsks(current: ReleaseAsks | undefined, withdrawn: (ask: ReleaseAsk) => boolean, now: number): StoreStep<ReleaseAsks, number> {
  const asks = asksOf(current);
  const left = asks.filter((a) => !withdrawn(a));
  if (left.length === asks.length) return { write: { kind: 'keep' }, result: 0 };
  const taken = takenOf(current, now);
  const write = left.length === 0 && taken.length === 0 ? ({ kind: 'delete' } as const) : ({ kind: 'put', value: { asks: left, ...(taken.length > 0 && { taken }) }, expiresAt: now + ASK_KEEP_MS } as const);
  return { write, result: asks.length - left.length };
}

/** On its way out, not yet given back: what the disruption budget counts (a node put back, or being put back, is in service). */
export function givingBack(release: InstanceRelease | undefined): boolean {
  return release !== undefined && (release.state === 'cordoned' || release.state === 'draining' || release.state === 'deleting' || release.state === 'stuck');
}

/** The states from which a scale-out may put a node back: not yet deleting (DeleteClusterInstances may be in flight), not a lease that ended. */
export function restorable(release: InstanceRelease | undefined): boolean {
  return givingBack(release) && release!.state !== 'deleting' && release!.lease !== true;
}

/** A node on its way out that a scale-out could put back in service. */
export interface RestoreCandidate {
  readonly instanceId: string;
  readonly purchaseId: string;
  readonly release: InstanceRelease;
}

/**
 * Which nodes on their way out a scale-out of `count` nodes puts back, best first: those least far
 * along (cordoned, then draining, then stuck: fewer pods were moved off them), and of those the
 * latest to start (the most recently bought go first, so they are the newest). Linear after one sort.
 */
export function planRestore(candidates: readonly RestoreCandidate[], count: number): RestoreCandidate[] {
  const order = { cordoned: 0, draining: 1, stuck: 2 } as Record<string, number>;
  return [...candidates]
    .filter((c) => restorable(c.release))
    .sort((a, b) => order[a.release.state]! - order[b.release.state]! || b.release.startedAt - a.release.startedAt || (a.instanceId < b.instanceId ? -1 : 1))
    .slice(0, Math.max(0, count));
}

/** What the restore steps read of a purchase's record (core/purchase.ts, PurchaseRecord): its instances' releases. */
export interface WithReleases {
  readonly instances?: Readonly<Record<string, { readonly release?: InstanceRelease }>>;
}

/** The same step of the same release: what one read is what the record still holds. */
export function sameRelease(a: InstanceRelease | undefined, b: InstanceRelease | undefined): boolean {
  return a?.state === b?.state && a?.startedAt === b?.startedAt;
}

/**
 * The pass is about to call DeleteClusterInstances for a node: `deleting` is written first, and only
 * if its release is still the one the pass read (`seen`), so that no scale-out puts back a node
 * whose deletion may be in flight, and none is deleted after being put back. The record written, or
 * undefined when it moved on.
 */
export function beginDeleting<R extends WithReleases>(current: R | undefined, instanceId: string, seen: InstanceRelease | undefined, next: InstanceRelease, expiry: (next: R) => number): StoreStep<R, R | undefined> {
  const instance = current?.instances?.[instanceId];
  if (current === undefined || instance === undefined || !sameRelease(instance.release, seen)) return { write: { kind: 'keep' }, result: undefined };
  const written = withRelease(current, instanceId, { ...next, state: 'deleting' });
  return { write: { kind: 'put', value: written, expiresAt: expiry(written) }, result: written };
}

/** The record with one instance's release replaced. */
function withRelease<R extends WithReleases>(record: R, instanceId: string, release: InstanceRelease): R {
  return { ...record, instances: { ...record.instances, [instanceId]: { ...record.instances![instanceId]!, release } } };
}

/**
 * A scale-out claims a node for putting back, in its purchase's record: only while it is still
 * restorable (a pass may have moved it on meanwhile), and only once (a second claimant finds it
 * `restoring`). `retentionMs`/`expiry`: the record's own expiry rule (core/purchase.ts).
 */
export function claimRestore<R extends WithReleases>(current: R | undefined, instanceId: string, by: string, now: number, expiry: (next: R) => number): StoreStep<R, InstanceRelease | undefined> {
  const instance = current?.instances?.[instanceId];
  if (current === undefined || instance === undefined || !restorable(instance.release)) return { write: { kind: 'keep' }, result: undefined };
  const release: InstanceRelease = { ...instance.release!, state: 'restoring', restoredBy: by, restoredAt: now };
  const next = withRelease(current, instanceId, release);
  return { write: { kind: 'put', value: next, expiresAt: expiry(next) }, result: release };
}

/** Its node is schedulable again: `restoring` becomes `restored` (a candidate for a later release like any running node). */
export function finishRestore<R extends WithReleases>(current: R | undefined, instanceId: string, now: number, expiry: (next: R) => number): StoreStep<R, boolean> {
  const instance = current?.instances?.[instanceId];
  if (current === undefined || instance?.release?.state !== 'restoring') return { write: { kind: 'keep' }, result: false };
  const next = withRelease(current, instanceId, { ...instance.release, state: 'restored', restoredAt: now });
  return { write: { kind: 'put', value: next, expiresAt: expiry(next) }, result: true };
}

/** The instances a scale-out event put back already (an earlier delivery of it): counted again, not taken again. */
export function restoredByEvent(records: readonly WithReleases[], by: string): string[] {
  return records.flatMap((r) => Object.entries(r.instances ?? {}).filter(([, i]) => i.release?.restoredBy === by && (i.release.state === 'restoring' || i.release.state === 'restored')).map(([id]) => id));
}

/**
 * What a scale-out event chose to put back, written before it claims them: a redelivery of the
 * event (its call failed, its answer was lost, it crashed) reads the records these name and counts
 * those its claims reached (`restoredBy`), instead of buying them again. Kept as long as the event's
 * idempotency record.
 */
export interface RestoreIntents {
  readonly nodes: ReadonlyArray<{ readonly instanceId: string; readonly purchaseId: string }>;
}

export function restoreIntentsKeyOf(clusterId: string, eventKey: string): string {
  return `restore:{${clusterId}}:${eventKey}`;
}

export function addRestoreIntents(current: RestoreIntents | undefined, nodes: RestoreIntents['nodes'], expiresAt: number): StoreStep<RestoreIntents, void> {
  const known = intentsOf(current);
  const fresh = nodes.filter((n) => !known.some((k) => k.instanceId === n.instanceId));
  if (fresh.length === 0) return { write: { kind: 'keep' }, result: undefined };
  return { write: { kind: 'put', value: { nodes: [...known, ...fresh] }, expiresAt }, result: undefined };
}

/** The intents as stored; entries that cannot be read are left out. */
export function intentsOf(current: RestoreIntents | undefined): RestoreIntents['nodes'] {
  const nodes: unknown = current?.nodes;
  if (!Array.isArray(nodes)) return [];
  return nodes.filter((n: { instanceId?: unknown; purchaseId?: unknown } | null): n is RestoreIntents['nodes'][number] => typeof n?.instanceId === 'string' && typeof n.purchaseId === 'string');
}

/** Whether any of the purchase's nodes is on a way out a scale-out could stop (its index entry says so: core/purchase.ts). */
export function anyRestorable(record: WithReleases): boolean {
  return Object.values(record.instances ?? {}).some((i) => restorable(i.release) || i.release?.state === 'restoring');
}

/**
 * A scale-out of `template` comes for the cluster: the need is back, so the asks still waiting to
 * give back such nodes (any node, or that template's) are withdrawn; asks for another template's stay.
 */
export function withdrawAsksFor(current: ReleaseAsks | undefined, template: string, now: number): StoreStep<ReleaseAsks, number> {
  return withdrawAsks(current, (a) => a.template === undefined || a.template === template, now);
}
