import { createHash } from 'node:crypto';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { MARK_KEYS } from '../../src/core/marks';
import { allocatableOf, nodeSizeOf, parseQuantity } from '../../dev/sandbox/kube-node-facts';
import { KubeSandbox, type KubeObject } from '../../dev/sandbox/kube-sandbox';
import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { HEALTH_TOKEN, startHarness, type Harness } from './harness';

/**
 * The closed loop (issue 19): a day of demand driven through alarms into the function and back out
 * of the sandboxes as nodes, in one process, on a simulated clock advanced a minute at a time.
 *
 *   demand (a seeded curve: rise, plateau, fall, with noise; or a second wave that surges back
 *   while the fall's nodes are being drained) ─▶ pods of a Deployment in the
 *   Kubernetes API stand-in, placed where they fit or Pending ─▶ an alert evaluator of our own
 *   (Prometheus's alerting rules with `for:`, Alertmanager's grouping, repeat and resolved
 *   notifications) ─▶ /hooks/alertmanager of the real handler ─▶ CreateClusterInstances in the TKE
 *   sandbox, nodes joining after its join time ─▶ the timer pass every minute follows the
 *   purchases and gives nodes back (cordon, evict, DeleteClusterInstances) ─▶ the pods move, and
 *   the next evaluation sees it.
 *
 * What it measures per run (`ClosedLoopResult`): node-hours bought (the function's instances alive,
 * joining ones included, as they are billed), node-hours needed (the fewest of the function's nodes
 * the demand would have fit in, minute by minute), the shortfall (CPU-core-hours of demand Pending,
 * and the minutes with any Pending), purchases, releases, flaps, and what each delivery of the high
 * alarm found on its way out and put back in service instead of buying (scale-out/restore.ts).
 *
 * The function, both sandboxes and the evaluator share one clock that moves only when the loop moves
 * it, so a run is the same every time for the same options; only TC3 signatures are measured on the
 * machine's clock (the SDK signs with it: TkeSandbox's `signatureNow`).
 */

// ---- the cluster and its workload -------------------------------------------------------------

const CLUSTER_ID = 'cls-e55paxnt';
const CLUSTER_ALIAS = 'demo';
/** The Deployment whose replicas follow the demand, in a namespace of its own. */
const NAMESPACE = 'web';
const OWNER = 'web-7d4b9';
/** Each replica's requests: demand is in whole replicas. */
const POD_CPU_MILLIS = 500;
const POD_MEMORY = '512Mi';
/** The template the high alarm buys: 4 cores, 8 GiB (3.9 cores allocatable on TKE). */
const NODE_TYPE = 'S5.LARGE8';
/** The sandbox's DaemonSet on every node (its default, kube-proxy): what it requests is not the workload's. */
const DAEMON_CPU_MILLIS = 100;
const DAEMON_MEMORY = '128Mi';
const ALERTMANAGER_TOKEN = 'closed-loop-am-token';
const MINUTE = 60_000;

export interface ClosedLoopOptions {
  /** The low rule and the config's scale-in rule take part (true), or no low rule is evaluated (false). */
  readonly scaleIn: boolean;
  /** The demand's shape: one wave (PHASES, the default) or a second wave after the fall (SECOND_WAVE). */
  readonly waves?: 1 | 2;
  /** The second wave's surge starts at this minute, not after the first release past the fall (a run to compare with one that gave back). */
  readonly secondWaveAt?: number;
  /** Simulated length, hours (default 10 for one wave, 12 for two). */
  readonly hours?: number;
  /** The noise's seed (default 19). */
  readonly seed?: number;
  /** The noise's amplitude, a share of the demand (default 0.05: ±5 %, inside the rules' band of 40 to 80 %). */
  readonly noise?: number;
  /** Demand at rest and at its peak, millicores (default 3,000 and 30,000). */
  readonly baseMillis?: number;
  readonly peakMillis?: number;
  /** How long a bought node takes to join (default 180 s: CVM's boot and TKE's node initialisation). */
  readonly joinSeconds?: number;
  /**
   * spec.terminationGracePeriodSeconds of the workload's pods (default 30, PodSpec's default): how
   * long an evicted or scaled-down pod stays Terminating, its requests still on its node, and so how
   * long a drain takes (kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
   */
  readonly graceSeconds?: number;
  /** A purchase this close after a release started, or a release this close after a purchase, is a flap (default 15). */
  readonly flapWindowMinutes?: number;
}

/** One minute of a run, after that minute's alarms and pass. */
export interface ClosedLoopSample {
  readonly minute: number;
  readonly demandMillis: number;
  readonly replicas: number;
  /** What the alert rules saw: requested / allocatable of schedulable nodes, percent. */
  readonly utilisation: number;
  /** The function's instances alive (joining ones included) and, of them, the nodes in service (running, not cordoned). */
  readonly bought: number;
  readonly inService: number;
  /** Of the function's nodes, those cordoned (being given back). */
  readonly cordoned: number;
  readonly needed: number;
  readonly pending: number;
  readonly high: AlertState;
  readonly low: AlertState;
}

/**
 * One delivery of the high alarm firing, and what the function did with it: the function's nodes on
 * their way out when it came (their purchase records' release states, read through GET /purchases
 * just before), what it put back in service and what it bought.
 */
export interface HighDelivery {
  readonly minute: number;
  /** The alarm's value, percent. */
  readonly value: number;
  readonly statusCode: number;
  /** created, restored, or the error's code (warm-up, cooldown…). */
  readonly said: string;
  /** Release states of the function's nodes just before (cordoned, draining, stuck, deleting, restoring), counted. */
  readonly wayOut: Readonly<Record<string, number>>;
  /** Of them, those a scale-out may put back (cordoned, draining, stuck: core/release.ts, restorable). */
  readonly restorable: number;
  /** Put back in service by this delivery (its answer's `restored`), and bought by it. */
  readonly restored: readonly string[];
  readonly bought: readonly string[];
  /** From its decision log line: asks to give nodes back it withdrew, and why nodes could not be put back. */
  readonly asksWithdrawn: number;
  readonly restoreProblems: readonly string[];
}

export interface SecondWaveOutcome {
  /** The minute its surge started. */
  readonly at: number;
  /** Nodes bought from then on, and nodes put back in service instead. */
  readonly nodesBought: number;
  readonly nodesRestored: number;
  /** Asks to give nodes back the scale-outs withdrew. */
  readonly asksWithdrawn: number;
  /** The first delivery of the high alarm after the surge: what it found on its way out, put back and bought. */
  readonly firstScaleOut?: HighDelivery;
}

export interface ClosedLoopResult {
  readonly run: string;
  readonly minutes: number;
  readonly nodeHoursBought: number;
  readonly nodeHoursNeeded: number;
  /** nodeHoursBought / nodeHoursNeeded. */
  readonly ratio: number;
  /** CPU-core-hours of demand Pending (placed nowhere). */
  readonly shortfallCoreHours: number;
  readonly minutesWithPending: number;
  /** CreateClusterInstances calls that bought, and the nodes they bought. */
  readonly purchases: number;
  readonly nodesBought: number;
  /** Nodes whose release started (cordoned by the function), and nodes deleted. */
  readonly releasesStarted: number;
  readonly nodesReleased: number;
  /** Pods the drains evicted (201), each replaced elsewhere by its ReplicaSet. */
  readonly podsEvicted: number;
  /** A purchase within the flap window after a release started. */
  readonly buysAfterRelease: number;
  /** A release started within the flap window after a purchase. */
  readonly releasesAfterBuy: number;
  /**
   * Nodes bought within the flap window after one of the function's nodes was given back (its
   * DeleteClusterInstances): a node given back, then one bought again. Each deletion pairs with one
   * node bought at most, the earliest first. A node put back in service was never given back.
   */
  readonly reboughtAfterRelease: number;
  /**
   * Of those, the ones whose release started while the low alarm was not firing (an ask that
   * outlived its alarm): a re-buy the rules' hysteresis does not account for.
   */
  readonly reboughtAfterStaleRelease: number;
  /** Releases started (cordons) in a minute when the low alarm was not firing: asks that outlived it, waiting for the disruption budget. */
  readonly releasesWithoutLowAlarm: number;
  /** Nodes put back in service whose release started again within the flap window (a stale ask draining a node restored). */
  readonly releasedAgainAfterRestore: number;
  /** Nodes bought by a delivery that left nodes of the template on a way out it could have put back. */
  readonly boughtBesideRestorable: number;
  /** Nodes put back in service by the high alarm (distinct), and the deliveries of it. */
  readonly nodesRestored: number;
  readonly highDeliveries: readonly HighDelivery[];
  /** The function's instances alive when the run ended, and the most at once. */
  readonly boughtAtEnd: number;
  readonly boughtAtMost: number;
  /** Nodes the function left cordoned (stuck) when the run ended. */
  readonly stuckAtEnd: number;
  /** The second wave (SECOND_WAVE): when its surge started, and what the high alarm did from then on. */
  readonly secondWave?: SecondWaveOutcome;
  /** Most of the function's nodes cordoned at once (on their way out), at a minute's end. */
  readonly cordonedAtMost: number;
  /** The same measures per phase of the demand curve. */
  readonly phases: ReadonlyArray<{ readonly phase: string; readonly nodeHoursBought: number; readonly nodeHoursNeeded: number; readonly shortfallCoreHours: number }>;
  /** What the function answered each alarm delivery, counted: "DemoCpuHigh firing 200 created". */
  readonly answers: Readonly<Record<string, number>>;
  readonly events: ReadonlyArray<{ readonly minute: number; readonly what: string }>;
  readonly samples: readonly ClosedLoopSample[];
}

// ---- demand ------------------------------------------------------------------------------------

/** mulberry32: a small seeded generator, so a run's noise is the same every time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A phase of the demand curve: until a share of the run, from one level to another (shares of the
 * way from rest to the peak), eased along a half cosine as a working day's traffic ramps.
 */
export interface DemandPhase {
  readonly name: string;
  readonly until: number;
  readonly from: number;
  readonly to: number;
}

/** One wave: at rest for the first tenth, rising over the next fifth, a plateau for three tenths, falling over a fifth, at rest again. */
export const PHASES: readonly DemandPhase[] = [
  { name: 'at rest', until: 0.1, from: 0, to: 0 },
  { name: 'rise', until: 0.3, from: 0, to: 1 },
  { name: 'plateau', until: 0.6, from: 1, to: 1 },
  { name: 'fall', until: 0.8, from: 1, to: 0 },
  { name: 'at rest again', until: 1, from: 0, to: 0 },
];

/**
 * A second wave, twelve hours: the day's wave (at rest an hour, rising over two, a plateau of two
 * and a half) falls in an hour and a quarter to a tenth of the way from rest to the peak; then,
 * while the nodes that fall gave back are still being drained, demand surges back to 0.8 of the
 * peak within 5 minutes (an evening's surge: a live event, a push notification), stays an hour,
 * falls over an hour, and is at rest until the end.
 *
 * When the surge comes is the experiment: it starts the minute after the first release that starts
 * once the fall is over (`secondWaveAt`), the worst moment for the function, so that it meets a drain
 * whatever the seed. A run without releases (scale-in off) is given that minute from the run with.
 * Whether the high alarm still finds that node on its way out depends on how long the drain lasts:
 * the alarm reaches the function 3.5 min after utilisation passed 80 % (`for: 3m`, group_wait 30 s),
 * and a drain lasts a pass to cordon, a pass to evict, then the pods' grace (`graceSeconds`).
 */
export const SECOND_WAVE = {
  hours: 12,
  riseFromHour: 1,
  plateauFromHour: 3,
  fallFromHour: 5.5,
  fallEndsAtHour: 6.75,
  trough: 0.1,
  riseMinutes: 5,
  peak: 0.8,
  plateauMinutes: 60,
  fallMinutes: 60,
  /** The surge starts this long after the fall at the latest (a run that gives nothing back). */
  latestStartMinutes: 15,
} as const;

/** The second wave's phases once its surge's minute is known (until then, the trough lasts). */
export function secondWavePhases(minutes: number, surgeAt: number | undefined): DemandPhase[] {
  const w = SECOND_WAVE;
  const share = (minute: number) => minute / minutes;
  const head: DemandPhase[] = [
    { name: 'at rest', until: share(w.riseFromHour * 60), from: 0, to: 0 },
    { name: 'rise', until: share(w.plateauFromHour * 60), from: 0, to: 1 },
    { name: 'plateau', until: share(w.fallFromHour * 60), from: 1, to: 1 },
    { name: 'fall', until: share(w.fallEndsAtHour * 60), from: 1, to: w.trough },
  ];
  if (surgeAt === undefined) return [...head, { name: 'trough', until: 1, from: w.trough, to: w.trough }];
  const riseEnds = surgeAt + w.riseMinutes;
  return [
    ...head,
    { name: 'trough', until: share(surgeAt), from: w.trough, to: w.trough },
    { name: 'second rise', until: share(riseEnds), from: w.trough, to: w.peak },
    { name: 'second plateau', until: share(riseEnds + w.plateauMinutes), from: w.peak, to: w.peak },
    { name: 'second fall', until: share(riseEnds + w.plateauMinutes + w.fallMinutes), from: w.peak, to: 0 },
    { name: 'at rest again', until: 1, from: 0, to: 0 },
  ];
}

/** The level at `x` (a share of the run) along `phases`: shares of the way from rest to the peak. */
function levelAt(phases: readonly DemandPhase[], x: number): number {
  const ease = (u: number) => (1 - Math.cos(Math.PI * Math.min(1, Math.max(0, u)))) / 2;
  const phase = phases.find((p) => x < p.until) ?? phases.at(-1)!;
  const from = phases[phases.indexOf(phase) - 1]?.until ?? 0;
  const u = (x - from) / (phase.until - from);
  return phase.from === phase.to ? phase.from : phase.from + (phase.to - phase.from) * ease(u);
}

/**
 * The noise, minute by minute: an AR(1) series (each minute 0.8 of the last plus a fresh draw) kept
 * within ±1, so it wanders for minutes as real load does rather than flickering each minute.
 */
function wanderOf(minutes: number, seed: number): number[] {
  const random = seeded(seed);
  const series: number[] = [];
  let wander = 0;
  for (let m = 0; m < minutes; m++) {
    wander = Math.max(-1, Math.min(1, 0.8 * wander + (random() * 2 - 1) * 0.6));
    series.push(wander);
  }
  return series;
}

interface DemandOptions {
  readonly seed: number;
  readonly noise: number;
  readonly baseMillis: number;
  readonly peakMillis: number;
}

/** One minute's demand, millicores: the level along the curve, times (1 + noise × the wander). */
function demandOf(level: number, wander: number, options: DemandOptions): number {
  const clean = options.baseMillis + (options.peakMillis - options.baseMillis) * level;
  return Math.round(clean * (1 + options.noise * wander));
}

/** The demand, millicores, minute by minute, along `phases` (default: one wave). */
export function demandCurve(minutes: number, options: DemandOptions & { phases?: readonly DemandPhase[] }): number[] {
  const phases = options.phases ?? PHASES;
  return wanderOf(minutes, options.seed).map((wander, m) => demandOf(levelAt(phases, m / minutes), wander, options));
}

// ---- the alert evaluator: Prometheus's rules, Alertmanager's notifications ----------------------

export type AlertState = 'inactive' | 'pending' | 'firing';

interface AlertRule {
  readonly alertname: string;
  /** Fires while the value is above (or below) the threshold for `forMs`. */
  readonly direction: 'above' | 'below';
  readonly threshold: number;
  readonly forMs: number;
  /** Alertmanager's route for it. */
  readonly route: { readonly groupWaitMs: number; readonly groupIntervalMs: number; readonly repeatIntervalMs: number };
}

/**
 * One alerting rule as Prometheus evaluates it (prometheus/prometheus rules/alerting.go, Eval): the
 * expression true makes the alert pending (activeAt); true for `for:` makes it firing (firedAt);
 * false resolves a firing alert (resolvedAt) and drops a pending one. What Prometheus sends
 * Alertmanager has `StartsAt = FiredAt` and, once resolved, `EndsAt = ResolvedAt`
 * (cmd/prometheus/main.go, sendAlerts). The value in the annotation is the last evaluation's
 * (`value: "{{ $value }}"`).
 */
class PrometheusRule {
  state: AlertState = 'inactive';
  activeAt = 0;
  firedAt = 0;
  resolvedAt: number | undefined;
  value = 0;

  constructor(readonly rule: AlertRule) {}

  evaluate(value: number, now: number): void {
    this.value = value;
    const holds = this.rule.direction === 'above' ? value > this.rule.threshold : value < this.rule.threshold;
    if (holds) {
      if (this.state === 'inactive') {
        this.state = 'pending';
        this.activeAt = now;
        this.resolvedAt = undefined;
      }
      if (this.state === 'pending' && now - this.activeAt >= this.rule.forMs) {
        this.state = 'firing';
        this.firedAt = now;
      }
    } else if (this.state === 'firing') {
      this.state = 'inactive';
      this.resolvedAt = now;
    } else {
      this.state = 'inactive';
    }
  }
}

/**
 * Alertmanager's handling of one alert group (group_by: [alertname, cluster]), as its dispatcher
 * and notification pipeline do (prometheus/alertmanager dispatch/dispatch.go, notify/notify.go
 * DedupStage): the group is created by its first firing alert and flushed `group_wait` later, then
 * every `group_interval`; a flush notifies when the firing alerts differ from the last notification,
 * when all resolved after a notified firing (send_resolved: true), or when `repeat_interval` has
 * passed since the last notification. A notification answered other than 2xx is not logged as sent
 * (notify/notify.go: only a successful one is written to the notification log), so the next flush
 * sends it again. A group whose alerts are all resolved goes once flushed; a firing after it makes a
 * new group, waiting `group_wait` again.
 */
class AlertGroup {
  nextFlushAt: number;
  /** The last notification that went through: what was firing (by startsAt), when. */
  lastSent: { firingStartsAt: number | undefined; at: number } | undefined;

  constructor(
    readonly rule: PrometheusRule,
    createdAt: number,
  ) {
    this.nextFlushAt = createdAt + rule.rule.route.groupWaitMs;
  }

  /** What this flush sends, if anything: the alert firing (its episode) or resolved. */
  due(now: number): { status: 'firing' | 'resolved' } | undefined {
    const firing = this.rule.state === 'firing';
    if (firing) {
      if (this.lastSent === undefined || this.lastSent.firingStartsAt !== this.rule.firedAt) return { status: 'firing' };
      return now - this.lastSent.at >= this.rule.rule.route.repeatIntervalMs ? { status: 'firing' } : undefined;
    }
    return this.lastSent?.firingStartsAt !== undefined ? { status: 'resolved' } : undefined;
  }
}

/** The webhook body Alertmanager sends (notify/webhook Message, version 4), for one alert. */
function alertmanagerPayload(rule: PrometheusRule, status: 'firing' | 'resolved'): Record<string, unknown> {
  const labels = { alertname: rule.rule.alertname, cluster: CLUSTER_ALIAS, severity: 'warning' };
  const annotations = { value: rule.value.toFixed(2), summary: `CPU requested ${rule.value.toFixed(0)} % of allocatable on ${CLUSTER_ALIAS}` };
  // Alertmanager's fingerprint is a hash of the label set (prometheus/common model.LabelSet.Fingerprint): stable across episodes.
  const fingerprint = createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16);
  const alert = {
    status,
    labels,
    annotations,
    startsAt: new Date(rule.firedAt).toISOString(),
    endsAt: status === 'resolved' ? new Date(rule.resolvedAt!).toISOString() : '0001-01-01T00:00:00Z',
    generatorURL: `http://prometheus:9090/graph?g0.expr=${encodeURIComponent(rule.rule.alertname)}`,
    fingerprint,
  };
  return {
    receiver: 'scaleout',
    status,
    alerts: [alert],
    groupLabels: { alertname: labels.alertname, cluster: labels.cluster },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: `{}:{alertname="${labels.alertname}", cluster="${labels.cluster}"}`,
    truncatedAlerts: 0,
  };
}

// ---- the rules on both sides --------------------------------------------------------------------

/**
 * Prometheus's side, with Alertmanager's routes: CPU requested over allocatable above 80 % for 3 min
 * buys; below 40 % for 10 min gives back. group_wait 30 s (Alertmanager's default), group_interval
 * 1 m (so a throttled delivery is judged again a minute later), repeat_interval 5 m for the high
 * alert (the function's repeat every 5 m: README, "Alarms that keep firing") and 10 m for the low.
 */
export const HIGH_RULE: AlertRule = { alertname: 'DemoCpuHigh', direction: 'above', threshold: 80, forMs: 3 * MINUTE, route: { groupWaitMs: 30_000, groupIntervalMs: MINUTE, repeatIntervalMs: 5 * MINUTE } };
export const LOW_RULE: AlertRule = { alertname: 'DemoCpuLow', direction: 'below', threshold: 40, forMs: 10 * MINUTE, route: { groupWaitMs: 30_000, groupIntervalMs: MINUTE, repeatIntervalMs: 10 * MINUTE } };

/**
 * The function's side: the config/example.yaml it ships with, its rules replaced by a pair on these
 * alerts (a high one that buys `web` nodes by how far the value is above 80, repeating every 5 m
 * while it fires, held 5 m after a purchase while the nodes join; a low one that gives back by how
 * far it is below 40, every 10 m), and the demo cluster's Kubernetes API. Throttle and release
 * settings are the shipped defaults (cooldown 5 m, 20 nodes an hour; floor 0, 10 % at once, the guard
 * at 70 %, 10 m after a purchase, drain timeout 10 m).
 */
function configure(doc: Record<string, any>): void {
  doc.templates.web = {
    description: 'Web nodes for the closed loop: 4 cores, 8 GiB.',
    clusters: [CLUSTER_ALIAS],
    count: { default: 1, max: 5, clamp: true },
    runInstancePara: { Placement: { Zone: 'ap-guangzhou-3' }, InstanceType: NODE_TYPE },
  };
  doc.clusters[CLUSTER_ALIAS].kubernetes = { serverEnv: 'DEMO_KUBE_SERVER', tokenEnv: 'DEMO_KUBE_TOKEN' };
  doc.sources.alertmanager = { auth: { bearer: { tokenEnv: 'ALERTMANAGER_TOKEN' } } };
  doc.rules = [
    {
      name: 'demo-cpu-high',
      sources: ['alertmanager'],
      match: { labels: { alertname: HIGH_RULE.alertname, cluster: CLUSTER_ALIAS } },
      scale: {
        cluster: CLUSTER_ALIAS,
        template: 'web',
        count: {
          steps: { value: { annotation: 'value' }, threshold: HIGH_RULE.threshold, direction: 'above', ranges: [{ from: 0, to: 10, count: 1 }, { from: 10, to: 25, count: 2 }, { from: 25, to: 50, count: 3 }, { from: 50, count: 5 }] },
          default: 1,
        },
      },
      repeat: { every: '5m', warmUp: '5m' },
    },
    {
      name: 'demo-cpu-low',
      action: 'scale-in',
      sources: ['alertmanager'],
      match: { labels: { alertname: LOW_RULE.alertname, cluster: CLUSTER_ALIAS } },
      scale: {
        cluster: CLUSTER_ALIAS,
        count: { steps: { value: { annotation: 'value' }, threshold: LOW_RULE.threshold, direction: 'below', ranges: [{ from: 0, to: 10, count: 1 }, { from: 10, to: 20, count: 2 }, { from: 20, count: 3 }] }, default: 1 },
      },
      repeat: { every: '10m' },
    },
  ];
}

// ---- one run ------------------------------------------------------------------------------------

/** Pods per node of a type, for the workload: what its allocatable leaves after the DaemonSet. */
function podsPerNode(instanceType: string): number {
  const allocatable = allocatableOf(nodeSizeOf(instanceType));
  const byCpu = Math.floor((allocatable.milliCpu - DAEMON_CPU_MILLIS) / POD_CPU_MILLIS);
  const byMemory = Math.floor((allocatable.memoryKi * 1024 - parseQuantity(DAEMON_MEMORY)) / parseQuantity(POD_MEMORY));
  return Math.min(byCpu, byMemory);
}

/** The workload's pods: what each requests, and how many fit on a node the function buys (7). */
export const WORKLOAD = { podCpuMillis: POD_CPU_MILLIS, podsPerBoughtNode: podsPerNode(NODE_TYPE) } as const;

const cpuMillisOf = (pod: KubeObject) =>
  ((pod.spec as { containers: Array<{ resources: { requests?: { cpu?: string } } }> }).containers ?? []).reduce((sum, c) => sum + (c.resources.requests?.cpu === undefined ? 0 : parseQuantity(c.resources.requests.cpu) * 1000), 0);
const nodeNameOf = (pod: KubeObject) => (pod.spec as { nodeName?: string }).nodeName;
const terminating = (object: KubeObject) => object.metadata.deletionTimestamp !== undefined;

/**
 * Which of a Deployment's pods its ReplicaSet deletes first when scaled down (kubernetes/kubernetes
 * pkg/controller/controller_utils.go, ActivePodsWithRanks.Less; getPodsToDelete ranks once): only
 * active ones (not Terminating), unassigned before assigned, then those with more of the
 * Deployment's pods on their node ("doubled up"), then the newer (the real one buckets ages by
 * powers of two, LogarithmicScaleDown, and breaks ties at random; here newest first, then by name).
 * So a scale-down thins every node rather than emptying the newest, and a drain has pods to move.
 */
function scaleDownOrder(pods: readonly KubeObject[]): KubeObject[] {
  const active = pods.filter((p) => !terminating(p));
  const onNode = new Map<string, number>();
  for (const p of active) if (nodeNameOf(p) !== undefined) onNode.set(nodeNameOf(p)!, (onNode.get(nodeNameOf(p)!) ?? 0) + 1);
  const rank = (p: KubeObject) => (nodeNameOf(p) === undefined ? Infinity : onNode.get(nodeNameOf(p)!)!);
  return active.sort(
    (a, b) =>
      rank(b) - rank(a) ||
      String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)) ||
      String(b.metadata.name).localeCompare(String(a.metadata.name)),
  );
}

function secondWaveOutcome(at: number, deliveries: readonly HighDelivery[]): SecondWaveOutcome {
  const after = deliveries.filter((d) => d.minute >= at);
  return {
    at,
    nodesBought: after.reduce((sum, d) => sum + d.bought.length, 0),
    nodesRestored: after.reduce((sum, d) => sum + d.restored.length, 0),
    asksWithdrawn: after.reduce((sum, d) => sum + d.asksWithdrawn, 0),
    ...(after[0] !== undefined && { firstScaleOut: after[0] }),
  };
}

/** The demand a run follows, minute by minute. */
interface Demand {
  /** Millicores in minute `m`. */
  at(m: number): number;
  /** A release started in minute `m`: the second wave's surge is timed on the first past the fall. */
  releaseStarted(m: number): void;
  /** The phases as they turned out. */
  phases(): readonly DemandPhase[];
  /** The minute the second wave's surge started. */
  surgeAt(): number | undefined;
}

function oneWave(minutes: number, options: DemandOptions): Demand {
  const curve = demandCurve(minutes, options);
  return { at: (m) => curve[m]!, releaseStarted: () => undefined, phases: () => PHASES, surgeAt: () => undefined };
}

function secondWave(minutes: number, options: DemandOptions, fixedSurgeAt: number | undefined): Demand {
  const wander = wanderOf(minutes, options.seed);
  const fallEnds = SECOND_WAVE.fallEndsAtHour * 60;
  let surgeAt = fixedSurgeAt;
  return {
    at: (m) => {
      if (surgeAt === undefined && m >= fallEnds + SECOND_WAVE.latestStartMinutes) surgeAt = m;
      return demandOf(levelAt(secondWavePhases(minutes, surgeAt), m / minutes), wander[m]!, options);
    },
    releaseStarted: (m) => {
      if (surgeAt === undefined && m >= fallEnds) surgeAt = m + 1;
    },
    phases: () => secondWavePhases(minutes, surgeAt),
    surgeAt: () => surgeAt,
  };
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const waves = options.waves ?? 1;
  const minutes = Math.round((options.hours ?? (waves === 1 ? 10 : SECOND_WAVE.hours)) * 60);
  const flapWindowMs = (options.flapWindowMinutes ?? 15) * MINUTE;
  const demandOptions: DemandOptions = { seed: options.seed ?? 19, noise: options.noise ?? 0.05, baseMillis: options.baseMillis ?? 3_000, peakMillis: options.peakMillis ?? 30_000 };
  const demand = waves === 1 ? oneWave(minutes, demandOptions) : secondWave(minutes, demandOptions, options.secondWaveAt);
  // The simulated clock: a whole minute of today, moved only by the loop.
  let now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const start = now;
  const clock = () => now;

  const tke = new TkeSandbox({ now: clock, signatureNow: Date.now, joinSeconds: options.joinSeconds ?? 180 });
  await tke.start();
  // The Deployment's ReplicaSet is the loop's (step 1): it replaces an evicted pod at once, as the real one does.
  const kube = new KubeSandbox({ tke, replaceEvictedPods: false });
  await kube.start();
  let h: Harness | undefined;
  try {
    h = await startHarness({
      now: clock,
      sandbox: tke,
      env: { DEMO_KUBE_SERVER: kube.serverUrl(CLUSTER_ID), DEMO_KUBE_TOKEN: kube.token(CLUSTER_ID), ALERTMANAGER_TOKEN },
      config: configure,
    });
    return await loop(h, tke, kube, { minutes, flapWindowMs, demand, graceSeconds: options.graceSeconds ?? 30, start, clock, setClock: (t) => (now = t), scaleIn: options.scaleIn, waves });
  } finally {
    await h?.close();
    await kube.stop();
    await tke.stop();
  }
}

interface LoopSetup {
  readonly minutes: number;
  readonly flapWindowMs: number;
  readonly demand: Demand;
  readonly graceSeconds: number;
  readonly start: number;
  readonly clock: () => number;
  readonly setClock: (t: number) => void;
  readonly scaleIn: boolean;
  readonly waves: 1 | 2;
}

async function loop(h: Harness, tke: TkeSandbox, kube: KubeSandbox, setup: LoopSetup): Promise<ClosedLoopResult> {
  const { minutes, start, clock, setClock } = setup;
  const initial = new Set(tke.instancesOf(CLUSTER_ID).map((i) => i.InstanceId));
  const basePods = [...tke.instancesOf(CLUSTER_ID)].reduce((sum, i) => sum + podsPerNode(i.InstanceType), 0);
  const perNode = podsPerNode(NODE_TYPE);
  const rules = [new PrometheusRule(HIGH_RULE), ...(setup.scaleIn ? [new PrometheusRule(LOW_RULE)] : [])];
  const groups = new Map<string, AlertGroup>();
  const answers: Record<string, number> = {};
  const events: Array<{ minute: number; what: string }> = [];
  const purchasesAt: number[] = [];
  const samples: ClosedLoopSample[] = [];
  const minuteOf = (t: number) => Math.round(((t - start) / MINUTE) * 100) / 100;
  /** Pods this loop deleted (the Deployment scaled down): no longer replicas, though Terminating a while. */
  const scaledDown = new Set<string>();
  let podCounter = 0;
  /** Node names to instance IDs (spec.providerID's last part), for the function's nodes ever seen. */
  const instanceOfNode = new Map<string, string>();

  const highDeliveries: HighDelivery[] = [];
  /** The function's cordons: PATCH spec.unschedulable: true, answered 200 (a release started). */
  const cordonCalls = () => kube.calls().filter((c) => c.verb === 'patch-node' && c.status === 200 && (c.body as { spec?: { unschedulable?: boolean } } | undefined)?.spec?.unschedulable === true);
  /** The function's nodes on their way out, by release state, as their purchase records say (GET /purchases, with the health token). */
  const releaseStates = async (): Promise<Record<string, number>> => {
    const listed = await h.invoke({ httpMethod: 'GET', path: '/purchases', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent);
    const counts: Record<string, number> = {};
    for (const purchase of listed.json.purchases as Array<{ instances?: Record<string, { release?: { state: string } }> }>) {
      for (const instance of Object.values(purchase.instances ?? {})) {
        const state = instance.release?.state;
        if (state !== undefined && state !== 'released' && state !== 'restored') counts[state] = (counts[state] ?? 0) + 1;
      }
    }
    return counts;
  };

  const deliver = async (rule: PrometheusRule, status: 'firing' | 'resolved'): Promise<boolean> => {
    const event: FunctionUrlEvent = {
      httpMethod: 'POST',
      path: '/hooks/alertmanager',
      headers: { 'content-type': 'application/json', 'user-agent': 'Alertmanager/0.27.0', authorization: `Bearer ${ALERTMANAGER_TOKEN}` },
      body: JSON.stringify(alertmanagerPayload(rule, status)),
    };
    const created = tke.createdCalls.length;
    const high = rule.rule === HIGH_RULE && status === 'firing';
    const wayOut = high ? await releaseStates() : undefined;
    const logged = h.logLines.length;
    const answer = await h.invoke(event);
    const results = (answer.json.results as Array<{ status?: string; error?: { code?: string }; restored?: string[] }> | undefined) ?? [];
    const said = results.length > 0 ? results.map((r) => r.status ?? r.error?.code ?? '?').join(',') : (answer.json.status ?? answer.json.error?.code ?? '?');
    const key = `${rule.rule.alertname} ${status} ${answer.statusCode} ${said}`;
    answers[key] = (answers[key] ?? 0) + 1;
    const bought = tke.createdCalls.slice(created).flatMap((call) => call.instanceIds!);
    for (const call of tke.createdCalls.slice(created)) {
      purchasesAt.push(clock());
      events.push({ minute: minuteOf(clock()), what: `bought ${call.instanceIds!.length} (${rule.rule.alertname} at ${rule.value.toFixed(1)} %)` });
    }
    if (high) {
      // What the function said it put back: the answer's `restored` (a 429 after a partial restore
      // says it only in the decision log line's trace, as the nodes are back all the same).
      const decision = h.logLines.slice(logged).find((l) => l.msg === 'scale-out decision') ?? {};
      const traced = [decision, ...((decision.results as Array<Record<string, unknown>> | undefined) ?? [])];
      const restored = [...new Set([...results.flatMap((r) => r.restored ?? []), ...traced.flatMap((t) => (t.restored as string[] | undefined) ?? [])])];
      const restorable = (wayOut!.cordoned ?? 0) + (wayOut!.draining ?? 0) + (wayOut!.stuck ?? 0);
      highDeliveries.push({
        minute: minuteOf(clock()),
        value: Math.round(rule.value * 10) / 10,
        statusCode: answer.statusCode,
        said,
        wayOut: wayOut!,
        restorable,
        restored,
        bought,
        asksWithdrawn: traced.reduce((sum, t) => sum + ((t.releaseAsksWithdrawn as number | undefined) ?? 0), 0),
        restoreProblems: traced.flatMap((t) => (t.restoreProblems as string[] | undefined) ?? []),
      });
      if (restored.length > 0) events.push({ minute: minuteOf(clock()), what: `put back ${restored.length} (${rule.rule.alertname} at ${rule.value.toFixed(1)} %; on their way out: ${JSON.stringify(wayOut)})` });
    }
    return answer.statusCode >= 200 && answer.statusCode < 300;
  };

  /** Alertmanager's flushes due by `until`, each at its own time. */
  const flush = async (until: number) => {
    for (;;) {
      const next = [...groups.values()].filter((g) => g.nextFlushAt <= until).sort((a, b) => a.nextFlushAt - b.nextFlushAt)[0];
      if (next === undefined) return;
      setClock(Math.max(clock(), next.nextFlushAt));
      const due = next.due(clock());
      if (due !== undefined && (await deliver(next.rule, due.status))) next.lastSent = { firingStartsAt: due.status === 'firing' ? next.rule.firedAt : undefined, at: clock() };
      next.nextFlushAt += next.rule.rule.route.groupIntervalMs;
      // A group whose alert is resolved and said so (or never notified) is gone.
      if (next.rule.state !== 'firing' && next.lastSent?.firingStartsAt === undefined) groups.delete(next.rule.rule.alertname);
    }
  };

  const timerPass = () =>
    (h.function.handler as unknown as (e: unknown, c: object) => Promise<unknown>)(
      { Type: 'Timer', TriggerName: 'scaleout-follow', Time: new Date(clock()).toISOString(), Message: '' },
      { request_id: `pass-${clock()}`, getRemainingTimeInMillis: () => 20_000 },
    );

  for (let m = 0; m < minutes; m++) {
    setClock(start + m * MINUTE);
    // 1. The Deployment follows the demand: replicas added (placed where they fit, else Pending) or
    // removed. Its replicas are its active pods, as its ReplicaSet counts them (kubernetes/kubernetes
    // pkg/controller/replicaset/replica_set.go, syncReplicaSet: controller.FilterActivePods leaves out
    // pods with a deletionTimestamp): a pod evicted by a drain is replaced at once, while it is still
    // Terminating on the node being drained for its grace period.
    const wanted = setup.demand.at(m);
    const replicas = Math.round(wanted / POD_CPU_MILLIS);
    const mine = kube.pods(CLUSTER_ID).filter((p) => p.metadata.namespace === NAMESPACE && !terminating(p));
    for (let i = mine.length; i < replicas; i++) {
      kube.addPod({ clusterId: CLUSTER_ID, namespace: NAMESPACE, name: `${OWNER}-${(podCounter++).toString(36).padStart(5, '0')}`, ownerName: OWNER, requests: { cpu: `${POD_CPU_MILLIS}m`, memory: POD_MEMORY }, terminationGracePeriodSeconds: setup.graceSeconds });
    }
    for (const pod of scaleDownOrder(mine).slice(0, Math.max(0, mine.length - replicas))) {
      scaledDown.add(pod.metadata.name as string);
      kube.deletePod(CLUSTER_ID, NAMESPACE, pod.metadata.name as string);
    }

    // 2. Prometheus evaluates: 100 × CPU requested by every pod (Pending ones too, as
    // kube-state-metrics' kube_pod_container_resource_requests shows them) but those Terminating
    // (`unless on(namespace, pod) kube_pod_deletion_timestamp`: a pod evicted by a drain is counted
    // once, by its replacement, not twice while it terminates on a node whose allocatable is left
    // out) / allocatable of the nodes in service (kube_node_status_allocatable, cordoned nodes left
    // out). With pods' default grace of 30 s no Terminating pod is left at the minute's evaluation.
    const pods = kube.pods(CLUSTER_ID);
    const nodes = kube.nodes(CLUSTER_ID);
    const requested = pods.filter((p) => !terminating(p)).reduce((sum, p) => sum + cpuMillisOf(p), 0);
    const allocatable = nodes.filter((n) => (n.spec as { unschedulable?: boolean }).unschedulable !== true).reduce((sum, n) => sum + parseQuantity((n.status as { allocatable: { cpu: string } }).allocatable.cpu) * 1000, 0);
    const utilisation = allocatable > 0 ? (100 * requested) / allocatable : Infinity;
    for (const rule of rules) {
      const was = rule.state;
      rule.evaluate(utilisation, clock());
      if (rule.state === 'firing' && was !== 'firing' && !groups.has(rule.rule.alertname)) groups.set(rule.rule.alertname, new AlertGroup(rule, clock()));
    }

    // 3. Alertmanager's flushes due now, then the timer pass, then the flushes within the minute.
    await flush(clock());
    const cordonsBefore = cordonCalls().length;
    await timerPass();
    if (cordonCalls().length > cordonsBefore) setup.demand.releaseStarted(m);
    await flush(start + (m + 1) * MINUTE - 1);

    // 4. The minute's measures, once its alarms and pass are done.
    const mineNow = kube.pods(CLUSTER_ID).filter((p) => p.metadata.namespace === NAMESPACE && !scaledDown.has(p.metadata.name as string));
    const pending = mineNow.filter((p) => nodeNameOf(p) === undefined && !terminating(p)).length;
    const ownInstances = tke.instancesOf(CLUSTER_ID).filter((i) => !initial.has(i.InstanceId) && i.Labels.some((l) => l.Name === MARK_KEYS.owner));
    const own = kube.nodes(CLUSTER_ID).filter((n) => (n.metadata.labels as Record<string, string>)[MARK_KEYS.owner] !== undefined);
    for (const n of own) instanceOfNode.set(n.metadata.name as string, String((n.spec as { providerID?: string }).providerID).split('/').at(-1)!);
    const cordoned = own.filter((n) => (n.spec as { unschedulable?: boolean }).unschedulable === true).length;
    samples.push({
      minute: m,
      demandMillis: wanted,
      replicas,
      utilisation: Math.round(utilisation * 10) / 10,
      bought: ownInstances.length,
      inService: own.length - cordoned,
      cordoned,
      needed: Math.max(0, Math.ceil((replicas - basePods) / perNode)),
      pending,
      high: rules[0]!.state,
      low: rules[1]?.state ?? 'inactive',
    });
  }

  // Releases: the function's cordons and its deletions.
  const cordons = cordonCalls().map((c) => ({ at: c.at, instanceId: instanceOfNode.get(c.path.split('/').at(-1)!) }));
  const releasesAt = cordons.map((c) => c.at);
  for (const at of releasesAt) events.push({ minute: minuteOf(at), what: 'release started (cordoned)' });
  for (const d of tke.deleted) events.push({ minute: minuteOf(Date.parse(d.at)), what: `released ${d.instanceId} (${d.mode})` });
  events.sort((a, b) => a.minute - b.minute);
  const within = (from: number, to: number) => to - from >= 0 && to - from <= setup.flapWindowMs;
  const hours = (of: readonly ClosedLoopSample[], pick: (s: ClosedLoopSample) => number) => of.reduce((sum, s) => sum + pick(s), 0) / 60;
  const shortfall = (of: readonly ClosedLoopSample[]) => hours(of, (s) => s.pending * POD_CPU_MILLIS) / 1000;
  const bought = hours(samples, (s) => s.bought);
  const needed = hours(samples, (s) => s.needed);
  const shape = setup.demand.phases();
  const phases = shape.map((phase, i) => {
    const of = samples.filter((s) => s.minute >= (shape[i - 1]?.until ?? 0) * minutes && s.minute < phase.until * minutes);
    return { phase: phase.name, nodeHoursBought: hours(of, (s) => s.bought), nodeHoursNeeded: hours(of, (s) => s.needed), shortfallCoreHours: shortfall(of) };
  });
  // Flaps, node by node: a node given back (deleted) and one bought within the window after it; a
  // node put back in service and cordoned again within the window after.
  const lowFiringAt = (t: number) => samples[Math.floor((t - start) / MINUTE)]?.low === 'firing';
  const deletions = tke.deleted
    .map((d) => ({ at: Date.parse(d.at), cordonedAt: cordons.filter((c) => c.instanceId === d.instanceId && c.at <= Date.parse(d.at)).at(-1)?.at }))
    .sort((a, b) => a.at - b.at);
  const boughtAt = tke.createdCalls.flatMap((c, i) => c.instanceIds!.map(() => purchasesAt[i]!));
  const rebought: Array<(typeof deletions)[number]> = [];
  for (let d = 0, b = 0; d < deletions.length && b < boughtAt.length; ) {
    if (boughtAt[b]! < deletions[d]!.at) b++;
    else if (within(deletions[d]!.at, boughtAt[b]!)) (rebought.push(deletions[d]!), d++, b++);
    else d++;
  }
  const restores = highDeliveries.flatMap((d) => d.restored.map((instanceId) => ({ instanceId, at: start + d.minute * MINUTE })));
  const releasedAgain = restores.filter((r) => cordons.some((c) => c.instanceId === r.instanceId && c.at > r.at && within(r.at, c.at))).length;
  const surgeAt = setup.demand.surgeAt();
  const stuckAtEnd = kube.nodes(CLUSTER_ID).filter((n) => (n.metadata.labels as Record<string, string>)[MARK_KEYS.owner] !== undefined && (n.spec as { unschedulable?: boolean }).unschedulable === true).length;
  return {
    run: `${setup.waves === 2 ? 'second wave, ' : ''}scale-in ${setup.scaleIn ? 'on' : 'off'}`,
    minutes,
    nodeHoursBought: bought,
    nodeHoursNeeded: needed,
    ratio: bought / needed,
    shortfallCoreHours: shortfall(samples),
    minutesWithPending: samples.filter((s) => s.pending > 0).length,
    purchases: purchasesAt.length,
    nodesBought: tke.createdCalls.reduce((sum, c) => sum + c.instanceIds!.length, 0),
    releasesStarted: releasesAt.length,
    nodesReleased: tke.deleted.length,
    podsEvicted: kube.calls().filter((c) => c.verb === 'evict' && c.status === 201).length,
    buysAfterRelease: purchasesAt.filter((p) => releasesAt.some((r) => within(r, p))).length,
    releasesAfterBuy: releasesAt.filter((r) => purchasesAt.some((p) => within(p, r))).length,
    reboughtAfterRelease: rebought.length,
    reboughtAfterStaleRelease: rebought.filter((d) => d.cordonedAt === undefined || !lowFiringAt(d.cordonedAt)).length,
    releasesWithoutLowAlarm: setup.scaleIn ? cordons.filter((c) => !lowFiringAt(c.at)).length : 0,
    releasedAgainAfterRestore: releasedAgain,
    boughtBesideRestorable: highDeliveries.filter((d) => d.restorable > d.restored.length).reduce((sum, d) => sum + d.bought.length, 0),
    nodesRestored: new Set(restores.map((r) => r.instanceId)).size,
    highDeliveries,
    cordonedAtMost: Math.max(0, ...samples.map((s) => s.cordoned)),
    ...(surgeAt !== undefined && { secondWave: secondWaveOutcome(surgeAt, highDeliveries) }),
    boughtAtEnd: samples.at(-1)?.bought ?? 0,
    boughtAtMost: Math.max(0, ...samples.map((s) => s.bought)),
    stuckAtEnd,
    phases,
    answers,
    events,
    samples,
  };
}
