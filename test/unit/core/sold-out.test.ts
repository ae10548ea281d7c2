import { renderCreateClusterInstances } from '../../../src/core/render';
import { resolveScaleOut } from '../../../src/core/resolve';
import { DEFAULT_CHARGE_TYPE } from '../../../src/core/price';
import {
  liveMarks,
  markFailing,
  NODES_FAILED_CODE,
  markSoldOut,
  offeringOf,
  soldOutMarkOf,
  SOLD_OUT_KEY,
  type Offering,
  type SoldOutState,
} from '../../../src/core/sold-out';
import type { StoreStep } from '../../../src/core/store-step';
import type { CreateClusterInstancesRequest } from '../../../src/tke/tke-params';
import { MemoryStore } from '../../../src/store/memory-store';
import { exampleConfig, resolvedOf } from '../../support/fixtures';
import { readValue } from '../../../src/core/store-step';

/** The shared sold-out memory (core/sold-out.ts) as pure steps over its one stored state. */
const T0 = Date.parse('2026-11-26T10:00:00Z');
const TTL = 900_000; // capacity.soldOutSeconds' default, 900 s
const CODE = 'ResourceInsufficient.SpecifiedInstanceType';

const spotSh2: Offering = { region: 'ap-shanghai', zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID' };
const spotSh4: Offering = { ...spotSh2, zone: 'ap-shanghai-4' };

/** Applies steps the way a store does (a put replaces, a keep leaves), keeping the state between them. */
function memory(initial?: SoldOutState) {
  let state = initial;
  const writes: Array<StoreStep<SoldOutState, unknown>['write']> = [];
  const apply = <R>(step: StoreStep<SoldOutState, R>): R => {
    writes.push(step.write);
    if (step.write.kind === 'put') state = step.write.value;
    if (step.write.kind === 'delete') state = undefined;
    return step.result;
  };
  return {
    mark: (offering: Offering, now: number, ttlMs = TTL, code = CODE) => apply(markSoldOut(state, offering, code, now, ttlMs)),
    read: () => apply(readValue(state)),
    markOf: (offering: Offering, now: number) => soldOutMarkOf(state, offering, now),
    get state() {
      return state;
    },
    get lastWrite() {
      return writes[writes.length - 1];
    },
  };
}

const request = (para: Record<string, unknown>): CreateClusterInstancesRequest => ({ ClusterId: 'cls-1', RunInstancePara: JSON.stringify(para) });

describe('offeringOf: what CVM sells, read from a rendered request', () => {
  it('takes the zone, the instance type and the charge type from RunInstancePara, and the region from the cluster', () => {
    const req = request({ Placement: { Zone: 'ap-shanghai-2', ProjectId: 0 }, InstanceType: 'S5.MEDIUM4', InstanceChargeType: 'SPOTPAID', ImageId: 'img-1' });
    expect(offeringOf('ap-shanghai', req)).toEqual(spotSh2);
  });

  it('is RunInstances’ default charge type (pay-as-you-go) when the request names none', () => {
    expect(DEFAULT_CHARGE_TYPE).toBe('POSTPAID_BY_HOUR');
    expect(offeringOf('ap-guangzhou', request({ Placement: { Zone: 'ap-guangzhou-4' }, InstanceType: 'S3.SMALL1' }))).toEqual({
      region: 'ap-guangzhou',
      zone: 'ap-guangzhou-4',
      instanceType: 'S3.SMALL1',
      chargeType: 'POSTPAID_BY_HOUR',
    });
  });

  it('names a missing zone or type by what CVM will pick, and ignores values that are not strings', () => {
    expect(offeringOf('ap-guangzhou', request({}))).toEqual({ region: 'ap-guangzhou', zone: '(any zone)', instanceType: '(default type)', chargeType: 'POSTPAID_BY_HOUR' });
    expect(offeringOf('ap-guangzhou', request({ Placement: { Zone: 4 }, InstanceType: null, InstanceChargeType: ['PREPAID'] }))).toEqual({
      region: 'ap-guangzhou',
      zone: '(any zone)',
      instanceType: '(default type)',
      chargeType: 'POSTPAID_BY_HOUR',
    });
    expect(offeringOf('ap-guangzhou', request({ Placement: 'ap-guangzhou-4' })).zone).toBe('(any zone)');
  });

  it('does not depend on the count, the ClientToken or anything else of one purchase', () => {
    // Two scale-outs of the same rung are the same offering: a mark set by one is seen by the other.
    const a = request({ Placement: { Zone: 'ap-shanghai-2' }, InstanceType: 'S5.MEDIUM4', InstanceChargeType: 'SPOTPAID', InstanceCount: 1, ClientToken: 'tok-a' });
    const b = request({ InstanceCount: 7, ClientToken: 'tok-b', InstanceChargeType: 'SPOTPAID', InstanceType: 'S5.MEDIUM4', Placement: { Zone: 'ap-shanghai-2' }, DataDisks: [{ DiskSize: 100 }] });
    expect(offeringOf('ap-shanghai', a)).toEqual(offeringOf('ap-shanghai', b));
    expect(offeringOf('ap-shanghai', a)).not.toEqual(offeringOf('ap-nanjing', a));
  });

  it('reads each rung of a real ladder (the example config’s burst template) as the rung renders it', () => {
    const config = exampleConfig();
    const resolved = resolvedOf(resolveScaleOut(config, { source: 'generic', eventId: 'evt-1', cluster: 'demo-sh', template: 'burst', params: new Map() }));
    const offerings = [1, 2, 3, 4].map((rung) => offeringOf(resolved.cluster.region, renderCreateClusterInstances(resolved, rung).request));
    expect(offerings).toEqual([
      { region: 'ap-shanghai', zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID' },
      { region: 'ap-shanghai', zone: 'ap-shanghai-4', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID' },
      { region: 'ap-shanghai', zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4', chargeType: 'POSTPAID_BY_HOUR' },
      { region: 'ap-shanghai', zone: 'ap-shanghai-4', instanceType: 'SA2.MEDIUM4', chargeType: 'POSTPAID_BY_HOUR' },
    ]);
    // A template without a charge type is pay-as-you-go, RunInstances' default.
    const small = resolvedOf(resolveScaleOut(config, { source: 'generic', eventId: 'evt-2', cluster: 'demo', template: 'small', params: new Map() }));
    expect(offeringOf(small.cluster.region, renderCreateClusterInstances(small).request).chargeType).toBe(DEFAULT_CHARGE_TYPE);
  });
});

describe('markSoldOut and soldOutMarkOf', () => {
  it('marks an offering sold out from now until now + ttl, with the refusal’s code', () => {
    const m = memory();
    m.mark(spotSh2, T0);
    expect(m.state).toEqual({ marks: [{ ...spotSh2, code: CODE, at: T0, until: T0 + TTL }] });
    expect(m.markOf(spotSh2, T0)).toEqual({ ...spotSh2, code: CODE, at: T0, until: T0 + TTL });
    expect(m.lastWrite).toEqual({ kind: 'put', value: m.state, expiresAt: T0 + TTL });
  });

  it('holds until one ms before `until` and is gone at exactly `until`', () => {
    const m = memory();
    m.mark(spotSh2, T0);
    expect(m.markOf(spotSh2, T0 + TTL - 1)).toBeDefined();
    expect(m.markOf(spotSh2, T0 + TTL)).toBeUndefined();
    expect(m.markOf(spotSh2, T0 + TTL + 1)).toBeUndefined();
    expect(liveMarks(m.state, T0 + TTL - 1)).toHaveLength(1);
    expect(liveMarks(m.state, T0 + TTL)).toEqual([]);
  });

  it('knows an offering by all four of region, zone, instance type and charge type', () => {
    const m = memory();
    m.mark(spotSh2, T0);
    expect(m.markOf({ ...spotSh2 }, T0)).toBeDefined();
    expect(m.markOf({ ...spotSh2, region: 'ap-nanjing' }, T0)).toBeUndefined();
    expect(m.markOf({ ...spotSh2, zone: 'ap-shanghai-4' }, T0)).toBeUndefined();
    expect(m.markOf({ ...spotSh2, instanceType: 'S5.LARGE8' }, T0)).toBeUndefined();
    // Spot sold out says nothing of pay-as-you-go stock of the same type in the same zone.
    expect(m.markOf({ ...spotSh2, chargeType: 'POSTPAID_BY_HOUR' }, T0)).toBeUndefined();
    // A mark carries more than an offering; extra fields on the offering asked about do not matter.
    expect(m.markOf({ ...spotSh2, code: 'x', at: 0, until: 0 } as Offering, T0)).toBeDefined();
  });

  it('keeps several offerings, each with its own expiry, and the key lives as long as the longest', () => {
    const m = memory();
    m.mark(spotSh2, T0, 600_000);
    m.mark(spotSh4, T0 + 10_000, 60_000);
    expect(m.state!.marks).toHaveLength(2);
    // The key must outlive every live mark, not only the one just written.
    expect(m.lastWrite).toMatchObject({ kind: 'put', expiresAt: T0 + 600_000 });
    expect(m.markOf(spotSh4, T0 + 69_999)).toBeDefined();
    expect(m.markOf(spotSh4, T0 + 70_000)).toBeUndefined();
    expect(m.markOf(spotSh2, T0 + 70_000)).toBeDefined();
    expect(liveMarks(m.state, T0 + 70_000).map((x) => x.zone)).toEqual(['ap-shanghai-2']);
  });

  it('re-marking an offering replaces its mark (one per offering): a later refusal extends it, with its own code', () => {
    const m = memory();
    m.mark(spotSh2, T0);
    m.mark(spotSh4, T0 + 1000);
    m.mark(spotSh2, T0 + 300_000, TTL, 'ResourceInsufficient.SpotPriceTooLow');
    expect(m.state!.marks).toHaveLength(2);
    expect(m.markOf(spotSh2, T0 + 300_000)).toEqual({ ...spotSh2, code: 'ResourceInsufficient.SpotPriceTooLow', at: T0 + 300_000, until: T0 + 300_000 + TTL });
    // Past the first mark's end, the second refusal still holds.
    expect(m.markOf(spotSh2, T0 + TTL)).toBeDefined();
    // The other offering's mark is kept as it was.
    expect(m.markOf(spotSh4, T0 + 300_000)).toEqual({ ...spotSh4, code: CODE, at: T0 + 1000, until: T0 + 1000 + TTL });
    expect(m.lastWrite).toMatchObject({ expiresAt: T0 + 300_000 + TTL });
  });

  it('re-marking with a shorter ttl (a config changed since) takes the newer ttl', () => {
    const m = memory();
    m.mark(spotSh2, T0, 3_600_000);
    m.mark(spotSh2, T0 + 1000, 60_000);
    expect(m.markOf(spotSh2, T0 + 1000)!.until).toBe(T0 + 61_000);
    expect(m.lastWrite).toMatchObject({ expiresAt: T0 + 61_000 });
  });

  it('drops expired marks when it writes, so the state holds at most one mark per offering still live', () => {
    const m = memory();
    // 200 refusals over 200 minutes, across 40 offerings, each mark living 5 minutes.
    for (let i = 0; i < 200; i++) m.mark({ ...spotSh2, instanceType: `S5.TYPE${i % 40}` }, T0 + i * 60_000, 300_000);
    // Only the last five minutes' refusals are still there (at T0 + 195..199 min).
    expect(m.state!.marks.map((x) => x.instanceType)).toEqual(['S5.TYPE35', 'S5.TYPE36', 'S5.TYPE37', 'S5.TYPE38', 'S5.TYPE39']);
    // The same offering refused again and again stays one mark.
    const again = memory();
    for (let i = 0; i < 100; i++) again.mark(spotSh2, T0 + i);
    expect(again.state!.marks).toEqual([{ ...spotSh2, code: CODE, at: T0 + 99, until: T0 + 99 + TTL }]);
  });

  it('drops a mark that ends exactly now when it writes', () => {
    const m = memory();
    m.mark(spotSh2, T0, 60_000);
    m.mark(spotSh4, T0 + 60_000, 60_000);
    expect(m.state!.marks.map((x) => x.zone)).toEqual(['ap-shanghai-4']);
    expect(m.lastWrite).toMatchObject({ expiresAt: T0 + 120_000 });
  });

  it('does not change the state it was given (a store may run the step again)', () => {
    const state: SoldOutState = Object.freeze({ marks: Object.freeze([Object.freeze({ ...spotSh2, code: CODE, at: T0, until: T0 + TTL })]) });
    const before = JSON.stringify(state);
    const step = markSoldOut(state, spotSh4, CODE, T0 + 1, TTL);
    expect(JSON.stringify(state)).toBe(before);
    expect(step.write.kind === 'put' && step.write.value.marks).toHaveLength(2);
    expect(markSoldOut(state, spotSh4, CODE, T0 + 1, TTL)).toEqual(step);
  });

  it('finds nothing in no state', () => {
    expect(soldOutMarkOf(undefined, spotSh2, T0)).toBeUndefined();
    expect(liveMarks(undefined, T0)).toEqual([]);
  });
});

describe('a stored state of an unexpected shape', () => {
  // The key is shared by every instance and outlives a deploy: what an older version wrote (or
  // anything else) must not throw in the middle of a climb. Such marks are not marks.
  const odd: Array<[string, unknown]> = [
    ['an empty object', {}],
    ['marks: null', { marks: null }],
    ['marks as a map (not an array)', { marks: { 'ap-shanghai-2/S5.MEDIUM4': { until: T0 + TTL } } }],
    ['marks holding null and non-objects', { marks: [null, 3, 'x'] }],
    ['a mark without a time', { marks: [{ ...spotSh2, code: CODE }] }],
    ['a mark with an end but no start (/healthz dates both)', { marks: [{ ...spotSh2, code: CODE, until: T0 + TTL }] }],
    ['a mark whose until is not a number', { marks: [{ ...spotSh2, code: CODE, at: T0, until: '2026-11-26T10:15:00Z' }] }],
  ];

  it.each(odd)('%s: no live mark, nothing thrown', (_, stored) => {
    const state = stored as SoldOutState;
    expect(soldOutMarkOf(state, spotSh2, T0)).toBeUndefined();
    expect(liveMarks(state, T0)).toEqual([]);
    expect(readValue(state)).toEqual({ write: { kind: 'keep' }, result: state });
  });

  it.each(odd)('%s: marking writes a well-formed state over it', (_, stored) => {
    const step = markSoldOut(stored as SoldOutState, spotSh2, CODE, T0, TTL);
    expect(step).toEqual({ write: { kind: 'put', value: { marks: [{ ...spotSh2, code: CODE, at: T0, until: T0 + TTL }] }, expiresAt: T0 + TTL }, result: undefined });
  });

  it('a mark from a shape without the charge type matches no offering, and is kept only until it ends', () => {
    const old = { marks: [{ region: 'ap-shanghai', zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4', code: CODE, at: T0, until: T0 + 60_000 }] } as unknown as SoldOutState;
    expect(soldOutMarkOf(old, spotSh2, T0)).toBeUndefined();
    const kept = markSoldOut(old, spotSh4, CODE, T0 + 1000, TTL);
    expect(kept.write.kind === 'put' && kept.write.value.marks).toHaveLength(2);
    const dropped = markSoldOut(old, spotSh4, CODE, T0 + 60_000, TTL);
    expect(dropped.write.kind === 'put' && dropped.write.value.marks).toEqual([{ ...spotSh4, code: CODE, at: T0 + 60_000, until: T0 + 60_000 + TTL }]);
  });
});

describe('reading the marks (readValue, core/store-step.ts)', () => {
  it('returns the state as stored and writes nothing', () => {
    const state: SoldOutState = { marks: [{ ...spotSh2, code: CODE, at: T0, until: T0 + 1 }] };
    const step = readValue(state);
    expect(step.write).toEqual({ kind: 'keep' });
    expect(step.result).toBe(state);
    expect(readValue(undefined)).toEqual({ write: { kind: 'keep' }, result: undefined });
  });
});

describe('the sold-out memory through the memory store (a JSON round trip)', () => {
  it('marks, reads back across the key’s life, and forgets the key when the last mark ends', async () => {
    let now = T0;
    const store = new MemoryStore(() => now);
    const mark = (offering: Offering, ttlMs: number) => store.update<SoldOutState, void>(SOLD_OUT_KEY, (current) => markSoldOut(current, offering, CODE, now, ttlMs));
    const read = () => store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readValue);

    expect(SOLD_OUT_KEY).toBe('capacity:sold-out');
    expect(await read()).toBeUndefined();
    await mark(spotSh2, 120_000);
    now = T0 + 30_000;
    await mark(spotSh4, 30_000);

    const stored = await read();
    expect(stored).toEqual({
      marks: [
        { ...spotSh2, code: CODE, at: T0, until: T0 + 120_000 },
        { ...spotSh4, code: CODE, at: T0 + 30_000, until: T0 + 60_000 },
      ],
    });
    expect(soldOutMarkOf(stored, spotSh2, now)).toBeDefined();

    now = T0 + 60_000;
    const later = await read();
    expect(soldOutMarkOf(later, spotSh4, now)).toBeUndefined();
    expect(soldOutMarkOf(later, spotSh2, now)).toBeDefined();

    // The key's expiry is the longest mark's end, not the last one written.
    now = T0 + 120_000 - 1;
    expect(liveMarks(await read(), now)).toHaveLength(1);
    now = T0 + 120_000;
    expect(await read()).toBeUndefined();
  });
});

describe("an offering whose nodes failed to join backs off (cluster-autoscaler's node-group back-off: 5 min, doubling to 30, reset after 3 h; its FAQ)", () => {
  const offering = { region: 'ap-guangzhou', zone: 'ap-guangzhou-4', instanceType: 'S3.SMALL1', chargeType: 'POSTPAID_BY_HOUR' };
  const T = Date.parse('2026-12-06T10:00:00Z');
  const min = 60_000;
  it('5, 10, 20, 30, 30 minutes for failures in a row; 5 again after 3 quiet hours', () => {
    let state: SoldOutState | undefined;
    const until: number[] = [];
    for (let i = 0; i < 5; i++) {
      const step = markFailing(state, offering, T + i * min);
      state = (step.write as { value: SoldOutState }).value;
      until.push((step.result - (T + i * min)) / min);
    }
    expect(until).toEqual([5, 10, 20, 30, 30]);
    expect(soldOutMarkOf(state, offering, T + 4 * min)).toMatchObject({ code: NODES_FAILED_CODE });
    const later = markFailing(state, offering, T + 4 * min + 3 * 3_600_000 + 1);
    expect((later.result - (T + 4 * min + 3 * 3_600_000 + 1)) / min).toBe(5);
  });
  it('a sold-out mark keeps the failures, and a longer mark is not shortened', () => {
    const failed = (markFailing(undefined, offering, T).write as { value: SoldOutState }).value;
    const sold = (markSoldOut(failed, offering, 'ResourceInsufficient.SpecifiedInstanceType', T + min, 60 * min).write as { value: SoldOutState }).value;
    expect(sold.failing).toHaveLength(1);
    const again = markFailing(sold, offering, T + 2 * min);
    expect(again.result).toBe(T + 61 * min);
    expect(soldOutMarkOf((again.write as { value: SoldOutState }).value, offering, T + 2 * min)).toMatchObject({ code: 'ResourceInsufficient.SpecifiedInstanceType' });
  });
});

