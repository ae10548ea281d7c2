import type { CreateClusterInstancesRequest } from '../tke/tke-params';
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
 *   delivery 1:  claim ──(in-progress until the function's deadline)── complete ──(completed, ttl)──▶ gone
 *   delivery 2 while in progress:  409 + Retry-After        (claim not yet expired)
 *   delivery 2 after completion:   the stored answer, status "replayed", no TKE call
 *   delivery 2 after a refusal:    claim was released → runs again, rendered afresh
 *   delivery 2 after an unknown outcome, or a crash (the claim expired with the dead function's
 *                                  deadline): runs again and re-sends the recorded request (below)
 *   same eventId, other request:   422 naming what differs
 *
 * The request as sent. Before every call the delivery records the exact request (ClientToken,
 * rung, RunInstancePara) on this record (`recordSent`). Once it may have bought (its outcome was
 * unknown, or its delivery died before settling), the record keeps it for the whole ttl, released
 * or not: every later delivery of the event re-sends exactly it, byte for byte, whatever the
 * config and the ladder look like by then, so one event never sends two tokens that could both
 * buy. The request lives on the record and nowhere with a shorter life (a throttle window ends
 * long before an event's redeliveries do). A request that was refused outright bought nothing and
 * is forgotten with the claim: the next delivery renders afresh.
 */

/** A CreateClusterInstances request as sent, for a redelivery to send again byte for byte. */
export interface SentRequest {
  readonly clientToken: string;
  readonly request: CreateClusterInstancesRequest;
  /** The ladder's rung it was (core/rungs.ts): for the answer and the log line only. */
  readonly rung: number;
  /** The region it was sent to (the cluster's, at the time). */
  readonly region: string;
  /** Its InstanceCount, for the budgets a re-send counts against. */
  readonly nodes: number;
  /** A delivery that sent it ended with an unknown outcome or died: it may have bought. */
  readonly mayHaveBought?: true;
}

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
  /**
   * Nodes that were being given back and were put back in service instead of being bought (for a
   * dry run: would be); `count` is what was asked of TKE for the rest.
   */
  readonly restored?: readonly string[];
}

export type IdempotencyRecord =
  | {
      readonly state: 'in-progress';
      readonly claimId: string;
      readonly fingerprint: RequestFingerprint;
      /** When the claim ends (the holder's deadline). */
      readonly expiresAt: number;
      /** The request this event last sent or is about to send, kept until `keptUntil`. */
      readonly sent?: SentRequest;
      readonly keptUntil?: number;
    }
  | {
      readonly state: 'completed';
      readonly fingerprint: RequestFingerprint;
      readonly answer: ScaleOutAnswer;
      readonly expiresAt: number;
    }
  | {
      /** No delivery holds the event; what it sent may have bought, and is kept for the redelivery. */
      readonly state: 'released';
      readonly fingerprint: RequestFingerprint;
      readonly sent: SentRequest;
      readonly expiresAt: number;
    };

export type DeliveryDecision =
  /** `resend`: what an earlier delivery sent and may have bought; send exactly it again. */
  | { readonly kind: 'proceed'; readonly resend?: SentRequest }
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
  const known = current !== undefined && recordExpiry(current) > now ? current : undefined;
  if (known !== undefined) {
    const differences = fingerprintDifferences(known.fingerprint, claim.fingerprint);
    if (differences.length > 0) return { write: { kind: 'keep' }, result: { kind: 'conflict', differences } };
    if (known.state === 'completed') return { write: { kind: 'keep' }, result: { kind: 'replay', answer: known.answer } };
    if (known.state === 'in-progress' && known.expiresAt > now) {
      return { write: { kind: 'keep' }, result: { kind: 'in-flight', retryAfterSeconds: Math.max(1, Math.ceil((known.expiresAt - now) / 1000)) } };
    }
  }
  // Released, or a claim whose holder died: a request it sent may have bought (a dead holder
  // cannot say otherwise), so the new claim carries it on and re-sends it.
  const resend = known?.state === 'in-progress' || known?.state === 'released' ? known.sent : undefined;
  const sent: SentRequest | undefined = resend === undefined ? undefined : { ...resend, mayHaveBought: true };
  const keptUntil = known !== undefined && sent !== undefined ? recordExpiry(known) : undefined;
  const record: IdempotencyRecord = {
    state: 'in-progress',
    claimId: claim.claimId,
    fingerprint: claim.fingerprint,
    expiresAt: claim.claimExpiresAt,
    ...(sent !== undefined && { sent, keptUntil }),
  };
  return {
    write: { kind: 'put', value: record, expiresAt: recordExpiry(record) },
    result: { kind: 'proceed', ...(sent !== undefined && { resend: sent }) },
  };
}

/**
 * Records the request about to be sent, BEFORE the call: whatever happens next (a crash, a lost
 * answer), the event's next delivery finds this exact request. Kept for `ttlMs` from now.
 * `lost`: the claim is no longer this delivery's (it expired and another took over): do not call.
 */
export function recordSent(current: IdempotencyRecord | undefined, claimId: string, sent: SentRequest, now: number, ttlMs: number): StoreStep<IdempotencyRecord, 'recorded' | 'lost'> {
  if (current?.state !== 'in-progress' || current.claimId !== claimId || current.expiresAt <= now) return { write: { kind: 'keep' }, result: 'lost' };
  // The same request sent again stays what it was (may have bought) and is kept until the ttl of its
  // first sending: a request that became invalid (its image deleted) is not re-sent forever.
  const same = current.sent?.clientToken === sent.clientToken;
  const kept: SentRequest = same && current.sent?.mayHaveBought === true ? { ...sent, mayHaveBought: true } : sent;
  const keptUntil = same && current.keptUntil !== undefined ? current.keptUntil : now + ttlMs;
  const record: IdempotencyRecord = { ...current, sent: kept, keptUntil };
  return { write: { kind: 'put', value: record, expiresAt: recordExpiry(record) }, result: 'recorded' };
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
 * The delivery ends without an answer to replay (refused, throttled, failed): drop our claim so
 * that a later delivery can run. Only our own claim: if it expired and another delivery claimed
 * the event since, that claim is theirs to settle. `unknown`: the request this delivery sent may
 * have bought; it is kept (released, for `ttlMs`) for the next delivery to re-send, as is one an
 * earlier delivery may have bought. Otherwise nothing sent can have bought, and the record goes.
 */
export function releaseClaim(
  current: IdempotencyRecord | undefined,
  claimId: string,
  outcome: 'refused' | 'unknown',
  now: number,
  ttlMs: number,
): StoreStep<IdempotencyRecord, void> {
  if (current?.state !== 'in-progress' || current.claimId !== claimId) return { write: { kind: 'keep' }, result: undefined };
  const sent = current.sent;
  if (sent === undefined || (outcome === 'refused' && sent.mayHaveBought !== true)) return { write: { kind: 'delete' }, result: undefined };
  const expiresAt = Math.max(current.keptUntil ?? now + ttlMs, current.expiresAt);
  return { write: { kind: 'put', value: { state: 'released', fingerprint: current.fingerprint, sent: { ...sent, mayHaveBought: true }, expiresAt }, expiresAt }, result: undefined };
}

/** When the store may forget the record: an in-progress claim with a sent request outlives the claim. */
function recordExpiry(record: IdempotencyRecord): number {
  return record.state === 'in-progress' && record.sent !== undefined ? Math.max(record.expiresAt, record.keptUntil ?? 0) : record.expiresAt;
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
