import {
  adoptEntry,
  freesAt,
  inWindow,
  ledgerExpiry,
  ledgerWindow,
  refund,
  settleEntry,
  usedOf,
  withEntry,
  type LedgerEntry,
  type LedgerState,
} from '../../../src/core/windowed-ledger';

/** The one ledger the node budget and the money budgets keep, on its own. */
const T0 = Date.parse('2026-12-06T10:00:00Z');
const hour = ledgerWindow(3600);
type Kind = 'nodes' | 'hourly';
const entry = (eventKey: string, amount: number, at: number, extra: Partial<LedgerEntry<Kind>> = {}): LedgerEntry<Kind> => ({
  eventKey,
  claimId: `${eventKey}-c`,
  kind: 'nodes',
  amount,
  at,
  state: 'done',
  inFlightUntil: at + 30_000,
  ...extra,
});

describe('the windowed ledger', () => {
  it('slices are a sixtieth of the window, at least a second', () => {
    expect(ledgerWindow(3600)).toEqual({ windowMs: 3_600_000, sliceMs: 60_000 });
    expect(ledgerWindow(30)).toEqual({ windowMs: 30_000, sliceMs: 1000 });
  });

  it('counts per measure, leaving out the asking event itself', () => {
    const state: LedgerState<Kind> = { grants: [entry('a', 3, T0), entry('b', 0.5, T0, { kind: 'hourly' })], spent: [{ from: T0, kind: 'nodes', amount: 4 }] };
    expect(usedOf(state, 'nodes')).toBe(7);
    expect(usedOf(state, 'nodes', 'a')).toBe(4);
    expect(usedOf(state, 'hourly')).toBe(0.5);
  });

  it('drops what left the window; an in-flight grant counts until its holder deadline, even past the window', () => {
    const state: LedgerState<Kind> = {
      grants: [entry('old', 1, T0), entry('holding', 2, T0, { state: 'in-flight', inFlightUntil: T0 + 4_000_000 })],
      spent: [{ from: T0, kind: 'nodes', amount: 5 }],
    };
    const later = inWindow(state, hour, T0 + 3_700_000);
    expect(later.grants.map((g) => g.eventKey)).toEqual(['holding']);
    expect(later.spent).toBeUndefined();
  });

  it('one rule for when a budget frees: the oldest holdings leave until the need fits; never when the need alone is over the limit', () => {
    const state: LedgerState<Kind> = { grants: [entry('a', 8, T0), entry('b', 10, T0 + 600_000)] };
    expect(freesAt(state, hour, 'nodes', 20, 3, T0 + 1000)).toBe(T0 + 3_600_000);
    expect(freesAt(state, hour, 'nodes', 20, 12, T0 + 1000)).toBe(T0 + 600_000 + 3_600_000);
    expect(freesAt(state, hour, 'nodes', 20, 21, T0 + 1000)).toBe('never');
    expect(freesAt(state, hour, 'nodes', 20, Number.NaN, T0 + 1000)).toBe('never');
    // Already fits (asked anyway): a second from now.
    expect(freesAt(state, hour, 'nodes', 20, 2, T0 + 1000)).toBe(T0 + 2000);
    // A slice frees when its end leaves the window.
    const sliced: LedgerState<Kind> = { grants: [], spent: [{ from: T0, kind: 'nodes', amount: 20 }] };
    expect(freesAt(sliced, hour, 'nodes', 20, 1, T0 + 1000)).toBe(T0 + 60_000 + 3_600_000);
  });

  it('money sums in cents: 0.1 + 0.2 fits a limit of 0.3', () => {
    const state: LedgerState<Kind> = { grants: [entry('a', 0.1, T0, { kind: 'hourly' })] };
    expect(freesAt(state, hour, 'hourly', 0.3, 0.2, T0 + 1000)).toBe(T0 + 2000);
  });

  it('settles: created moves the amount into the slice of its reservation; refused gives it back unless it may exist; unknown keeps it for good', () => {
    const held = entry('a', 3, T0 + 90_000, { state: 'in-flight' });
    const state = withEntry({ grants: [] }, held);
    expect(settleEntry(state, held, 'created', hour)).toEqual({ grants: [], spent: [{ from: T0 + 60_000, kind: 'nodes', amount: 3 }] });
    expect(settleEntry(state, held, 'refused', hour).grants).toEqual([]);
    const unknown = settleEntry(state, held, 'unknown', hour);
    expect(unknown.grants).toEqual([{ ...held, state: 'done', mayExist: true }]);
    expect(settleEntry(unknown, unknown.grants[0]!, 'refused', hour).grants).toHaveLength(1);
  });

  it('a redelivery adopts its reservation as it is: same amount, same time (it leaves the window when the first would)', () => {
    const state = withEntry({ grants: [] }, entry('a', 3, T0, { mayExist: true }));
    const adopted = adoptEntry(state, 'a', 'c2', T0 + 90_000);
    expect(adopted.entry).toMatchObject({ claimId: 'c2', amount: 3, at: T0, state: 'in-flight', inFlightUntil: T0 + 90_000, mayExist: true });
    expect(adoptEntry(state, 'other', 'c2', T0).entry).toBeUndefined();
  });

  it('the store keeps the ledger as long as anything in it counts', () => {
    const state: LedgerState<Kind> = { grants: [entry('a', 1, T0, { inFlightUntil: T0 + 5_000_000 })], spent: [{ from: T0 + 60_000, kind: 'nodes', amount: 1 }] };
    expect(ledgerExpiry(state, hour, T0)).toBe(T0 + 5_000_000);
    expect(ledgerExpiry({ grants: [] }, hour, T0)).toBe(T0 + 1000);
    expect(ledgerExpiry({ grants: [] }, hour, T0, T0 + 300_000)).toBe(T0 + 300_000);
  });

  it('keeps a decision bounded: 10,000 settled purchases over an hour leave at most 61 slices', () => {
    let state: LedgerState<Kind> = { grants: [] };
    for (let i = 0; i < 10_000; i++) {
      const at = T0 + i * 360;
      const held = entry(`e${i}`, 1, at, { state: 'in-flight' });
      state = settleEntry(withEntry(inWindow(state, hour, at), held), held, 'created', hour);
    }
    expect(state.spent!.length).toBeLessThanOrEqual(61);
    expect(usedOf(state, 'nodes')).toBe(10_000);
  });
});

describe('a stored ledger that cannot be read counts against the budget, never for it', () => {
  it('an amount that is not a number counts as more than any limit, until it leaves the window', () => {
    const stored = { grants: [entry('a', 'bad' as unknown as number, T0), entry('b', null as unknown as number, T0)], spent: [{ from: T0, kind: 'nodes', amount: Number.NaN }] } as LedgerState<Kind>;
    const state = inWindow(stored, hour, T0 + 1000);
    expect(usedOf(state, 'nodes')).toBeGreaterThan(1e15);
    expect(freesAt(state, hour, 'nodes', 20, 1, T0 + 1000)).toBe(T0 + 60_000 + 3_600_000);
    expect(usedOf(inWindow(stored, hour, T0 + 3_700_000), 'nodes')).toBe(0);
  });

  it('a time that is not one counts from when it is read; lists that are not lists are empty', () => {
    const stored = { grants: [entry('a', 2, Number.NaN)] } as LedgerState<Kind>;
    expect(inWindow(stored, hour, T0).grants[0]).toMatchObject({ at: T0, amount: 2 });
    expect(inWindow({ grants: 'x', spent: {} } as unknown as LedgerState<Kind>, hour, T0)).toEqual({ grants: [] });
  });
});

describe('refund: what a cleanup gives back', () => {
  /** `state` with the event's reservation made and its call settled as `outcome`. */
  const settled = (state: LedgerState<Kind>, held: LedgerEntry<Kind>, outcome: 'created' | 'unknown'): LedgerState<Kind> => settleEntry(withEntry(state, held), held, outcome, hour);
  const created = (at: number, amount: number): LedgerState<Kind> => settled({ grants: [] }, entry('e1', amount, at, { state: 'in-flight' }), 'created');

  it("from the slice the event's amount was settled into, never below zero, never from another slice", () => {
    const state = settled(created(T0, 3), entry('e2', 2, T0 + 120_000, { state: 'in-flight' }), 'created');
    expect(usedOf(state, 'nodes')).toBe(5);
    const back = refund(state, hour, { eventKey: 'e1', kind: 'nodes', at: T0 }, 1);
    expect(back.given).toBe(1);
    expect(usedOf(back.state, 'nodes')).toBe(4);
    // More than its slice holds: only what it holds.
    const all = refund(back.state, hour, { eventKey: 'e1', kind: 'nodes', at: T0 + 10 }, 10);
    expect(all.given).toBe(2);
    expect(usedOf(all.state, 'nodes')).toBe(2);
    // A time whose slice holds nothing (it left the window, or was never counted): nothing.
    expect(refund(all.state, hour, { eventKey: 'e1', kind: 'nodes', at: T0 + 3_600_000 }, 1)).toEqual({ state: all.state, given: 0 });
  });

  it("from the event's own reservation while it is held one by one (in flight, or an unknown outcome)", () => {
    const unknown = settled({ grants: [] }, entry('e1', 3, T0, { state: 'in-flight' }), 'unknown');
    const back = refund(unknown, hour, { eventKey: 'e1', kind: 'nodes', at: T0 }, 2);
    expect(back.given).toBe(2);
    expect(back.state.grants).toMatchObject([{ eventKey: 'e1', amount: 1, mayExist: true }]);
  });

  it('money in cents, by kind', () => {
    const money = settled({ grants: [] }, entry('e1', 1.35, T0, { kind: 'hourly', state: 'in-flight' }), 'created');
    expect(refund(money, hour, { eventKey: 'e1', kind: 'nodes', at: T0 }, 1).given).toBe(0);
    const back = refund(money, hour, { eventKey: 'e1', kind: 'hourly', at: T0 }, 0.45);
    expect(back.given).toBe(0.45);
    expect(usedOf(back.state, 'hourly')).toBe(0.9);
  });
});
