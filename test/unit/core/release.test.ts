import {
  addReleaseAsk,
  addRestoreIntents,
  anyRestorable,
  asksOf,
  beginDeleting,
  claimRestore,
  dropReleaseLock,
  dropRestoreLock,
  finishRestore,
  intentsOf,
  MAX_RELEASE_ASKS,
  nextDrainStep,
  planRelease,
  planRestore,
  releasePolicyOf,
  restorable,
  restoredByEvent,
  takeReleaseAsks,
  takeReleaseLock,
  takeRestoreLock,
  withdrawAsksFor,
  withdrawReleaseAsks,
  type ReleaseAsks,
  type ClusterLoad,
  type InstanceRelease,
  type ReleaseCandidate,
  type ReleasePolicy,
  type ReleaseLock,
  type RestoreIntents,
} from '../../../src/core/release';
import type { PurchaseRecord } from '../../../src/core/purchase';

/**
 * Which of the function's nodes go, and each one's next step, as pure decisions. The defaults the
 * policy mirrors: cluster-autoscaler's scale-down-delay-after-add (10 min) and
 * scale-down-utilization-threshold (0.5, per node; here 0.7 over what remains), Karpenter's
 * disruption budget (nodes: 10 %) and `karpenter.sh/do-not-disrupt`, cluster-autoscaler's
 * `cluster-autoscaler.kubernetes.io/scale-down-disabled` (kubernetes/autoscaler FAQ.md;
 * karpenter.sh disruption docs), Tencent Auto Scaling's NEWEST_INSTANCE.
 */
const T0 = Date.UTC(2026, 11, 7, 4, 0, 0);
const MIN = 60_000;
const GiB = 2 ** 30;
const policy: ReleasePolicy = { floor: 0, maxDisrupted: 10, keepRequestedBelow: 0.7, delayAfterPurchaseMs: 10 * MIN };
const node = (name: string, annotations: Record<string, string> = {}) => ({ name, labels: { 'tke-scaleout/owner': 'tke-scaleout' }, annotations, unschedulable: false, allocatable: { cpuMillis: 4000, memoryBytes: 8 * GiB } });
const candidate = (id: string, since: number, annotations?: Record<string, string>): ReleaseCandidate => ({ instanceId: id, purchaseId: `p-${id}`, clusterId: 'cls-1', since, node: node(`10.0.0.${id.slice(-1)}`, annotations) });
/** `n` nodes of 4 CPU / 8 GiB, the given millicores requested on each. */
const load = (nodes: Array<[string, number]>): ClusterLoad => ({ nodes: new Map(nodes.map(([name, cpu]) => [name, { allocatable: { cpuMillis: 4000, memoryBytes: 8 * GiB }, requested: { cpuMillis: cpu, memoryBytes: GiB } }])) });

describe('planRelease', () => {
  const three = [candidate('ins-1', T0 - 50 * MIN), candidate('ins-3', T0 - 30 * MIN), candidate('ins-2', T0 - 40 * MIN)];

  it('newest first, as many as asked', () => {
    const plan = planRelease(three, 2, 0, { ...policy, keepRequestedBelow: undefined }, undefined, T0 - 30 * MIN, T0);
    expect(plan.release.map((c) => c.instanceId)).toEqual(['ins-3', 'ins-2']);
    expect(plan.held).toEqual([]);
  });

  it('nothing within the delay after the last purchase in the cluster (a flapping alarm keeps its nodes)', () => {
    const plan = planRelease(three, 2, 0, policy, undefined, T0 - 5 * MIN, T0);
    expect(plan.release).toEqual([]);
    expect(plan.held.map((h) => [h.instanceId, h.reason])).toEqual([['ins-3', 'delay-after-purchase'], ['ins-2', 'delay-after-purchase']]);
    expect(plan.held[0]!.detail).toContain(new Date(T0 + 5 * MIN).toISOString());
  });

  it('the cooldown: no release begins within it of the last one begun in the cluster; then as usual', () => {
    const cooling = { ...policy, keepRequestedBelow: undefined, cooldownMs: 5 * MIN };
    const held = planRelease(three, 1, 0, cooling, undefined, undefined, T0, 3, T0 - 2 * MIN);
    expect(held.release).toEqual([]);
    expect(held.held).toEqual([{ instanceId: 'ins-3', reason: 'cooldown', detail: expect.stringContaining(new Date(T0 + 3 * MIN).toISOString()) }]);
    expect(held.notBefore).toBe(T0 + 3 * MIN);
    expect(planRelease(three, 1, 0, cooling, undefined, undefined, T0, 3, T0 - 5 * MIN).release.map((c) => c.instanceId)).toEqual(['ins-3']);
  });

  it('the floor and the disruption budget, counting what is being given back already', () => {
    expect(planRelease(three, Infinity, 0, { ...policy, keepRequestedBelow: undefined, floor: 2 }, undefined, undefined, T0).release.map((c) => c.instanceId)).toEqual(['ins-3']);
    const budget = planRelease(three, Infinity, 1, { ...policy, keepRequestedBelow: undefined, maxDisrupted: 2 }, undefined, undefined, T0);
    expect(budget.release.map((c) => c.instanceId)).toEqual(['ins-3']);
    expect(budget.held.map((h) => h.reason)).toEqual(['disruption-budget', 'disruption-budget']);
    const floor = planRelease(three, Infinity, 0, { ...policy, keepRequestedBelow: undefined, floor: 3 }, undefined, undefined, T0);
    expect(floor.held.map((h) => h.reason)).toEqual(['floor', 'floor', 'floor']);
    // One of 4 already on its way out, a floor of 2: one more may go, not two.
    expect(planRelease(three, Infinity, 1, { ...policy, keepRequestedBelow: undefined, floor: 2 }, undefined, undefined, T0).release).toHaveLength(1);
    // An ask for some of them (one template's), 10 nodes in all, floor 8: two may go.
    expect(planRelease(three, Infinity, 0, { ...policy, keepRequestedBelow: undefined, floor: 8 }, undefined, undefined, T0, 10).release.map((c) => c.instanceId)).toEqual(['ins-3', 'ins-2']);
  });

  it('what the floor or the budget keeps is said only for the nodes the ask wanted, not for every older node', () => {
    const five = [1, 2, 3, 4, 5].map((i) => candidate(`ins-${i}`, T0 - i * MIN));
    const plan = planRelease(five, 2, 0, { ...policy, keepRequestedBelow: undefined, maxDisrupted: 1 }, undefined, undefined, T0);
    expect(plan.release.map((c) => c.instanceId)).toEqual(['ins-1']);
    expect(plan.held).toEqual([{ instanceId: 'ins-2', reason: 'disruption-budget', detail: expect.any(String) }]);
  });

  it('never a node an operator protected, nor one Kubernetes does not list', () => {
    const protectedOnes = [candidate('ins-4', T0 - 10 * MIN, { 'karpenter.sh/do-not-disrupt': 'true' }), candidate('ins-5', T0 - 11 * MIN, { 'cluster-autoscaler.kubernetes.io/scale-down-disabled': 'true' }), { ...candidate('ins-6', T0 - 12 * MIN), node: undefined }, candidate('ins-1', T0 - 50 * MIN)];
    const plan = planRelease(protectedOnes, Infinity, 0, { ...policy, keepRequestedBelow: undefined }, undefined, undefined, T0);
    expect(plan.release.map((c) => c.instanceId)).toEqual(['ins-1']);
    expect(plan.held.map((h) => [h.instanceId, h.reason])).toEqual([['ins-4', 'protected'], ['ins-5', 'protected'], ['ins-6', 'not-in-cluster']]);
  });

  it('the guard: only while what remains stays below keepRequestedBelow of its allocatable requested', () => {
    // 5 nodes of 4 CPU; pods request 10 CPU in all. Without 1 node: 10/16 = 62 % < 70 %; without 2: 10/12 = 83 %.
    const cluster = load([['10.0.0.1', 2000], ['10.0.0.2', 2000], ['10.0.0.3', 2000], ['10.0.0.8', 2000], ['10.0.0.9', 2000]]);
    const plan = planRelease(three, Infinity, 0, policy, cluster, undefined, T0);
    expect(plan.release.map((c) => c.instanceId)).toEqual(['ins-3']);
    expect(plan.held.map((h) => [h.instanceId, h.reason])).toEqual([['ins-2', 'guard'], ['ins-1', 'guard']]);
    expect(plan.held[0]!.detail).toBe("without it the cluster's pods would request 83 % of the CPU and 21 % of the memory left, not below 70 %");
  });
});

describe('nextDrainStep', () => {
  const release: InstanceRelease = { state: 'cordoned', reason: 'low alarm', startedAt: T0, drainUntil: T0 + 10 * MIN, nodeName: '10.0.0.3' };
  const pod = (name: string, terminating = false) => ({ namespace: 'web', name, terminating });

  it('cordon, evict what is left (not what is terminating), wait, then delete', () => {
    expect(nextDrainStep(release, { nodeListed: true, unschedulable: false, podsToEvict: [pod('a')] }, T0)).toEqual({ kind: 'cordon' });
    expect(nextDrainStep(release, { nodeListed: true, unschedulable: true, podsToEvict: [pod('a'), pod('b', true)] }, T0)).toEqual({ kind: 'evict', pods: [{ namespace: 'web', name: 'a' }] });
    expect(nextDrainStep(release, { nodeListed: true, unschedulable: true, podsToEvict: [pod('b', true)] }, T0)).toEqual({ kind: 'wait', why: '1 pod(s) terminating' });
    expect(nextDrainStep(release, { nodeListed: true, unschedulable: true, podsToEvict: [] }, T0)).toEqual({ kind: 'delete' });
  });

  it('the drain time over: stuck (left cordoned), unless the rule forces it', () => {
    const view = { nodeListed: true, unschedulable: true, podsToEvict: [pod('guarded')] };
    expect(nextDrainStep(release, view, T0 + 10 * MIN)).toEqual({ kind: 'stuck', why: '1 pod(s) still on it after the drain\'s time: web/guarded' });
    expect(nextDrainStep({ ...release, force: true }, view, T0 + 10 * MIN)).toEqual({ kind: 'delete' });
  });

  it('a node Kubernetes no longer lists, or one already being deleted: TKE\'s side is all that is left', () => {
    expect(nextDrainStep(release, { nodeListed: false, unschedulable: false, podsToEvict: [] }, T0)).toEqual({ kind: 'delete' });
    expect(nextDrainStep({ ...release, state: 'deleting' }, { nodeListed: true, unschedulable: true, podsToEvict: [pod('a')] }, T0)).toEqual({ kind: 'delete' });
    expect(nextDrainStep({ ...release, state: 'released' }, { nodeListed: false, unschedulable: false, podsToEvict: [] }, T0)).toEqual({ kind: 'done' });
  });
});

describe('releasePolicyOf', () => {
  it('a share of the function\'s nodes rounds up, at least one; durations in ms; the guard off with false', () => {
    const settings = { floor: 1, maxDisrupted: '10%', keepRequestedBelow: 0.7, delayAfterPurchaseSeconds: 600, cooldownSeconds: 300, drainTimeoutSeconds: 600, force: false } as const;
    expect(releasePolicyOf(settings, 25)).toEqual({ floor: 1, maxDisrupted: 3, keepRequestedBelow: 0.7, delayAfterPurchaseMs: 600_000, cooldownMs: 300_000 });
    expect(releasePolicyOf(settings, 3).maxDisrupted).toBe(1);
    expect(releasePolicyOf({ ...settings, maxDisrupted: 4, keepRequestedBelow: false }, 3)).toEqual({ floor: 1, maxDisrupted: 4, delayAfterPurchaseMs: 600_000, cooldownMs: 300_000 });
  });
});

describe('release asks', () => {
  const ask = (id: string, at = T0) => ({ id, count: 2, reason: 'low alarm cpu-low', at });
  const put = (step: { write: unknown }) => (step.write as { value: ReleaseAsks }).value;

  it('one per event: a redelivery adds nothing; a pass takes what it planned; bounded', () => {
    const first = addReleaseAsk(undefined, ask('alertmanager:e1'), T0);
    expect(first.result).toBe('added');
    expect(addReleaseAsk(put(first), ask('alertmanager:e1'), T0 + 1).result).toBe('known');
    const two = put(addReleaseAsk(put(first), ask('generic:e2'), T0 + 2));
    expect(asksOf(put(takeReleaseAsks(two, ['alertmanager:e1'], T0 + 3))).map((a) => a.id)).toEqual(['generic:e2']);
    const taken = put(takeReleaseAsks(two, ['alertmanager:e1', 'generic:e2'], T0 + 3));
    expect(asksOf(taken)).toEqual([]);
    // Alertmanager re-sends a firing group every repeat_interval: a redelivery after the pass took
    // the ask is still the same ask (kept a day, as asks are).
    expect(addReleaseAsk(taken, ask('alertmanager:e1'), T0 + 4).result).toBe('known');
    expect(addReleaseAsk(taken, ask('alertmanager:e1', T0 + 86_400_000 + 3), T0 + 86_400_000 + 3).result).toBe('added');
    let many: ReleaseAsks | undefined;
    for (let i = 0; i < MAX_RELEASE_ASKS + 5; i++) many = put(addReleaseAsk(many, ask(`e${i}`), T0));
    expect(asksOf(many)).toHaveLength(MAX_RELEASE_ASKS);
    expect(asksOf(many)[0]!.id).toBe('e5');
  });

  it('what only the disruption budget held back waits for the next pass; anything else is done', () => {
    const asks = put(addReleaseAsk(put(addReleaseAsk(undefined, { ...ask('a'), count: 2 }, T0)), { ...ask('b'), count: 3 }, T0));
    // 3 planned of 5, the rest held by the budget: b keeps 2.
    expect(asksOf(put(takeReleaseAsks(asks, ['a', 'b'], T0 + 1, 3, true))).map((a) => [a.id, a.count])).toEqual([['b', 2]]);
    const done = put(takeReleaseAsks(asks, ['a', 'b'], T0 + 1, 3, false));
    expect(done).toEqual({ asks: [], taken: [{ id: 'a', at: T0 + 1 }, { id: 'b', at: T0 + 1 }] });
    const all = put(addReleaseAsk(undefined, { ...ask('c'), count: 'all' }, T0));
    expect(asksOf(put(takeReleaseAsks(all, ['c'], T0 + 1, 2, true)) ?? all).map((a) => a.count)).toEqual(['all']);
  });

  it('a withdrawn ask (its alarm fired again) is not taken: the same resolution delivered again asks anew; what passes took stays known', () => {
    const onResolve = { ...ask('alertmanager:resolved-1'), boughtBy: { rule: 'batch', episode: 'f/1' } };
    const both = put(addReleaseAsk(put(takeReleaseAsks(put(addReleaseAsk(undefined, ask('alertmanager:low-1'), T0)), ['alertmanager:low-1'], T0 + 1)), onResolve, T0 + 2));
    const withdrawn = withdrawReleaseAsks(both, 'batch', T0 + 3);
    expect(withdrawn.result).toBe(1);
    expect(addReleaseAsk(put(withdrawn), onResolve, T0 + 4).result).toBe('added');
    expect(addReleaseAsk(put(withdrawn), ask('alertmanager:low-1'), T0 + 4).result).toBe('known');
    expect(withdrawReleaseAsks(put(addReleaseAsk(undefined, onResolve, T0)), 'batch', T0 + 1).write).toEqual({ kind: 'delete' });
  });

  it('ignores asks it cannot read', () => {
    expect(asksOf({ asks: [{ id: 'x', count: 0, reason: 'r', at: 1 }, { id: 'y', count: 'all', reason: 'r', at: 1 }, null] } as unknown as ReleaseAsks).map((a) => a.id)).toEqual(['y']);
  });
});

describe('putting nodes back (the high alarm fires again while they are being given back)', () => {
  const release = (state: InstanceRelease['state'], startedAt: number, extra: Partial<InstanceRelease> = {}): InstanceRelease => ({ state, reason: 'low', startedAt, drainUntil: startedAt + 10 * MIN, nodeName: 'n', ...extra });
  const record = (instances: Record<string, InstanceRelease | undefined>): PurchaseRecord =>
    ({ id: 'p1', owner: 'tke-scaleout', cluster: 'demo', clusterId: 'cls-1', template: 'small', state: 'ready', instanceIds: Object.keys(instances), requestedAt: T0, createdAt: T0, instances: Object.fromEntries(Object.entries(instances).map(([id, r]) => [id, { state: 'running', ...(r !== undefined && { release: r }) }])) }) as unknown as PurchaseRecord;
  const expiry = () => T0 + 400 * 24 * 60 * MIN;

  it('only cordoned, draining or stuck nodes: never once deleting has begun (DeleteClusterInstances may be in flight), never a lease that ended', () => {
    expect(['cordoned', 'draining', 'stuck'].every((s) => restorable(release(s as InstanceRelease['state'], T0)))).toBe(true);
    for (const s of ['deleting', 'released', 'restoring', 'restored'] as const) expect(restorable(release(s, T0))).toBe(false);
    expect(restorable(release('draining', T0, { lease: true }))).toBe(false);
    expect(restorable(undefined)).toBe(false);
  });

  it('least far along first (fewest pods moved off), then the latest started; as many as the count', () => {
    const candidates = [
      { instanceId: 'ins-a', purchaseId: 'p1', release: release('stuck', T0) },
      { instanceId: 'ins-b', purchaseId: 'p1', release: release('draining', T0) },
      { instanceId: 'ins-c', purchaseId: 'p1', release: release('draining', T0 + MIN) },
      { instanceId: 'ins-d', purchaseId: 'p1', release: release('cordoned', T0) },
      { instanceId: 'ins-e', purchaseId: 'p1', release: release('deleting', T0 + 2 * MIN) },
    ];
    expect(planRestore(candidates, 3).map((c) => c.instanceId)).toEqual(['ins-d', 'ins-c', 'ins-b']);
    expect(planRestore(candidates, 10).map((c) => c.instanceId)).toEqual(['ins-d', 'ins-c', 'ins-b', 'ins-a']);
    expect(planRestore(candidates, 0)).toEqual([]);
  });

  it('a claim is taken once, and only while the node is still restorable; finishing needs the claim', () => {
    const draining = record({ 'ins-a': release('draining', T0), 'ins-b': release('deleting', T0) });
    const claimed = claimRestore(draining, 'ins-a', 'idem:generic:high', T0 + MIN, expiry);
    expect(claimed.result).toMatchObject({ state: 'restoring', restoredBy: 'idem:generic:high' });
    const after = (claimed.write as { value: PurchaseRecord }).value;
    expect(claimRestore(after, 'ins-a', 'idem:generic:other', T0 + MIN, expiry)).toEqual({ write: { kind: 'keep' }, result: undefined });
    expect(claimRestore(draining, 'ins-b', 'idem:generic:high', T0 + MIN, expiry).result).toBeUndefined();
    expect(claimRestore(undefined, 'ins-a', 'x', T0, expiry).result).toBeUndefined();
    expect(finishRestore(draining, 'ins-a', T0, expiry).result).toBe(false);
    const finished = finishRestore(after, 'ins-a', T0 + 2 * MIN, expiry);
    expect((finished.write as { value: PurchaseRecord }).value.instances!['ins-a']!.release).toMatchObject({ state: 'restored', restoredBy: 'idem:generic:high', restoredAt: T0 + 2 * MIN });
    expect(restoredByEvent([(finished.write as { value: PurchaseRecord }).value], 'idem:generic:high')).toEqual(['ins-a']);
    expect(restoredByEvent([(finished.write as { value: PurchaseRecord }).value], 'idem:generic:other')).toEqual([]);
    expect(anyRestorable(draining)).toBe(true);
    expect(anyRestorable(record({ 'ins-a': release('deleting', T0) }))).toBe(false);
  });

  it('a pass finishes a claim whose uncordon did not happen; a claim on a schedulable node is done; one whose node left the cluster serves nothing: TKE\'s side is left', () => {
    const claim = release('restoring', T0, { restoredBy: 'k' });
    expect(nextDrainStep(claim, { nodeListed: true, unschedulable: true, podsToEvict: [] }, T0)).toEqual({ kind: 'uncordon' });
    expect(nextDrainStep(claim, { nodeListed: true, unschedulable: false, podsToEvict: [] }, T0)).toEqual({ kind: 'done' });
    expect(nextDrainStep(claim, { nodeListed: false, unschedulable: false, podsToEvict: [] }, T0)).toEqual({ kind: 'delete' });
  });

  it("deleting is written before the call, only over the release the pass read: a node put back meanwhile is not deleted", () => {
    const draining = release('draining', T0);
    const rec = record({ 'ins-a': draining });
    const step = beginDeleting(rec, 'ins-a', draining, draining, expiry);
    expect((step.result as PurchaseRecord).instances!['ins-a']!.release!.state).toBe('deleting');
    const claimed = (claimRestore(rec, 'ins-a', 'k', T0, expiry).write as { value: PurchaseRecord }).value;
    expect(beginDeleting(claimed, 'ins-a', draining, draining, expiry)).toEqual({ write: { kind: 'keep' }, result: undefined });
    // And once deleting, no scale-out claims it.
    expect(claimRestore(step.result as PurchaseRecord, 'ins-a', 'k', T0, expiry).result).toBeUndefined();
  });

  it("a scale-out withdraws the waiting asks for its template's nodes (or any node); another template's stay", () => {
    const asks: ReleaseAsks = { asks: [{ id: 'a', count: 1, reason: 'low', at: T0 }, { id: 'b', count: 1, reason: 'low', at: T0, template: 'small' }, { id: 'c', count: 1, reason: 'low', at: T0, template: 'gpu' }] };
    const step = withdrawAsksFor(asks, 'small', T0);
    expect(step.result).toBe(2);
    expect((step.write as { value: ReleaseAsks }).value.asks.map((a) => a.id)).toEqual(['c']);
    expect(withdrawAsksFor({ asks: [asks.asks[2]!] }, 'small', T0)).toEqual({ write: { kind: 'keep' }, result: 0 });
  });

  it("an event's intents are kept once each, and ones it cannot read are left out", () => {
    const first = addRestoreIntents(undefined, [{ instanceId: 'ins-a', purchaseId: 'p1' }], T0);
    const stored = (first.write as { value: RestoreIntents }).value;
    expect(addRestoreIntents(stored, [{ instanceId: 'ins-a', purchaseId: 'p1' }], T0)).toEqual({ write: { kind: 'keep' }, result: undefined });
    expect(intentsOf({ nodes: [{ instanceId: 'ins-a', purchaseId: 'p1' }, { instanceId: 3 }, null] } as unknown as RestoreIntents)).toEqual([{ instanceId: 'ins-a', purchaseId: 'p1' }]);
  });
});

describe("the cluster's release lock: a pass alone, scale-outs putting nodes back together", () => {
  const value = (step: { write: { kind: string; value?: unknown } }) => (step.write as { value: ReleaseLock }).value;

  it('a pass holds it alone: another pass waits, and so does a scale-out putting nodes back; it lapses at its time', () => {
    const held = value(takeReleaseLock(undefined, 'pass-1', T0 + MIN, T0));
    expect(takeReleaseLock(held, 'pass-2', T0 + MIN, T0).result).toBe(false);
    expect(takeReleaseLock(held, 'pass-1', T0 + 2 * MIN, T0).result).toBe(true);
    expect(takeRestoreLock(held, 'restore:a', T0 + MIN, T0).result).toBe(false);
    expect(takeRestoreLock(held, 'restore:a', T0 + 2 * MIN, T0 + MIN).result).toBe(true);
    expect(dropReleaseLock(held, 'pass-2').write.kind).toBe('keep');
    expect(dropReleaseLock(held, 'pass-1').write.kind).toBe('delete');
  });

  it('scale-outs putting nodes back hold it together; a pass waits until the last has dropped it or lapsed', () => {
    const one = value(takeRestoreLock(undefined, 'restore:a', T0 + MIN, T0));
    const step = takeRestoreLock(one, 'restore:b', T0 + 2 * MIN, T0);
    expect(step.result).toBe(true);
    const two = value(step);
    expect(two.restores!.map((r) => r.by)).toEqual(['restore:a', 'restore:b']);
    expect(takeReleaseLock(two, 'pass-1', T0 + MIN, T0).result).toBe(false);
    const left = value(dropRestoreLock(two, 'restore:a', T0));
    expect(left.restores!.map((r) => r.by)).toEqual(['restore:b']);
    expect(takeReleaseLock(left, 'pass-1', T0 + MIN, T0).result).toBe(false);
    // b lapses at its time (a scale-out that died): the pass goes on.
    expect(takeReleaseLock(left, 'pass-1', T0 + 3 * MIN, T0 + 2 * MIN).result).toBe(true);
    expect(dropRestoreLock(left, 'restore:b', T0).write.kind).toBe('delete');
    expect(dropRestoreLock(left, 'restore:x', T0).write.kind).toBe('keep');
  });
});
