import { MARK_KEYS } from './marks';
import type { CostKind } from './model';

/**
 * What a purchase costs, read from CVM's InquiryPriceRunInstances answer (API 2017-03-12; its
 * Price and ItemPrice models in tencentcloud-sdk-nodejs-cvm, cvm_models.d.ts; docs/PLATFORM.md):
 *
 *   Price.InstancePrice / Price.BandwidthPrice, each an ItemPrice:
 *     pay-as-you-go  UnitPriceDiscount (the discounted price "后续合计费用", per ChargeUnit, HOUR for
 *                    instances), else UnitPrice (the list price)
 *     prepaid        DiscountPrice ("预支合计费用的折扣价"), else OriginalPrice
 *
 * "合计" (in all): the price is for the whole request, every instance of InstanceCount together,
 * which is why the exact rendered request is priced rather than one node times the count.
 * Bandwidth counts when it is charged the same way (by the hour, or prepaid); traffic charged by
 * the GB cannot be known in advance and is left out (the answer's `note` says so).
 *
 * Pure: the answer is `unknown` until checked here, and anything unexpected is a problem, never a
 * zero: a budget must fail closed on a price it cannot read. So is a total that is not a finite
 * amount above zero (1e308 per hour rounds to Infinity, which JSON stores as null: counted as 0).
 */
export const DEFAULT_CHARGE_TYPE = 'POSTPAID_BY_HOUR'; // RunInstances' default (cvm_models.d.ts)

export function chargeKindOf(chargeType: string): CostKind | undefined {
  if (chargeType === 'POSTPAID_BY_HOUR' || chargeType === 'SPOTPAID') return 'hourly';
  if (chargeType === 'PREPAID') return 'prepaid';
  return undefined;
}

export interface Price {
  readonly kind: CostKind;
  /** Currency per hour (hourly) or in all (prepaid), for the whole request. */
  readonly amount: number;
  readonly note?: string;
}

export type PriceReading = { readonly ok: true; readonly price: Price } | { readonly ok: false; readonly problem: string };

/**
 * The keys InquiryPriceRunInstances takes (its request model): RunInstances keys it does not know
 * (MinCount, UserData, DryRun, ...) are left out, and so is the ClientToken, which identifies a
 * purchase, not a configuration.
 */
export const PRICE_INQUIRY_KEYS = [
  'Placement', 'ImageId', 'InstanceChargeType', 'InstanceChargePrepaid', 'InstanceType', 'SystemDisk', 'DataDisks',
  'VirtualPrivateCloud', 'InternetAccessible', 'InstanceCount', 'InstanceName', 'LoginSettings', 'SecurityGroupIds',
  'EnhancedService', 'HostName', 'TagSpecification', 'InstanceMarketOptions', 'Metadata', 'HpcClusterId', 'CpuTopology',
  'LaunchTemplate', 'NetworkInterfaces',
] as const;

export function priceInquiryOf(runInstancePara: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const inquiry: Record<string, unknown> = Object.fromEntries(PRICE_INQUIRY_KEYS.filter((k) => runInstancePara[k] !== undefined).map((k) => [k, runInstancePara[k]]));
  // The function's own tags (core/marks.ts) name one purchase: they change no price, and left in
  // they would make every event's inquiry another configuration, past the shared price cache.
  if (Array.isArray(inquiry.TagSpecification)) {
    const ours = new Set<unknown>(Object.values(MARK_KEYS));
    const specifications = (inquiry.TagSpecification as Array<Record<string, unknown>>)
      .map((s) => (Array.isArray(s.Tags) ? { ...s, Tags: (s.Tags as Array<{ Key?: unknown }>).filter((t) => !ours.has(t?.Key)) } : s))
      .filter((s) => !Array.isArray(s.Tags) || s.Tags.length > 0);
    if (specifications.length > 0) inquiry.TagSpecification = specifications;
    else delete inquiry.TagSpecification;
  }
  return inquiry;
}

export function readPrice(answer: unknown, chargeType: string): PriceReading {
  const kind = chargeKindOf(chargeType);
  if (kind === undefined) return { ok: false, problem: `charge type ${chargeType} cannot be priced (POSTPAID_BY_HOUR, SPOTPAID and PREPAID can)` };
  const price = field(answer, 'Price');
  const instance = field(price, 'InstancePrice');
  if (instance === undefined) return { ok: false, problem: 'the answer has no Price.InstancePrice' };
  // The instance itself is never free.
  const instanceAmount = amountOf(instance, kind, (n) => n > 0);
  if (instanceAmount === undefined) {
    return { ok: false, problem: `Price.InstancePrice has no ${fieldsOf(kind).join(' or ')} as a number above 0` };
  }
  const bandwidth = field(price, 'BandwidthPrice');
  let amount = instanceAmount;
  let note: string | undefined;
  if (bandwidth !== undefined) {
    const unit = field(bandwidth, 'ChargeUnit');
    if (kind === 'hourly' && unit !== undefined && unit !== 'HOUR') {
      note = `bandwidth is charged per ${String(unit)} and is not counted`;
    } else {
      // Charged the same way as the instance: it counts, and one that cannot be read is no price.
      const bandwidthAmount = amountOf(bandwidth, kind, (n) => n >= 0);
      if (bandwidthAmount === undefined) return { ok: false, problem: `Price.BandwidthPrice has no ${fieldsOf(kind).join(' or ')} as a number of 0 or more` };
      amount += bandwidthAmount;
    }
  }
  const total = roundCents(amount);
  if (!isCountable(total)) return { ok: false, problem: `the price adds up to ${String(total)}, not a finite amount above zero` };
  return { ok: true, price: { kind, amount: total, ...(note !== undefined && { note }) } };
}

/**
 * A price as stored (the shared price cache) or handed over: only a known kind and a finite amount
 * above zero. Anything else (JSON's `null` for an Infinity, a 0, a negative, a string) would let a
 * purchase through uncounted, so it is unreadable: no purchase, as for any price that cannot be had.
 */
export function checkPrice(value: unknown): PriceReading {
  const kind = field(value, 'kind');
  const amount = field(value, 'amount');
  if (kind !== 'hourly' && kind !== 'prepaid') return { ok: false, problem: `a price of kind ${JSON.stringify(kind)}` };
  if (typeof amount !== 'number' || !isCountable(amount)) return { ok: false, problem: `a price of ${JSON.stringify(amount)}, not a finite amount above zero` };
  const note = field(value, 'note');
  return { ok: true, price: { kind, amount, ...(typeof note === 'string' && { note }) } };
}

/** A budget can count it: finite and above zero (a price of 0 is no price: CVM sells nothing free). */
function isCountable(amount: number): boolean {
  return Number.isFinite(amount) && amount > 0;
}

/** The discounted field, then the list price (ItemPrice in cvm_models.d.ts). */
function fieldsOf(kind: CostKind): readonly [string, string] {
  return kind === 'hourly' ? ['UnitPriceDiscount', 'UnitPrice'] : ['DiscountPrice', 'OriginalPrice'];
}

/**
 * The discounted amount, or the list price when no discounted one is given. A field that is given
 * but is not an acceptable number is no price: never a fall back past it to another figure.
 */
function amountOf(item: unknown, kind: CostKind, acceptable: (n: number) => boolean): number | undefined {
  for (const name of fieldsOf(kind)) {
    const value = field(item, name);
    if (value === undefined || value === null) continue;
    return typeof value === 'number' && Number.isFinite(value) && acceptable(value) ? value : undefined;
  }
  return undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[name] : undefined;
}

/** Prices are in yuan or dollars with cents; sums of floats must not drift past a budget. */
export function roundCents(amount: number): number {
  return Math.round(amount * 100) / 100;
}
