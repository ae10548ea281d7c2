import { adoptCost, costLeft, reserveCost, settleCost, type CostDecision, type CostState } from '../../../src/core/cost-budget';
import type { CostBudget } from '../../../src/core/model';
import type { Price } from '../../../src/core/price';
import type { StoreStep } from '../../../src/core/store-step';

/** The money budget as pure steps over its stored state, with a clock the test moves. */
const budget: CostBudget = { currency: 'CNY', windowSeconds: 3600, hourly: 10, prepaid: 1000 };
const T0 = Date.parse('2026-11-26T10:00:00Z');
const hourly = (amount: number): Price => ({ kind: 'hourly', amount });

/** Applies steps the way a store does, keeping the state between them. */
function ledger() {
  let state: CostState | undefined;
  const apply = <R>(step: StoreStep<CostState, R>): R => {
    if (step.write.kind === 'put') state = step.write.value;
    if (step.write.kind === 'delete') state = undefined;
    return step.result;
  };
  return {
    reserve: (event: string, price: Price, now = T0, claim = `${event}-c1`): CostDecision =>
      apply(reserveCost(state, { eventKey: event, claimId: claim, price, inFlightUntil: now + 30_000 }, budget, now)),
    settle: (event: string, outcome: 'created' | 'refused' | 'unknown', now = T0, claim = `${event}-c1`) => apply(settleCost(state, event, claim, outcome, budget, now)),
    adopt: (event: string, claim: string, now = T0) => apply(adoptCost(state, event, claim, now + 30_000, budget, now)),
    left: (now = T0) => costLeft(state, budget, now),
  };
}

describe('the money budget (core/cost-budget.ts)', () => {
  it('a purchase dearer than the whole limit can never fit: retryAt never, not a window from now', () => {
    const l = ledger();
    expect(l.reserve('a', hourly(10.01))).toMatchObject({ kind: 'over-budget', retryAt: 'never' });
    // One that fits once the window frees says when.
    l.reserve('b', hourly(6));
    expect(l.reserve('c', hourly(5))).toMatchObject({ kind: 'over-budget', retryAt: T0 + 3600_000 });
  });

  it.each([
    ['Infinity (an overflowing price)', Infinity],
    ['null (what JSON makes of Infinity)', null],
    ['zero', 0],
    ['negative', -1],
    ['NaN', NaN],
    ['a string', '1.5'],
  ])('never counts a price of %s as free: nothing reserved', (_what, amount) => {
    const l = ledger();
    const decision = l.reserve('a', { kind: 'hourly', amount: amount as number });
    expect(decision).toMatchObject({ kind: 'over-budget', retryAt: 'never' });
    expect(l.left()).toEqual({ hourly: 10, prepaid: 1000 });
  });

  it('grants while the sum stays within the limit, then holds back with the time it frees', () => {
    const l = ledger();
    expect(l.reserve('a', hourly(6))).toMatchObject({ kind: 'granted', amount: 6, left: 4 });
    l.settle('a', 'created');
    const over = l.reserve('b', hourly(4.01), T0 + 60_000);
    expect(over).toMatchObject({ kind: 'over-budget', used: 6, limit: 10 });
    // a's slice leaves the window an hour (plus its slice, a minute) after it was bought.
    expect(over.kind === 'over-budget' && over.retryAt).toBe(T0 + 3600_000 + 60_000);
    expect(l.reserve('c', hourly(4), T0 + 60_000)).toMatchObject({ kind: 'granted', left: 0 });
  });

  it('counts hourly and prepaid apart, each against its own limit', () => {
    const l = ledger();
    expect(l.reserve('a', { kind: 'prepaid', amount: 900 })).toMatchObject({ kind: 'granted' });
    expect(l.reserve('b', hourly(9.5))).toMatchObject({ kind: 'granted' });
    expect(l.left()).toEqual({ hourly: 0.5, prepaid: 100 });
  });

  it('a kind without a limit is never bought', () => {
    let state: CostState | undefined;
    const decision = reserveCost(state, { eventKey: 'a', claimId: 'c', price: { kind: 'prepaid', amount: 1 }, inFlightUntil: T0 + 1000 }, { currency: 'USD', windowSeconds: 3600, hourly: 5 }, T0).result;
    expect(decision).toMatchObject({ kind: 'over-budget', limit: undefined, retryAt: 'never', detail: 'no prepaid budget is set (costBudget.prepaid)' });
    state = undefined;
  });

  it('refused: the money goes back; unknown: it stays for good, even if a later delivery is refused', () => {
    const l = ledger();
    l.reserve('a', hourly(5));
    l.settle('a', 'refused');
    expect(l.left().hourly).toBe(10);
    l.reserve('b', hourly(5));
    l.settle('b', 'unknown');
    expect(l.left().hourly).toBe(5);
    // b's redelivery takes over its reservation without a price, and a refusal then changes nothing.
    expect(l.adopt('b', 'b-c2')).toMatchObject({ amount: 5, claimId: 'b-c2', mayExist: true });
    l.settle('b', 'refused', T0, 'b-c2');
    expect(l.left().hourly).toBe(5);
  });

  it('one reservation per event: another rung or count replaces the event\'s own', () => {
    const l = ledger();
    l.reserve('a', hourly(8));
    // Rung 1 sold out, rung 2 priced at 3: the event holds 3, not 11.
    expect(l.reserve('a', hourly(3))).toMatchObject({ kind: 'granted', left: 7 });
    expect(l.left().hourly).toBe(7);
  });

  it('sums in cents: 0.1 thirty times is 3.00, not 3.0000000000000013', () => {
    const l = ledger();
    for (let i = 0; i < 30; i++) {
      l.reserve(`e${i}`, hourly(0.1));
      l.settle(`e${i}`, 'created');
    }
    expect(l.left().hourly).toBe(7);
    expect(l.reserve('last', hourly(7))).toMatchObject({ kind: 'granted', left: 0 });
  });

  it('forgets what left the window', () => {
    const l = ledger();
    l.reserve('a', hourly(10));
    l.settle('a', 'created');
    expect(l.reserve('b', hourly(1), T0 + 30 * 60_000).kind).toBe('over-budget');
    expect(l.reserve('b', hourly(1), T0 + 3600_000 + 60_000).kind).toBe('granted');
  });
});
