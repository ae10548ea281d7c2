import { DEFAULT_CHARGE_TYPE } from './price';
import type { StoreStep } from './store-step';
import type { CreateClusterInstancesRequest } from '../tke/tke-params';

/**
 * The shared sold-out memory: a rung CVM refused for capacity is marked sold out for a while, by
 * what CVM sells (region, zone, instance type, charge type), so that every instance of the function
 * starts at the first rung that may have stock instead of asking again for what was sold out a
 * minute ago. One store key holds every mark; marks expire by time, so the key holds at most one
 * per distinct rung of the config. Pure, like the other decisions of core/.
 */
export const SOLD_OUT_KEY = 'capacity:sold-out';

/** What CVM sells, as a rung's rendered RunInstancePara names it. */
export interface Offering {
  readonly region: string;
  readonly zone: string;
  readonly instanceType: string;
  readonly chargeType: string;
}

export interface SoldOutMark extends Offering {
  /** The refusal's code, e.g. ResourceInsufficient.SpecifiedInstanceType. */
  readonly code: string;
  readonly at: number;
  readonly until: number;
}

export interface SoldOutState {
  readonly marks: readonly SoldOutMark[];
  /** Offerings whose nodes failed to join, for the back-off's doubling (markFailing). */
  readonly failing?: readonly OfferingFailures[];
}

/**
 * An offering whose bought nodes failed to join (or never did in time) is backed off like a sold-out
 * one: the ladder skips it and tries the next rung. The mark's code says why.
 */
export const NODES_FAILED_CODE = 'NodesFailedToJoin';

/**
 * cluster-autoscaler's node-group back-off (FAQ: `initial-node-group-backoff-duration` 5 min,
 * `max-node-group-backoff-duration` 30 min, `node-group-backoff-reset-timeout` 3 h): the first
 * failure backs off 5 minutes, each further one within 3 hours of the last doubles it, up to 30.
 */
export const NODES_FAILED_BACKOFF = { initialMs: 5 * 60_000, maxMs: 30 * 60_000, resetMs: 3 * 3_600_000 } as const;

export interface OfferingFailures extends Offering {
  readonly failures: number;
  readonly lastAt: number;
}

export function offeringOf(region: string, request: CreateClusterInstancesRequest): Offering {
  const para = JSON.parse(request.RunInstancePara) as { Placement?: { Zone?: unknown }; InstanceType?: unknown; InstanceChargeType?: unknown };
  return {
    region,
    zone: typeof para.Placement?.Zone === 'string' ? para.Placement.Zone : '(any zone)',
    instanceType: typeof para.InstanceType === 'string' ? para.InstanceType : '(default type)',
    chargeType: typeof para.InstanceChargeType === 'string' ? para.InstanceChargeType : DEFAULT_CHARGE_TYPE,
  };
}

function same(a: Offering, b: Offering): boolean {
  return a.region === b.region && a.zone === b.zone && a.instanceType === b.instanceType && a.chargeType === b.chargeType;
}

/**
 * The stored marks that can be dated. The key is shared by every instance and outlives a deploy, so
 * it may hold what another version wrote: a state without an array of marks (an empty object) threw
 * a TypeError in soldOutMarkOf, in the middle of a climb, and a null or non-object mark threw in
 * every reader. What cannot be read is no mark; the next markSoldOut writes a well-formed state.
 * `at` is checked too: /healthz renders each live mark's `at` as a date, which throws on undefined.
 */
function storedMarks(state: SoldOutState | undefined): readonly SoldOutMark[] {
  const marks: unknown = state?.marks;
  if (!Array.isArray(marks)) return [];
  return marks.filter((m: Partial<SoldOutMark> | null): m is SoldOutMark => typeof m?.until === 'number' && typeof m.at === 'number');
}

/** The live mark on `offering`, if any. */
export function soldOutMarkOf(state: SoldOutState | undefined, offering: Offering, now: number): SoldOutMark | undefined {
  return liveMarks(state, now).find((m) => same(m, offering));
}

export function liveMarks(state: SoldOutState | undefined, now: number): readonly SoldOutMark[] {
  return storedMarks(state).filter((m) => m.until > now);
}

/** Marks `offering` sold out until now + ttl (a later refusal extends it); expired marks go. */
export function markSoldOut(current: SoldOutState | undefined, offering: Offering, code: string, now: number, ttlMs: number): StoreStep<SoldOutState, void> {
  const marks = liveMarks(current, now).filter((m) => !same(m, offering));
  const failing = recentFailures(current, now);
  const next: SoldOutState = { marks: [...marks, { ...offering, code, at: now, until: now + ttlMs }], ...(failing.length > 0 && { failing }) };
  return { write: { kind: 'put', value: next, expiresAt: expiryOf(next) }, result: undefined };
}

/**
 * `offering`'s nodes failed to join: it is backed off (NODES_FAILED_BACKOFF), doubling with each
 * failure within the reset time of the last one. A live mark that holds longer (a sold-out) stays.
 * The result: until when it is backed off.
 */
export function markFailing(current: SoldOutState | undefined, offering: Offering, now: number): StoreStep<SoldOutState, number> {
  const { initialMs, maxMs, resetMs } = NODES_FAILED_BACKOFF;
  const failing = recentFailures(current, now);
  const before = failing.find((f) => same(f, offering));
  const failures = (before?.failures ?? 0) + 1;
  const until = now + Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 10));
  const live = liveMarks(current, now);
  const held = live.find((m) => same(m, offering));
  const mark: SoldOutMark = held !== undefined && held.until >= until ? held : { ...offering, code: NODES_FAILED_CODE, at: now, until };
  const next: SoldOutState = {
    marks: [...live.filter((m) => m !== held), mark],
    failing: [...failing.filter((f) => f !== before), { ...offering, failures, lastAt: now }],
  };
  return { write: { kind: 'put', value: next, expiresAt: expiryOf(next) }, result: mark.until };
}

/** Failures recent enough to double the next back-off; what cannot be read is none. */
function recentFailures(state: SoldOutState | undefined, now: number): readonly OfferingFailures[] {
  const failing: unknown = state?.failing;
  if (!Array.isArray(failing)) return [];
  return failing.filter((f: Partial<OfferingFailures> | null): f is OfferingFailures => typeof f?.lastAt === 'number' && typeof f.failures === 'number' && f.lastAt + NODES_FAILED_BACKOFF.resetMs > now);
}

function expiryOf(state: SoldOutState): number {
  return Math.max(...state.marks.map((m) => m.until), ...(state.failing ?? []).map((f) => f.lastAt + NODES_FAILED_BACKOFF.resetMs));
}
