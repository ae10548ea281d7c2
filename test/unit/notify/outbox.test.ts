import { claimDeliveries, indexOutbox, MAX_OUTBOX_ENTRIES, outboxEntriesOf, queueNotice, retryDelayMs, settleDeliveries, type OutboxEntry, type OutboxIndex } from '../../../src/notify/outbox';
import type { Notice } from '../../../src/core/notice';

/** The outbox's steps: queued once, claimed by one poster at a time, settled with back-off, expired. */
const T0 = Date.UTC(2026, 11, 7, 3, 0, 0);
const HOUR = 3_600_000;
const notice: Notice = {
  kind: 'held-back',
  id: 'held-back:cls-1:node-budget:100',
  at: T0,
  cluster: 'prod',
  clusterId: 'cls-1',
  region: 'ap-guangzhou',
  reason: 'node-budget',
  detail: 'node budget: 20 of 20 nodes used',
  template: 'small',
  why: { source: 'alertmanager', eventId: 'e1' },
};
const put = <V>(step: { write: unknown }): V => {
  const w = step.write as { kind: string; value: V };
  if (w.kind !== 'put') throw new Error(`expected a put, got ${w.kind}`);
  return w.value;
};

describe('queueNotice', () => {
  it('queues a notice once: the same news queued again (a redelivery, another instance) changes nothing', () => {
    const first = queueNotice(undefined, notice, ['slack', 'wecom'], T0, 6 * HOUR);
    expect(first.result).toEqual({ outcome: 'queued', summary: { nextAt: T0, expiresAt: T0 + 6 * HOUR } });
    const entry = put<OutboxEntry>(first);
    expect(entry.deliveries).toEqual({ slack: { state: 'pending', attempts: 0, nextAt: T0 }, wecom: { state: 'pending', attempts: 0, nextAt: T0 } });
    const again = queueNotice(entry, { ...notice, detail: 'other words' }, ['slack'], T0 + 1000, 6 * HOUR);
    // What it holds says what is left to post: a listing lost since is made again from it.
    expect(again).toEqual({ write: { kind: 'keep' }, result: { outcome: 'exists', summary: { nextAt: T0, expiresAt: T0 + 6 * HOUR } } });
  });
});

describe('claimDeliveries and settleDeliveries', () => {
  const queued = put<OutboxEntry>(queueNotice(undefined, notice, ['slack', 'wecom'], T0, 6 * HOUR));

  it('two posters at once: the second finds nothing to claim while the first holds it', () => {
    const a = claimDeliveries(queued, ['slack', 'wecom'], 'a', T0 + 5000, T0);
    expect(a.result).toMatchObject({ kind: 'claimed', sinks: ['slack', 'wecom'] });
    const b = claimDeliveries(put<OutboxEntry>(a), ['slack', 'wecom'], 'b', T0 + 5000, T0 + 1);
    expect(b.result).toEqual({ kind: 'nothing', summary: { nextAt: T0, expiresAt: T0 + 6 * HOUR } });
  });

  it('a claim that lapsed (its poster died) is taken again, and the dead poster cannot settle it any more', () => {
    const a = put<OutboxEntry>(claimDeliveries(queued, ['slack'], 'a', T0 + 5000, T0));
    const b = put<OutboxEntry>(claimDeliveries(a, ['slack'], 'b', T0 + 20_000, T0 + 6000));
    const late = settleDeliveries(b, [{ sink: 'slack', delivery: { ok: true } }], 'a', T0 + 7000);
    expect(put<OutboxEntry>(late).deliveries.slack).toMatchObject({ state: 'pending', claim: { by: 'b' } });
  });

  it('sent; retried with back-off (30 s doubling, at most 15 min, never before Retry-After); refused for good', () => {
    const claimed = put<OutboxEntry>(claimDeliveries(queued, ['slack', 'wecom'], 'a', T0 + 5000, T0));
    const settled = settleDeliveries(claimed, [
      { sink: 'slack', delivery: { ok: false, retry: true, reason: 'HTTP 429', retryAfterMs: 90_000 } },
      { sink: 'wecom', delivery: { ok: true } },
    ], 'a', T0 + 100);
    const entry = put<OutboxEntry>(settled);
    expect(entry.deliveries.wecom).toMatchObject({ state: 'sent', attempts: 1, sentAt: T0 + 100 });
    expect(entry.deliveries.slack).toEqual({ state: 'pending', attempts: 1, nextAt: T0 + 100 + 90_000, lastError: 'HTTP 429' });
    expect(settled.result).toEqual({ nextAt: T0 + 100 + 90_000, expiresAt: T0 + 6 * HOUR });
    // Not due yet: nothing to claim.
    expect(claimDeliveries(entry, ['slack'], 'p', T0 + 60_000, T0 + 50_000).result).toEqual({ kind: 'nothing', summary: { nextAt: T0 + 100 + 90_000, expiresAt: T0 + 6 * HOUR } });
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => retryDelayMs(n) / 1000)).toEqual([30, 60, 120, 240, 480, 900, 900]);
    const refused = settleDeliveries(put<OutboxEntry>(claimDeliveries(entry, ['slack'], 'p', T0 + 100_000, T0 + 95_000)), [{ sink: 'slack', delivery: { ok: false, retry: false, reason: 'HTTP 404 channel_not_found' } }], 'p', T0 + 96_000);
    expect(put<OutboxEntry>(refused).deliveries.slack).toMatchObject({ state: 'undelivered', lastError: 'HTTP 404 channel_not_found' });
    expect(refused.result).toEqual({ expiresAt: T0 + 6 * HOUR });
  });

  it('expires: what was not delivered in `retryForSeconds` is given up, once, with its last error', () => {
    const failing = put<OutboxEntry>(settleDeliveries(put<OutboxEntry>(claimDeliveries(queued, ['slack'], 'a', T0 + 5000, T0)), [{ sink: 'slack', delivery: { ok: false, retry: true, reason: 'HTTP 503' } }], 'a', T0 + 10));
    const expired = claimDeliveries(failing, ['slack', 'wecom'], 'p', T0 + 7 * HOUR, T0 + 6 * HOUR);
    expect(expired.result).toEqual({ kind: 'expired', notice, undelivered: [{ sink: 'slack', attempts: 1, lastError: 'HTTP 503' }, { sink: 'wecom', attempts: 0 }] });
    expect(claimDeliveries(put<OutboxEntry>(expired), ['slack'], 'q', T0 + 7 * HOUR, T0 + 6 * HOUR + 1).result).toEqual({ kind: 'nothing', summary: { expiresAt: T0 + 6 * HOUR } });
  });

  it('a notice whose entry expired from the store is gone', () => {
    expect(claimDeliveries(undefined, ['slack'], 'a', T0, T0).result).toEqual({ kind: 'gone' });
  });
});

describe('the outbox index', () => {
  it('lists a pending notice, moves its next try, and drops it once nothing is pending', () => {
    const listed = put<OutboxIndex>(indexOutbox(undefined, [{ id: 'n1', summary: { nextAt: T0, expiresAt: T0 + HOUR } }], T0));
    expect(outboxEntriesOf(listed)).toEqual([{ id: 'n1', nextAt: T0, expiresAt: T0 + HOUR }]);
    const moved = put<OutboxIndex>(indexOutbox(listed, [{ id: 'n1', summary: { nextAt: T0 + 30_000, expiresAt: T0 + HOUR } }], T0));
    expect(outboxEntriesOf(moved)).toEqual([{ id: 'n1', nextAt: T0 + 30_000, expiresAt: T0 + HOUR }]);
    expect(indexOutbox(moved, [{ id: 'n1', summary: { expiresAt: T0 + HOUR } }], T0).write).toEqual({ kind: 'delete' });
  });

  it('lists many in one step, and a held-back notice is kept until its window ends', () => {
    const both = put<OutboxIndex>(indexOutbox(undefined, [{ id: 'a', summary: { nextAt: T0, expiresAt: T0 + HOUR } }, { id: 'b', summary: { nextAt: T0 + 1, expiresAt: T0 + HOUR } }], T0));
    expect(outboxEntriesOf(both).map((e) => e.id)).toEqual(['a', 'b']);
    const windowEnd = T0 + 7 * 86_400_000;
    const step = queueNotice(undefined, notice, ['slack'], T0, HOUR, windowEnd);
    expect((step.write as { expiresAt: number }).expiresAt).toBe(windowEnd);
  });

  it('is bounded: past the bound the least recently listed go, and are returned to be logged', () => {
    let index: OutboxIndex | undefined;
    for (let i = 0; i < MAX_OUTBOX_ENTRIES; i++) index = put<OutboxIndex>(indexOutbox(index, [{ id: `n${i}`, summary: { nextAt: T0, expiresAt: T0 + HOUR } }], T0));
    const over = indexOutbox(index, [{ id: 'newest', summary: { nextAt: T0, expiresAt: T0 + HOUR } }], T0);
    expect(over.result).toEqual(['n0']);
    expect(outboxEntriesOf(put<OutboxIndex>(over))).toHaveLength(MAX_OUTBOX_ENTRIES);
  });

  it('ignores entries a newer or older version wrote that it cannot read', () => {
    expect(outboxEntriesOf({ entries: [{ id: 'ok', nextAt: 1, expiresAt: 2 }, { id: 3 }, null] } as unknown as OutboxIndex)).toEqual([{ id: 'ok', nextAt: 1, expiresAt: 2 }]);
  });
});
