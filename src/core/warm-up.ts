import type { StoreStep } from './store-step';

/**
 * Warm-up (config `rules[].repeat.warmUp`), as AWS Auto Scaling's instance warm-up: nodes bought
 * for an alarm take a while to join and take load, and meanwhile the alarm keeps firing. A repeat
 * of the same alarm episode within `warmUp` of its last purchase is held back (rule `warm-up`, with
 * Retry-After), so a slow join does not buy a second time for the same shortage. Pure: the clock
 * and the stored state are arguments; one store key per rule and alarm episode.
 */
export interface WarmUpState {
  /** When this episode last bought (or may have bought: an unknown outcome counts). */
  readonly lastPurchaseAt: number;
}

export type WarmUpDecision = { readonly kind: 'ready' } | { readonly kind: 'warming-up'; readonly retryAt: number; readonly detail: string };

export function warmUpKeyOf(clusterId: string, source: string, episode: string): string {
  // Hash tag on the ClusterId, as the throttle's keys.
  return `warmup:{${clusterId}}:${source}:${episode}`;
}

export function decideWarmUp(current: WarmUpState | undefined, warmUpSeconds: number, now: number): StoreStep<WarmUpState, WarmUpDecision> {
  if (current === undefined) return { write: { kind: 'keep' }, result: { kind: 'ready' } };
  // A stored value whose time is not a number (another version's shape, an empty object) gave a
  // retryAt of NaN, on which ThrottledError threw a RangeError (a 500, not a 429). The key's
  // presence still says the episode bought within the key's life (it expires when that warm-up
  // ends), so such a value counts as a purchase just now: fail closed, until the key expires. A time
  // after now (another instance's clock ahead, a hostile value) counts as now, so that a repeat
  // waits at most warmUp, as the rule says.
  const last = typeof current.lastPurchaseAt === 'number' ? Math.min(current.lastPurchaseAt, now) : now;
  const until = last + warmUpSeconds * 1000;
  if (now >= until) return { write: { kind: 'keep' }, result: { kind: 'ready' } };
  return {
    write: { kind: 'keep' },
    result: { kind: 'warming-up', retryAt: until, detail: `nodes bought for this alarm ${Math.round((now - last) / 1000)} s ago are still warming up (${warmUpSeconds} s)` },
  };
}

export function recordPurchase(warmUpSeconds: number, now: number): StoreStep<WarmUpState, void> {
  return { write: { kind: 'put', value: { lastPurchaseAt: now }, expiresAt: now + Math.max(1, warmUpSeconds) * 1000 }, result: undefined };
}
