import {
  decideThrottle,
  resizeGrant,
  settleThrottle,
  type Grant,
  type ThrottleAsk,
  type ThrottleRules,
  type ThrottleState,
} from '../../../src/core/throttle';

const T0 = 1_700_000_000_000;
const rules: ThrottleRules = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 };
const ask = (overrides: Partial<ThrottleAsk> = {}): ThrottleAsk => ({
  eventKey: 'event:generic:e1',
  claimId: 'c1',
  requested: 3,
  clampAllowed: false,
  inFlightUntil: T0 + 30_000,
  ...overrides,
});
const done = (eventKey: string, nodes: number, at: number): Grant => ({ eventKey, claimId: 'x', kind: 'nodes', amount: nodes, at, state: 'done', inFlightUntil: at + 30_000 });

describe('decideThrottle', () => {
  it('grants a first scale-out and records it as in flight until the holder deadline', () => {
    const step = decideThrottle(undefined, ask(), rules, T0);
    // `at`: the slice of the window the grant counts in, which a cleanup gives its nodes back to.
    expect(step.result).toEqual({ kind: 'granted', nodes: 3, at: T0 });
    expect(step.write).toMatchObject({
      kind: 'put',
      value: { grants: [{ eventKey: 'event:generic:e1', claimId: 'c1', kind: 'nodes', amount: 3, at: T0, state: 'in-flight', inFlightUntil: T0 + 30_000 }] },
    });
    // Kept as long as its window lasts.
    expect((step.write as { expiresAt: number }).expiresAt).toBe(T0 + 3_600_000);
  });

  it('holds a second event while one is in flight, until the holder deadline', () => {
    const state = (decideThrottle(undefined, ask(), rules, T0).write as { value: ThrottleState }).value;
    const step = decideThrottle(state, ask({ eventKey: 'event:generic:e2', claimId: 'c2' }), rules, T0 + 1000);
    expect(step.write).toEqual({ kind: 'keep' });
    expect(step.result).toMatchObject({ kind: 'throttled', rule: 'in-flight', retryAt: T0 + 30_000 });
  });

  it('holds everything for the cooldown after a success', () => {
    const state: ThrottleState = { lastScaleOutAt: T0, grants: [done('event:generic:e1', 3, T0)] };
    expect(decideThrottle(state, ask({ eventKey: 'e2' }), rules, T0 + 299_999).result).toMatchObject({ kind: 'throttled', rule: 'cooldown', retryAt: T0 + 300_000 });
    expect(decideThrottle(state, ask({ eventKey: 'e2' }), rules, T0 + 300_000).result).toMatchObject({ kind: 'granted', nodes: 3 });
  });

  it('never grants more than the window budget, and says when the budget frees up', () => {
    const state: ThrottleState = { grants: [done('a', 8, T0), done('b', 10, T0 + 600_000)] };
    const now = T0 + 1_200_000;
    expect(decideThrottle(state, ask({ requested: 2 }), rules, now).result).toMatchObject({ kind: 'granted', nodes: 2 });
    // 3 asked, 2 left: refused until the 8-node grant leaves the window.
    expect(decideThrottle(state, ask({ requested: 3 }), rules, now).result).toMatchObject({ kind: 'throttled', rule: 'node-budget', retryAt: T0 + 3_600_000 });
  });

  it('clamps to what the budget leaves when the template allows it', () => {
    const state: ThrottleState = { grants: [done('a', 18, T0)] };
    expect(decideThrottle(state, ask({ requested: 5, clampAllowed: true }), rules, T0 + 1000).result).toMatchObject({ kind: 'granted', nodes: 2, clampedBy: 'node-budget' });
    const full: ThrottleState = { grants: [done('a', 20, T0)] };
    expect(decideThrottle(full, ask({ requested: 5, clampAllowed: true }), rules, T0 + 1000).result).toMatchObject({ kind: 'throttled', rule: 'node-budget' });
  });

  it('refuses outright (not a 429 to retry) what no wait can fit: more nodes than a whole window allows', () => {
    // Before the shared ledger this was a 429 with retryAt at the epoch: Retry-After 1, forever.
    const step = decideThrottle(undefined, ask({ requested: 21 }), rules, T0);
    expect(step.write).toEqual({ kind: 'keep' });
    expect(step.result).toMatchObject({ kind: 'beyond-limit', rule: 'node-budget' });
    // Even with grants in the window that would leave it some day.
    expect(decideThrottle({ grants: [done('a', 5, T0)] }, ask({ requested: 21 }), rules, T0 + 1000).result).toMatchObject({ kind: 'beyond-limit' });
    // Clamping templates take what is left instead.
    expect(decideThrottle(undefined, ask({ requested: 21, clampAllowed: true }), rules, T0).result).toMatchObject({ kind: 'granted', nodes: 20, clampedBy: 'node-budget' });
  });

  it('refuses outright a count above the cluster ceiling itself; above what is left of it, a retry after the cooldown', () => {
    const ceiling = { ...rules, maxClusterNodes: 10 };
    expect(decideThrottle(undefined, ask({ requested: 11, clusterNodes: 0 }), ceiling, T0).result).toMatchObject({ kind: 'beyond-limit', rule: 'cluster-ceiling' });
    expect(decideThrottle(undefined, ask({ requested: 3, clusterNodes: 9 }), ceiling, T0).result).toMatchObject({ kind: 'throttled', rule: 'cluster-ceiling', retryAt: T0 + 300_000 });
    // A template that clamps asks for more than the ceiling: at the ceiling it waits (429), it is not refused for good.
    expect(decideThrottle(undefined, ask({ requested: 12, clusterNodes: 10, clampAllowed: true }), ceiling, T0).result).toMatchObject({ kind: 'throttled', rule: 'cluster-ceiling' });
    expect(decideThrottle(undefined, ask({ requested: 12, clusterNodes: 9, clampAllowed: true }), ceiling, T0).result).toMatchObject({ kind: 'granted', nodes: 1, clampedBy: 'cluster-ceiling' });
  });

  it('says when the budget frees, counting an in-flight grant until its holder deadline even past its window', () => {
    const inFlight: ThrottleState = { grants: [{ eventKey: 'a', claimId: 'x', kind: 'nodes', amount: 18, at: T0, state: 'in-flight', inFlightUntil: T0 + 4_000_000 }] };
    expect(decideThrottle(inFlight, ask({ eventKey: 'b', requested: 5 }), { ...rules, cooldownSeconds: 0 }, T0 + 3_700_000).result).toMatchObject({ kind: 'throttled', rule: 'in-flight', retryAt: T0 + 4_000_000 });
  });

  it('reads a state stored before nodes and money shared one ledger ({nodes} grants and slices)', () => {
    const legacy = { grants: [{ eventKey: 'a', claimId: 'x', nodes: 8, at: T0, state: 'done', inFlightUntil: T0 + 30_000 }], spent: [{ from: T0, nodes: 10 }] } as unknown as ThrottleState;
    expect(decideThrottle(legacy, ask({ requested: 3 }), rules, T0 + 1000).result).toMatchObject({ kind: 'throttled', rule: 'node-budget' });
    expect(decideThrottle(legacy, ask({ requested: 2 }), rules, T0 + 1000).result).toMatchObject({ kind: 'granted', nodes: 2 });
  });

  it('forgets grants older than the window', () => {
    const state: ThrottleState = { grants: [done('a', 20, T0)] };
    expect(decideThrottle(state, ask(), rules, T0 + 3_600_000).result).toMatchObject({ kind: 'granted', nodes: 3 });
  });

  it('keeps the cluster under its ceiling, clamping when allowed', () => {
    const ceiling = { ...rules, maxClusterNodes: 10 };
    expect(decideThrottle(undefined, ask({ requested: 3, clusterNodes: 7 }), ceiling, T0).result).toMatchObject({ kind: 'granted', nodes: 3 });
    expect(decideThrottle(undefined, ask({ requested: 3, clusterNodes: 8 }), ceiling, T0).result).toMatchObject({ kind: 'throttled', rule: 'cluster-ceiling' });
    expect(decideThrottle(undefined, ask({ requested: 3, clusterNodes: 8, clampAllowed: true }), ceiling, T0).result).toMatchObject({ kind: 'granted', nodes: 2, clampedBy: 'cluster-ceiling' });
    expect(decideThrottle(undefined, ask({ requested: 3, clusterNodes: 10, clampAllowed: true }), ceiling, T0).result).toMatchObject({ kind: 'throttled', rule: 'cluster-ceiling' });
  });

  it('lets the redelivery of an event whose holder died go on with its own grant', () => {
    // e1 was granted 3 nodes, its instance crashed; its in-flight mark has expired.
    const state: ThrottleState = { grants: [{ eventKey: 'event:generic:e1', claimId: 'dead', kind: 'nodes', amount: 3, at: T0, state: 'in-flight', inFlightUntil: T0 + 30_000 }] };
    const step = decideThrottle(state, ask({ claimId: 'c2', requested: 3, inFlightUntil: T0 + 90_000 }), rules, T0 + 60_000);
    // Its grant's first time, not now.
    expect(step.result).toEqual({ kind: 'granted', nodes: 3, at: T0 });
    const grants = (step.write as { value: ThrottleState }).value.grants;
    expect(grants).toHaveLength(1); // not counted twice
    expect(grants[0]).toMatchObject({ claimId: 'c2', state: 'in-flight' });
  });
});

describe('settling a grant', () => {
  const granted = (decideThrottle(undefined, ask(), rules, T0).write as { value: ThrottleState }).value;

  it('on success: done (its nodes move to the spent slice of the time it was granted), and the cooldown starts', () => {
    const next = (settleThrottle(granted, 'event:generic:e1', 'c1', 'created', rules, T0 + 5000).write as { value: ThrottleState }).value;
    expect(next.lastScaleOutAt).toBe(T0 + 5000);
    expect(next.grants).toEqual([]);
    expect(next.spent).toEqual([{ from: Math.floor(T0 / 60_000) * 60_000, kind: 'nodes', amount: 3 }]);
  });


  it('on a refusal from TKE: the budget goes back', () => {
    const next = (settleThrottle(granted, 'event:generic:e1', 'c1', 'refused', rules, T0 + 5000).write as { value: ThrottleState }).value;
    expect(next.grants).toEqual([]);
    expect(next.lastScaleOutAt).toBeUndefined();
  });

  it('on an unknown outcome: the nodes stay counted, no longer in flight', () => {
    const next = (settleThrottle(granted, 'event:generic:e1', 'c1', 'unknown', rules, T0 + 5000).write as { value: ThrottleState }).value;
    expect(next.grants).toMatchObject([{ amount: 3, state: 'done', mayExist: true }]);
    // The cooldown starts: these nodes may be joining.
    expect(next.lastScaleOutAt).toBe(T0 + 5000);
  });

  it('a money budget lowered the count: the grant counts what is asked; a lost grant says so', () => {
    const resized = resizeGrant(granted, 'event:generic:e1', 'c1', 1, rules, T0 + 1000);
    expect(resized.result).toBe('resized');
    expect((resized.write as { value: ThrottleState }).value.grants).toMatchObject([{ amount: 1 }]);
    expect(resizeGrant(granted, 'event:generic:e1', 'other', 1, rules, T0 + 1000)).toEqual({ write: { kind: 'keep' }, result: 'lost' });
  });

  it('leaves another claim alone', () => {
    expect(settleThrottle(granted, 'event:generic:e1', 'other', 'refused', rules, T0).write).toEqual({ kind: 'keep' });
  });
});

// A decision's cost must not grow with the scale-outs in the window. Settled successes
// are summed per slice (1/60 of the window), so the state holds at most ~61 slices plus the grants
// that may still be looked up (in flight, unknown outcome).
describe('bounded accounting', () => {
  const fast = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 100_000 };
  it('keeps the state bounded over thousands of scale-outs, and the budget exact', () => {
    let state: ThrottleState | undefined;
    for (let i = 0; i < 5000; i++) {
      const now = T0 + i * 500;
      const granted = decideThrottle(state, ask({ eventKey: `e${i}`, claimId: `c${i}`, requested: 2, inFlightUntil: now + 1000 }), fast, now);
      expect(granted.result).toMatchObject({ kind: 'granted', nodes: 2 });
      state = (granted.write as { value: ThrottleState }).value;
      state = (settleThrottle(state, `e${i}`, `c${i}`, 'created', fast, now + 100).write as { value: ThrottleState }).value;
    }
    expect(state!.grants).toHaveLength(0);
    expect(state!.spent!.length).toBeLessThanOrEqual(61);
    // 5000 × 2 nodes over 2500 s, all still in the hour's window: 10,000 counted.
    const tight = { ...fast, maxNodesPerWindow: 10_001 };
    expect(decideThrottle(state, ask({ eventKey: 'x', requested: 2 }), tight, T0 + 2_500_000).result).toMatchObject({ kind: 'throttled', rule: 'node-budget' });
    expect(decideThrottle(state, ask({ eventKey: 'x', requested: 1 }), tight, T0 + 2_500_000).result).toMatchObject({ kind: 'granted', nodes: 1 });
  });

  it('counts a slice until its end leaves the window, never less than the exact grant would', () => {
    const granted = (decideThrottle(undefined, ask({ requested: 20 }), rules, T0 + 59_000).write as { value: ThrottleState }).value;
    const settled = (settleThrottle(granted, 'event:generic:e1', 'c1', 'created', rules, T0 + 60_000).write as { value: ThrottleState }).value;
    const exactExpiry = T0 + 59_000 + 3_600_000;
    const stillFull = decideThrottle(settled, ask({ eventKey: 'e2', requested: 1 }), rules, exactExpiry - 1).result;
    expect(stillFull).toMatchObject({ kind: 'throttled', rule: 'node-budget' });
    expect((stillFull as { retryAt: number }).retryAt).toBeGreaterThanOrEqual(exactExpiry);
  });
});
