import {
  completeDelivery,
  decideDelivery,
  releaseClaim,
  type IdempotencyRecord,
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
    expect(releaseClaim(inProgress, 'claim-A').write).toEqual({ kind: 'delete' });
    expect(releaseClaim(inProgress, 'claim-B').write).toEqual({ kind: 'keep' });
    expect(releaseClaim(completed, 'claim-A').write).toEqual({ kind: 'keep' });
    expect(releaseClaim(undefined, 'claim-A').write).toEqual({ kind: 'keep' });
  });
});
