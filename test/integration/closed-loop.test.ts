import { HIGH_RULE, runClosedLoop, WORKLOAD, type ClosedLoopResult } from '../support/closed-loop';

/**
 * The closed loop (issue 19, test/support/closed-loop.ts): ten simulated hours of demand (at rest,
 * rising, a plateau, falling, at rest again, ±5 % noise) as pods in the Kubernetes API stand-in, an
 * alert evaluator of our own playing Prometheus (`for:` 3 m above 80 %, 10 m below 40 % CPU
 * requested) and Alertmanager (group_wait 30 s, group_interval 1 m, send_resolved), the real handler
 * and its timer pass every simulated minute, nodes joining in the TKE sandbox after 3 minutes. Run
 * twice: without the low rule (the function only buys) and with it (it gives back too).
 *
 * The bounds, and why:
 *  - closer to the need: what scale-in can take away is only what stays bought after the fall. The
 *    rules keep a margin in both runs: on the plateau the high rule holds utilisation under 80 %,
 *    so about 1/0.8 of the need is bought, and on the fall nodes go only once utilisation has stayed
 *    under 40 % for 10 minutes. So the bound is on the excess (bought − needed): with scale-in at
 *    most half of what it is without (measured: 0.36 to 0.41 over seeds 1, 2, 3 and 19), and
 *    every node bought given back once demand is at rest again.
 *  - the shortfall does not grow: a node goes only after the low alarm held 10 minutes and while the
 *    rest stays under 70 % requested (the guard), so its pods always find room. Tolerance: 0.05
 *    core-hours (six pod-minutes of 500m), for a replacement pod that might wait a pass.
 *  - no flapping: with noise inside the band between the two thresholds, no purchase within 15
 *    minutes after a release started, and no release within 15 minutes after a purchase.
 */
let off: ClosedLoopResult;
let on: ClosedLoopResult;

beforeAll(async () => {
  off = await runClosedLoop({ scaleIn: false });
  on = await runClosedLoop({ scaleIn: true });
}, 120_000);

const excess = (r: ClosedLoopResult) => r.nodeHoursBought - r.nodeHoursNeeded;

describe('the closed loop: demand → alarms → the function → nodes → demand', () => {
  it('buys as demand rises, the same in both runs, and keeps what it bought when nothing gives back', () => {
    // The same demand and the same alarms until the first release: the same purchases.
    expect(on.nodeHoursNeeded).toBe(off.nodeHoursNeeded);
    expect(off.purchases).toBeGreaterThan(0);
    expect(on.nodesBought).toBe(off.nodesBought);
    expect(off.phases.slice(0, 3)).toEqual(on.phases.slice(0, 3));
    // Without a low rule every node bought stays to the end: the waste scale-in is for.
    expect(off.releasesStarted).toBe(0);
    expect(off.boughtAtEnd).toBe(off.nodesBought);
    expect(off.ratio).toBeGreaterThan(1.5);
  });

  it('with scale-in, node-hours bought come much closer to those needed: the excess at most half, every node given back at rest', () => {
    expect(excess(on)).toBeLessThanOrEqual(0.5 * excess(off));
    expect(on.ratio).toBeLessThan(off.ratio);
    // Each release went through to DeleteClusterInstances, its pods evicted and placed elsewhere
    // (the ReplicaSet's scale-down thins every node, so the nodes given back were not empty); none
    // left cordoned; nothing left bought.
    expect(on.nodesReleased).toBe(on.releasesStarted);
    expect(on.podsEvicted).toBeGreaterThan(0);
    expect(on.nodesReleased).toBe(on.nodesBought);
    expect(on.stuckAtEnd).toBe(0);
    expect(on.boughtAtEnd).toBe(0);
    // Given back while demand fell, not on the plateau.
    const plateau = on.phases.find((p) => p.phase === 'plateau')!;
    expect(plateau.nodeHoursBought).toBe(off.phases.find((p) => p.phase === 'plateau')!.nodeHoursBought);
    expect(on.answers).toMatchObject({ 'DemoCpuLow firing 200 release-requested': expect.any(Number) });
  });

  it('giving back adds no shortfall: no more Pending than without it, within six pod-minutes', () => {
    expect(on.shortfallCoreHours).toBeLessThanOrEqual(off.shortfallCoreHours + 0.05);
    const fallAndRest = (r: ClosedLoopResult) => r.phases.slice(3).reduce((sum, p) => sum + p.shortfallCoreHours, 0);
    expect(fallAndRest(on)).toBeLessThanOrEqual(fallAndRest(off) + 0.05);
  });

  it('does not flap: no purchase within 15 minutes after a release, no release within 15 minutes after a purchase', () => {
    expect(on.buysAfterRelease).toBe(0);
    expect(on.releasesAfterBuy).toBe(0);
    // The noise stays inside the band: the low alarm never fires while demand is at its plateau.
    const minutes = on.samples.length;
    expect(on.samples.filter((s) => s.minute >= 0.3 * minutes && s.minute < 0.6 * minutes && s.low === 'firing')).toEqual([]);
  });
});

/**
 * A second wave (SECOND_WAVE in test/support/closed-loop.ts): after the day's fall, demand surges
 * back to 0.8 of the peak within 5 minutes, starting the minute after the first release past the
 * fall, while that node is being drained. The workload's pods have a grace of 480 s (a server
 * finishing long-lived connections), so a drain lasts 9 passes (cordon, evict, 8 minutes of pods
 * Terminating: kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination), longer
 * than the high alarm takes to reach the function after utilisation passes 80 % (`for: 3m`, then
 * Alertmanager's group_wait of 30 s) plus the surge's own minutes. With the default 30 s a drain is
 * over in 2 passes and no scale-out can find it (bench/closed-loop.ts measures 30, 300, 420, 480 s).
 * Scale-in on, and off with the surge at the same minute, for the shortfall's comparison.
 *
 * What is counted as a flap, and why:
 *  - a node given back (DeleteClusterInstances) and a node bought within 15 minutes after: the
 *    rules' hysteresis allows it only if demand went from under 40 % for 10 minutes (the low alarm
 *    that asked for the release) to over 80 % for 3 (the high one), so each such re-buy must follow
 *    a release the low alarm asked for while it fired, never one started after it resolved;
 *  - a node put back in service and cordoned again within 15 minutes (a stale ask draining it anew);
 *  - a release started within 15 minutes after a purchase;
 *  - nodes bought while nodes of the template were on their way out and not put back.
 * A node put back in service is not a purchase, and was never given back.
 */
describe("a second wave while the fall's nodes are being drained", () => {
  const GRACE = 480;
  let wave: ClosedLoopResult;
  let waveOff: ClosedLoopResult;

  beforeAll(async () => {
    wave = await runClosedLoop({ scaleIn: true, waves: 2, graceSeconds: GRACE });
    waveOff = await runClosedLoop({ scaleIn: false, waves: 2, graceSeconds: GRACE, secondWaveAt: wave.secondWave!.at });
  }, 120_000);

  it("the surge's first scale-out finds the node being drained, as its purchase record says, puts it back instead of buying it, and withdraws the waiting asks", () => {
    const first = wave.secondWave!.firstScaleOut!;
    // The records (GET /purchases just before the delivery): the node whose release started the
    // minute before the surge is still draining when the alarm arrives.
    expect(first.wayOut).toEqual({ draining: 1 });
    expect(first.restorable).toBe(1);
    expect(first.statusCode).toBe(200);
    expect(first.restored).toHaveLength(1);
    expect(first.restoreProblems).toEqual([]);
    // The ask for more releases that was waiting for the disruption budget is withdrawn: the need is back.
    expect(first.asksWithdrawn).toBeGreaterThan(0);
    // Only that node could be put back: 10 % of the function's nodes are given back at once.
    expect(wave.cordonedAtMost).toBe(1);
    expect(wave.secondWave!.nodesRestored).toBe(1);
    expect(wave.nodesRestored).toBe(1);
    // What was not put back was bought: the answer's count is the restored node plus the bought ones.
    expect(wave.secondWave!.nodesBought).toBeGreaterThan(0);
    // Every delivery that found nodes on their way out put them back before buying any.
    expect(wave.boughtBesideRestorable).toBe(0);
  });

  it('node-hours bought come closer to those needed than without scale-in, and every node is given back at rest', () => {
    expect(wave.nodeHoursNeeded).toBe(waveOff.nodeHoursNeeded);
    const excess = (r: ClosedLoopResult) => r.nodeHoursBought - r.nodeHoursNeeded;
    expect(excess(wave)).toBeLessThanOrEqual(0.5 * excess(waveOff));
    expect(wave.boughtAtEnd).toBe(0);
    expect(wave.stuckAtEnd).toBe(0);
    expect(wave.nodesReleased).toBe(wave.nodesBought);
  });

  it('the shortfall scale-in adds stays within what the nodes given back before the surge explain', () => {
    // Unlike one wave (no more than six pod-minutes added), nodes the fall gave back before the
    // surge have to be bought again (measured: +0.06 core-hours, one node). Each leaves at most its
    // pods without room from when the surge passed 80 % until the new node joined: the alarm's
    // latency (`for:`, group_wait, and a group_interval for a throttled delivery) and the join (180 s).
    const minutesWithoutRoom = (HIGH_RULE.forMs + HIGH_RULE.route.groupWaitMs + HIGH_RULE.route.groupIntervalMs) / 60_000 + 3;
    const perNode = (WORKLOAD.podsPerBoughtNode * WORKLOAD.podCpuMillis * minutesWithoutRoom) / 1000 / 60;
    const added = wave.shortfallCoreHours - waveOff.shortfallCoreHours;
    expect(added).toBeLessThanOrEqual(0.05 + wave.reboughtAfterRelease * perNode);
  });

  it("does not flap beyond the rules' hysteresis", () => {
    expect(wave.reboughtAfterStaleRelease).toBe(0);
    expect(wave.releasesWithoutLowAlarm).toBe(0);
    expect(wave.releasedAgainAfterRestore).toBe(0);
    expect(wave.releasesAfterBuy).toBe(0);
  });
});
