import type { ScaleOutAnswer } from '../../../src/core/idempotency';
import { outcomeText } from '../../../src/sources/chat/replies';
import type { ScaleOutOutcome } from '../../../src/sources/webhook-source';

/** A chat reply says in one line which rung was bought, at what price, and what was passed over. */
const request = { source: 'slack', eventId: 'e-1', cluster: 'demo-sh', template: 'burst', params: new Map() };
const answer: ScaleOutAnswer = { eventId: 'e-1', clusterId: 'cls-sh7k2m9q', template: 'burst', count: 2, clientToken: 'so2-abc', instanceIds: ['ins-1', 'ins-2'], requestId: 'req-1' };
const rung = { region: 'ap-shanghai', instanceType: 'S5.MEDIUM4', chargeType: 'SPOTPAID' };

describe('outcomeText with a ladder and a money budget', () => {
  it('says the rung bought, its price, and each rung passed over with why, on one line', () => {
    const outcome: ScaleOutOutcome = {
      ok: true,
      request,
      status: 'created',
      answer: {
        ...answer,
        bought: { rung: 2, ...rung, zone: 'ap-shanghai-4', outcome: 'bought', price: { amount: 0.16, kind: 'hourly', currency: 'CNY' } },
        skipped: [{ rung: 1, ...rung, zone: 'ap-shanghai-2', outcome: 'sold-out', code: 'ResourceInsufficient.SpecifiedInstanceType' }],
      },
    };
    const text = outcomeText(outcome);
    expect(text).toBe(
      'Requested 2 nodes on cls-sh7k2m9q with template burst: ins-1, ins-2 (TKE RequestId req-1). Bought rung 2 S5.MEDIUM4 in ap-shanghai-4 (SPOTPAID), 0.16 CNY/h; passed over rung 1 S5.MEDIUM4 in ap-shanghai-2 (SPOTPAID): sold out (ResourceInsufficient.SpecifiedInstanceType).',
    );
    expect(text).not.toContain('\n');
  });

  it('a dry run lists the ladder, prices, what would be skipped and what the budget leaves', () => {
    const outcome: ScaleOutOutcome = {
      ok: true,
      request,
      status: 'dry-run',
      preview: { ClusterId: 'cls-sh7k2m9q', RunInstancePara: '{}' },
      answer: {
        ...answer,
        instanceIds: [],
        requestId: '',
        plan: {
          rungs: [
            { rung: 1, ...rung, zone: 'ap-shanghai-2', clientToken: 't1', soldOutUntil: '2026-11-26T10:15:00.000Z', wouldSkip: 'sold-out-recently', price: { amount: 0.16, kind: 'hourly', currency: 'CNY' } },
            { rung: 2, ...rung, zone: 'ap-shanghai-4', clientToken: 't2', price: { amount: 0.16, kind: 'hourly', currency: 'CNY' } },
          ],
          budgetLeft: { currency: 'CNY', hourly: 11.84, prepaid: 2000 },
        },
      },
    };
    expect(outcomeText(outcome)).toContain(
      'Ladder: 1. S5.MEDIUM4 in ap-shanghai-2 (SPOTPAID), 0.16 CNY/h (would skip: sold-out-recently); 2. S5.MEDIUM4 in ap-shanghai-4 (SPOTPAID), 0.16 CNY/h. Budget left: 11.84 CNY/h, 2000.00 CNY prepaid.',
    );
  });
});

describe('outcomeText when nodes being given back are put back in service (issue 19)', () => {
  const restored: ScaleOutAnswer = { ...answer, count: 0, clientToken: '', instanceIds: [], requestId: '', restored: ['ins-7', 'ins-8'] };

  it('all of the count put back: says so, and that nothing was bought', () => {
    expect(outcomeText({ ok: true, request, status: 'restored', answer: restored })).toBe(
      'Put back in service 2 nodes being given back (ins-7, ins-8) on cls-sh7k2m9q instead of buying: they were being drained, and are schedulable again.',
    );
    expect(outcomeText({ ok: true, request, status: 'replayed', answer: restored })).toBe('Already done for this command: put back in service 2 nodes being given back (ins-7, ins-8) instead of buying.');
    expect(outcomeText({ ok: true, request, status: 'dry-run', answer: restored })).toBe('Dry run, nothing changed. Would put back in service 2 nodes being given back (ins-7, ins-8) instead of buying.');
  });

  it('some put back, the rest bought: both on one line', () => {
    const text = outcomeText({ ok: true, request, status: 'created', answer: { ...answer, count: 1, instanceIds: ['ins-1'], restored: ['ins-7'] } });
    expect(text).toBe('Requested 1 node on cls-sh7k2m9q with template burst: ins-1 (TKE RequestId req-1). Put back in service first: 1 node being given back (ins-7).');
  });
});
