import type { Config } from '../../../src/config/load-config';
import { loadConfigFile } from '../../../src/config/load-config';
import { reserveCost, settleCost, type CostState } from '../../../src/core/cost-budget';
import { decideDelivery, fingerprintOf, idempotencyKeyFor, releaseClaim, type IdempotencyRecord } from '../../../src/core/idempotency';
import type { Price } from '../../../src/core/price';
import { renderCreateClusterInstances } from '../../../src/core/render';
import { resolveScaleOut } from '../../../src/core/resolve';
import type { ResolvedScaleOut } from '../../../src/core/scale-out-request';
import { markSoldOut, offeringOf, SOLD_OUT_KEY, type Offering, type SoldOutState } from '../../../src/core/sold-out';
import { decideThrottle, settleThrottle, throttleScopeOf, type ThrottleDecision, type ThrottleState } from '../../../src/core/throttle';
import { ExceedsLimitError, OfferingSoldOutError, PriceUnavailableError, SoldOutError, StoreUnavailableError, ThrottledError, TkeCallError } from '../../../src/errors';
import { climbLadder, planLadder, resendRecorded, type Climb, type ClimbDeps, type ClimbEvent } from '../../../src/scale-out/climb';
import type { Pricing } from '../../../src/scale-out/pricing';
import { MemoryStore } from '../../../src/store/memory-store';
import type { StateStore, StoreStep } from '../../../src/store/state-store';
import type { TkeCallOptions } from '../../../src/tke/call-tke';
import type { TkeApi } from '../../../src/tke/tke-api';
import type { CreateClusterInstancesRequest } from '../../../src/tke/tke-params';
import { exampleConfig, exampleConfigVariant, resolvedOf } from '../../support/fixtures';
import { readValue } from '../../../src/core/store-step';

/**
 * The ladder (scale-out/climb.ts) through its exported functions, with the memory store, the
 * example config's `burst` template on cluster demo-sh (four rungs; a money budget of 12 CNY/h per
 * day), a fake TKE playing scripted outcomes and a fake Pricing. Every climb holds what the
 * lifecycle gives it first: the claim on its event's idempotency record (decideDelivery) and the
 * throttle's node grant (decideThrottle).
 *
 * The rungs of `burst`, in order (config/example.yaml):
 *   1  ap-shanghai-2  S5.MEDIUM4   SPOTPAID
 *   2  ap-shanghai-4  S5.MEDIUM4   SPOTPAID
 *   3  ap-shanghai-2  S5.MEDIUM4   POSTPAID_BY_HOUR
 *   4  ap-shanghai-4  SA2.MEDIUM4  POSTPAID_BY_HOUR
 */
const T0 = Date.parse('2026-11-26T10:00:00Z');
const REGION = 'ap-shanghai';
const COST_KEY = 'cost:{cls-sh7k2m9q}';
const SOLD_OUT = 'ResourceInsufficient.SpecifiedInstanceType';

const RUNGS: readonly Offering[] = [
  { region: REGION, zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID' },
  { region: REGION, zone: 'ap-shanghai-4', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID' },
  { region: REGION, zone: 'ap-shanghai-2', instanceType: 'S5.MEDIUM4', chargeType: 'POSTPAID_BY_HOUR' },
  { region: REGION, zone: 'ap-shanghai-4', instanceType: 'SA2.MEDIUM4', chargeType: 'POSTPAID_BY_HOUR' },
];

/** The example config, and the same without demo-sh's money budget (nothing is priced then). */
const WITH_BUDGET = exampleConfig();
const NO_BUDGET = loadConfigFile(exampleConfigVariant((doc) => delete doc.clusters['demo-sh'].costBudget));

/** One TKE call's scripted outcome: bought, refused with an API code, or acted on with its answer lost. */
type Play = { readonly ok: readonly string[] } | { readonly code: string; readonly message?: string } | { readonly lost: true };

const soldOut: Play = { code: SOLD_OUT };
/** TKE's CvmCommon (a 502) with CVM's stock code in its message. */
const cvmSoldOut: Play = { code: 'FailedOperation.CvmCommon', message: 'CVM error: [ResourcesSoldOut.AvailableZone] resources in this availability zone have been sold out' };

function fakeTke(plays: Play[], during: (request: CreateClusterInstancesRequest) => Promise<void>) {
  const requests: CreateClusterInstancesRequest[] = [];
  const tke: TkeApi & { requests: typeof requests } = {
    endpointDescription: 'fake TKE',
    requests,
    describeClusterNodeCount: async () => 0,
    describeClusterInstances: async () => [],
    deleteClusterInstances: async () => ({ succeeded: [], failed: [], notFound: [] }),
    async createClusterInstances(_region, request) {
      requests.push(structuredClone(request));
      await during(request);
      const play = plays.shift() ?? { ok: ['ins-default'] };
      if ('code' in play) throw Object.assign(new Error(play.message ?? `tke says ${play.code}`), { code: play.code, requestId: `req-${requests.length}` });
      if ('lost' in play) throw new Error('socket hang up');
      return { InstanceIdSet: [...play.ok], RequestId: `req-${requests.length}` };
    },
  };
  return tke;
}

/** What a price inquiry for one rung and count answers: CNY per hour per node, or an error thrown. */
type Quote = (rung: number, count: number) => number | Error;

function fakePricing(resolved: ResolvedScaleOut, quote: Quote) {
  const rungOf = (request: CreateClusterInstancesRequest): number => {
    const offering = JSON.stringify(offeringOf(REGION, request));
    return RUNGS.findIndex((r) => JSON.stringify(r) === offering) + 1;
  };
  const asked: Array<{ rung: number; count: number; request: CreateClusterInstancesRequest }> = [];
  const pricing: Pricing & { asked: typeof asked } = {
    asked,
    async priceOf(region, request) {
      expect(region).toBe(resolved.cluster.region);
      const rung = rungOf(request);
      const count = (JSON.parse(request.RunInstancePara) as { InstanceCount: number }).InstanceCount;
      asked.push({ rung, count, request: structuredClone(request) });
      const perNode = quote(rung, count);
      if (perNode instanceof Error) throw perNode;
      return { kind: 'hourly', amount: Math.round(perNode * count * 100) / 100, cached: false };
    },
  };
  return pricing;
}

const cheap: Quote = () => 1;

/** The memory store, keeping every write (put or delete) by key. */
class RecordingStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly shared = false;
  readonly writes: Array<{ key: string; write: 'put' | 'delete' }> = [];
  constructor(private readonly inner: StateStore) {}
  update<V, R>(key: string, step: (current: V | undefined) => StoreStep<V, R>): Promise<R> {
    return this.inner.update<V, R>(key, (current) => {
      const done = step(current);
      if (done.write.kind !== 'keep') this.writes.push({ key, write: done.write.kind });
      return done;
    });
  }
  ping = async () => true;
  close = async () => undefined;
}

const read = <V>(store: StateStore, key: string): Promise<V | undefined> => store.update<V, V | undefined>(key, readValue);

function resolveBurst(config: Config, eventId: string, count: number): ResolvedScaleOut {
  return resolvedOf(resolveScaleOut(config, { source: 'generic', eventId, cluster: 'demo-sh', template: 'burst', count, params: new Map() }));
}

interface Options {
  readonly plays?: Play[];
  readonly quote?: Quote;
  readonly config?: Config;
  readonly count?: number;
  readonly eventId?: string;
  /** Runs during every TKE call, before its outcome: reads the store, moves the clock. */
  readonly during?: (request: CreateClusterInstancesRequest) => Promise<void>;
}

/**
 * One delivery of one event that holds its claim and its node grant, as the lifecycle leaves it
 * before the climb. The clock is the test's; the call's deadline is 20 s after the start.
 */
async function delivery(options: Options = {}) {
  let clock = T0;
  const now = () => clock;
  const config = options.config ?? NO_BUDGET;
  const store = new RecordingStore(new MemoryStore(now));
  const resolved = resolveBurst(config, options.eventId ?? 'e-1', options.count ?? 2);
  const claimId = 'claim-1';
  const event: ClimbEvent = {
    key: idempotencyKeyFor('generic', resolved.eventId),
    claimId,
    timeoutAt: clock + 25_000,
    scope: throttleScopeOf(resolved),
    purchase: { id: resolved.marks.purchase, owner: resolved.marks.owner, cluster: resolved.cluster.alias, clusterId: resolved.cluster.clusterId, template: resolved.template.name, askedBy: { source: 'generic', eventId: resolved.eventId } },
  };
  const claimed = await store.update(event.key, (current: IdempotencyRecord | undefined) => decideDelivery(current, { claimId, fingerprint: fingerprintOf(resolved), claimExpiresAt: event.timeoutAt }, now()));
  expect(claimed).toEqual({ kind: 'proceed' });
  const grant = await store.update<ThrottleState, ThrottleDecision>(event.scope.key, (current) =>
    decideThrottle(current, { eventKey: event.key, claimId, requested: resolved.count, clampAllowed: resolved.template.count.clamp, inFlightUntil: event.timeoutAt }, event.scope.rules, now()),
  );
  if (grant.kind !== 'granted') throw new Error(`expected a node grant, got ${grant.kind}`);
  const tke = fakeTke(options.plays ?? [], options.during ?? (async () => undefined));
  const pricing = fakePricing(resolved, options.quote ?? cheap);
  const deps: ClimbDeps = { config, store, tke, pricing, now };
  const callOptions: TkeCallOptions = { deadline: clock + 20_000, now, policy: { ...config.tke, baseDelayMs: 1, maxDelayMs: 2 } };
  return {
    config,
    store,
    tke,
    pricing,
    resolved,
    event,
    deps,
    callOptions,
    granted: grant.nodes,
    climb: () => climbLadder(deps, resolved, event, grant.nodes, callOptions),
    advance: (ms: number) => (clock += ms),
    now,
    record: () => read<IdempotencyRecord>(store, event.key),
    ledger: () => read<CostState>(store, COST_KEY),
    throttle: () => read<ThrottleState>(store, event.scope.key),
    marks: async () => (await store.update<SoldOutState, SoldOutState | undefined>(SOLD_OUT_KEY, readValue))?.marks ?? [],
    mark: (offering: Offering, ttlMs: number, code = SOLD_OUT) => store.update<SoldOutState, void>(SOLD_OUT_KEY, (current) => markSoldOut(current, offering, code, now(), ttlMs)),
  };
}

const paraOf = (request: CreateClusterInstancesRequest) => JSON.parse(request.RunInstancePara) as { ClientToken: string; InstanceCount: number };
const offeringsSent = (tke: { requests: CreateClusterInstancesRequest[] }) => tke.requests.map((r) => offeringOf(REGION, r));
const outcomes = (climb: Climb) => climb.steps.map((s) => [s.rung, s.outcome]);

function failed(climb: Climb): Extract<Climb, { kind: 'failed' }> {
  if (climb.kind !== 'failed') throw new Error(`expected a failed climb, got ${climb.kind} on rung ${climb.sent.rung}`);
  return climb;
}

function created(climb: Climb): Extract<Climb, { kind: 'created' }> {
  if (climb.kind !== 'created') throw new Error(`expected a purchase, got ${climb.error.code}: ${climb.error.message}`);
  return climb;
}

/** The money an event holds in a ledger. */
const heldBy = (state: CostState | undefined, eventKey: string) => (state?.grants ?? []).filter((g) => g.eventKey === eventKey);

describe('climbLadder: the rungs', () => {
  it('tries the rungs in order, each with its own request and ClientToken, and stops at the first that buys', async () => {
    const d = await delivery({ plays: [soldOut, soldOut, soldOut, { ok: ['ins-a', 'ins-b'] }] });
    const climb = created(await d.climb());
    expect(offeringsSent(d.tke)).toEqual(RUNGS);
    const tokens = d.tke.requests.map((r) => paraOf(r).ClientToken);
    expect(new Set(tokens).size).toBe(4);
    expect(tokens).toEqual([1, 2, 3, 4].map((rung) => renderCreateClusterInstances(d.resolved, rung).clientToken));
    expect(outcomes(climb)).toEqual([[1, 'sold-out'], [2, 'sold-out'], [3, 'sold-out'], [4, 'bought']]);
    expect(climb.steps.map((s) => s.clientToken)).toEqual(tokens);
    expect(climb.sent).toEqual({ clientToken: tokens[3], request: d.tke.requests[3], rung: 4, region: REGION, nodes: 2 });
    expect(climb.call.response.InstanceIdSet).toEqual(['ins-a', 'ins-b']);
    expect(climb.resent).toBe(false);
    // Without a money budget nothing is priced.
    expect(d.pricing.asked).toEqual([]);
  });

  it('skips a rung marked sold out (by any instance) without calling it', async () => {
    const d = await delivery({ plays: [{ ok: ['ins-a', 'ins-b'] }] });
    await d.mark(RUNGS[0]!, 600_000);
    const climb = created(await d.climb());
    expect(offeringsSent(d.tke)).toEqual([RUNGS[1]]);
    expect(climb.steps).toEqual([
      { rung: 1, ...RUNGS[0], outcome: 'sold-out-recently', code: SOLD_OUT, until: new Date(T0 + 600_000).toISOString() },
      expect.objectContaining({ rung: 2, outcome: 'bought' }),
    ]);
  });

  it('a mark that has run out skips nothing', async () => {
    const d = await delivery({ plays: [{ ok: ['ins-a', 'ins-b'] }] });
    await d.mark(RUNGS[0]!, 10_000);
    d.advance(10_000);
    expect(created(await d.climb()).sent.rung).toBe(1);
  });

  it('a sold-out refusal (CVM\'s code inside TKE\'s CvmCommon) marks the offering for every instance and climbs on', async () => {
    const d = await delivery({ plays: [cvmSoldOut, { ok: ['ins-a', 'ins-b'] }] });
    const climb = created(await d.climb());
    expect(climb.steps[0]).toMatchObject({ rung: 1, outcome: 'sold-out', code: 'ResourcesSoldOut.AvailableZone' });
    expect(climb.sent.rung).toBe(2);
    expect(await d.marks()).toEqual([{ ...RUNGS[0], code: 'ResourcesSoldOut.AvailableZone', at: T0, until: T0 + d.config.capacity.soldOutSeconds * 1000 }]);
  });

  it.each<[string, Play]>([
    ['a quota', { code: 'FailedOperation.QuotaMaxNodLimit' }],
    ['a mistake in the template', { code: 'InvalidParameter' }],
    ['CvmCommon naming no stock code', { code: 'FailedOperation.CvmCommon', message: 'CVM error: [InvalidParameterValue.ZoneNotSupported]' }],
    ['a stock code only as part of a longer code', { code: 'FailedOperation.CvmCommon', message: 'CVM error: ResourcesSoldOut.AvailableZoneX' }],
  ])('a refusal that is not for stock stops the climb, marks nothing, tries no other rung: %s', async (_name, play) => {
    const d = await delivery({ plays: [play, { ok: ['ins-a'] }] });
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(TkeCallError);
    expect(climb.error.code).toBe((play as { code: string }).code);
    expect(climb.settlement).toBe('refused');
    expect(outcomes(climb)).toEqual([[1, 'refused']]);
    expect(climb.sent?.rung).toBe(1);
    expect(d.tke.requests).toHaveLength(1);
    expect(await d.marks()).toEqual([]);
  });

  it('an unknown outcome stops the climb with settlement unknown: the same request on every attempt, no other rung', async () => {
    const d = await delivery({ plays: [{ lost: true }, { lost: true }, { lost: true }, { lost: true }, { ok: ['ins-a'] }] });
    const climb = failed(await d.climb());
    expect(climb.settlement).toBe('unknown');
    expect(climb.error).toMatchObject({ code: 'TkeUnreachable', outcomeUnknown: true });
    expect(outcomes(climb)).toEqual([[1, 'unknown']]);
    expect(d.tke.requests).toHaveLength(d.config.tke.maxAttempts);
    expect(new Set(d.tke.requests.map((r) => r.RunInstancePara)).size).toBe(1);
    // The request stays on the record for the next delivery.
    expect((await d.record())).toMatchObject({ state: 'in-progress', sent: { rung: 1, clientToken: climb.sent!.clientToken } });
  });

  it('lost, then refused for stock: still unknown (the first attempt may have bought), so no mark and no next rung', async () => {
    const d = await delivery({ plays: [{ lost: true }, soldOut, { ok: ['ins-a'] }] });
    const climb = failed(await d.climb());
    expect(climb.settlement).toBe('unknown');
    expect(outcomes(climb)).toEqual([[1, 'unknown']]);
    expect(d.tke.requests).toHaveLength(2);
    expect(await d.marks()).toEqual([]);
  });

  it('records each rung\'s exact request on the event\'s record before its call', async () => {
    const seen: Array<IdempotencyRecord | undefined> = [];
    let d: Awaited<ReturnType<typeof delivery>>;
    d = await delivery({ plays: [soldOut, { ok: ['ins-a', 'ins-b'] }], during: async () => void seen.push(await d.record()) });
    const climb = created(await d.climb());
    expect(seen).toHaveLength(2);
    seen.forEach((record, i) => {
      const request = d.tke.requests[i]!;
      expect(record).toMatchObject({ state: 'in-progress', claimId: 'claim-1', keptUntil: T0 + d.config.idempotency.ttlSeconds * 1000 });
      expect(record?.state === 'in-progress' && record.sent).toEqual({ clientToken: paraOf(request).ClientToken, request, rung: i + 1, region: REGION, nodes: 2 });
    });
    expect(climb.sent).toEqual(seen[1]?.state === 'in-progress' && seen[1].sent);
  });

  it.each<[string, (d: Awaited<ReturnType<typeof delivery>>) => Promise<unknown>]>([
    ['its claim expired and another delivery claimed the event', async (d) => {
      d.advance(25_000);
      await d.store.update(d.event.key, (current: IdempotencyRecord | undefined) => decideDelivery(current, { claimId: 'claim-2', fingerprint: fingerprintOf(d.resolved), claimExpiresAt: d.now() + 25_000 }, d.now()));
    }],
    ['its claim expired', async (d) => d.advance(25_000)],
    ['the record is gone', async (d) => d.store.update(d.event.key, () => ({ write: { kind: 'delete' }, result: undefined }))],
  ])('a claim no longer this delivery\'s: nothing is sent (%s)', async (_name, lose) => {
    const d = await delivery({ plays: [{ ok: ['ins-a'] }] });
    await lose(d);
    const before = await d.record();
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(StoreUnavailableError);
    expect(climb.settlement).toBe('refused');
    expect(d.tke.requests).toEqual([]);
    expect(climb.steps).toEqual([]);
    // Another delivery's claim is left as it was.
    expect(await d.record()).toEqual(before);
  });

  it('sold out on every rung: SoldOut (503) naming each rung, every offering marked, Retry-After the sold-out memory in whole seconds', async () => {
    const d = await delivery({ plays: [soldOut, cvmSoldOut, soldOut, soldOut] });
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(SoldOutError);
    expect(climb.error).toMatchObject({ status: 503, code: 'SoldOut', retryAfterSeconds: d.config.capacity.soldOutSeconds });
    expect(climb.error.message).toContain('every rung of the ladder');
    expect(climb.error.message).toContain('rung 4 SA2.MEDIUM4 in ap-shanghai-4 (POSTPAID_BY_HOUR): sold out');
    expect(climb.error.message).toContain('last TKE RequestId req-4');
    expect(climb.settlement).toBe('refused');
    expect(outcomes(climb)).toEqual([[1, 'sold-out'], [2, 'sold-out'], [3, 'sold-out'], [4, 'sold-out']]);
    expect((await d.marks()).map(({ region, zone, instanceType, chargeType }) => ({ region, zone, instanceType, chargeType }))).toEqual(RUNGS);
  });

  it('every rung sold out recently: SoldOut with no call, Retry-After until the first mark ends, in whole seconds', async () => {
    const d = await delivery();
    await d.mark(RUNGS[0]!, 600_000);
    await d.mark(RUNGS[1]!, 90_500);
    await d.mark(RUNGS[2]!, 300_000);
    await d.mark(RUNGS[3]!, 900_000);
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(SoldOutError);
    expect(climb.error.retryAfterSeconds).toBe(91);
    expect(climb.settlement).toBe('refused');
    expect(outcomes(climb)).toEqual([[1, 'sold-out-recently'], [2, 'sold-out-recently'], [3, 'sold-out-recently'], [4, 'sold-out-recently']]);
    expect(d.tke.requests).toEqual([]);
  });
});

describe('climbLadder: the time left (MIN_RUNG_MS, 500 ms)', () => {
  /** A delivery whose every TKE call takes until `left` ms before the call's deadline. */
  async function slow(left: number, plays: Play[]) {
    let d: Awaited<ReturnType<typeof delivery>> | undefined;
    d = await delivery({ plays, during: async () => void d!.advance(d!.callOptions.deadline - left - d!.now()) });
    return d;
  }

  it('less than 500 ms left after a sold-out rung: the climb stops, and says how many rungs were left untried', async () => {
    const d = await slow(499, [cvmSoldOut, { ok: ['ins-a'] }]);
    const climb = failed(await d.climb());
    expect(d.tke.requests).toHaveLength(1);
    expect(climb.error).toBeInstanceOf(SoldOutError);
    expect(climb.error.message).toContain('the rungs there was time for (3 left untried)');
    expect(climb.error.retryAfterSeconds).toBe(d.config.capacity.soldOutSeconds);
    expect(climb.settlement).toBe('refused');
    // The rung was marked all the same.
    expect(await d.marks()).toHaveLength(1);
  });

  it('one rung tried and TKE\'s own answer is a 503 with Retry-After: that answer is passed on', async () => {
    const d = await slow(499, [soldOut, { ok: ['ins-a'] }]);
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(TkeCallError);
    expect(climb.error).toMatchObject({ status: 503, code: SOLD_OUT, retryAfterSeconds: 300 });
  });

  it('exactly 500 ms left: the next rung is tried', async () => {
    const d = await slow(500, [cvmSoldOut, { ok: ['ins-a'] }]);
    expect(created(await d.climb()).sent.rung).toBe(2);
    expect(d.tke.requests).toHaveLength(2);
  });
});

describe('climbLadder: the money budget (demo-sh: 12 CNY/h per day)', () => {
  it('prices each rung\'s exact request and reserves it before the call; the bought step carries the price', async () => {
    const held: number[][] = [];
    let d: Awaited<ReturnType<typeof delivery>>;
    d = await delivery({ config: WITH_BUDGET, quote: () => 1.5, plays: [{ ok: ['ins-a', 'ins-b'] }], during: async () => void held.push(heldBy(await d.ledger(), d.event.key).map((g) => g.amount)) });
    const climb = created(await d.climb());
    expect(held).toEqual([[3]]);
    expect(d.pricing.asked.map((a) => a.request)).toEqual(d.tke.requests);
    expect(climb.steps).toEqual([expect.objectContaining({ rung: 1, outcome: 'bought', price: { amount: 3, kind: 'hourly', currency: 'CNY' } })]);
  });

  it('a rung over the budget is skipped (no call), and the next that fits is bought', async () => {
    const d = await delivery({ config: WITH_BUDGET, quote: (rung) => (rung === 1 ? 13 : 2), plays: [{ ok: ['ins-a', 'ins-b'] }] });
    const climb = created(await d.climb());
    expect(outcomes(climb)).toEqual([[1, 'over-budget'], [2, 'bought']]);
    expect(climb.steps[0]).toMatchObject({ price: { amount: 26, kind: 'hourly', currency: 'CNY' } });
    expect(offeringsSent(d.tke)).toEqual([RUNGS[1]]);
    expect(heldBy(await d.ledger(), d.event.key).map((g) => g.amount)).toEqual([4]);
  });

  it('over the budget with clamp: fewer nodes, priced again as a whole, and the node grant resized to them', async () => {
    const d = await delivery({ config: WITH_BUDGET, count: 4, quote: () => 5, plays: [{ ok: ['ins-a', 'ins-b'] }] });
    expect(d.granted).toBe(4);
    const climb = created(await d.climb());
    expect(d.pricing.asked.map((a) => [a.rung, a.count])).toEqual([[1, 4], [1, 2]]);
    expect(paraOf(d.tke.requests[0]!).InstanceCount).toBe(2);
    expect(climb.sent).toMatchObject({ rung: 1, nodes: 2 });
    // Another request, so another ClientToken than the four-node one.
    expect(climb.sent.clientToken).not.toBe(renderCreateClusterInstances(d.resolved, 1).clientToken);
    expect(climb.sent.clientToken).toBe(renderCreateClusterInstances({ ...d.resolved, count: 2 }, 1).clientToken);
    expect((await d.throttle())?.grants.find((g) => g.eventKey === d.event.key)?.amount).toBe(2);
    expect(heldBy(await d.ledger(), d.event.key).map((g) => g.amount)).toEqual([10]);
  });

  it('the price inquiry says the offering is sold out: marked, and the climb goes on', async () => {
    const d = await delivery({
      config: WITH_BUDGET,
      quote: (rung) => (rung === 1 ? new OfferingSoldOutError('ResourcesSoldOut.SpecifiedInstanceType', 'The specified instance type is sold out.') : 1),
      plays: [{ ok: ['ins-a', 'ins-b'] }],
    });
    const climb = created(await d.climb());
    expect(outcomes(climb)).toEqual([[1, 'sold-out'], [2, 'bought']]);
    expect(climb.steps[0]).toMatchObject({ code: 'ResourcesSoldOut.SpecifiedInstanceType' });
    expect(offeringsSent(d.tke)).toEqual([RUNGS[1]]);
    expect(await d.marks()).toEqual([expect.objectContaining({ ...RUNGS[0], code: 'ResourcesSoldOut.SpecifiedInstanceType' })]);
  });

  it('no price: PriceUnavailable stops the climb, nothing more is bought, and the money of the rung before was given back', async () => {
    const d = await delivery({ config: WITH_BUDGET, quote: (rung) => (rung === 1 ? 1 : new PriceUnavailableError('InquiryPriceRunInstances did not answer (timeout)')), plays: [soldOut, { ok: ['ins-a'] }] });
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(PriceUnavailableError);
    expect(climb.settlement).toBe('refused');
    expect(outcomes(climb)).toEqual([[1, 'sold-out']]);
    expect(d.tke.requests).toHaveLength(1);
    expect(heldBy(await d.ledger(), d.event.key)).toEqual([]);
  });

  it('every rung over the budget and none could ever fit: ExceedsLimit (422), nothing called or held', async () => {
    const d = await delivery({ config: WITH_BUDGET, quote: () => 13 });
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(ExceedsLimitError);
    expect(climb.error).toMatchObject({ status: 422, rule: 'cost-budget' });
    expect(climb.error.message).toContain('more than the whole budget of 12.00 CNY/h');
    expect(outcomes(climb)).toEqual([[1, 'over-budget'], [2, 'over-budget'], [3, 'over-budget'], [4, 'over-budget']]);
    expect(d.tke.requests).toEqual([]);
    expect(heldBy(await d.ledger(), d.event.key)).toEqual([]);
  });

  it('every rung over the budget, some fit once the window frees: 429 cost-budget, retry when the spent money leaves', async () => {
    const d = await delivery({ config: WITH_BUDGET, quote: (rung) => (rung % 2 === 1 ? 13 : 3) });
    // Another event bought 10 CNY/h an hour ago: its slice [08:48, 09:12) leaves the day's window at 09:12 tomorrow.
    const budget = d.resolved.cluster.costBudget!;
    const anHourAgo = T0 - 3600_000;
    await d.store.update<CostState, unknown>(COST_KEY, (c) => reserveCost(c, { eventKey: 'event:{generic:other}', claimId: 'c-other', price: { kind: 'hourly', amount: 10 }, inFlightUntil: anHourAgo + 25_000 }, budget, anHourAgo));
    await d.store.update<CostState, void>(COST_KEY, (c) => settleCost(c, 'event:{generic:other}', 'c-other', 'created', budget, anHourAgo));
    const climb = failed(await d.climb());
    expect(climb.error).toBeInstanceOf(ThrottledError);
    expect(climb.error).toMatchObject({ status: 429, rule: 'cost-budget' });
    expect(climb.error.retryAfterSeconds).toBe(23 * 3600 + 12 * 60);
    expect(outcomes(climb)).toEqual([[1, 'over-budget'], [2, 'over-budget'], [3, 'over-budget'], [4, 'over-budget']]);
    expect(d.tke.requests).toEqual([]);
  });

  it('the deployment\'s budget refuses what the cluster\'s granted: the cluster\'s reservation goes back, and the clamp fits both', async () => {
    const config = loadConfigFile(exampleConfigVariant((doc) => {
      doc.costBudget = { currency: 'CNY', windowSeconds: 86400, hourly: 3 };
      // Every template is priced under a deployment's budget: InquiryPriceRunInstances needs an image.
      doc.templates.small.runInstancePara.ImageId = 'img-fqais24x';
    }));
    const d = await delivery({ config, quote: () => 2, plays: [{ ok: ['ins-a'] }] });
    const climb = created(await d.climb());
    expect(d.pricing.asked.map((a) => a.count)).toEqual([2, 1]);
    expect(climb.sent.nodes).toBe(1);
    expect(heldBy(await d.ledger(), d.event.key).map((g) => g.amount)).toEqual([2]);
    expect(heldBy(await read<CostState>(d.store, 'cost:deployment'), d.event.key).map((g) => g.amount)).toEqual([2]);
  });

  // Same rungs, same verdicts, another order: rung 1 over the budget for good and rungs 2-4 sold
  // out answers SoldOut (503, retry when stock may be back); rungs 1-3 sold out and rung 4 over the
  // budget for good answers ExceedsLimit (422: "no wait makes this fit"), and a sender drops a 4xx,
  // although the sold-out rungs fit the budget and may have stock again in soldOutSeconds. The
  // README keeps 422 for "no rung could ever fit (each costs more than the whole budget)".
  it.each<[string, Quote, Play[]]>([
    ['rung 1 over the budget for good, rungs 2-4 sold out', (rung) => (rung === 1 ? 13 : 1), [soldOut, soldOut, soldOut]],
    ['rungs 1-3 sold out, rung 4 over the budget for good', (rung) => (rung === 4 ? 13 : 1), [soldOut, soldOut, soldOut]],
  ])('sold out on every rung that fits the budget is SoldOut (503), not a 422, in any order: %s', async (_name, quote, plays) => {
    const d = await delivery({ config: WITH_BUDGET, quote, plays });
    const climb = failed(await d.climb());
    expect(d.tke.requests).toHaveLength(3);
    expect(climb.error).toMatchObject({ status: 503, code: 'SoldOut' });
  });
});

/**
 * The first delivery's call had an unknown outcome; it settled as the lifecycle does (claim
 * released with the request kept, grant and money kept for good). The event's next delivery
 * claims it again (claim-2), with `config`, and is told what to re-send.
 */
async function redelivered(first: Awaited<ReturnType<typeof delivery>>, config: Config, options: { quote?: Quote; plays?: Play[] } = {}) {
  const { store, event, now } = first;
  const ttlMs = config.idempotency.ttlSeconds * 1000;
  await store.update(event.key, (current: IdempotencyRecord | undefined) => releaseClaim(current, event.claimId, 'unknown', now(), ttlMs));
  await store.update<ThrottleState, void>(event.scope.key, (current) => settleThrottle(current, event.key, event.claimId, 'unknown', event.scope.rules, now()));
  const budget = first.resolved.cluster.costBudget;
  if (budget !== undefined) await store.update<CostState, void>(COST_KEY, (current) => settleCost(current, event.key, event.claimId, 'unknown', budget, now()));
  first.advance(60_000);
  const resolved = resolveBurst(config, first.resolved.eventId, first.resolved.count);
  const again: ClimbEvent = { ...event, claimId: 'claim-2', timeoutAt: now() + 25_000, scope: throttleScopeOf(resolved) };
  const claimed = await store.update(event.key, (current: IdempotencyRecord | undefined) => decideDelivery(current, { claimId: again.claimId, fingerprint: fingerprintOf(resolved), claimExpiresAt: again.timeoutAt }, now()));
  if (claimed.kind !== 'proceed' || claimed.resend === undefined) throw new Error(`expected a re-send, got ${JSON.stringify(claimed)}`);
  const grant = await store.update<ThrottleState, ThrottleDecision>(again.scope.key, (current) =>
    decideThrottle(current, { eventKey: again.key, claimId: again.claimId, requested: claimed.resend!.nodes, clampAllowed: false, inFlightUntil: again.timeoutAt }, again.scope.rules, now()),
  );
  expect(grant).toMatchObject({ kind: 'granted', nodes: claimed.resend.nodes });
  const tke = fakeTke(options.plays ?? [], async () => undefined);
  const pricing = fakePricing(resolved, options.quote ?? cheap);
  const deps: ClimbDeps = { config, store, tke, pricing, now };
  const callOptions: TkeCallOptions = { deadline: now() + 20_000, now, policy: { ...config.tke, baseDelayMs: 1, maxDelayMs: 2 } };
  return { tke, pricing, event: again, resend: claimed.resend, resendRecorded: () => resendRecorded(deps, resolved, again, claimed.resend!, callOptions) };
}

/** Every attempt of a call acted on with its answer lost (the example's tke.maxAttempts is 4). */
const lostEveryTime = (): Play[] => [{ lost: true }, { lost: true }, { lost: true }, { lost: true }];

/** The example, its `burst` template and ladder changed since the first delivery. */
const CHANGED = (budget: boolean) =>
  loadConfigFile(
    exampleConfigVariant((doc) => {
      if (!budget) delete doc.clusters['demo-sh'].costBudget;
      doc.templates.burst.runInstancePara.InstanceType = 'S5.LARGE8';
      doc.templates.burst.runInstancePara.Placement.Zone = 'ap-shanghai-5';
      doc.templates.burst.ladder.alternatives = [{ 'Placement.Zone': 'ap-shanghai-3' }];
    }),
  );

describe('resendRecorded: what an earlier delivery sent, and nothing else', () => {
  it('sends exactly the recorded request (byte for byte, same ClientToken) though the template and ladder changed', async () => {
    const first = await delivery({ plays: lostEveryTime() });
    const lost = failed(await first.climb());
    expect(lost.settlement).toBe('unknown');
    const sentFirst = first.tke.requests[0]!;
    const next = await redelivered(first, CHANGED(false), { plays: [{ ok: ['ins-a', 'ins-b'] }] });
    expect(next.resend).toMatchObject({ request: sentFirst, rung: 1, nodes: 2, mayHaveBought: true });
    const climb = created(await next.resendRecorded());
    expect(next.tke.requests).toHaveLength(1);
    expect(next.tke.requests[0]).toEqual(sentFirst);
    expect(next.tke.requests[0]!.RunInstancePara).toBe(sentFirst.RunInstancePara);
    expect(paraOf(next.tke.requests[0]!).ClientToken).toBe(lost.sent!.clientToken);
    expect(climb).toMatchObject({ resent: true, sent: { rung: 1, clientToken: lost.sent!.clientToken } });
    expect(climb.steps).toEqual([expect.objectContaining({ ...RUNGS[0], rung: 1, outcome: 'bought' })]);
  });

  it.each<[string, Play, string]>([
    ['CVM\'s code in TKE\'s CvmCommon: SoldOut naming the request it stays on', cvmSoldOut, 'SoldOut'],
    ['TKE\'s own 503: that answer', soldOut, SOLD_OUT],
  ])('sold out: stays on its rung (one call), marks it (%s)', async (_name, play, code) => {
    const first = await delivery({ plays: lostEveryTime() });
    failed(await first.climb());
    const next = await redelivered(first, CHANGED(false), { plays: [play, { ok: ['ins-a'] }] });
    const climb = failed(await next.resendRecorded());
    expect(next.tke.requests).toHaveLength(1);
    expect(climb).toMatchObject({ settlement: 'refused', resent: true, error: { status: 503, code } });
    if (code === 'SoldOut') expect(climb.error.message).toContain('the request this event was already sent with');
    expect(outcomes(climb)).toEqual([[1, 'sold-out']]);
    expect(await first.marks()).toEqual([expect.objectContaining(RUNGS[0])]);
  });

  it('another unknown outcome: settlement unknown, still the same request', async () => {
    const first = await delivery({ plays: lostEveryTime() });
    failed(await first.climb());
    const next = await redelivered(first, CHANGED(false), { plays: lostEveryTime() });
    const climb = failed(await next.resendRecorded());
    expect(climb.settlement).toBe('unknown');
    expect(new Set(next.tke.requests.map((r) => r.RunInstancePara))).toEqual(new Set([first.tke.requests[0]!.RunInstancePara]));
  });

  it('records the request on the new claim before the call, still marked as one that may have bought', async () => {
    const first = await delivery({ plays: lostEveryTime() });
    failed(await first.climb());
    const next = await redelivered(first, CHANGED(false), { plays: [{ code: 'InvalidParameter' }] });
    failed(await next.resendRecorded());
    expect(await first.record()).toMatchObject({ state: 'in-progress', claimId: 'claim-2', sent: { clientToken: next.resend.clientToken, mayHaveBought: true } });
  });

  it('adopts the event\'s money reservation: no new price, and still one reservation, now the new claim\'s', async () => {
    const first = await delivery({ config: WITH_BUDGET, quote: () => 1.5, plays: lostEveryTime() });
    failed(await first.climb());
    const next = await redelivered(first, CHANGED(true), { plays: [{ ok: ['ins-a', 'ins-b'] }] });
    const climb = created(await next.resendRecorded());
    expect(next.pricing.asked).toEqual([]);
    expect(heldBy(await first.ledger(), first.event.key)).toEqual([expect.objectContaining({ claimId: 'claim-2', amount: 3, state: 'in-flight', mayExist: true })]);
    expect(climb.steps).toEqual([expect.objectContaining({ outcome: 'bought', price: { amount: 3, kind: 'hourly', currency: 'CNY' } })]);
  });

  it('its reservation gone: the recorded request is priced and reserved again as it is', async () => {
    const first = await delivery({ config: WITH_BUDGET, quote: () => 1.5, plays: lostEveryTime() });
    failed(await first.climb());
    const next = await redelivered(first, CHANGED(true), { quote: () => 2, plays: [{ ok: ['ins-a', 'ins-b'] }] });
    await first.store.update(COST_KEY, () => ({ write: { kind: 'delete' }, result: undefined }));
    created(await next.resendRecorded());
    expect(next.pricing.asked.map((a) => a.request)).toEqual([next.resend.request]);
    expect(heldBy(await first.ledger(), first.event.key)).toEqual([expect.objectContaining({ claimId: 'claim-2', amount: 4 })]);
    expect(next.tke.requests).toEqual([next.resend.request]);
  });

  it('its reservation gone and the budget full: it waits (429), it is not clamped and no other rung is tried', async () => {
    const first = await delivery({ config: WITH_BUDGET, quote: () => 1.5, plays: lostEveryTime() });
    failed(await first.climb());
    const next = await redelivered(first, CHANGED(true), { quote: () => 5, plays: [{ ok: ['ins-a'] }] });
    await first.store.update(COST_KEY, () => ({ write: { kind: 'delete' }, result: undefined }));
    const budget = first.resolved.cluster.costBudget!;
    const price: Price = { kind: 'hourly', amount: 8 };
    await first.store.update<CostState, unknown>(COST_KEY, (c) => reserveCost(c, { eventKey: 'event:{generic:other}', claimId: 'c-other', price, inFlightUntil: first.now() + 25_000 }, budget, first.now()));
    const climb = failed(await next.resendRecorded());
    expect(climb.error).toMatchObject({ status: 429, rule: 'cost-budget' });
    expect(outcomes(climb)).toEqual([[1, 'over-budget']]);
    expect(next.pricing.asked.map((a) => a.count)).toEqual([2]);
    expect(next.tke.requests).toEqual([]);
  });

  it('its reservation gone and the price inquiry says sold out: marked, and it stays on its rung', async () => {
    const first = await delivery({ config: WITH_BUDGET, quote: () => 1.5, plays: lostEveryTime() });
    failed(await first.climb());
    const next = await redelivered(first, CHANGED(true), { quote: () => new OfferingSoldOutError('ResourcesSoldOut.SpecifiedInstanceType', 'sold out') });
    await first.store.update(COST_KEY, () => ({ write: { kind: 'delete' }, result: undefined }));
    const climb = failed(await next.resendRecorded());
    expect(climb.error).toBeInstanceOf(SoldOutError);
    expect(outcomes(climb)).toEqual([[1, 'sold-out']]);
    expect(next.tke.requests).toEqual([]);
    expect(await first.marks()).toEqual([expect.objectContaining({ ...RUNGS[0], code: 'ResourcesSoldOut.SpecifiedInstanceType' })]);
  });
});

describe('planLadder: a dry run', () => {
  it('previews every rung (token, sold-out mark, price, what the budget leaves) and reserves, records and buys nothing', async () => {
    const d = await delivery({
      config: WITH_BUDGET,
      quote: (rung) => (rung === 4 ? new PriceUnavailableError('InquiryPriceRunInstances answered InternalError') : rung === 3 ? 2 : 1),
    });
    await d.mark(RUNGS[1]!, 600_000);
    const budget = d.resolved.cluster.costBudget!;
    await d.store.update<CostState, unknown>(COST_KEY, (c) => reserveCost(c, { eventKey: 'event:{generic:other}', claimId: 'c-other', price: { kind: 'hourly', amount: 10 }, inFlightUntil: T0 + 25_000 }, budget, T0));
    const ledgerBefore = await d.ledger();
    const recordBefore = await d.record();
    const throttleBefore = await d.throttle();
    const writesBefore = d.store.writes.length;

    const plan = await planLadder(d.deps, d.resolved, d.callOptions.deadline);

    expect(plan.rungs.map((r) => r.clientToken)).toEqual([1, 2, 3, 4].map((rung) => renderCreateClusterInstances(d.resolved, rung).clientToken));
    expect(plan.rungs).toEqual([
      expect.objectContaining({ rung: 1, ...RUNGS[0], price: { amount: 2, kind: 'hourly', currency: 'CNY' } }),
      expect.objectContaining({ rung: 2, ...RUNGS[1], soldOutUntil: new Date(T0 + 600_000).toISOString(), wouldSkip: 'sold-out-recently', price: { amount: 2, kind: 'hourly', currency: 'CNY' } }),
      expect.objectContaining({ rung: 3, ...RUNGS[2], wouldSkip: 'over-budget', price: { amount: 4, kind: 'hourly', currency: 'CNY' } }),
      expect.objectContaining({ rung: 4, ...RUNGS[3], priceUnavailable: expect.stringContaining('answered InternalError') }),
    ]);
    expect(plan.rungs[0]).not.toHaveProperty('wouldSkip');
    expect(plan.rungs[3]).not.toHaveProperty('price');
    expect(plan.budgetLeft).toEqual({ currency: 'CNY', hourly: 2, prepaid: 2000 });

    expect(d.store.writes.slice(writesBefore)).toEqual([]);
    expect(await d.ledger()).toEqual(ledgerBefore);
    expect(await d.record()).toEqual(recordBefore);
    expect(await d.throttle()).toEqual(throttleBefore);
    expect(d.tke.requests).toEqual([]);
  });

  it('without a money budget: no price asked, no budget left shown', async () => {
    const d = await delivery();
    const plan = await planLadder(d.deps, d.resolved, d.callOptions.deadline);
    expect(plan.rungs.map((r) => r.rung)).toEqual([1, 2, 3, 4]);
    expect(plan).not.toHaveProperty('budgetLeft');
    expect(d.pricing.asked).toEqual([]);
    expect(await d.ledger()).toBeUndefined();
  });
});
