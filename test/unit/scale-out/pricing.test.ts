import type { Config } from '../../../src/config/load-config';
import { PRICE_INQUIRY_KEYS } from '../../../src/core/price';
import { renderCreateClusterInstances } from '../../../src/core/render';
import { resolveScaleOut } from '../../../src/core/resolve';
import { OfferingSoldOutError, PriceUnavailableError } from '../../../src/errors';
import { createPricing, NO_PRICING, type Pricing } from '../../../src/scale-out/pricing';
import { MemoryStore } from '../../../src/store/memory-store';
import type { StateStore, StoreStep } from '../../../src/store/state-store';
import type { PriceApi } from '../../../src/tencentcloud/cvm-api';
import type { CreateClusterInstancesRequest } from '../../../src/tke/tke-params';
import { exampleConfig, resolvedOf } from '../../support/fixtures';

/**
 * Prices with their shared cache (scale-out/pricing.ts), through createPricing with the memory
 * store and a fake PriceApi. The fake throws what the CVM SDK throws (an Error carrying `code`,
 * `message` and `requestId`, tencentcloud/api-failure.ts) and answers in the shape of the SDK's
 * InquiryPriceRunInstancesResponse (Price.InstancePrice, an ItemPrice).
 */
const T0 = Date.parse('2026-11-26T10:00:00Z');

/** What `promise` rejects with (the test fails if it resolves). */
async function thrown(promise: Promise<unknown>): Promise<unknown> {
  const settled = await promise.then(
    (value) => ({ resolved: value }),
    (error: unknown) => ({ error }),
  );
  if ('resolved' in settled) throw new Error(`expected a rejection, got ${JSON.stringify(settled.resolved)}`);
  return settled.error;
}

type Reply = { readonly answer: unknown } | { readonly code: string; readonly message?: string } | { readonly network: true } | { readonly hang: true };

const hourly = (unitPriceDiscount: unknown) => ({ answer: { Price: { InstancePrice: { UnitPrice: 9.99, UnitPriceDiscount: unitPriceDiscount, ChargeUnit: 'HOUR' } }, RequestId: 'req-price' } });

/** A fake InquiryPriceRunInstances playing scripted replies, in order; every inquiry is kept. */
function fakePriceApi(replies: Reply[]) {
  const calls: Array<{ region: string; params: Record<string, unknown>; signal: AbortSignal }> = [];
  const api: PriceApi & { calls: typeof calls } = {
    endpointDescription: 'fake CVM',
    calls,
    async inquirePrice(region, params, signal) {
      calls.push({ region, params: structuredClone(params) as Record<string, unknown>, signal });
      const reply = replies.shift() ?? hourly(0.5);
      if ('code' in reply) throw Object.assign(new Error(reply.message ?? `cvm says ${reply.code}`), { code: reply.code, requestId: `req-${calls.length}` });
      if ('network' in reply) throw new Error('socket hang up');
      if ('hang' in reply) return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      return reply.answer;
    },
  };
  return api;
}

/** The memory store, keeping what each update did to which key. */
class RecordingStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly shared = false;
  readonly log: Array<{ key: string; write: 'put' | 'delete' | 'keep' }> = [];
  constructor(private readonly inner: StateStore) {}
  update<V, R>(key: string, step: (current: V | undefined) => StoreStep<V, R>): Promise<R> {
    return this.inner.update<V, R>(key, (current) => {
      const done = step(current);
      this.log.push({ key, write: done.write.kind });
      return done;
    });
  }
  ping = async () => true;
  close = async () => undefined;
}

function setup(replies: Reply[], options: { pricing?: Partial<Config['pricing']>; noApi?: boolean } = {}) {
  let clock = T0;
  const example = exampleConfig();
  const config: Config = { ...example, pricing: { ...example.pricing, ...options.pricing } };
  const store = new RecordingStore(new MemoryStore(() => clock));
  const api = fakePriceApi(replies);
  const pricing = createPricing({ config, store, prices: options.noApi === true ? undefined : api, now: () => clock });
  const priceOf = (request: CreateClusterInstancesRequest = burst().request, deadline = clock + 20_000) => pricing.priceOf('ap-shanghai', request, deadline);
  const priceKeys = () => store.log.filter((l) => l.key.startsWith('price:'));
  return { api, store, pricing, priceOf, priceKeys, advance: (ms: number) => (clock += ms), now: () => clock };
}

/** The example's `burst` template (cluster demo-sh, which has a money budget), rendered. */
function burst(rung = 1, eventId = 'e-1', count = 2) {
  return renderCreateClusterInstances(resolvedOf(resolveScaleOut(exampleConfig(), { source: 'generic', eventId, cluster: 'demo-sh', template: 'burst', count, params: new Map() })), rung);
}

/** A request written by hand: RunInstancePara as given. */
function requestWith(para: Record<string, unknown>): CreateClusterInstancesRequest {
  return { ClusterId: 'cls-sh7k2m9q', RunInstancePara: JSON.stringify(para) };
}

describe('pricing: the cache', () => {
  it('a miss asks CVM and stores the price; the same configuration within cacheSeconds is answered from the cache, whatever its ClientToken', async () => {
    const { api, priceOf, priceKeys } = setup([hourly(0.96)]);
    expect(await priceOf()).toEqual({ kind: 'hourly', amount: 0.96, cached: false });
    expect(priceKeys().map((l) => l.write)).toEqual(['keep', 'put']);
    expect(await priceOf()).toEqual({ kind: 'hourly', amount: 0.96, cached: true });
    // Another event renders another ClientToken for the same configuration: still one price.
    const other = burst(1, 'e-other');
    expect(JSON.parse(other.request.RunInstancePara).ClientToken).not.toBe(JSON.parse(burst().request.RunInstancePara).ClientToken);
    expect(await priceOf(other.request)).toEqual({ kind: 'hourly', amount: 0.96, cached: true });
    expect(api.calls).toHaveLength(1);
  });

  it('another configuration (another rung, another count) is another price', async () => {
    const { api, priceOf } = setup([hourly(0.96), hourly(1.4), hourly(0.48)]);
    await priceOf(burst(1).request);
    expect(await priceOf(burst(3).request)).toEqual({ kind: 'hourly', amount: 1.4, cached: false });
    expect(await priceOf(burst(1, 'e-1', 1).request)).toEqual({ kind: 'hourly', amount: 0.48, cached: false });
    expect(api.calls.map((c) => [(c.params.Placement as { Zone: string }).Zone, c.params.InstanceChargeType, c.params.InstanceCount])).toEqual([
      ['ap-shanghai-2', 'SPOTPAID', 2],
      ['ap-shanghai-2', 'POSTPAID_BY_HOUR', 2],
      ['ap-shanghai-2', 'SPOTPAID', 1],
    ]);
  });

  it('a cached price is used until cacheSeconds have passed, then asked again', async () => {
    const { api, priceOf, advance } = setup([hourly(0.96), hourly(1.02)], { pricing: { cacheSeconds: 60 } });
    await priceOf();
    advance(59_999);
    expect(await priceOf()).toMatchObject({ amount: 0.96, cached: true });
    advance(1);
    expect(await priceOf()).toEqual({ kind: 'hourly', amount: 1.02, cached: false });
    expect(api.calls).toHaveLength(2);
  });

  it.each<[string, (at: number) => unknown]>([
    ['an amount of null (what JSON makes of Infinity)', (at) => ({ price: { kind: 'hourly', amount: null }, at })],
    ['an amount of 0', (at) => ({ price: { kind: 'hourly', amount: 0 }, at })],
    ['a negative amount', (at) => ({ price: { kind: 'hourly', amount: -3 }, at })],
    ['an amount as a string', (at) => ({ price: { kind: 'hourly', amount: '0.5' }, at })],
    ['a kind that is not hourly or prepaid', (at) => ({ price: { kind: 'monthly', amount: 0.5 }, at })],
    ['no price at all', (at) => ({ at })],
    ['no `at`', () => ({ price: { kind: 'hourly', amount: 0.5 } })],
    ['an `at` that is not a number', (at) => ({ price: { kind: 'hourly', amount: 0.5 }, at: new Date(at).toISOString() })],
  ])('a cached value that cannot be read is asked again, never used: %s', async (_name, stored) => {
    const { api, store, priceOf, priceKeys, now } = setup([hourly(0.96), hourly(1.1)]);
    await priceOf();
    const key = priceKeys()[0]!.key;
    await store.update(key, () => ({ write: { kind: 'put', value: stored(now()), expiresAt: now() + 300_000 }, result: undefined }));
    expect(await priceOf()).toEqual({ kind: 'hourly', amount: 1.1, cached: false });
    expect(api.calls).toHaveLength(2);
    // The fresh price replaced it.
    expect(await priceOf()).toEqual({ kind: 'hourly', amount: 1.1, cached: true });
  });

  it('cacheSeconds 0: every price is asked of CVM, and the store is neither read nor written', async () => {
    const { api, store, priceOf } = setup([hourly(0.96), hourly(0.97)], { pricing: { cacheSeconds: 0 } });
    expect(await priceOf()).toMatchObject({ amount: 0.96, cached: false });
    expect(await priceOf()).toMatchObject({ amount: 0.97, cached: false });
    expect(api.calls).toHaveLength(2);
    expect(store.log).toEqual([]);
  });
});

describe('pricing: what is asked', () => {
  it('the inquiry holds only what InquiryPriceRunInstances takes, never the ClientToken nor the function\'s own tags', async () => {
    const { api, priceOf } = setup([hourly(0.96)]);
    const { request } = burst();
    await priceOf(request);
    const { ClientToken, TagSpecification, ...rest } = JSON.parse(request.RunInstancePara) as Record<string, unknown>;
    expect(ClientToken).toMatch(/^so2-/);
    // The purchase's tags (core/marks.ts) change no price and would make every event's inquiry
    // another configuration, past the shared cache; the template has no tags of its own.
    expect(TagSpecification).toEqual([{ ResourceType: 'instance', Tags: [expect.objectContaining({ Key: 'tke-scaleout/owner' }), expect.objectContaining({ Key: 'tke-scaleout/purchase' })] }]);
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]!.region).toBe('ap-shanghai');
    expect(api.calls[0]!.params).toEqual(rest);
  });

  it('keys RunInstances has and the inquiry does not (UserData, DryRun, DisasterRecoverGroupIds) are left out', async () => {
    const { api, priceOf } = setup([hourly(0.5)]);
    const para = { Placement: { Zone: 'ap-shanghai-2' }, InstanceType: 'S5.MEDIUM4', InstanceCount: 1, ImageId: 'img-1', ClientToken: 'so2-abc', UserData: 'IyEvYmluL3No', DryRun: false, DisasterRecoverGroupIds: ['ps-1'] };
    await priceOf(requestWith(para));
    const asked = api.calls[0]!.params;
    expect(Object.keys(asked).every((k) => (PRICE_INQUIRY_KEYS as readonly string[]).includes(k))).toBe(true);
    expect(asked).toEqual({ Placement: { Zone: 'ap-shanghai-2' }, InstanceType: 'S5.MEDIUM4', InstanceCount: 1, ImageId: 'img-1' });
  });

  it('the request\'s charge type decides how the answer is read: prepaid, or pay-as-you-go by default', async () => {
    const prepaidAnswer = { answer: { Price: { InstancePrice: { OriginalPrice: 1200, DiscountPrice: 1020 } } } };
    const { priceOf } = setup([prepaidAnswer, hourly(0.62)]);
    expect(await priceOf(requestWith({ InstanceType: 'S5.MEDIUM4', InstanceChargeType: 'PREPAID', InstanceCount: 1 }))).toEqual({ kind: 'prepaid', amount: 1020, cached: false });
    expect(await priceOf(requestWith({ InstanceType: 'S5.MEDIUM4', InstanceCount: 1 }))).toEqual({ kind: 'hourly', amount: 0.62, cached: false });
  });
});

describe('pricing: no price, no purchase', () => {
  it.each<[string, Reply]>([
    ['a price of 0', hourly(0)],
    ['1e308 per hour, which rounds to Infinity', hourly(1e308)],
    ['a price as a string', { answer: { Price: { InstancePrice: { UnitPriceDiscount: '0.96', ChargeUnit: 'HOUR' } } } }],
    ['no Price at all', { answer: { RequestId: 'req-1' } }],
  ])('an unreadable answer is PriceUnavailable and is not cached: %s', async (_name, reply) => {
    const { api, priceOf, priceKeys } = setup([reply, hourly(0.96)]);
    const error = await thrown(priceOf());
    expect(error).toBeInstanceOf(PriceUnavailableError);
    expect(error).toMatchObject({ status: 503, code: 'PriceUnavailable', message: expect.stringContaining('answered something unreadable') });
    expect(priceKeys().map((l) => l.write)).toEqual(['keep']);
    // Nothing was stored: the next asks CVM again.
    expect(await priceOf()).toEqual({ kind: 'hourly', amount: 0.96, cached: false });
    expect(api.calls).toHaveLength(2);
  });

  it('RequestLimitExceeded and InternalError are retried: the third attempt answers', async () => {
    const { api, priceOf } = setup([{ code: 'RequestLimitExceeded' }, { code: 'InternalError.TradeUnknownError' }, hourly(0.96)]);
    expect(await priceOf()).toEqual({ kind: 'hourly', amount: 0.96, cached: false });
    expect(api.calls).toHaveLength(3);
    // Every attempt asks the same thing.
    expect(new Set(api.calls.map((c) => JSON.stringify(c.params))).size).toBe(1);
  });

  it('three attempts at most: then PriceUnavailable naming the code', async () => {
    const { api, priceOf } = setup([{ code: 'RequestLimitExceeded' }, { code: 'RequestLimitExceeded' }, { code: 'InternalError' }, hourly(0.96)]);
    const error = await thrown(priceOf());
    expect(error).toBeInstanceOf(PriceUnavailableError);
    expect((error as Error).message).toContain('InquiryPriceRunInstances answered InternalError');
    expect(api.calls).toHaveLength(3);
  });

  it.each(['InvalidParameterValue.ZoneNotSupported', 'FailedOperation.InquiryPriceFailed', 'AuthFailure.SignatureFailure', 'UnauthorizedOperation', 'InternalErrorish', 'RequestLimitExceededByUser'])(
    'other codes are not retried: %s',
    async (code) => {
      const { api, priceOf } = setup([{ code }, hourly(0.96)]);
      const error = await thrown(priceOf());
      expect(error).toBeInstanceOf(PriceUnavailableError);
      expect((error as Error).message).toContain(`answered ${code}`);
      expect(api.calls).toHaveLength(1);
    },
  );

  it('no retry when the deadline is less than 500 ms away', async () => {
    const { api, priceOf, now } = setup([{ code: 'RequestLimitExceeded' }, hourly(0.96)]);
    expect(await thrown(priceOf(undefined, now() + 400))).toBeInstanceOf(PriceUnavailableError);
    expect(api.calls).toHaveLength(1);
  });

  it('no answer within timeoutMs: PriceUnavailable (timeout), the inquiry aborted', async () => {
    const { api, priceOf } = setup([{ hang: true }], { pricing: { timeoutMs: 100 } });
    const error = await thrown(priceOf());
    expect(error).toBeInstanceOf(PriceUnavailableError);
    expect((error as Error).message).toContain('did not answer (timeout)');
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]!.signal.aborted).toBe(true);
  });

  it('a network failure (no code): PriceUnavailable (network), not retried', async () => {
    const { api, priceOf } = setup([{ network: true }, hourly(0.96)]);
    expect((await thrown(priceOf())) as Error).toMatchObject({ code: 'PriceUnavailable', message: expect.stringContaining('did not answer (network)') });
    expect(api.calls).toHaveLength(1);
  });

  it('no time left before the deadline: PriceUnavailable without asking', async () => {
    const { api, priceOf, now } = setup([hourly(0.96)]);
    const error = await thrown(priceOf(undefined, now()));
    expect(error).toBeInstanceOf(PriceUnavailableError);
    expect((error as Error).message).toContain('no time left');
    expect(api.calls).toHaveLength(0);
  });

  it('no PriceApi: PriceUnavailable; NO_PRICING likewise', async () => {
    const { priceOf } = setup([], { noApi: true });
    const error = await thrown(priceOf());
    expect(error).toBeInstanceOf(PriceUnavailableError);
    expect((error as Error).message).toContain('no CVM pricing client is configured');
    const none: Pricing = NO_PRICING;
    expect(await thrown(none.priceOf('ap-shanghai', burst().request, Date.now() + 20_000))).toBeInstanceOf(PriceUnavailableError);
  });
});

describe('pricing: CVM says the offering is sold out', () => {
  // InquiryPriceRunInstances lists ResourcesSoldOut.SpecifiedInstanceType among its errors
  // (tencentcloud-sdk-go, cvm/v20170312/client.go): the ladder climbs past it (scale-out/climb.ts).
  it.each(['ResourcesSoldOut.SpecifiedInstanceType', 'ResourceInsufficient.SpecifiedInstanceType', 'ResourcesSoldOut.AvailableZone'])(
    '%s: OfferingSoldOutError carrying that code, asked once and not cached',
    async (code) => {
      const { api, priceOf, priceKeys } = setup([{ code, message: 'The specified instance type is sold out.' }, hourly(0.96)]);
      const error = await thrown(priceOf());
      expect(error).toBeInstanceOf(OfferingSoldOutError);
      expect(error).toMatchObject({ code, status: 503, message: expect.stringContaining('The specified instance type is sold out.') });
      expect(api.calls).toHaveLength(1);
      expect(priceKeys().map((l) => l.write)).toEqual(['keep']);
    },
  );
});
