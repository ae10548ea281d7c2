import { entriesOf, followPurchase as followPurchaseStep, indexPurchase, liveInstancesOf, LIVE_KEEP_MS, MAX_INDEXED_PURCHASES, purchaseExpiry, NOT_LISTED_GRACE_MS, purchaseRecordOf, storePurchase, takePurchase, unindexPurchase, withdrawPurchase, type PurchaseIndex, type PurchaseRecord } from '../../../src/core/purchase';

import { PURCHASE_T0, purchaseRecord } from '../../support/purchase-record';

/** A purchase's record and the index that lists them, as pure steps. */
const T0 = PURCHASE_T0;
const WEEK = 7 * 86_400_000;
const record = purchaseRecord;
const value = <V>(step: { write: unknown }) => (step.write as { value: V }).value;

describe('storePurchase', () => {
  it('records a call with an unknown outcome as requested, kept a retention from now while open', () => {
    const step = storePurchase(undefined, record(), T0, WEEK);
    expect(step.result).toMatchObject({ state: 'requested', instanceIds: [] });
    expect((step.write as { expiresAt: number }).expiresAt).toBe(T0 + WEEK);
  });

  it('the re-send that completes it adds the instances to the same record, keeping its first request time', () => {
    const first = value<PurchaseRecord>(storePurchase(undefined, record(), T0, WEEK));
    const done = storePurchase(first, record({ instanceIds: ['ins-1', 'ins-2'], state: 'created', requestedAt: T0 + 60_000 }), T0 + 60_000, WEEK).result;
    expect(done).toMatchObject({ state: 'created', instanceIds: ['ins-1', 'ins-2'], requestedAt: T0, createdAt: T0 + 60_000 });
  });

  it('never moves a purchase back: a late write of "created" over "ready" keeps ready and its times', () => {
    const ready = record({ state: 'ready', instanceIds: ['ins-1'], createdAt: T0 + 1, readyAt: T0 + 2, endedAt: T0 + 2 });
    const step = storePurchase(ready, record({ state: 'created', instanceIds: ['ins-1'] }), T0 + 3, WEEK);
    expect(step.result).toMatchObject({ state: 'ready', readyAt: T0 + 2, endedAt: T0 + 2 });
    // An ended purchase is kept for the retention from when it ended.
    expect((step.write as { expiresAt: number }).expiresAt).toBe(T0 + 2 + WEEK);
  });
});

describe('the purchase index', () => {
  const entry = (id: string, at: number, endedAt?: number) => ({ id, clusterId: 'cls-e55paxnt', at, ...(endedAt !== undefined && { endedAt }) });

  it('lists each purchase once, oldest first', () => {
    let index: PurchaseIndex | undefined;
    for (const [id, at] of [['b', 2], ['a', 1], ['b', 2]] as const) {
      const step = indexPurchase(index, entry(id, T0 + at), T0 + 10);
      if (step.write.kind === 'put') index = step.write.value;
    }
    expect(index!.entries.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('drops what expired with its record, open or ended', () => {
    const index: PurchaseIndex = { entries: [{ ...entry('ended-gone', T0, T0 + 1000), expiresAt: T0 + 1000 + WEEK }, { ...entry('open-gone', T0), expiresAt: T0 + WEEK }, { ...entry('recent', T0 + WEEK), expiresAt: T0 + 2 * WEEK }] };
    const next = value<PurchaseIndex>(indexPurchase(index, { ...entry('new', T0 + WEEK + 5000), expiresAt: T0 + 2 * WEEK + 5000 }, T0 + WEEK + 5000));
    expect(next.entries.map((e) => e.id)).toEqual(['recent', 'new']);
  });

  it('an entry that would not change and nothing to drop: no write (a redelivery costs no rewrite of the index)', () => {
    const e = { ...entry('a', T0), expiresAt: T0 + WEEK };
    expect(indexPurchase({ entries: [e] }, e, T0 + 10).write).toEqual({ kind: 'keep' });
    // A later expiry (the record written again) updates it.
    expect(value<PurchaseIndex>(indexPurchase({ entries: [e] }, { ...e, expiresAt: T0 + WEEK + 10 }, T0 + 10)).entries).toEqual([{ ...e, expiresAt: T0 + WEEK + 10 }]);
  });

  it('a refused call withdraws its requested purchase; one that knows instances is never withdrawn', () => {
    expect(withdrawPurchase(record())).toEqual({ write: { kind: 'delete' }, result: 'gone' });
    expect(withdrawPurchase(record({ state: 'created', instanceIds: ['ins-1'] }))).toEqual({ write: { kind: 'keep' }, result: 'kept' });
    expect(withdrawPurchase(undefined)).toEqual({ write: { kind: 'keep' }, result: 'gone' });
    expect(value<PurchaseIndex>(unindexPurchase({ entries: [entry('a', T0), entry('b', T0)] }, 'a', T0)).entries.map((e) => e.id)).toEqual(['b']);
  });

  it(`is bounded at ${MAX_INDEXED_PURCHASES}: ended purchases leave first`, () => {
    const entries = Array.from({ length: MAX_INDEXED_PURCHASES }, (_, i) => entry(`p${i}`, T0 + i, i === 10 ? T0 + 20 : undefined));
    const next = value<PurchaseIndex>(indexPurchase({ entries }, entry('new', T0 + 10_000_000), T0 + 10_000_000));
    expect(next.entries).toHaveLength(MAX_INDEXED_PURCHASES);
    expect(next.entries.some((e) => e.id === 'p10')).toBe(false);
    expect(next.entries.at(-1)!.id).toBe('new');
  });

  it('reads what it can of a stored index that is not one (the store outlives deploys)', () => {
    expect(entriesOf({ entries: 'x' } as unknown as PurchaseIndex)).toEqual([]);
    expect(entriesOf({ entries: [null, { id: 1 }, entry('ok', T0)] } as unknown as PurchaseIndex)).toEqual([entry('ok', T0)]);
  });
});

describe('what a record keeps of the request', () => {
  it('the request as sent, but not a password or a user script (kept for weeks where an operator reads)', () => {
    const para = { Placement: { Zone: 'ap-guangzhou-4' }, LoginSettings: { Password: 'Hunter2!' }, UserData: 'IyEvYmluL3NoCmV4cG9ydCBUT0tFTj1zZWNyZXQ=', ClientToken: 'so2-x' };
    const sent = { clientToken: 'so2-x', request: { ClusterId: 'cls-e55paxnt', RunInstancePara: JSON.stringify(para) }, rung: 1, region: 'ap-guangzhou', nodes: 1 };
    const kept = purchaseRecordOf(record(), sent, record().offering, T0);
    expect(kept.request.RunInstancePara).not.toContain('Hunter2');
    expect(kept.request.RunInstancePara).not.toContain(para.UserData);
    expect(JSON.parse(kept.request.RunInstancePara)).toEqual({ ...para, LoginSettings: '(not kept)', UserData: '(not kept)' });
    expect(kept).toMatchObject({ state: 'requested', instanceIds: [], count: 1, clientToken: 'so2-x' });
  });
});

describe('following a purchase (TKE InstanceState running / initializing / failed, tke_models.d.ts Instance)', () => {
  const created = record({ state: 'created', instanceIds: ['ins-1', 'ins-2'], createdAt: T0 });
  const seen = (...instances: Array<[string, string, string?]>) => new Map(instances.map(([id, state, reason]) => [id, { instanceId: id, state, ...(reason !== undefined && { failedReason: reason }) }]));
  const TIMEOUT = 900_000;
  const followPurchase = (...args: Parameters<typeof followPurchaseStep>) => followPurchaseStep(...args).record;
  const toCleanOf = (...args: Parameters<typeof followPurchaseStep>) => followPurchaseStep(...args).toClean;

  it('every node running: ready, ended, each with when it was first seen running', () => {
    const next = followPurchase(created, seen(['ins-1', 'running', '=Ready:True'], ['ins-2', 'running']), T0 + 60_000, TIMEOUT);
    expect(next).toMatchObject({ state: 'ready', readyAt: T0 + 60_000, endedAt: T0 + 60_000, instances: { 'ins-1': { state: 'running', readyAt: T0 + 60_000 } } });
    // A running node's FailedReason ("=Ready:True" in TKE's example) is not a failure.
    expect(next.instances!['ins-1']).not.toHaveProperty('failedReason');
  });

  it('one initializing: joining; one failed: failed with its FailedReason', () => {
    expect(followPurchase(created, seen(['ins-1', 'running'], ['ins-2', 'initializing']), T0 + 60_000, TIMEOUT).state).toBe('joining');
    expect(followPurchase(created, seen(['ins-1', 'running'], ['ins-2', 'failed', 'disk attach failed']), T0 + 60_000, TIMEOUT)).toMatchObject({ state: 'failed', failedReason: 'ins-2: disk attach failed' });
  });

  it('not running at the provision timeout: failed, naming the nodes; a millisecond before, joining', () => {
    const initializing = seen(['ins-1', 'running'], ['ins-2', 'initializing']);
    expect(followPurchase(created, initializing, T0 + TIMEOUT - 1, TIMEOUT).state).toBe('joining');
    expect(toCleanOf(created, initializing, T0 + TIMEOUT - 1, TIMEOUT)).toEqual([]);
    expect(followPurchase(created, initializing, T0 + TIMEOUT, TIMEOUT)).toMatchObject({ state: 'failed', failedReason: 'not running 900 s after the purchase: ins-2 (initializing)' });
    // Only the late one is to be cleaned up; the running one stays.
    expect(toCleanOf(created, initializing, T0 + TIMEOUT, TIMEOUT)).toEqual(['ins-2']);
  });

  it('a failed node is to be cleaned up at once; once cleaned up it stays so, and the purchase ends cleaned', () => {
    const failing = seen(['ins-1', 'running'], ['ins-2', 'failed', 'disk attach failed']);
    expect(toCleanOf(created, failing, T0 + 60_000, TIMEOUT)).toEqual(['ins-2']);
    const failed = followPurchase(created, failing, T0 + 60_000, TIMEOUT);
    const cleaned = { ...failed, instances: { ...failed.instances, 'ins-2': { state: 'failed', cleanup: 'terminated' as const, cleanedAt: T0 + 60_000 } } };
    // TKE no longer lists it: what the cleanup recorded stands.
    const next = followPurchaseStep(cleaned, seen(['ins-1', 'running']), T0 + 120_000, TIMEOUT);
    expect(next.toClean).toEqual([]);
    expect(next.record).toMatchObject({ state: 'cleaned', endedAt: T0 + 120_000, failedReason: 'ins-2: disk attach failed', instances: { 'ins-1': { state: 'running' }, 'ins-2': { cleanup: 'terminated' } } });
  });

  it('a node left alone (no mark of the function) ends the purchase failed, saying so; one whose deletion failed is tried again', () => {
    const failed = followPurchase(created, seen(['ins-1', 'failed', 'x'], ['ins-2', 'failed', 'y']), T0 + 60_000, TIMEOUT);
    const after = { ...failed, instances: { 'ins-1': { state: 'failed', cleanup: 'unmarked' as const }, 'ins-2': { state: 'failed', cleanupFailures: 1, cleanupError: 'InternalError' } } };
    const next = followPurchaseStep(after, seen(['ins-1', 'failed', 'x'], ['ins-2', 'failed', 'y']), T0 + 120_000, TIMEOUT);
    expect(next.toClean).toEqual(['ins-2']);
    expect(next.record.instances!['ins-2']).toMatchObject({ cleanupFailures: 1 });
    const done = followPurchaseStep({ ...after, instances: { ...after.instances, 'ins-2': { state: 'failed', cleanup: 'terminated' as const } } }, seen(['ins-1', 'failed', 'x']), T0 + 180_000, TIMEOUT);
    expect(done.record).toMatchObject({ state: 'failed', endedAt: T0 + 180_000 });
    expect(done.record.failedReason).toContain('left alone, not cleaned up: ins-1');
  });

  it('a node not listed: not yet, within the grace after the purchase; gone after it; none left: cleaned', () => {
    expect(followPurchase(created, seen(['ins-1', 'running']), T0 + NOT_LISTED_GRACE_MS - 1, TIMEOUT)).toMatchObject({ state: 'joining', instances: { 'ins-2': { state: 'not-listed-yet' } } });
    expect(followPurchase(created, seen(['ins-1', 'running']), T0 + NOT_LISTED_GRACE_MS, TIMEOUT)).toMatchObject({ state: 'ready', instances: { 'ins-2': { state: 'gone' } } });
    expect(followPurchase(created, seen(), T0 + NOT_LISTED_GRACE_MS, TIMEOUT)).toMatchObject({ state: 'cleaned', endedAt: T0 + NOT_LISTED_GRACE_MS });
  });

  it('a purchase without instances (outcome unknown) or already ended is left as it is; the hold is released', () => {
    const held = record({ followedBy: { pass: 'a', until: T0 + 1000 } });
    const next = followPurchase(held, seen(), T0, TIMEOUT);
    expect(next.state).toBe('requested');
    expect(next).not.toHaveProperty('followedBy');
  });

  it('one pass at a time: taken, busy for another until the hold ends, gone when there is no record', () => {
    const taken = storeStepValue(takePurchase(created, 'pass-a', T0 + 30_000, T0, WEEK));
    expect(takePurchase(taken, 'pass-b', T0 + 60_000, T0 + 1000, WEEK).result).toEqual({ kind: 'busy' });
    expect(takePurchase(taken, 'pass-a', T0 + 60_000, T0 + 1000, WEEK).result).toMatchObject({ kind: 'taken' });
    // A pass that died: its hold ends with its invocation.
    expect(takePurchase(taken, 'pass-b', T0 + 90_000, T0 + 30_000, WEEK).result).toMatchObject({ kind: 'taken' });
    expect(takePurchase(undefined, 'pass-a', T0, T0, WEEK).result).toEqual({ kind: 'gone' });
  });
});

function storeStepValue(step: { write: unknown }): PurchaseRecord {
  return (step.write as { value: PurchaseRecord }).value;
}

describe('a purchase whose nodes run (issue 19: only what has a record is given back)', () => {
  const ready = record({ state: 'ready', instanceIds: ['ins-1', 'ins-2'], createdAt: T0, readyAt: T0 + 1, endedAt: T0 + 1, instances: { 'ins-1': { state: 'running' }, 'ins-2': { state: 'running' } } });

  it('is kept while any node runs, and for the retention once every one is given back', () => {
    expect(liveInstancesOf(ready)).toEqual(['ins-1', 'ins-2']);
    expect(purchaseExpiry(ready, T0 + 5, WEEK)).toBe(T0 + 5 + LIVE_KEEP_MS);
    const released = { ...ready, instances: { 'ins-1': { state: 'running', release: { state: 'released' as const, reason: 'low alarm', startedAt: T0 + 10, drainUntil: T0 + 20, nodeName: 'n1', releasedAt: T0 + 30 } }, 'ins-2': { state: 'failed', cleanup: 'terminated' as const } } };
    expect(liveInstancesOf(released)).toEqual([]);
    expect(purchaseExpiry(released, T0 + 40, WEEK)).toBe(T0 + 30 + WEEK);
    // A cleaned-up purchase never was live.
    expect(liveInstancesOf({ ...ready, state: 'cleaned' })).toEqual([]);
  });

  it('its index entry says live while nodes run, and stops saying it once none does', () => {
    const entry = { id: 'p-1', clusterId: 'cls-e55paxnt', at: T0 };
    const live = value<PurchaseIndex>(indexPurchase(undefined, { ...entry, endedAt: T0 + 1, expiresAt: T0 + LIVE_KEEP_MS, live: true }, T0));
    expect(entriesOf(live)).toEqual([{ ...entry, endedAt: T0 + 1, expiresAt: T0 + LIVE_KEEP_MS, live: true }]);
    const done = value<PurchaseIndex>(indexPurchase(live, { ...entry, expiresAt: T0 + WEEK, live: false }, T0 + 2));
    expect(entriesOf(done)).toEqual([{ ...entry, endedAt: T0 + 1, expiresAt: T0 + WEEK }]);
  });
});
