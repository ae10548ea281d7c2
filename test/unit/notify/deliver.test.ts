import type { Notice } from '../../../src/core/notice';
import type { NotifyConfig } from '../../../src/config/schema';
import { drainOutbox, sendNotices, type NotifyDeps } from '../../../src/notify/deliver';
import { OUTBOX_INDEX_KEY, outboxEntriesOf, outboxKeyOf, type OutboxIndex } from '../../../src/notify/outbox';
import type { Delivery, Sink } from '../../../src/notify/sinks/sink';
import { readValue } from '../../../src/core/store-step';
import { StoreUnavailableError } from '../../../src/errors';
import { MemoryStore } from '../../../src/store/memory-store';
import type { StateStore } from '../../../src/store/state-store';

/**
 * Queueing and posting through a real memory store whose keys can be made to fail, with sinks of
 * the test's own: what a store failure, a bug, a repeat or a listing that lost its entry does.
 */
let clock = Date.UTC(2026, 11, 7, 3, 0, 0);
const now = () => clock;
const notify: NotifyConfig = { language: 'en', sinks: { team: { type: 'slack', urlEnv: 'X' } }, default: ['team'], clusters: {}, rules: {}, sendWithinMs: 800, retryForSeconds: 3600 };

/** A store whose updates of `failing` keys throw, `times` times. */
function flaky(store: StateStore, failing: Map<string, number>, thrown: () => Error = () => new StoreUnavailableError('redis is down')): StateStore {
  return {
    ...store,
    kind: store.kind,
    shared: store.shared,
    update(key, step) {
      const left = failing.get(key) ?? 0;
      if (left > 0) {
        failing.set(key, left - 1);
        return Promise.reject(thrown());
      }
      return store.update(key, step);
    },
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

function sink(outcomes: Array<Delivery | Error> = []): Sink & { posted: string[] } {
  const posted: string[] = [];
  return {
    name: 'team',
    type: 'slack',
    language: 'en',
    perPass: 30,
    posted,
    async deliver(n) {
      posted.push(n.id);
      const next = outcomes.shift() ?? { ok: true };
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

const heldBack = (window = 1): Notice => ({
  kind: 'held-back',
  id: `held-back:cls-1:node-budget:${window}`,
  at: clock,
  cluster: 'prod',
  clusterId: 'cls-1',
  region: 'ap-guangzhou',
  reason: 'node-budget',
  detail: 'node budget spent',
  template: 'small',
  why: { source: 'alertmanager', eventId: 'e' },
});

const listed = async (store: StateStore) => outboxEntriesOf(await store.update<OutboxIndex, OutboxIndex | undefined>(OUTBOX_INDEX_KEY, readValue)).map((e) => e.id);

describe('sendNotices and drainOutbox', () => {
  let memory: MemoryStore;
  beforeEach(() => {
    memory = new MemoryStore(now);
  });

  it('the same news a thousand times in one call (a group refused alike) is queued and posted once', async () => {
    const team = sink();
    const deps: NotifyDeps = { notify, store: memory, sinks: new Map([['team', team]]), now };
    const report = await sendNotices(deps, Array.from({ length: 1000 }, () => heldBack()), clock + 800, 'req');
    expect(team.posted).toEqual(['held-back:cls-1:node-budget:1']);
    expect(report.posts).toHaveLength(1);
    expect(report.known).toEqual([]);
  });

  it('a listing that failed is made again before the call ends: the pass still finds what was not posted', async () => {
    const failing = new Map([[OUTBOX_INDEX_KEY, 1]]);
    const deps: NotifyDeps = { notify, store: flaky(memory, failing), sinks: new Map([['team', sink([{ ok: false, retry: true, reason: 'HTTP 503' }])]]), now };
    const report = await sendNotices(deps, [heldBack()], clock + 800, 'req');
    expect(report.problems).toEqual([expect.stringContaining('the outbox list could not be updated')]);
    expect(await listed(memory)).toEqual(['held-back:cls-1:node-budget:1']);
  });

  it('a notice queued earlier whose listing was lost is listed again when the same news comes back', async () => {
    const deps: NotifyDeps = { notify, store: memory, sinks: new Map([['team', sink([{ ok: false, retry: true, reason: 'HTTP 503' }])]]), now };
    await sendNotices(deps, [heldBack()], clock + 800, 'req');
    await memory.update(OUTBOX_INDEX_KEY, () => ({ write: { kind: 'delete' }, result: undefined }));
    const again = await sendNotices(deps, [heldBack()], clock + 800, 'req-2');
    expect(again.known).toEqual(['held-back:cls-1:node-budget:1']);
    expect(await listed(memory)).toEqual(['held-back:cls-1:node-budget:1']);
  });

  it('a bug (a TypeError from the store or a sink) is said, never thrown: the scale-out and the pass go on', async () => {
    const failing = new Map([[outboxKeyOf('held-back:cls-1:node-budget:1'), 1]]);
    const deps: NotifyDeps = { notify, store: flaky(memory, failing, () => new TypeError('cannot read x of undefined')), sinks: new Map([['team', sink()]]), now };
    const report = await sendNotices(deps, [heldBack()], clock + 800, 'req');
    expect(report.problems).toEqual([expect.stringContaining('TypeError: cannot read x of undefined')]);
    const throwing = { notify, store: memory, sinks: new Map([['team', sink([new RangeError('sink bug')])]]), now } satisfies NotifyDeps;
    const told = await sendNotices(throwing, [heldBack(2)], clock + 800, 'req');
    expect(told.posts).toEqual([{ id: 'held-back:cls-1:node-budget:2', queued: true, sent: [], pending: ['team'] }]);
  });

  it('the pass: a listing whose entry never came is kept for a grace (it may be on its way), then dropped; one with nothing left is dropped at once', async () => {
    const team = sink();
    const deps: NotifyDeps = { notify, store: memory, sinks: new Map([['team', team]]), now };
    await memory.update<OutboxIndex, void>(OUTBOX_INDEX_KEY, () => ({ write: { kind: 'put', value: { entries: [{ id: 'ghost', nextAt: clock, expiresAt: clock + 3_600_000 }] }, expiresAt: clock + 86_400_000 }, result: undefined }));
    await drainOutbox(deps, clock + 10_000, 'pass-1');
    expect(await listed(memory)).toEqual(['ghost']);
    clock += 61_000;
    await drainOutbox(deps, clock + 10_000, 'pass-2');
    expect(await listed(memory)).toEqual([]);
    // Sent, but its listing came back (two instances' list writes in another order): dropped by the next pass.
    await sendNotices(deps, [heldBack(3)], clock + 800, 'req');
    await memory.update<OutboxIndex, void>(OUTBOX_INDEX_KEY, () => ({ write: { kind: 'put', value: { entries: [{ id: 'held-back:cls-1:node-budget:3', nextAt: clock, expiresAt: clock + 3_600_000 }] }, expiresAt: clock + 86_400_000 }, result: undefined }));
    await drainOutbox(deps, clock + 10_000, 'pass-3');
    expect(await listed(memory)).toEqual([]);
    expect(team.posted).toEqual(['held-back:cls-1:node-budget:3']);
  });
});
