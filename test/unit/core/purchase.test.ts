import { entriesOf, indexPurchase, MAX_INDEXED_PURCHASES, storePurchase, type PurchaseIndex, type PurchaseRecord } from '../../../src/core/purchase';

/** A purchase's record and the index that lists them, as pure steps. */
const T0 = Date.parse('2026-12-06T10:00:00Z');
const WEEK = 7 * 86_400_000;
const record = (extra: Partial<PurchaseRecord> = {}): PurchaseRecord => ({
  id: 'p-0123456789abcdef',
  owner: 'tke-scaleout',
  cluster: 'demo',
  clusterId: 'cls-e55paxnt',
  region: 'ap-guangzhou',
  template: 'small',
  rung: 1,
  offering: { region: 'ap-guangzhou', zone: 'ap-guangzhou-4', instanceType: 'S3.SMALL1', chargeType: 'POSTPAID_BY_HOUR' },
  count: 2,
  clientToken: 'so2-abc',
  request: { ClusterId: 'cls-e55paxnt', RunInstancePara: '{}' },
  instanceIds: [],
  askedBy: { source: 'generic', eventId: 'e-1' },
  state: 'requested',
  requestedAt: T0,
  ...extra,
});
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
    for (const [id, at] of [['b', 2], ['a', 1], ['b', 2]] as const) index = value<PurchaseIndex>(indexPurchase(index, entry(id, T0 + at), T0 + 10, WEEK));
    expect(index!.entries.map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('drops what ended more than a retention ago, and keeps open ones however old', () => {
    const index: PurchaseIndex = { entries: [entry('old-ended', T0, T0 + 1000), entry('old-open', T0), entry('recent-ended', T0 + WEEK, T0 + WEEK)] };
    const next = value<PurchaseIndex>(indexPurchase(index, entry('new', T0 + WEEK + 5000), T0 + WEEK + 5000, WEEK));
    expect(next.entries.map((e) => e.id)).toEqual(['old-open', 'recent-ended', 'new']);
  });

  it(`is bounded at ${MAX_INDEXED_PURCHASES}: ended purchases leave first`, () => {
    const entries = Array.from({ length: MAX_INDEXED_PURCHASES }, (_, i) => entry(`p${i}`, T0 + i, i === 10 ? T0 + 20 : undefined));
    const next = value<PurchaseIndex>(indexPurchase({ entries }, entry('new', T0 + 10_000_000), T0 + 10_000_000, WEEK));
    expect(next.entries).toHaveLength(MAX_INDEXED_PURCHASES);
    expect(next.entries.some((e) => e.id === 'p10')).toBe(false);
    expect(next.entries.at(-1)!.id).toBe('new');
  });

  it('reads what it can of a stored index that is not one (the store outlives deploys)', () => {
    expect(entriesOf({ entries: 'x' } as unknown as PurchaseIndex)).toEqual([]);
    expect(entriesOf({ entries: [null, { id: 1 }, entry('ok', T0)] } as unknown as PurchaseIndex)).toEqual([entry('ok', T0)]);
  });
});
