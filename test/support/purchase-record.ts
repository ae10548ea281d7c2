import type { PurchaseRecord } from '../../src/core/purchase';

/** When the test purchases were requested. */
export const PURCHASE_T0 = Date.parse('2026-12-06T10:00:00Z');

/** A purchase's record for unit tests of core/: one node pool's worth of defaults, `extra` on top. */
export function purchaseRecord(extra: Partial<PurchaseRecord> = {}): PurchaseRecord {
  return {
    id: 'p-0123456789abcdef',
    owner: 'tke-scaleout',
    cluster: 'demo',
    clusterId: 'cls-e55paxnt',
    region: 'ap-guangzhou',
    template: 'small',
    rung: 1,
    offering: { region: 'ap-guangzhou', zone: 'ap-guangzhou-4', instanceType: 'S3.SMALL1', chargeType: 'POSTPAID_BY_HOUR' },
    count: 2,
    clientToken: 'so2-abc',
    request: { ClusterId: 'cls-e55paxnt', RunInstancePara: '{}' },
    instanceIds: [],
    askedBy: { source: 'generic', eventId: 'e-1' },
    state: 'requested',
    requestedAt: PURCHASE_T0,
    ...extra,
  };
}
