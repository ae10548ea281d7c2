import { planCleanup, recordCleanup, refundOf } from '../../../src/core/cleanup';
import type { PurchaseRecord } from '../../../src/core/purchase';
import { PURCHASE_T0, purchaseRecord } from '../../support/purchase-record';

/**
 * What the function may delete of a failed purchase, and what that gives back. The marks are the
 * CVM tags the function writes (core/marks.ts); the charge types are CVM's InstanceChargeType
 * (cvm_models.d.ts Instance); "terminate（销毁实例，仅支持按量计费云主机实例）" is DeleteClusterInstances'
 * InstanceDeleteMode on Tencent's API page 457/31864.
 */
const T0 = PURCHASE_T0;
const record = (extra: Partial<PurchaseRecord> = {}): PurchaseRecord =>
  purchaseRecord({ id: 'p-00000000000000aa', count: 4, instanceIds: ['ins-1', 'ins-2', 'ins-3', 'ins-4'], state: 'failed', createdAt: T0, ...extra });
const ours = { 'tke-scaleout/owner': 'tke-scaleout', 'tke-scaleout/purchase': 'p-00000000000000aa' };

describe('cleaning up a failed purchase', () => {
  it('deletes only instances of its own record that carry both marks: terminate pay-as-you-go and spot, retain prepaid', () => {
    const cvm = new Map([
      ['ins-1', { chargeType: 'POSTPAID_BY_HOUR', tags: ours }],
      ['ins-2', { chargeType: 'PREPAID', tags: ours }],
      ['ins-3', { chargeType: 'SPOTPAID', tags: { ...ours, 'tke-scaleout/purchase': 'p-ffffffffffffffff' } }],
      ['ins-9', { chargeType: 'POSTPAID_BY_HOUR', tags: ours }],
    ]);
    const plan = planCleanup(record(), ['ins-1', 'ins-2', 'ins-3', 'ins-4', 'ins-9'], cvm);
    expect(plan).toEqual({ terminate: ['ins-1'], retain: ['ins-2'], settled: { 'ins-3': 'unmarked', 'ins-4': 'gone' } });
    // Another deployment's owner tag: not ours either.
    expect(planCleanup(record(), ['ins-1'], new Map([['ins-1', { chargeType: 'POSTPAID_BY_HOUR', tags: { ...ours, 'tke-scaleout/owner': 'other' } }]])).settled).toEqual({ 'ins-1': 'unmarked' });
  });

  it("records TKE's answer per instance; what failed (or the call) counts a failure, to be tried again", () => {
    const plan = { terminate: ['ins-1', 'ins-2', 'ins-3'], retain: ['ins-4'], settled: {} };
    const after = recordCleanup(record(), plan, [
      { mode: 'terminate', ids: ['ins-1', 'ins-2', 'ins-3'], result: { succeeded: ['ins-1'], failed: ['ins-2'], notFound: ['ins-3'] } },
      { mode: 'retain', ids: ['ins-4'], error: 'InternalError: try later' },
    ], T0 + 1);
    expect(after.instances).toEqual({
      'ins-1': { state: 'unknown', cleanup: 'terminated', cleanedAt: T0 + 1 },
      'ins-2': { state: 'unknown', cleanupFailures: 1, cleanupError: 'TKE listed it in FailedInstanceIds' },
      'ins-3': { state: 'unknown', cleanup: 'gone', cleanedAt: T0 + 1 },
      'ins-4': { state: 'unknown', cleanupFailures: 1, cleanupError: 'InternalError: try later' },
    });
    expect(recordCleanup(after, { terminate: [], retain: ['ins-4'], settled: {} }, [{ mode: 'retain', ids: ['ins-4'], error: 'x' }], T0 + 2).instances!['ins-4']).toMatchObject({ cleanupFailures: 2 });
  });

  it('gives back each cleaned node once; hourly money only for what is no longer billed (a removed prepaid one still is)', () => {
    const cleaned = record({
      price: { amount: 2, kind: 'hourly', currency: 'CNY' },
      instances: { 'ins-1': { state: 'failed', cleanup: 'terminated' }, 'ins-2': { state: 'failed', cleanup: 'removed' }, 'ins-3': { state: 'failed', cleanup: 'unmarked' }, 'ins-4': { state: 'running' } },
    });
    const first = refundOf(cleaned);
    expect(first).toMatchObject({ nodes: 2, money: 0.5 });
    expect(first.record.instances).toMatchObject({ 'ins-1': { givenBack: true }, 'ins-2': { givenBack: true } });
    expect(first.record.instances!['ins-3']).not.toHaveProperty('givenBack');
    expect(refundOf(first.record)).toMatchObject({ nodes: 0, money: 0 });
    // A prepaid price is spent whatever becomes of the instance.
    expect(refundOf({ ...cleaned, price: { amount: 500, kind: 'prepaid', currency: 'CNY' } })).toMatchObject({ nodes: 2, money: 0 });
  });
});
