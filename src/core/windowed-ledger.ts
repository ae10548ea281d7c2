import { roundCents } from './price';

/**
 * A budget counted over a rolling window, as pure steps over its stored state: the one ledger the
 * node budget (core/throttle.ts, measure `nodes`) and the money budgets (core/cost-budget.ts,
 * measures `hourly` and `prepaid`) both keep. No clock, no I/O: `now` is an argument and the store
 * applies each step atomically, so instances racing for one budget cannot overspend it together.
 *
 *   reserve   an event holds an amount while its call is in flight (one reservation per event:
 *             a redelivery finds its own and goes on with it)
 *   settle    created  → the amount moves into the slice of the time it was reserved
 *             refused  → given back (nothing was bought), unless it is marked `mayExist` (an earlier
 *                        call on it may have bought)
 *             unknown  → kept for good (`mayExist`): the purchase may exist
 *
 * A reservation counts while it is in the window or still in flight; a settled amount counts until
 * the END of its slice leaves the window, so a slice never counts less than its reservations would
 * have. Slices are a sixtieth of the window (at least a second), so a decision costs O(reservations
 * in flight + 60), never O(purchases in the window).
 */
export interface LedgerEntry<K extends string> {
  readonly eventKey: string;
  readonly claimId: string;
  readonly kind: K;
  readonly amount: number;
  readonly at: number;
  /** in-flight until `inFlightUntil` (the holder's deadline); done once its call settled. */
  readonly state: 'in-flight' | 'done';
  readonly inFlightUntil: number;
  /** A call on it had an unknown outcome: the purchase may exist, so it is never given back. */
  readonly mayExist?: true;
}

/** Settled amounts of one kind, reserved in [from, from + slice). */
export interface LedgerSlice<K extends string> {
  readonly from: number;
  readonly kind: K;
  readonly amount: number;
}

export interface LedgerState<K extends string> {
  /** Reservations a delivery may still need to find by its event: in flight, or with an unknown outcome. */
  readonly grants: ReadonlyArray<LedgerEntry<K>>;
  readonly spent?: ReadonlyArray<LedgerSlice<K>>;
}

/** How long the window is, and one slice of it. */
export interface LedgerWindow {
  readonly windowMs: number;
  readonly sliceMs: number;
}

export function ledgerWindow(windowSeconds: number): LedgerWindow {
  const windowMs = windowSeconds * 1000;
  return { windowMs, sliceMs: Math.max(1000, Math.floor(windowMs / 60)) };
}

export function isInFlight(entry: Pick<LedgerEntry<string>, 'state' | 'inFlightUntil'>, now: number): boolean {
  return entry.state === 'in-flight' && entry.inFlightUntil > now;
}

/** When an entry or a slice stops counting: THE rule for "when does it free". */
function leavesAt(item: LedgerEntry<string> | LedgerSlice<string>, window: LedgerWindow, now: number): number {
  if ('eventKey' in item) return Math.max(item.at + window.windowMs, isInFlight(item, now) ? item.inFlightUntil : 0);
  return item.from + window.sliceMs + window.windowMs;
}

/**
 * The state with what no longer counts dropped. The store is shared and outlives deploys, so a
 * stored value may be anything: an amount that is not a number counts as more than any limit (a
 * NaN compares false with everything and would let every request through), and a time that is not
 * one counts as now, so the entry leaves a window after it was first read.
 */
export function inWindow<K extends string>(current: LedgerState<K> | undefined, window: LedgerWindow, now: number): LedgerState<K> {
  const stored = (list: unknown): readonly unknown[] => (Array.isArray(list) ? list : []);
  const grants = (stored(current?.grants) as ReadonlyArray<LedgerEntry<K>>).map((g) => readableEntry(g, now)).filter((g) => leavesAt(g, window, now) > now);
  const spent = (stored(current?.spent) as ReadonlyArray<LedgerSlice<K>>).map((s) => readableSlice(s, now)).filter((s) => leavesAt(s, window, now) > now);
  return { grants, ...(spent.length > 0 && { spent }) };
}

/** What an amount that cannot be read counts as: the whole of any limit, until it leaves the window. */
export const UNREADABLE_AMOUNT = Number.MAX_SAFE_INTEGER;

function readableAmount(amount: unknown): number {
  return typeof amount === 'number' && Number.isFinite(amount) && amount >= 0 ? amount : UNREADABLE_AMOUNT;
}

function readableTime(time: unknown, now: number): number {
  return typeof time === 'number' && Number.isFinite(time) ? time : now;
}

function readableEntry<K extends string>(entry: LedgerEntry<K>, now: number): LedgerEntry<K> {
  if (isReadable(entry.amount) && Number.isFinite(entry.at) && Number.isFinite(entry.inFlightUntil)) return entry;
  return { ...entry, amount: readableAmount(entry.amount), at: readableTime(entry.at, now), inFlightUntil: readableTime(entry.inFlightUntil, now) };
}

function readableSlice<K extends string>(slice: LedgerSlice<K>, now: number): LedgerSlice<K> {
  if (isReadable(slice.amount) && Number.isFinite(slice.from)) return slice;
  return { ...slice, amount: readableAmount(slice.amount), from: readableTime(slice.from, now) };
}

function isReadable(amount: unknown): boolean {
  return typeof amount === 'number' && Number.isFinite(amount) && amount >= 0;
}

/** What the window holds of `kind`, other than `exceptEvent`'s own reservation. */
export function usedOf<K extends string>(state: LedgerState<K>, kind: K, exceptEvent?: string): number {
  let used = 0;
  for (const g of state.grants) if (g.kind === kind && g.eventKey !== exceptEvent) used += g.amount;
  for (const s of state.spent ?? []) if (s.kind === kind) used += s.amount;
  return roundCents(used);
}

export function ownEntry<K extends string>(state: LedgerState<K>, eventKey: string): LedgerEntry<K> | undefined {
  return state.grants.find((g) => g.eventKey === eventKey);
}

/**
 * When `need` of `kind` fits under `limit` by waiting: the time the oldest holdings leave until
 * enough has. `never` when `need` alone is more than the limit: no wait helps, and an answer that
 * invited a retry would be a lie.
 */
export function freesAt<K extends string>(
  state: LedgerState<K>,
  window: LedgerWindow,
  kind: K,
  limit: number,
  need: number,
  now: number,
  exceptEvent?: string,
): number | 'never' {
  if (!(need <= limit)) return 'never';
  const leaving = [
    ...state.grants.filter((g) => g.kind === kind && g.eventKey !== exceptEvent),
    ...(state.spent ?? []).filter((s) => s.kind === kind),
  ]
    .map((item) => ({ at: leavesAt(item, window, now), amount: item.amount }))
    .sort((a, b) => a.at - b.at);
  let used = leaving.reduce((sum, l) => sum + l.amount, 0);
  if (roundCents(used + need) <= limit) return now + 1000;
  for (const l of leaving) {
    used -= l.amount;
    if (roundCents(used + need) <= limit) return Math.max(l.at, now + 1000);
  }
  // Once everything has left, `need <= limit` fits: reached only if a sum is not a number.
  return now + window.windowMs;
}

/** The event's reservation of `amount`, replacing any earlier one of its own. */
export function withEntry<K extends string>(state: LedgerState<K>, entry: LedgerEntry<K>): LedgerState<K> {
  return { ...state, grants: [...state.grants.filter((g) => g.eventKey !== entry.eventKey), entry] };
}

/**
 * A redelivery takes over its event's own reservation (its claim, its deadline) as it is: the same
 * amount for the same request, and its time unchanged, so a retried event never stays in the
 * window longer than its first reservation would.
 */
export function adoptEntry<K extends string>(state: LedgerState<K>, eventKey: string, claimId: string, inFlightUntil: number): { state: LedgerState<K>; entry?: LedgerEntry<K> } {
  const own = ownEntry(state, eventKey);
  if (own === undefined) return { state };
  const entry: LedgerEntry<K> = { ...own, claimId, state: 'in-flight', inFlightUntil: Math.max(own.inFlightUntil, inFlightUntil) };
  return { state: { ...state, grants: state.grants.map((g) => (g === own ? entry : g)) }, entry };
}

/** The holder's reservation, found by its claim (a later claim on the same event is not ours). */
export function heldEntry<K extends string>(state: LedgerState<K> | undefined, eventKey: string, claimId: string): LedgerEntry<K> | undefined {
  return state?.grants.find((g) => g.eventKey === eventKey && g.claimId === claimId);
}

/** The holder's reservation, lowered (a money budget clamped the count): counted for what is sent. */
export function resizeEntry<K extends string>(state: LedgerState<K>, held: LedgerEntry<K>, amount: number): LedgerState<K> {
  return { ...state, grants: state.grants.map((g) => (g === held ? { ...g, amount } : g)) };
}

export type Settlement = 'created' | 'refused' | 'unknown';

/** How the holder's call ended (see the top of the file). */
export function settleEntry<K extends string>(state: LedgerState<K>, held: LedgerEntry<K>, outcome: Settlement, window: LedgerWindow): LedgerState<K> {
  const others = state.grants.filter((g) => g !== held);
  if (outcome === 'created') {
    const from = Math.floor(held.at / window.sliceMs) * window.sliceMs;
    const spent = [...(state.spent ?? [])];
    const slice = spent.findIndex((s) => s.from === from && s.kind === held.kind);
    if (slice >= 0) spent[slice] = { ...spent[slice]!, amount: roundCents(spent[slice]!.amount + held.amount) };
    else spent.push({ from, kind: held.kind, amount: held.amount });
    return { grants: others, spent };
  }
  if (outcome === 'refused' && held.mayExist !== true) return { ...state, grants: others };
  return { ...state, grants: state.grants.map((g) => (g === held ? { ...g, state: 'done' as const, mayExist: true as const } : g)) };
}

/**
 * Gives back up to `amount` of `kind` that an event counted, for what it bought that no longer runs
 * (a cleanup, core/cleanup.ts): from the event's own reservation while the ledger still holds it
 * one by one (in flight, or kept for an unknown outcome), else from the slice it was settled into,
 * the slice of `at` (its reservation's time). Never below zero, never from another slice: an
 * amount whose slice has left the window no longer counts, and nothing is given back for it. The
 * result is how much was given back.
 */
export function refund<K extends string>(state: LedgerState<K>, window: LedgerWindow, ref: { readonly eventKey: string; readonly kind: K; readonly at: number }, amount: number): { readonly state: LedgerState<K>; readonly given: number } {
  const own = state.grants.find((g) => g.eventKey === ref.eventKey && g.kind === ref.kind);
  if (own !== undefined) {
    const given = Math.min(own.amount, amount);
    return { state: { ...state, grants: state.grants.map((g) => (g === own ? { ...g, amount: roundCents(g.amount - given) } : g)) }, given };
  }
  const from = Math.floor(ref.at / window.sliceMs) * window.sliceMs;
  const spent = state.spent ?? [];
  const index = spent.findIndex((s) => s.from === from && s.kind === ref.kind);
  if (index < 0) return { state, given: 0 };
  const given = Math.min(spent[index]!.amount, amount);
  return { state: { ...state, spent: spent.map((s, i) => (i === index ? { ...s, amount: roundCents(s.amount - given) } : s)) }, given };
}

/** The store may forget the ledger once nothing in it counts any more (and not before `atLeast`). */
export function ledgerExpiry(state: LedgerState<string>, window: LedgerWindow, now: number, atLeast = 0): number {
  let until = Math.max(now + 1000, atLeast);
  for (const g of state.grants) until = Math.max(until, g.at + window.windowMs, g.inFlightUntil);
  for (const s of state.spent ?? []) until = Math.max(until, leavesAt(s, window, now));
  return until;
}
