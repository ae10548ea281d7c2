import { decideWarmUp, recordPurchase, warmUpKeyOf, type WarmUpDecision, type WarmUpState } from '../../../src/core/warm-up';
import { ThrottledError } from '../../../src/errors';
import { MemoryStore } from '../../../src/store/memory-store';
import { readValue } from '../../../src/core/store-step';

/** Warm-up (core/warm-up.ts): a repeat of an episode waits `warmUp` after the episode's last purchase. */
const T0 = Date.parse('2026-11-26T10:00:00Z');
const WARM_UP = 300; // the example config's warmUp: 5m

const bought = (at: number): WarmUpState => ({ lastPurchaseAt: at });
const decide = (current: WarmUpState | undefined, now: number, warmUpSeconds = WARM_UP): WarmUpDecision => {
  const step = decideWarmUp(current, warmUpSeconds, now);
  // Deciding never writes: only a purchase starts (or restarts) the warm-up.
  expect(step.write).toEqual({ kind: 'keep' });
  return step.result;
};

describe('decideWarmUp', () => {
  it('is ready when the episode never bought', () => {
    expect(decide(undefined, T0)).toEqual({ kind: 'ready' });
  });

  it('holds a repeat back until exactly warmUp after the purchase, with that time as retryAt', () => {
    expect(decide(bought(T0), T0)).toEqual({ kind: 'warming-up', retryAt: T0 + 300_000, detail: 'nodes bought for this alarm 0 s ago are still warming up (300 s)' });
    expect(decide(bought(T0), T0 + 120_000)).toEqual({ kind: 'warming-up', retryAt: T0 + 300_000, detail: 'nodes bought for this alarm 120 s ago are still warming up (300 s)' });
    expect(decide(bought(T0), T0 + 300_000 - 1)).toMatchObject({ kind: 'warming-up', retryAt: T0 + 300_000 });
    expect(decide(bought(T0), T0 + 300_000)).toEqual({ kind: 'ready' });
    expect(decide(bought(T0), T0 + 300_001)).toEqual({ kind: 'ready' });
  });

  it('retryAt is the purchase plus the rule’s warmUp as configured now, whenever it is asked', () => {
    for (const now of [T0, T0 + 1, T0 + 59_999]) expect(decide(bought(T0), now, 60)).toMatchObject({ retryAt: T0 + 60_000 });
    expect(decide(bought(T0), T0 + 1000, 1)).toEqual({ kind: 'ready' });
    expect(decide(bought(T0), T0 + 999, 1)).toMatchObject({ retryAt: T0 + 1000 });
    expect(decide(bought(T0), T0 + 120_000, 86_400)).toMatchObject({ retryAt: T0 + 86_400_000 });
  });

  it('a warmUp of 0 never holds back', () => {
    expect(decide(bought(T0), T0, 0)).toEqual({ kind: 'ready' });
  });

  it('gives a Retry-After of the time left, rounded up, at least 1 s', () => {
    const at = (now: number) => {
      const d = decide(bought(T0), now);
      if (d.kind !== 'warming-up') throw new Error('expected warming-up');
      return new ThrottledError('warm-up', d.detail, d.retryAt, now).retryAfterSeconds;
    };
    expect(at(T0)).toBe(300);
    expect(at(T0 + 120_500)).toBe(180);
    expect(at(T0 + 300_000 - 1)).toBe(1);
  });

  it('does not change the state it was given (a store may run the step again)', () => {
    const state = Object.freeze(bought(T0));
    expect(decideWarmUp(state, WARM_UP, T0 + 1)).toEqual(decideWarmUp(state, WARM_UP, T0 + 1));
    expect(state).toEqual({ lastPurchaseAt: T0 });
  });
});

describe('decideWarmUp on a stored value of an unexpected shape', () => {
  // The key outlives a deploy and is shared by every instance. A value there says the episode
  // bought within the key's life (its expiry was the end of that warm-up), so a value that cannot be
  // dated holds back as a purchase just now would, never with a retryAt of NaN.
  it.each<[string, unknown]>([
    ['an empty object', {}],
    ['another name for the time', { boughtAt: T0 - 10_000 }],
    ['the time as a string', { lastPurchaseAt: '2026-11-26T10:00:00Z' }],
    ['the time as null (NaN after JSON)', { lastPurchaseAt: null }],
  ])('%s: warming up for warmUp from now, retryAt a number', (_, stored) => {
    const d = decide(stored as WarmUpState, T0 + 5000);
    expect(d).toMatchObject({ kind: 'warming-up', retryAt: T0 + 5000 + 300_000 });
    expect(d.kind === 'warming-up' && new ThrottledError('warm-up', d.detail, d.retryAt, T0 + 5000).retryAfterSeconds).toBe(300);
    expect(d.kind === 'warming-up' && d.detail).not.toContain('NaN');
    expect(decide(stored as WarmUpState, T0 + 5000, 0)).toEqual({ kind: 'ready' });
  });

  it('a purchase dated in the future (a clock ahead, a hostile value) holds back no longer than warmUp from now', () => {
    expect(decide(bought(T0 + 10_000), T0)).toEqual({ kind: 'warming-up', retryAt: T0 + 300_000, detail: 'nodes bought for this alarm 0 s ago are still warming up (300 s)' });
    expect(decide(bought(Number.MAX_SAFE_INTEGER), T0)).toMatchObject({ retryAt: T0 + 300_000 });
  });
});

describe('recordPurchase', () => {
  it('stores the purchase time, and the store forgets it exactly when the warm-up ends', () => {
    expect(recordPurchase(WARM_UP, T0)).toEqual({ write: { kind: 'put', value: { lastPurchaseAt: T0 }, expiresAt: T0 + 300_000 }, result: undefined });
    const step = recordPurchase(WARM_UP, T0);
    if (step.write.kind !== 'put') throw new Error('expected a put');
    // The key's expiry and the decision agree: held until it, ready (and forgotten) from it.
    expect(decide(step.write.value, step.write.expiresAt - 1)).toMatchObject({ kind: 'warming-up', retryAt: step.write.expiresAt });
    expect(decide(step.write.value, step.write.expiresAt)).toEqual({ kind: 'ready' });
  });

  it('a later purchase restarts the warm-up from that purchase', () => {
    const first = recordPurchase(WARM_UP, T0);
    const second = recordPurchase(WARM_UP, T0 + 200_000);
    expect(second.write).toEqual({ kind: 'put', value: { lastPurchaseAt: T0 + 200_000 }, expiresAt: T0 + 500_000 });
    if (first.write.kind !== 'put' || second.write.kind !== 'put') throw new Error('expected puts');
    expect(decide(second.write.value, T0 + 300_000)).toMatchObject({ kind: 'warming-up', retryAt: T0 + 500_000 });
  });

  it('a warmUp of 0 still keeps the key one second (a store write needs an expiry in the future)', () => {
    expect(recordPurchase(0, T0).write).toEqual({ kind: 'put', value: { lastPurchaseAt: T0 }, expiresAt: T0 + 1000 });
    expect(recordPurchase(1, T0).write).toMatchObject({ expiresAt: T0 + 1000 });
  });
});

describe('warmUpKeyOf', () => {
  it('is one key per cluster, sender and episode, hash-tagged on the ClusterId like the throttle’s keys', () => {
    expect(warmUpKeyOf('cls-sh7k2m9q', 'tencentcloud', 'ep-1')).toBe('warmup:{cls-sh7k2m9q}:tencentcloud:ep-1');
    const keys = new Set([
      warmUpKeyOf('cls-a', 'alertmanager', 'ep-1'),
      warmUpKeyOf('cls-b', 'alertmanager', 'ep-1'),
      warmUpKeyOf('cls-a', 'grafana', 'ep-1'),
      warmUpKeyOf('cls-a', 'alertmanager', 'ep-2'),
    ]);
    expect(keys.size).toBe(4);
  });
});

describe('warm-up through the memory store (a JSON round trip)', () => {
  it('ready, then held back after a purchase until exactly warmUp later, when the key is gone', async () => {
    let now = T0;
    const store = new MemoryStore(() => now);
    const key = warmUpKeyOf('cls-sh7k2m9q', 'tencentcloud', 'ep-1');
    const decideNow = () => store.update<WarmUpState, WarmUpDecision>(key, (current) => decideWarmUp(current, WARM_UP, now));
    const purchase = () => store.update<WarmUpState, void>(key, () => recordPurchase(WARM_UP, now));

    expect(await decideNow()).toEqual({ kind: 'ready' });
    await purchase();
    now = T0 + 60_000;
    expect(await decideNow()).toEqual({ kind: 'warming-up', retryAt: T0 + 300_000, detail: 'nodes bought for this alarm 60 s ago are still warming up (300 s)' });
    now = T0 + 300_000 - 1;
    expect(await decideNow()).toMatchObject({ kind: 'warming-up', retryAt: T0 + 300_000 });
    now = T0 + 300_000;
    expect(await decideNow()).toEqual({ kind: 'ready' });
    expect(await store.update<WarmUpState, WarmUpState | undefined>(key, readValue)).toBeUndefined();
  });
});
