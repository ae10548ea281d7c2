import { createHash } from 'node:crypto';
import { backOff } from 'exponential-backoff';
import type { Config } from '../config/load-config';
import { checkPrice, DEFAULT_CHARGE_TYPE, priceInquiryOf, readPrice, type Price } from '../core/price';
import { OfferingSoldOutError, PriceUnavailableError, ScaleOutError } from '../errors';
import type { StateStore } from '../store/state-store';
import { describeApiFailure } from '../tencentcloud/api-failure';
import type { PriceApi } from '../tencentcloud/cvm-api';
import { capacityCodeOf } from '../tke/tke-errors';
import type { CreateClusterInstancesRequest } from '../tke/tke-params';
import { readValue } from '../core/store-step';

/**
 * The price of one exact rendered request, for a cluster with a money budget: from the shared
 * store when another instance asked for the same configuration within `pricing.cacheSeconds`, else
 * from CVM's InquiryPriceRunInstances (which allows about 10 requests a second: the cache is what
 * keeps an alarm storm under it). Any failure is a PriceUnavailableError: no price, no purchase;
 * except CVM's own word that the offering is sold out (a stock code, as InquiryPriceRunInstances
 * documents ResourcesSoldOut.SpecifiedInstanceType), an OfferingSoldOutError the ladder climbs past.
 * A price is checked where it is read, from CVM and from the cache alike (core/price.ts): one that
 * is not a finite amount above zero is no price.
 */
export interface Pricing {
  priceOf(region: string, request: CreateClusterInstancesRequest, deadline: number): Promise<Price & { readonly cached: boolean }>;
}

/** Where no pricing client was given (unit tests of other paths): a money budget then fails closed. */
export const NO_PRICING: Pricing = {
  priceOf: () => Promise.reject(new PriceUnavailableError('no CVM pricing client is configured')),
};

interface CachedPrice {
  readonly price: Price;
  readonly at: number;
}

/** A retry only for CVM's own "slow down" and its transient codes, within the time allowed. */
const RETRYABLE = /^(RequestLimitExceeded|InternalError)(\.|$)/;

export function createPricing(deps: { readonly config: Config; readonly store: StateStore; readonly prices: PriceApi | undefined; readonly now: () => number }): Pricing {
  const { pricing } = deps.config;
  return {
    async priceOf(region, request, deadline) {
      const para = JSON.parse(request.RunInstancePara) as Record<string, unknown>;
      const chargeType = typeof para.InstanceChargeType === 'string' ? para.InstanceChargeType : DEFAULT_CHARGE_TYPE;
      const inquiry = priceInquiryOf(para);
      const key = `price:${region}:${createHash('sha256').update(JSON.stringify(inquiry)).digest('hex').slice(0, 40)}`;
      if (pricing.cacheSeconds > 0) {
        const cached = await deps.store.update<CachedPrice, CachedPrice | undefined>(key, readValue);
        if (cached !== undefined && typeof cached.at === 'number' && cached.at + pricing.cacheSeconds * 1000 > deps.now()) {
          // Another version, a bug or a hand edit may have stored anything: an unreadable cached
          // price is asked again, never counted as what it says.
          const checked = checkPrice(cached.price);
          if (checked.ok) return { ...checked.price, cached: true };
        }
      }
      if (deps.prices === undefined) throw new PriceUnavailableError('no CVM pricing client is configured');
      let answer: unknown;
      try {
        answer = await backOff(
          () => {
            const budget = Math.min(pricing.timeoutMs, deadline - deps.now());
            if (budget <= 0) throw new PriceUnavailableError('no time left in this invocation to ask CVM for a price');
            return deps.prices!.inquirePrice(region, inquiry, AbortSignal.timeout(budget));
          },
          {
            numOfAttempts: 3,
            startingDelay: 100,
            maxDelay: 1000,
            jitter: 'full',
            retry: (error) => !(error instanceof ScaleOutError) && RETRYABLE.test(describeApiFailure(error).code ?? '') && deadline - deps.now() > 500,
          },
        );
      } catch (error) {
        if (error instanceof ScaleOutError) throw error;
        const failure = describeApiFailure(error);
        const soldOut = failure.code === undefined ? undefined : capacityCodeOf(failure.code, failure.message);
        if (soldOut !== undefined) throw new OfferingSoldOutError(soldOut, failure.message ?? soldOut);
        const what = failure.code !== undefined ? `InquiryPriceRunInstances answered ${failure.code}` : `InquiryPriceRunInstances did not answer (${(error as Error).name === 'TimeoutError' ? 'timeout' : 'network'})`;
        throw new PriceUnavailableError(what, { cause: error });
      }
      const reading = readPrice(answer, chargeType);
      if (!reading.ok) throw new PriceUnavailableError(`InquiryPriceRunInstances answered something unreadable: ${reading.problem}`);
      if (pricing.cacheSeconds > 0) {
        const at = deps.now();
        await deps.store.update<CachedPrice, void>(key, () => ({ write: { kind: 'put', value: { price: reading.price, at }, expiresAt: at + pricing.cacheSeconds * 1000 }, result: undefined }));
      }
      return { ...reading.price, cached: false };
    },
  };
}
