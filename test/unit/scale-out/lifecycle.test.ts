import type { Config } from '../../../src/config/load-config';
import type { ScaleOutRequest } from '../../../src/core/scale-out-request';
import { StoreUnavailableError, TkeCallError } from '../../../src/errors';
import { runScaleOut, type LifecycleDeps, type TracedOutcome } from '../../../src/scale-out/lifecycle';
import { MemoryStore } from '../../../src/store/memory-store';
import type { StateStore, StoreStep } from '../../../src/store/state-store';
import type { TkeApi } from '../../../src/tke/tke-api';
import { loadConfigFile } from '../../../src/config/load-config';
import { renderCreateClusterInstances } from '../../../src/core/render';
import { resolveScaleOut } from '../../../src/core/resolve';
import { decideDelivery, fingerprintOf, idempotencyKeyFor, recordSent, type IdempotencyRecord } from '../../../src/core/idempotency';
import { decideThrottle, type ThrottleState } from '../../../src/core/throttle';
import { exampleConfig, exampleConfigVariant, resolvedOf } from '../../support/fixtures';

/**
 * The lifecycle of one scale-out, failure path by failure path, with the memory store, a fake TKE
 * and a store that fails where a test says. Integration tests run the same paths through the real
 * handler, the SDK and the sandbox (test/integration/throttle.test.ts).
 */
type Play = { ok: string[] } | { code: string } | { lost: true };

/** A fake TKE playing scripted outcomes; `lost` is a request TKE acted on whose answer never came. */
function fakeTke(plays: Play[]): TkeApi & { calls: number; created: Set<string>; sent: string[] } {
  const byToken = new Map<string, string[]>();
  const fake = {
    endpointDescription: 'fake',
    calls: 0,
    created: new Set<string>(),
    sent: [] as string[],
    describeClusterNodeCount: async () => 0,
    describeClusterInstances: async () => [],
    deleteClusterInstances: async () => ({ succeeded: [], failed: [], notFound: [] }),
    async createClusterInstances(_region: string, request: { RunInstancePara: string }) {
      fake.calls++;
      fake.sent.push(request.RunInstancePara);
      const play = plays.shift() ?? { ok: ['ins-default'] };
      if ('code' in play) throw Object.assign(new Error(`tke says ${play.code}`), { code: play.code, requestId: `req-${fake.calls}` });
      const para = JSON.parse(request.RunInstancePara) as { ClientToken: string; InstanceCount: number };
      // CVM's ClientToken: one token, one purchase.
      const ids = byToken.get(para.ClientToken) ?? ('ok' in play ? play.ok : undefined) ?? Array.from({ length: para.InstanceCount }, (_, i) => `ins-${fake.calls}-${i}`);
      byToken.set(para.ClientToken, ids);
      ids.forEach((id) => fake.created.add(id));
      if ('lost' in play) throw new Error('socket hang up');
      return { InstanceIdSet: ids, RequestId: `req-${fake.calls}` };
    },
  };
  return fake;
}

/** The memory store, failing every update whose key matches `failOn` (and counting updates). */
class FailingStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly shared = false;
  failOn: ((key: string, n: number) => boolean) | undefined;
  updates = 0;
  constructor(private readonly inner: StateStore) {}
  async update<V, R>(key: string, step: (current: V | undefined) => StoreStep<V, R>): Promise<R> {
    this.updates++;
    if (this.failOn?.(key, this.updates) === true) throw new StoreUnavailableError('the state store (Redis) did not answer');
    return this.inner.update(key, step);
  }
  ping = async () => true;
  close = async () => undefined;
}

const T0 = Date.parse('2026-11-26T10:00:00Z');

function setup(plays: Play[], configure: (config: Config) => Config = (c) => c) {
  let clock = T0;
  const store = new FailingStore(new MemoryStore(() => clock));
  const tke = fakeTke(plays);
  let claims = 0;
  const deps: LifecycleDeps = {
    config: configure(exampleConfig()),
    store,
    tke,
    now: () => clock,
    newClaimId: () => `claim-${++claims}`,
  };
  const run = (eventId: string, count = 2, extra: Partial<ScaleOutRequest> = {}): Promise<TracedOutcome> =>
    runScaleOut(deps, { source: 'generic', eventId, cluster: 'demo', template: 'small', count, params: new Map(), ...extra }, { deadline: clock + 20_000, timeoutAt: clock + 25_000 });
  return { deps, store, tke, run, advance: (ms: number) => (clock += ms) };
}

/** Fast retries: the example's TKE policy with tiny backoff. */
const fastRetries = (config: Config): Config => ({ ...config, tke: { ...config.tke, baseDelayMs: 1, maxDelayMs: 2 } });

const failure = (outcome: TracedOutcome) => {
  if (outcome.ok) throw new Error(`expected a failure, got ${outcome.status}`);
  return outcome;
};

describe('one scale-out, step by step', () => {
  it('created: answers with the instances, records the answer, and a redelivery replays it without a call', async () => {
    const { run, tke } = setup([{ ok: ['ins-a', 'ins-b'] }]);
    const first = await run('e-1');
    expect(first).toMatchObject({ ok: true, status: 'created', answer: { instanceIds: ['ins-a', 'ins-b'], count: 2 } });
    expect(first.trace).toMatchObject({ settlement: 'created', attempts: 1, attemptOutcomes: [{ outcome: 'succeeded' }], clusterId: 'cls-e55paxnt' });
    const again = await run('e-1');
    expect(again).toMatchObject({ ok: true, status: 'replayed', answer: { instanceIds: ['ins-a', 'ins-b'] } });
    expect(tke.calls).toBe(1);
  });

  it('dry run: renders, touches neither the store nor TKE', async () => {
    const { run, tke, store } = setup([]);
    const outcome = await run('e-dry', 1, { dryRun: true });
    expect(outcome).toMatchObject({ ok: true, status: 'dry-run', preview: { ClusterId: 'cls-e55paxnt' } });
    expect(tke.calls).toBe(0);
    expect(store.updates).toBe(0);
  });

  it('unknown cluster: a 422 naming it, before any store write', async () => {
    const { run, store } = setup([]);
    const outcome = failure(await run('e-x', 1, { cluster: 'nope' }));
    expect(outcome.error).toMatchObject({ status: 422, code: 'UnknownCluster' });
    expect(store.updates).toBe(0);
  });

  it('throttled: names the rule, frees the claim, calls nothing', async () => {
    const { run, tke, advance } = setup([{ ok: ['ins-a'] }]);
    await run('e-1', 1);
    advance(1000);
    const held = failure(await run('e-2', 1));
    expect(held.error).toMatchObject({ status: 429, rule: 'cooldown' });
    expect(held.trace.throttledBy).toBe('cooldown');
    expect(tke.calls).toBe(1);
    // The claim was freed: after the cooldown the same event runs.
    advance(300_000);
    expect(await run('e-2', 1)).toMatchObject({ ok: true, status: 'created' });
  });

  it('refused on every attempt: nothing was created, the budget goes back and the cooldown does not start', async () => {
    // (A refusal that is not a sold-out: a sold-out is also remembered, test/unit/scale-out/ladder.test.ts.)
    const { run } = setup([{ code: 'InvalidParameter' }, { ok: ['ins-1', 'ins-2', 'ins-3', 'ins-4', 'ins-5'] }], fastRetries);
    const refused = failure(await run('e-sold-out', 5));
    expect(refused.error).toBeInstanceOf(TkeCallError);
    expect(refused.trace).toMatchObject({ settlement: 'refused', attemptOutcomes: [{ outcome: 'refused' }] });
    // Budget 20, cooldown 300 s: a new event right away gets its 5 nodes.
    expect(await run('e-next', 5)).toMatchObject({ ok: true, status: 'created' });
  });

  it('lost, then refused: the nodes may exist, so the grant stays counted and the cooldown starts', async () => {
    const { run, tke } = setup([{ lost: true }, { code: 'ResourceInsufficient.SpecifiedInstanceType' }], fastRetries);
    const outcome = failure(await run('e-lost', 5));
    expect(outcome.error).toMatchObject({ code: 'ResourceInsufficient.SpecifiedInstanceType', outcomeUnknown: true });
    expect(outcome.trace).toMatchObject({
      settlement: 'unknown',
      attempts: 2,
      attemptOutcomes: [{ outcome: 'unknown', code: 'network' }, { outcome: 'refused', code: 'ResourceInsufficient.SpecifiedInstanceType' }],
    });
    expect(tke.created.size).toBe(5);
    // A new event is held by the cooldown, as after a success.
    expect(failure(await run('e-new', 1)).error).toMatchObject({ rule: 'cooldown' });
    // The event's own redelivery goes on with its grant and the same ClientToken: the same 5 nodes.
    expect(await run('e-lost', 5)).toMatchObject({ ok: true, status: 'created' });
    expect(tke.created.size).toBe(5);
  });

  it('a grant that may exist is never given back, even when a later delivery of its event is refused', async () => {
    const { run, advance } = setup([{ lost: true }, { lost: true }, { lost: true }, { lost: true }, { code: 'FailedOperation.QuotaMaxNodLimit' }], fastRetries);
    expect(failure(await run('e-twice', 5)).trace.settlement).toBe('unknown');
    advance(1000);
    // The redelivery's only attempt is refused; that says nothing about the first delivery's, so
    // the re-send is settled as unknown too.
    expect(failure(await run('e-twice', 5)).trace.settlement).toBe('unknown');
    advance(301_000);
    // 20 - 5 = 15 left: three events of 5 fit, a fourth does not.
    for (const id of ['a', 'b', 'c']) {
      expect(await run(id, 5)).toMatchObject({ ok: true });
      advance(301_000);
    }
    expect(failure(await run('d', 5)).error).toMatchObject({ rule: 'node-budget' });
  });

  it('store down at the claim: a 503, and nothing reaches TKE', async () => {
    const { run, tke, store } = setup([]);
    store.failOn = () => true;
    expect(failure(await run('e-1')).error).toMatchObject({ status: 503, code: 'StoreUnavailable' });
    expect(tke.calls).toBe(0);
  });

  it('store down at the budget: a 503, the claim freed, nothing reaches TKE', async () => {
    const { run, tke, store } = setup([{ ok: ['ins-a'] }]);
    store.failOn = (key) => key.startsWith('throttle:');
    expect(failure(await run('e-1', 1)).error).toMatchObject({ status: 503 });
    expect(tke.calls).toBe(0);
    store.failOn = undefined;
    expect(await run('e-1', 1)).toMatchObject({ ok: true, status: 'created' });
  });

  it('store down after TKE created the nodes: answered created; the unsettled throttle is named in the trace', async () => {
    const { run, store } = setup([{ ok: ['ins-a'] }]);
    // Updates: 1 claim, 2 budget, 3 sold-out memory, 4 the request recorded, 5 and 6 the purchase
    // and its index; then the call.
    store.failOn = (key, n) => key.startsWith('throttle:') && n > 6;
    const outcome = await run('e-1', 1);
    expect(outcome).toMatchObject({ ok: true, status: 'created' });
    expect(outcome.trace.storeFailures).toEqual([expect.stringMatching(/throttle of throttle:\{cls-e55paxnt\} could not be settled.*StoreUnavailable/)]);
  });

  it('store down when the answer is to be recorded: the store 503, with the instances in the trace for the log', async () => {
    const { run, store, tke } = setup([{ ok: ['ins-a'] }, { ok: ['ins-a'] }]);
    // The first write to the event's record after the call: its answer.
    let failed = false;
    store.failOn = (key) => key.startsWith('event:') && tke.calls > 0 && !failed && (failed = true);
    const outcome = failure(await run('e-1', 1));
    expect(outcome.error).toMatchObject({ status: 503, code: 'StoreUnavailable' });
    // The nodes exist but the answer is not recorded: settled as a purchase that may exist, so the
    // budget keeps it and the re-send (same token) completes it.
    expect(outcome.trace).toMatchObject({ instanceIds: ['ins-a'], settlement: 'unknown' });
    expect(tke.created.size).toBe(1);
  });

  it('store down when a refused call is settled: TKE\'s answer still reaches the sender; what is left is named', async () => {
    const { run, store, tke } = setup([{ code: 'FailedOperation.QuotaMaxNodLimit' }]);
    store.failOn = () => tke.calls > 0;
    const outcome = failure(await run('e-1', 1));
    expect(outcome.error).toMatchObject({ code: 'FailedOperation.QuotaMaxNodLimit' });
    expect(outcome.trace.storeFailures).toEqual([
      expect.stringMatching(/the claim on event:\{generic:e-1\} could not be released: redeliveries get 409 until/),
      expect.stringMatching(/budget taken on throttle:\{cls-e55paxnt\} could not be given back/),
      expect.stringMatching(/purchase p-[0-9a-f]{16} .* was refused but could not be withdrawn/),
    ]);
  });

  // one ClientToken, one exact request. After an unknown outcome the redelivery
  // re-sends what was sent, byte for byte, even if the template changed in between; a delivery
  // whose request differs (clamped otherwise after a refusal) goes out with another token.
  it('re-sends the exact first request after an unknown outcome, even after the template changed', async () => {
    const { deps, run, tke } = setup([{ lost: true }, { lost: true }, { lost: true }, { lost: true }, { ok: ['ins-1', 'ins-2'] }], fastRetries);
    expect(failure(await run('e-1', 2)).trace.settlement).toBe('unknown');
    const changed = loadConfigFile(exampleConfigVariant((doc) => (doc.templates.small.runInstancePara.InstanceType = 'S5.LARGE8')));
    const redelivered = await runScaleOut({ ...deps, config: fastRetries(changed) }, { source: 'generic', eventId: 'e-1', cluster: 'demo', template: 'small', count: 2, params: new Map() }, { deadline: Date.now() + 20_000, timeoutAt: Date.now() + 25_000 });
    expect(redelivered).toMatchObject({ ok: true, status: 'created', trace: { resent: true } });
    expect(new Set(tke.sent).size).toBe(1);
    expect(JSON.parse(tke.sent[0]!).InstanceType).toBe('S3.SMALL1');
  });

  /**
   * A delivery that died after sending (its claim expired) leaves a request that may have bought.
   * Its re-send, refused by TKE, says nothing about the first sending: the grant stays counted for
   * good and the cooldown starts. (Before: the grant went back, and a new event bought again: 10
   * nodes against a budget of 5.)
   */
  it('a dead holder: the re-send, refused, keeps the grant counted and starts the cooldown', async () => {
    const { deps, store, run, advance, tke } = setup([{ code: 'LimitExceeded' }, { ok: ['ins-x'] }], (c) =>
      fastRetries({ ...c, clusters: new Map([...c.clusters].map(([k, v]) => [k, { ...v, throttle: { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 5 } }])) }),
    );
    const request: ScaleOutRequest = { source: 'generic', eventId: 'dead-1', cluster: 'demo', template: 'small', count: 5, params: new Map() };
    const resolved = resolvedOf(resolveScaleOut(deps.config, request));
    const rendered = renderCreateClusterInstances(resolved);
    const eventKey = idempotencyKeyFor('generic', 'dead-1');
    const now = T0;
    // What the dead delivery left: its claim with the request recorded, and its grant in flight.
    await store.update<IdempotencyRecord, unknown>(eventKey, (current) => decideDelivery(current, { claimId: 'dead', fingerprint: fingerprintOf(resolved), claimExpiresAt: now + 25_000 }, now));
    await store.update<IdempotencyRecord, unknown>(eventKey, (current) => recordSent(current, 'dead', { clientToken: rendered.clientToken, request: rendered.request, rung: 1, region: 'ap-guangzhou', nodes: 5 }, now, 86_400_000));
    await store.update<ThrottleState, unknown>('throttle:{cls-e55paxnt}', (current) => decideThrottle(current, { eventKey, claimId: 'dead', requested: 5, clampAllowed: false, inFlightUntil: now + 25_000 }, { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 5 }, now));
    advance(60_000);
    const resent = failure(await run('dead-1', 5));
    expect(resent.error).toMatchObject({ code: 'LimitExceeded' });
    expect(resent.trace).toMatchObject({ resent: true, settlement: 'unknown' });
    expect(JSON.parse(tke.sent[0]!).ClientToken).toBe(rendered.clientToken);
    // A new event is held back: the cooldown started, and the 5 nodes stay counted.
    const next = failure(await run('next-1', 1));
    expect(next.error).toMatchObject({ code: 'Throttled' });
    advance(301_000);
    expect(failure(await run('next-2', 1)).error).toMatchObject({ code: 'Throttled', rule: 'node-budget' });
    expect(tke.calls).toBe(1);
  });

  it('a grant stored by the previous version carries the request it sent: the redelivery re-sends exactly it', async () => {
    const { deps, store, run, tke } = setup([{ ok: ['ins-legacy'] }]);
    const request: ScaleOutRequest = { source: 'generic', eventId: 'legacy-1', cluster: 'demo', template: 'small', count: 2, params: new Map() };
    const rendered = renderCreateClusterInstances(resolvedOf(resolveScaleOut(deps.config, request)));
    // The previous version's grant: {nodes}, an unknown outcome, and the request on it (a deploy
    // then changed the template: rendering again would be another token).
    const oldRequest = { ...rendered.request, RunInstancePara: rendered.request.RunInstancePara.replace('S3.SMALL1', 'S3.OLDTYPE') };
    const legacy = { grants: [{ eventKey: idempotencyKeyFor('generic', 'legacy-1'), claimId: 'old', nodes: 2, at: T0 - 1000, state: 'done', inFlightUntil: T0 - 500, mayExist: true, sent: { clientToken: 'so2-legacy', request: oldRequest, rung: 1 } }], lastScaleOutAt: T0 - 500 };
    await store.update<unknown, void>('throttle:{cls-e55paxnt}', () => ({ write: { kind: 'put', value: legacy, expiresAt: T0 + 3_600_000 }, result: undefined }));
    const outcome = await run('legacy-1', 2);
    expect(outcome).toMatchObject({ ok: true, status: 'created', trace: { resent: true } });
    expect(tke.sent).toEqual([oldRequest.RunInstancePara]);
  });

  it('sends another token with another request of the same event (refused, then clamped otherwise)', async () => {
    const { run, tke } = setup([{ code: 'InvalidParameter' }, { ok: ['ins-1'] }], (c) => fastRetries(c));
    expect(failure(await run('e-2', 3)).trace.settlement).toBe('refused');
    expect(await run('e-2', 3)).toMatchObject({ ok: true });
    const [first, second] = tke.sent.map((p) => JSON.parse(p) as { ClientToken: string; InstanceCount: number });
    // Same request, same token: the refusal changed nothing.
    expect(first!.ClientToken).toBe(second!.ClientToken);
    const { request } = renderCreateClusterInstances(resolvedOf(resolveScaleOut(exampleConfig(), { source: 'generic', eventId: 'e-2', cluster: 'demo', template: 'small', count: 2, params: new Map() })));
    expect(JSON.parse(request.RunInstancePara).ClientToken).not.toBe(first!.ClientToken);
  });
});
