/**
 * `npm run closed-loop`: runs the closed loop of test/support/closed-loop.ts (a day of demand through
 * alarms into the function and the sandboxes, scale-in off and on; then a second wave surging back
 * while the fall's nodes are being drained, at several graces of the pods) and writes its section of
 * docs/PERFORMANCE.md, which `npm run bench` keeps (bench/closed-loop-section.ts). One process, a
 * simulated clock: it takes tens of seconds of one CPU, and measures node-hours, not time.
 *
 * Environment: CLOSED_LOOP_OUT (docs/PERFORMANCE.md), CLOSED_LOOP_SEEDS (the other seeds, 1,2,3).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HIGH_RULE, LOW_RULE, runClosedLoop, SECOND_WAVE, type ClosedLoopOptions, type ClosedLoopResult } from '../test/support/closed-loop';
import { CLOSED_LOOP_END, CLOSED_LOOP_START, withClosedLoopSection } from './closed-loop-section';

const ROOT = join(__dirname, '..', '..');
const OUT = process.env.CLOSED_LOOP_OUT ?? join(ROOT, 'docs', 'PERFORMANCE.md');
const NOTES_FIRST_LINE = readFileSync(join(ROOT, 'bench', 'NOTES.md'), 'utf8').split('\n')[0]!;
/** The run the main table shows, and the seeds and noise levels the second one tries. */
const MAIN: Omit<ClosedLoopOptions, 'scaleIn'> = { hours: 10, seed: 19, noise: 0.05, baseMillis: 3_000, peakMillis: 30_000, joinSeconds: 180, flapWindowMinutes: 15 };
const OTHER_SEEDS = (process.env.CLOSED_LOOP_SEEDS ?? '1,2,3').split(',').filter(Boolean).map(Number);
const OTHER_NOISE = [0.05, 0.1];
/** The second wave's pods' grace (test/integration/closed-loop.test.ts), and the graces and seeds its sensitivity table tries. */
const WAVE_GRACE = 480;
const WAVE_GRACES = [30, 300, 420, 480];
const WAVE_SEEDS = [19, ...OTHER_SEEDS];

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const clockOf = (minute: number) => `${Math.floor(minute / 60)}:${String(Math.floor(minute % 60)).padStart(2, '0')}`;

function log(line: string) {
  process.stderr.write(`${line}\n`);
}

async function pair(options: Omit<ClosedLoopOptions, 'scaleIn'>): Promise<{ off: ClosedLoopResult; on: ClosedLoopResult }> {
  log(`closed loop: seed ${options.seed}, noise ±${(options.noise ?? 0) * 100} %${options.waves === 2 ? `, second wave, grace ${options.graceSeconds} s` : ''}`);
  if (options.waves === 2) {
    // The surge is timed on a release: the run without scale-in gets the same minute.
    const on = await runClosedLoop({ ...options, scaleIn: true });
    return { on, off: await runClosedLoop({ ...options, scaleIn: false, secondWaveAt: on.secondWave!.at }) };
  }
  return { off: await runClosedLoop({ ...options, scaleIn: false }), on: await runClosedLoop({ ...options, scaleIn: true }) };
}

type Pair = { off: ClosedLoopResult; on: ClosedLoopResult };

function sameTimes(a: ClosedLoopResult, b: ClosedLoopResult, what: string): boolean {
  const times = (r: ClosedLoopResult) => r.events.filter((e) => e.what.startsWith(what)).map((e) => e.minute).join();
  return times(a) === times(b);
}

/** Flaps: nodes bought within 15 min after a node was given back / releases started within 15 min after a purchase, or after the node was put back. */
const flaps = (r: ClosedLoopResult) => `${r.reboughtAfterRelease} / ${r.releasesAfterBuy + r.releasedAgainAfterRestore}`;

function render(main: Pair, others: Array<{ seed: number; noise: number } & Pair>, wave: Pair, sensitivity: Array<{ grace: number; seed: number } & Pair>): string {
  const { off, on } = main;
  const excessShare = (o: ClosedLoopResult, i: ClosedLoopResult) => (i.nodeHoursBought - i.nodeHoursNeeded) / (o.nodeHoursBought - o.nodeHoursNeeded);
  const row = (r: ClosedLoopResult) =>
    `| ${r.run} | ${f1(r.nodeHoursBought)} | ${f1(r.nodeHoursNeeded)} | **${f2(r.ratio)}** | ${f2(r.shortfallCoreHours)} (${r.minutesWithPending} min) | ${r.purchases} (${r.nodesBought} nodes) | ${r.nodesReleased} | ${flaps(r)} | ${r.boughtAtEnd} |`;
  const releases = on.events.filter((e) => e.what.startsWith('release started'));
  const purchases = on.events.filter((e) => e.what.startsWith('bought'));
  const answers = (r: ClosedLoopResult) =>
    Object.entries(r.answers)
      .sort((a, b) => b[1] - a[1])
      .map(([what, count]) => `${count} × ${what}`)
      .join(', ');
  const lines = [
    CLOSED_LOOP_START,
    '## Closed loop: demand, alarms, the function, nodes (issue 19)',
    '',
    `Measured by \`npm run closed-loop\` on ${new Date().toISOString().slice(0, 10)} (test/support/closed-loop.ts; \`npm run bench\` keeps this section as it is).`,
    `${MAIN.hours} simulated hours, a minute at a time, in one process: the real handler with a memory store, the TKE sandbox`,
    `(nodes join ${MAIN.joinSeconds} s after they are bought) and its Kubernetes API stand-in, all on one simulated clock. Demand is a`,
    `Deployment of 500m / 512Mi pods following a seeded curve (seed ${MAIN.seed}): ${MAIN.baseMillis! / 1000} cores at rest for the first hour, rising to ${MAIN.peakMillis! / 1000} over two,`,
    'a three-hour plateau, falling over two, at rest for the last two, with ±5 % noise that wanders for minutes. The demo cluster',
    "has 3 nodes of its own (S5.MEDIUM4: 9 pods); the function buys S5.LARGE8 nodes (7 pods each). An alert evaluator of our own",
    `plays Prometheus (CPU requested, Pending pods included and Terminating ones left out, over allocatable of the nodes in service: above ${HIGH_RULE.threshold} % for`,
    `${HIGH_RULE.forMs / 60_000} min, below ${LOW_RULE.threshold} % for ${LOW_RULE.forMs / 60_000} min) and Alertmanager (group_wait 30 s, group_interval 1 m, repeat_interval 5 m and 10 m,`,
    'send_resolved), posting to /hooks/alertmanager; the config buys by steps of how far above 80 % (1, 2, 3 or 5 nodes, repeat',
    'every 5 m, warm-up 5 m) and gives back by steps of how far below 40 % (1, 2 or 3, every 10 m), with the shipped throttle and',
    'release defaults (cooldown 5 m, 20 nodes an hour; 10 % at once, the guard at 70 %, 10 m after a purchase). The SCF timer',
    'pass runs every minute. "Scale-in off" has no low rule.',
    '',
    '*Bought*: the function\'s instances alive each minute (joining ones included: they are billed). *Needed*: the fewest of',
    "the function's nodes the minute's pods would have fit in beside the cluster's own. *Shortfall*: CPU-core-hours of pods",
    'Pending, and the minutes with any. *Flaps*: nodes bought within 15 min after one of the function\'s nodes was given back',
    '(deleted; a node put back in service is neither given back nor bought) / releases started within 15 min after a purchase, or',
    'after that node was put back in service.',
    '',
    '| run | node-hours bought | needed | ratio | shortfall, core-hours (minutes) | purchases | releases | flaps | nodes left at the end |',
    '|---|---|---|---|---|---|---|---|---|',
    row(off),
    row(on),
    row(wave.off),
    row(wave.on),
    '',
    `With scale-in the excess (bought − needed) is ${f2(excessShare(off, on))} of what it is without: ${f1(off.nodeHoursBought - off.nodeHoursNeeded)} node-hours → ${f1(on.nodeHoursBought - on.nodeHoursNeeded)}.`,
    `What remains is the rules' own margin, the same in both runs until demand falls: on the plateau the high rule keeps`,
    'utilisation under 80 %, about 1/0.8 of the need, and on the fall nodes go only once utilisation has stayed under 40 % for',
    '10 minutes, while allocatable is still 2.5 times what is requested. Per phase:',
    '',
    '| phase | bought / needed, off | bought / needed, on | shortfall off / on, core-hours |',
    '|---|---|---|---|',
    ...off.phases.map((p, i) => {
      const q = on.phases[i]!;
      return `| ${p.phase} | ${f1(p.nodeHoursBought)} / ${f1(p.nodeHoursNeeded)} | ${f1(q.nodeHoursBought)} / ${f1(q.nodeHoursNeeded)} | ${f2(p.shortfallCoreHours)} / ${f2(q.shortfallCoreHours)} |`;
    }),
    '',
    `Purchases at ${purchases.map((e) => clockOf(e.minute)).join(', ')} into the run${sameTimes(off, on, 'bought') ? ', the same in both runs' : ` (without scale-in: ${off.events.filter((e) => e.what.startsWith('bought')).map((e) => clockOf(e.minute)).join(', ')})`}; with scale-in,`,
    `releases started at ${releases.map((e) => clockOf(e.minute)).join(', ')}: at most ${Math.ceil(on.boughtAtMost * 0.1)} at a time (10 % of the function's nodes, rounded up), each`,
    `drained and deleted by the passes that follow (${on.podsEvicted} pods evicted in all, each replaced on a node that stays), an ask for more waiting for`,
    `the disruption budget. The function answered, scale-in on: ${answers(on)}.`,
    '',
    'Other seeds and noise levels (same curve and rules):',
    '',
    '| seed | noise | ratio off | ratio on | excess on / off | shortfall off / on, core-hours | flaps on | nodes left on |',
    '|---|---|---|---|---|---|---|---|',
    ...others.map((o) => `| ${o.seed} | ±${Math.round(o.noise * 100)} % | ${f2(o.off.ratio)} | ${f2(o.on.ratio)} | ${f2(excessShare(o.off, o.on))} | ${f2(o.off.shortfallCoreHours)} / ${f2(o.on.shortfallCoreHours)} | ${flaps(o.on)} | ${o.on.boughtAtEnd} |`),
    '',
    ...renderWave(wave, sensitivity, excessShare),
    CLOSED_LOOP_END,
  ];
  return lines.join('\n');
}

/** The second wave's part: what the surge's scale-outs found and did, the shortfall against the one-wave bound, flaps, and how it depends on the pods' grace. */
function renderWave(wave: Pair, sensitivity: Array<{ grace: number; seed: number } & Pair>, excessShare: (o: ClosedLoopResult, i: ClosedLoopResult) => number): string[] {
  const { on, off } = wave;
  const second = on.secondWave!;
  const first = second.firstScaleOut!;
  const cordonedBefore = on.events.filter((e) => e.what.startsWith('release started') && e.minute < first.minute).at(-1);
  /** The fall's nodes given back (deleted) before the surge's first scale-out: those it could no longer put back. */
  const givenBackBefore = (r: ClosedLoopResult) => {
    const at = r.secondWave?.firstScaleOut?.minute ?? Infinity;
    return r.events.filter((e) => e.what.startsWith('released ') && e.minute >= SECOND_WAVE.fallFromHour * 60 && e.minute < at).length;
  };
  const added = on.shortfallCoreHours - off.shortfallCoreHours;
  const wayOut = Object.entries(first.wayOut).map(([state, n]) => `${n} ${state}`).join(', ') || 'nothing';
  const found = (r: ClosedLoopResult) => {
    const f = r.secondWave?.firstScaleOut;
    return f === undefined ? '–' : Object.entries(f.wayOut).map(([state, n]) => `${n} ${state}`).join(', ') || 'none';
  };
  return [
    `**A second wave** (\`waves: 2\`): the same cluster, rules and seed over ${SECOND_WAVE.hours} hours. The day's wave (at rest an hour, rising over two, a`,
    `plateau of two and a half) falls by ${clockOf(SECOND_WAVE.fallEndsAtHour * 60)} to a tenth of the way from rest to the peak; demand then surges back to ${SECOND_WAVE.peak} of the`,
    `peak within ${SECOND_WAVE.riseMinutes} minutes (a live event, a push notification), starting the minute after the first release that starts once the`,
    `fall is over (${clockOf(second.at)}: timed on a release, so that it meets a drain whatever the seed; the run without scale-in gets the same`,
    `minute), stays an hour, falls over an hour, and is at rest to the end. The workload's pods have a grace of ${WAVE_GRACE} s`,
    '(`terminationGracePeriodSeconds`: a server finishing long-lived connections): an evicted pod is Terminating for 8 minutes, and a',
    'drain lasts 9 passes from its cordon to DeleteClusterInstances.',
    '',
    `The surge's first scale-out (${clockOf(first.minute)}, DemoCpuHigh at ${f1(first.value)} %) found, in the purchase records read just before (GET /purchases),`,
    `${wayOut}: the node whose release started at ${cordonedBefore === undefined ? '?' : clockOf(cordonedBefore.minute)}. It put ${first.restored.length} back in service (uncordoned; answered \`${first.said}\`${first.restored.length > 0 ? ' with `restored`' : ''}),`,
    `bought ${first.bought.length}, and withdrew ${first.asksWithdrawn} ask(s) to give nodes back that were waiting for the disruption budget. Over the second wave: ${second.nodesRestored}`,
    `node(s) put back, ${second.nodesBought} bought; no scale-out bought while a node of its template was on its way out (${on.boughtBesideRestorable} such nodes). Had it bought instead,`,
    `it would have bought ${second.nodesRestored + second.nodesBought}, the ${second.nodesRestored} put back joining 180 s later, and the node being drained would have gone on to`,
    `DeleteClusterInstances. At most ${on.cordonedAtMost} node was on its way out at any time (10 % of the function's nodes at once), so that is all a scale-out could find.`,
    '',
    `Node-hours: excess ${f2(excessShare(off, on))} of what it is without scale-in (${f1(off.nodeHoursBought - off.nodeHoursNeeded)} → ${f1(on.nodeHoursBought - on.nodeHoursNeeded)}). Shortfall: ${f2(on.shortfallCoreHours)} core-hours`,
    `with scale-in, ${f2(off.shortfallCoreHours)} without: ${added >= 0 ? '+' : ''}${f2(added)}, ${added <= 0.05 ? 'within' : 'above'} the one-wave bound of +0.05 (six pod-minutes): ${givenBackBefore(on)} of the fall's nodes had`,
    `been given back before the surge's first scale-out, and what replaced them had to join first. Flaps: ${on.reboughtAfterRelease} node(s) bought within 15 min after a`,
    `node was given back, each after a release the low alarm asked for while it fired (${on.reboughtAfterStaleRelease} after one that outlived it): the price of the rules' hysteresis`,
    'when demand goes from under 40 % for 10 minutes to over 80 % for 3 within a quarter of an hour; no node put back was cordoned again within',
    `15 min (${on.releasedAgainAfterRestore}), no release within 15 min after a purchase (${on.releasesAfterBuy}). Per phase:`,
    '',
    '| phase | bought / needed, off | bought / needed, on | shortfall off / on, core-hours |',
    '|---|---|---|---|',
    ...on.phases.map((q, i) => {
      const p = off.phases[i]!;
      return `| ${q.phase} | ${f1(p.nodeHoursBought)} / ${f1(p.nodeHoursNeeded)} | ${f1(q.nodeHoursBought)} / ${f1(q.nodeHoursNeeded)} | ${f2(p.shortfallCoreHours)} / ${f2(q.shortfallCoreHours)} |`;
    }),
    '',
    'Whether a scale-out finds a node still on its way out depends on the drain outlasting the alarm: the high alarm reaches the',
    `function ${(HIGH_RULE.forMs + HIGH_RULE.route.groupWaitMs) / 60_000} min after utilisation passes 80 % (\`for: 3m\`, group_wait 30 s), while a release starts only while the low`,
    'alarm\'s asks last and below the guard\'s 70 %. A drain lasts a pass to cordon, a pass to evict, then the pods\' grace: with the',
    'default 30 s it is over in 2 passes and no scale-out can find it, however the surge is timed. The same second wave, other graces',
    'and seeds (the shortfall follows mostly how many of the fall\'s nodes were already given back when the surge\'s first scale-out',
    'came: slower drains give back fewer):',
    '',
    '| grace | seed | given back before the surge\'s first scale-out | it found on their way out | put back / bought in the second wave | shortfall off / on, core-hours | ratio off / on | flaps on |',
    '|---|---|---|---|---|---|---|---|',
    ...sensitivity.map(
      (x) =>
        `| ${x.grace} s | ${x.seed} | ${givenBackBefore(x.on)} | ${found(x.on)} | ${x.on.secondWave!.nodesRestored} / ${x.on.secondWave!.nodesBought} | ${f2(x.off.shortfallCoreHours)} / ${f2(x.on.shortfallCoreHours)} | ${f2(x.off.ratio)} / ${f2(x.on.ratio)} | ${flaps(x.on)} |`,
    ),
  ];
}

async function main() {
  const primary = await pair(MAIN);
  const others: Array<{ seed: number; noise: number; off: ClosedLoopResult; on: ClosedLoopResult }> = [];
  for (const seed of OTHER_SEEDS) {
    for (const noise of OTHER_NOISE) others.push({ seed, noise, ...(await pair({ ...MAIN, seed, noise })) });
  }
  const wave = await pair({ ...MAIN, hours: SECOND_WAVE.hours, waves: 2, graceSeconds: WAVE_GRACE });
  const sensitivity: Array<{ grace: number; seed: number } & Pair> = [];
  for (const grace of WAVE_GRACES) {
    for (const seed of WAVE_SEEDS) sensitivity.push({ grace, seed, ...(grace === WAVE_GRACE && seed === MAIN.seed ? wave : await pair({ ...MAIN, seed, hours: SECOND_WAVE.hours, waves: 2, graceSeconds: grace })) });
  }
  const section = render(primary, others, wave, sensitivity);
  const page = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
  writeFileSync(OUT, withClosedLoopSection(page, section, NOTES_FIRST_LINE));
  process.stdout.write(`${section}\n`);
  log(`written to ${OUT}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
