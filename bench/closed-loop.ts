/**
 * `npm run closed-loop`: runs the closed loop of test/support/closed-loop.ts (a day of demand through
 * alarms into the function and the sandboxes, scale-in off and on) and writes its section of
 * docs/PERFORMANCE.md, which `npm run bench` keeps (bench/closed-loop-section.ts). One process, a
 * simulated clock: it takes tens of seconds of one CPU, and measures node-hours, not time.
 *
 * Environment: CLOSED_LOOP_OUT (docs/PERFORMANCE.md), CLOSED_LOOP_SEEDS (the other seeds, 1,2,3).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HIGH_RULE, LOW_RULE, runClosedLoop, type ClosedLoopOptions, type ClosedLoopResult } from '../test/support/closed-loop';
import { CLOSED_LOOP_END, CLOSED_LOOP_START, withClosedLoopSection } from './closed-loop-section';

const ROOT = join(__dirname, '..', '..');
const OUT = process.env.CLOSED_LOOP_OUT ?? join(ROOT, 'docs', 'PERFORMANCE.md');
const NOTES_FIRST_LINE = readFileSync(join(ROOT, 'bench', 'NOTES.md'), 'utf8').split('\n')[0]!;
/** The run the main table shows, and the seeds and noise levels the second one tries. */
const MAIN: Omit<ClosedLoopOptions, 'scaleIn'> = { hours: 10, seed: 19, noise: 0.05, baseMillis: 3_000, peakMillis: 30_000, joinSeconds: 180, flapWindowMinutes: 15 };
const OTHER_SEEDS = (process.env.CLOSED_LOOP_SEEDS ?? '1,2,3').split(',').filter(Boolean).map(Number);
const OTHER_NOISE = [0.05, 0.1];

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const clockOf = (minute: number) => `${Math.floor(minute / 60)}:${String(Math.floor(minute % 60)).padStart(2, '0')}`;

function log(line: string) {
  process.stderr.write(`${line}\n`);
}

async function pair(options: Omit<ClosedLoopOptions, 'scaleIn'>): Promise<{ off: ClosedLoopResult; on: ClosedLoopResult }> {
  log(`closed loop: seed ${options.seed}, noise ±${(options.noise ?? 0) * 100} %`);
  return { off: await runClosedLoop({ ...options, scaleIn: false }), on: await runClosedLoop({ ...options, scaleIn: true }) };
}

function sameTimes(a: ClosedLoopResult, b: ClosedLoopResult, what: string): boolean {
  const times = (r: ClosedLoopResult) => r.events.filter((e) => e.what.startsWith(what)).map((e) => e.minute).join();
  return times(a) === times(b);
}

function render(main: { off: ClosedLoopResult; on: ClosedLoopResult }, others: Array<{ seed: number; noise: number; off: ClosedLoopResult; on: ClosedLoopResult }>): string {
  const { off, on } = main;
  const excessShare = (o: ClosedLoopResult, i: ClosedLoopResult) => (i.nodeHoursBought - i.nodeHoursNeeded) / (o.nodeHoursBought - o.nodeHoursNeeded);
  const row = (r: ClosedLoopResult) =>
    `| ${r.run} | ${f1(r.nodeHoursBought)} | ${f1(r.nodeHoursNeeded)} | **${f2(r.ratio)}** | ${f2(r.shortfallCoreHours)} (${r.minutesWithPending} min) | ${r.purchases} (${r.nodesBought} nodes) | ${r.nodesReleased} | ${r.buysAfterRelease} / ${r.releasesAfterBuy} | ${r.boughtAtEnd} |`;
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
    `plays Prometheus (CPU requested, Pending pods included, over allocatable of the nodes in service: above ${HIGH_RULE.threshold} % for`,
    `${HIGH_RULE.forMs / 60_000} min, below ${LOW_RULE.threshold} % for ${LOW_RULE.forMs / 60_000} min) and Alertmanager (group_wait 30 s, group_interval 1 m, repeat_interval 5 m and 10 m,`,
    'send_resolved), posting to /hooks/alertmanager; the config buys by steps of how far above 80 % (1, 2, 3 or 5 nodes, repeat',
    'every 5 m, warm-up 5 m) and gives back by steps of how far below 40 % (1, 2 or 3, every 10 m), with the shipped throttle and',
    'release defaults (cooldown 5 m, 20 nodes an hour; 10 % at once, the guard at 70 %, 10 m after a purchase). The SCF timer',
    'pass runs every minute. "Scale-in off" has no low rule.',
    '',
    '*Bought*: the function\'s instances alive each minute (joining ones included: they are billed). *Needed*: the fewest of',
    "the function's nodes the minute's pods would have fit in beside the cluster's own. *Shortfall*: CPU-core-hours of pods",
    'Pending, and the minutes with any. *Flaps*: purchases within 15 min after a release started / releases started within',
    '15 min after a purchase.',
    '',
    '| run | node-hours bought | needed | ratio | shortfall, core-hours (minutes) | purchases | releases | flaps | nodes left at the end |',
    '|---|---|---|---|---|---|---|---|---|',
    row(off),
    row(on),
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
    ...others.map((o) => `| ${o.seed} | ±${Math.round(o.noise * 100)} % | ${f2(o.off.ratio)} | ${f2(o.on.ratio)} | ${f2(excessShare(o.off, o.on))} | ${f2(o.off.shortfallCoreHours)} / ${f2(o.on.shortfallCoreHours)} | ${o.on.buysAfterRelease} / ${o.on.releasesAfterBuy} | ${o.on.boughtAtEnd} |`),
    CLOSED_LOOP_END,
  ];
  return lines.join('\n');
}

async function main() {
  const primary = await pair(MAIN);
  const others: Array<{ seed: number; noise: number; off: ClosedLoopResult; on: ClosedLoopResult }> = [];
  for (const seed of OTHER_SEEDS) {
    for (const noise of OTHER_NOISE) others.push({ seed, noise, ...(await pair({ ...MAIN, seed, noise })) });
  }
  const section = render(primary, others);
  const page = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
  writeFileSync(OUT, withClosedLoopSection(page, section, NOTES_FIRST_LINE));
  process.stdout.write(`${section}\n`);
  log(`written to ${OUT}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
