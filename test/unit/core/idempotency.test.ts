import {
  completeDelivery,
  decideDelivery,
  recordSent,
  releaseClaim,
  type IdempotencyRecord,
  type SentRequest,
  type RequestFingerprint,
  type ScaleOutAnswer,
} from '../../../src/core/idempotency';

const fingerprint: RequestFingerprint = { clusterId: 'cls-e55paxnt', template: 'small', count: 2, params: [['zone', 'ap-guangzhou-4']] };
const answer: ScaleOutAnswer = {
  eventId: 'evt-1',
  clusterId: 'cls-e55paxnt',
  template: 'small',
  count: 2,
  clientToken: 'so1-x',
  instanceIds: ['ins-1', 'ins-2'],
  requestId: 'req-1',
};
const T0 = 1_700_000_000_000;
const claim = { claimId: 'claim-A', fingerprint, claimExpiresAt: T0 + 30_000 };
const inProgress: IdempotencyRecord = { state: 'in-progress', claimId: 'claim-A', fingerprint, expiresAt: T0 + 30_000 };
const completed: IdempotencyRecord = { state: 'completed', fingerprint, answer, expiresAt: T0 + 86_400_000 };

describe('decideDelivery', () => {
  it('claims a new event until the function deadline', () => {
    const step = decideDelivery(undefined, claim, T0);
    expect(step.result).toEqual({ kind: 'proceed' });
    expect(step.write).toEqual({ kind: 'put', value: inProgress, expiresAt: T0 + 30_000 });
  });

  it('answers 409-in-flight while another delivery holds the claim, with the time it has left', () => {
    const step = decideDelivery(inProgress, { ...claim, claimId: 'claim-B' }, T0 + 10_500);
    expect(step).toEqual({ write: { kind: 'keep' }, result: { kind: 'in-flight', retryAfterSeconds: 20 } });
  });

  it('replays a completed event without touching the record', () => {
    expect(decideDelivery(completed, claim, T0 + 60_000)).toEqual({ write: { kind: 'keep' }, result: { kind: 'replay', answer } });
  });

  it('takes over a claim whose holder must have died (past its deadline)', () => {
    const step = decideDelivery(inProgress, { ...claim, claimId: 'claim-B', claimExpiresAt: T0 + 70_000 }, T0 + 30_000);
    expect(step.result).toEqual({ kind: 'proceed' });
    expect(step.write).toMatchObject({ kind: 'put', value: { claimId: 'claim-B', state: 'in-progress' } });
  });

  it('forgets a completed event after its ttl', () => {
    expect(decideDelivery(completed, claim, T0 + 86_400_000).result).toEqual({ kind: 'proceed' });
  });

  it('names every difference when an event ID is reused for another request', () => {
    const other: RequestFingerprint = { clusterId: 'cls-nfjdk3n0', template: 'multi-disk', count: 3, params: [] };
    const step = decideDelivery(completed, { ...claim, fingerprint: other }, T0 + 1000);
    expect(step.write).toEqual({ kind: 'keep' });
    expect(step.result).toEqual({
      kind: 'conflict',
      differences: [
        'cluster was cls-e55paxnt, now cls-nfjdk3n0',
        'template was small, now multi-disk',
        'count was 2, now 3',
        'params were zone="ap-guangzhou-4", now none',
      ],
    });
  });
});

describe('completeDelivery and releaseClaim', () => {
  it('stores the answer for the ttl', () => {
    expect(completeDelivery(fingerprint, answer, T0, 1000).write).toEqual({ kind: 'put', value: { state: 'completed', fingerprint, answer, expiresAt: T0 + 1000 }, expiresAt: T0 + 1000 });
  });

  it('releases only its own claim', () => {
    expect(releaseClaim(inProgress, 'claim-A', 'refused', T0, 1000).write).toEqual({ kind: 'delete' });
    expect(releaseClaim(inProgress, 'claim-B', 'refused', T0, 1000).write).toEqual({ kind: 'keep' });
    expect(releaseClaim(completed, 'claim-A', 'refused', T0, 1000).write).toEqual({ kind: 'keep' });
    expect(releaseClaim(undefined, 'claim-A', 'refused', T0, 1000).write).toEqual({ kind: 'keep' });
  });
});

/**
 * The request as sent lives on the event's record, as long as the record (the idempotency ttl),
 * never on a structure with a shorter life: a redelivery long after the throttle window re-sends
 * exactly it (the throttle's grant, which held it before, was gone after one window).
 */
describe('the request as sent', () => {
  const TTL = 86_400_000;
  const sent: SentRequest = { clientToken: 'so2-abc', request: { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"ClientToken":"so2-abc"}' }, rung: 2, region: 'ap-guangzhou', nodes: 2 };
  const recorded = (recordSent(inProgress, 'claim-A', sent, T0 + 1000, TTL).write as { value: IdempotencyRecord; expiresAt: number });
  const value = (step: { write: unknown }) => (step.write as { value: IdempotencyRecord }).value;

  it('is recorded before the call, only by the claim holder, and kept for the ttl', () => {
    expect(recorded.value).toMatchObject({ state: 'in-progress', claimId: 'claim-A', sent, keptUntil: T0 + 1000 + TTL });
    expect(recorded.expiresAt).toBe(T0 + 1000 + TTL);
    expect(recordSent(inProgress, 'claim-B', sent, T0 + 1000, TTL)).toEqual({ write: { kind: 'keep' }, result: 'lost' });
    // A claim past its deadline is no longer the holder's: do not call.
    expect(recordSent(inProgress, 'claim-A', sent, T0 + 30_000, TTL).result).toBe('lost');
  });

  it('an unknown outcome: released with the request, which may have bought, for the ttl from its sending', () => {
    const released = releaseClaim(recorded.value, 'claim-A', 'unknown', T0 + 5000, TTL);
    expect(value(released)).toEqual({ state: 'released', fingerprint, sent: { ...sent, mayHaveBought: true }, expiresAt: T0 + 1000 + TTL });
    // A redelivery a day less a second later (long past any throttle window) re-sends exactly it.
    const again = decideDelivery(value(released), { ...claim, claimId: 'claim-C', claimExpiresAt: T0 + TTL }, T0 + TTL - 1000);
    expect(again.result).toEqual({ kind: 'proceed', resend: { ...sent, mayHaveBought: true } });
    expect(value(again)).toMatchObject({ state: 'in-progress', claimId: 'claim-C', sent: { clientToken: 'so2-abc' } });
    // ... and the record it writes still lasts as long as the request must be kept.
    expect((again.write as { expiresAt: number }).expiresAt).toBe(T0 + 1000 + TTL);
    // Sending it again does not make it last longer: a request that became invalid (its image
    // deleted) is not re-sent for ever while the alarm keeps firing.
    expect((recordSent(value(again), 'claim-C', sent, T0 + TTL - 500, TTL).write as { expiresAt: number }).expiresAt).toBe(T0 + 1000 + TTL);
  });

  it('a holder that died after recording: the next delivery re-sends it (a dead holder cannot say it bought nothing)', () => {
    const again = decideDelivery(recorded.value, { ...claim, claimId: 'claim-B', claimExpiresAt: T0 + 90_000 }, T0 + 60_000);
    expect(again.result).toEqual({ kind: 'proceed', resend: { ...sent, mayHaveBought: true } });
  });

  it('refused outright: nothing sent can have bought, the record goes and the next delivery renders afresh', () => {
    expect(releaseClaim(recorded.value, 'claim-A', 'refused', T0 + 5000, TTL).write).toEqual({ kind: 'delete' });
  });

  it('a re-send that is then refused (or throttled) keeps the request: its first sending may have bought', () => {
    const resent = value(decideDelivery(value(releaseClaim(recorded.value, 'claim-A', 'unknown', T0 + 5000, TTL)), { ...claim, claimId: 'claim-C', claimExpiresAt: T0 + 90_000 }, T0 + 60_000));
    const refusedAgain = releaseClaim(resent, 'claim-C', 'refused', T0 + 61_000, TTL);
    expect(value(refusedAgain)).toMatchObject({ state: 'released', sent: { clientToken: 'so2-abc', mayHaveBought: true } });
    // Recording it again before the call keeps the mark.
    expect(value(recordSent(resent, 'claim-C', sent, T0 + 61_000, TTL))).toMatchObject({ sent: { mayHaveBought: true } });
  });

  it('another request under the same event ID still conflicts, released or not', () => {
    const released = value(releaseClaim(recorded.value, 'claim-A', 'unknown', T0 + 5000, TTL));
    expect(decideDelivery(released, { ...claim, fingerprint: { ...fingerprint, count: 3 } }, T0 + 6000).result).toMatchObject({ kind: 'conflict' });
  });

  it('a completed event replays, whatever was sent before', () => {
    expect(decideDelivery(completed, claim, T0 + 1000).result).toMatchObject({ kind: 'replay' });
  });
});
