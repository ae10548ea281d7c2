import { checkPrice, priceInquiryOf, readPrice } from '../../../src/core/price';

/**
 * Reading InquiryPriceRunInstances' answer. The shape is the CVM SDK's models
 * (tencentcloud-sdk-nodejs-cvm, cvm_models.d.ts: InquiryPriceRunInstancesResponse.Price,
 * Price.InstancePrice / BandwidthPrice, ItemPrice): pay-as-you-go prices in UnitPrice /
 * UnitPriceDiscount per ChargeUnit; prepaid in OriginalPrice / DiscountPrice; all "合计" (for the
 * whole request).
 */
describe('readPrice', () => {
  it('pay-as-you-go: the discounted hourly price, plus bandwidth charged by the hour', () => {
    const answer = { Price: { InstancePrice: { UnitPrice: 1.2, UnitPriceDiscount: 0.96, ChargeUnit: 'HOUR', Discount: 80 }, BandwidthPrice: { UnitPrice: 0.12, UnitPriceDiscount: 0.12, ChargeUnit: 'HOUR' } }, RequestId: 'r' };
    expect(readPrice(answer, 'POSTPAID_BY_HOUR')).toEqual({ ok: true, price: { kind: 'hourly', amount: 1.08 } });
    expect(readPrice(answer, 'SPOTPAID')).toEqual({ ok: true, price: { kind: 'hourly', amount: 1.08 } });
  });

  it('the list price when no discounted one is given', () => {
    expect(readPrice({ Price: { InstancePrice: { UnitPrice: 0.5, ChargeUnit: 'HOUR' } } }, 'POSTPAID_BY_HOUR')).toEqual({ ok: true, price: { kind: 'hourly', amount: 0.5 } });
  });

  it('traffic charged by the GB is left out, and says so', () => {
    const answer = { Price: { InstancePrice: { UnitPriceDiscount: 0.4 }, BandwidthPrice: { UnitPrice: 0.8, ChargeUnit: 'GB' } } };
    expect(readPrice(answer, 'POSTPAID_BY_HOUR')).toEqual({ ok: true, price: { kind: 'hourly', amount: 0.4, note: 'bandwidth is charged per GB and is not counted' } });
  });

  it('prepaid: the discounted total', () => {
    expect(readPrice({ Price: { InstancePrice: { OriginalPrice: 1200, DiscountPrice: 1020, Discount: 85 } } }, 'PREPAID')).toEqual({ ok: true, price: { kind: 'prepaid', amount: 1020 } });
  });

  it.each([
    ['no Price', {}],
    ['Price.InstancePrice missing', { Price: {} }],
    ['a price as a string', { Price: { InstancePrice: { UnitPrice: '0.5' } } }],
    ['a negative price', { Price: { InstancePrice: { UnitPriceDiscount: -1 } } }],
    ['not a number', { Price: { InstancePrice: { UnitPriceDiscount: Number.NaN } } }],
    ['a prepaid price for a pay-as-you-go request', { Price: { InstancePrice: { DiscountPrice: 10 } } }],
    ['null', null],
    ['a list', []],
  ])('never a price of zero from an unreadable answer: %s', (_name, answer) => {
    expect(readPrice(answer, 'POSTPAID_BY_HOUR')).toMatchObject({ ok: false });
  });

  it('a charge type that cannot be priced', () => {
    expect(readPrice({ Price: { InstancePrice: { UnitPrice: 1 } } }, 'CDHPAID')).toMatchObject({ ok: false, problem: expect.stringContaining('CDHPAID cannot be priced') });
  });
});

describe('priceInquiryOf', () => {
  it('keeps what InquiryPriceRunInstances takes, drops the ClientToken and RunInstances-only keys', () => {
    const para = { Placement: { Zone: 'ap-guangzhou-3' }, ImageId: 'img-1', InstanceType: 'S5.MEDIUM4', InstanceCount: 2, ClientToken: 'so2-x', UserData: 'IyEvYmlu', DisasterRecoverGroupIds: ['ps-1'], DryRun: false };
    expect(priceInquiryOf(para)).toEqual({ Placement: { Zone: 'ap-guangzhou-3' }, ImageId: 'img-1', InstanceType: 'S5.MEDIUM4', InstanceCount: 2 });
  });
});

/**
 * A price a budget cannot count is no price. Reproduced before: 1e308 CNY/h rounded to Infinity,
 * the shared cache stored it as JSON null, and the reservation added null as 0 (a 6 CNY/h budget
 * bought 14.76 CNY/h); a price of 0 was accepted too.
 */
describe('a price is a finite amount above zero, read from CVM or from the cache', () => {
  it.each([
    ['overflowing to Infinity', { UnitPriceDiscount: 1e308, ChargeUnit: 'HOUR' }, { BandwidthPrice: { UnitPriceDiscount: 1e308, ChargeUnit: 'HOUR' } }],
    ['zero', { UnitPriceDiscount: 0, UnitPrice: 0, ChargeUnit: 'HOUR' }, {}],
    ['rounding to zero', { UnitPriceDiscount: 0.001, ChargeUnit: 'HOUR' }, {}],
    ['of 0 for the instance, with bandwidth on top', { UnitPriceDiscount: 0, UnitPrice: 0.9, ChargeUnit: 'HOUR' }, { BandwidthPrice: { UnitPriceDiscount: 0.06, ChargeUnit: 'HOUR' } }],
    ['with a bandwidth price that cannot be read', { UnitPriceDiscount: 0.9, ChargeUnit: 'HOUR' }, { BandwidthPrice: { UnitPriceDiscount: 'free', ChargeUnit: 'HOUR' } }],
  ])('CVM answers a price %s: unreadable', (_what, instance, extra) => {
    const reading = readPrice({ Price: { InstancePrice: instance, ...extra } }, 'POSTPAID_BY_HOUR');
    expect(reading.ok).toBe(false);
  });

  it.each([
    ['null (JSON of Infinity)', { kind: 'hourly', amount: null }],
    ['zero', { kind: 'hourly', amount: 0 }],
    ['negative', { kind: 'prepaid', amount: -3 }],
    ['a string', { kind: 'hourly', amount: '0.5' }],
    ['an unknown kind', { kind: 'daily', amount: 1 }],
    ['not an object', 'free'],
  ])('a cached price of %s: unreadable', (_what, cached) => {
    expect(checkPrice(cached).ok).toBe(false);
  });

  it('prepaid: a discounted total of 0 is no price, whatever the list price and the bandwidth', () => {
    expect(readPrice({ Price: { InstancePrice: { DiscountPrice: 0, OriginalPrice: 900 }, BandwidthPrice: { DiscountPrice: 5 } } }, 'PREPAID').ok).toBe(false);
  });

  it('a good cached price reads back as it was', () => {
    expect(checkPrice({ kind: 'hourly', amount: 0.56, note: 'n' })).toEqual({ ok: true, price: { kind: 'hourly', amount: 0.56, note: 'n' } });
  });
});
