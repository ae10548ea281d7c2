import type { LadderPlan, RungStep } from './rungs';
import type { ParamValue } from './model';
import type { StoreStep } from './store-step';
import type { ResolvedScaleOut, Sizing } from './scale-out-request';

/**
 * Idempotency of one event, as pure decisions over the stored record. The store applies what these
 * return atomically (store/state-store.ts); nothing here reads a clock or does I/O.
 *
 * The record's life, after Powertools' idempotency and the IETF Idempotency-Key draft:
 *
 *   delivery 1:  claim ──(in-progress, expires at the function's deadline)── complete ──(completed, ttl)──▶ gone
 *   delivery 2 while in progress:  409 + Retry-After        (claim not yet expired)
 *   delivery 2 after completion:   the stored answer, status "replayed", no TKE call
 *   delivery 2 after a failure:    claim was released → runs again, with the same ClientToken
 *   delivery 2 after a crash:      the claim expired with the dead function's deadline → runs again,
 *                                  same ClientToken, so CVM answers with the first InstanceIdSet
 *   same eventId, other request:   422 naming what differs
 */

/** What identifies "the same request" for an event ID: everything that changes what TKE is asked. */
export interface RequestFingerprint {
  readonly clusterId: string;
  readonly template: string;
  /**
   * Absent when the count is sized by the alarm's value (rules/sizing.ts, steps): a later delivery
   * of the same event may carry another value, and must replay the first decision, not conflict.
   */
  readonly count?: number;
  /** Sorted by name so that the order in the payload does not matter. */
  readonly params: ReadonlyArray<readonly [string, ParamValue]>;
}

/** The success answer, as stored for replays. */
export interface ScaleOutAnswer {
  readonly eventId: string;
  readonly clusterId: string;
  readonly template: string;
  /** Nodes asked of TKE. */
  readonly count: number;
  /** Set when a rule lowered the count: what was asked, and which rule. */
  readonly requestedCount?: number;
  readonly clampedBy?: string;
  readonly clientToken: string;
  readonly instanceIds: readonly string[];
  readonly requestId: string;
  /** With a ladder or a money budget: the rung bought (zone, type, charge type) and its price. */
  readonly bought?: RungStep;
  /** Rungs passed over before it, each with why (sold out now, sold out recently, over budget). */
  readonly skipped?: readonly RungStep[];
  /** Dry runs only: the ladder, each rung's price, and what the money budget leaves. */
  readonly plan?: LadderPlan;
  /** How an alarm rule sized the count: the step or severity, or why the default. */
  readonly sizing?: Sizing;
  /** A repeating rule: which period of the alarm episode this scale-out is. */
  readonly period?: number;
}

export type IdempotencyRecord =
  | {
      readonly state: 'in-progress';
      readonly claimId: string;
      readonly fingerprint: RequestFingerprint;
      readonly expiresAt: number;
    }
  | {
      readonly state: 'completed';
      readonly fingerprint: RequestFingerprint;
      readonly answer: ScaleOutAnswer;
      readonly expiresAt: number;
    };

export type DeliveryDecision =
  | { readonly kind: 'proceed' }
  | { readonly kind: 'replay'; readonly answer: ScaleOutAnswer }
  | { readonly kind: 'in-flight'; readonly retryAfterSeconds: number }
  | { readonly kind: 'conflict'; readonly differences: readonly string[] };

export function fingerprintOf(resolved: ResolvedScaleOut): RequestFingerprint {
  return {
    clusterId: resolved.cluster.clusterId,
    template: resolved.template.name,
    ...(resolved.sizing?.by !== 'steps' && { count: resolved.count }),
    params: [...resolved.params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  };
}

/**
 * The record key: event IDs are the sender's, so they are unique per sender only. The braces are a
 * Redis Cluster hash tag: everything about one event hashes to one slot.
 */
export function idempotencyKeyFor(source: string, eventId: string): string {
  return `event:{${source}:${eventId}}`;
}

/**
 * A delivery arrives. `claimExpiresAt` is when this function instance must have finished (its
 * deadline): past it, a claim can only belong to a crashed or timed-out instance.
 */
export function decideDelivery(
  current: IdempotencyRecord | undefined,
  claim: { claimId: string; fingerprint: RequestFingerprint; claimExpiresAt: number },
  now: number,
): StoreStep<IdempotencyRecord, DeliveryDecision> {
  const live = current !== undefined && current.expiresAt > now ? current : undefined;
  if (live === undefined) {
    return {
      write: {
        kind: 'put',
        value: {
          state: 'in-progress',
          claimId: claim.claimId,
          fingerprint: claim.fingerprint,
          expiresAt: claim.claimExpiresAt,
        },
        expiresAt: claim.claimExpiresAt,
      },
      result: { kind: 'proceed' },
    };
  }
  const differences = fingerprintDifferences(live.fingerprint, claim.fingerprint);
  if (differences.length > 0) return { write: { kind: 'keep' }, result: { kind: 'conflict', differences } };
  if (live.state === 'completed') return { write: { kind: 'keep' }, result: { kind: 'replay', answer: live.answer } };
  return {
    write: { kind: 'keep' },
    result: { kind: 'in-flight', retryAfterSeconds: Math.max(1, Math.ceil((live.expiresAt - now) / 1000)) },
  };
}

/** TKE accepted the call: remember the answer for `ttlMs` so redeliveries replay it. */
export function completeDelivery(
  fingerprint: RequestFingerprint,
  answer: ScaleOutAnswer,
  now: number,
  ttlMs: number,
): StoreStep<IdempotencyRecord, void> {
  const expiresAt = now + ttlMs;
  return { write: { kind: 'put', value: { state: 'completed', fingerprint, answer, expiresAt }, expiresAt }, result: undefined };
}

/**
 * The call failed for good: drop our claim so that a later delivery can try again (with the same
 * ClientToken). Only our own claim: if it expired and another delivery claimed the event since,
 * that claim is theirs to settle.
 */
export function releaseClaim(
  current: IdempotencyRecord | undefined,
  claimId: string,
): StoreStep<IdempotencyRecord, void> {
  const ours = current?.state === 'in-progress' && current.claimId === claimId;
  return { write: ours ? { kind: 'delete' } : { kind: 'keep' }, result: undefined };
}

function fingerprintDifferences(stored: RequestFingerprint, incoming: RequestFingerprint): string[] {
  const differences: string[] = [];
  if (stored.clusterId !== incoming.clusterId) differences.push(`cluster was ${stored.clusterId}, now ${incoming.clusterId}`);
  if (stored.template !== incoming.template) differences.push(`template was ${stored.template}, now ${incoming.template}`);
  if (stored.count !== incoming.count) differences.push(`count was ${stored.count}, now ${incoming.count}`);
  const before = JSON.stringify(stored.params);
  const after = JSON.stringify(incoming.params);
  if (before !== after) differences.push(`params were ${describeParams(stored.params)}, now ${describeParams(incoming.params)}`);
  return differences;
}

function describeParams(params: RequestFingerprint['params']): string {
  return params.length === 0 ? 'none' : params.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
}
