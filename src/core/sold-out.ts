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
  const next: SoldOutState = { marks: [...marks, { ...offering, code, at: now, until: now + ttlMs }] };
  return { write: { kind: 'put', value: next, expiresAt: Math.max(...next.marks.map((m) => m.until)) }, result: undefined };
}
