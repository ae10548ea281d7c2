import type { ScfHandler } from '../../src/handler';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { startFunctionUrlServer, type FunctionUrlServer } from '../../dev/local/function-url-server';
import { KubeSandbox } from '../../dev/sandbox/kube-sandbox';
import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { startAlertingStack, waitUntil, type AlertingStack } from '../support/alerting-stack';
import { RELAXED_THROTTLE } from '../support/fixtures';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';

/**
 * The whole cycle of issue 19 with a real Prometheus and a real Alertmanager: a gauge the test moves
 * up and down (`demo_cpu_utilisation`, scraped every second), a high rule (> 0.8) and a low rule
 * (< 0.3). High: Alertmanager delivers DemoCpuHigh, the function buys; the timer's passes see the
 * nodes join. Low: DemoCpuHigh resolves (its rule has no `release.onResolve`: nothing goes),
 * DemoCpuLow fires, the scale-in rule queues an ask, and passes cordon, evict and delete the
 * function's newest nodes, above its floor. High again: a new episode, a new purchase.
 *
 * What it relies on of Prometheus and Alertmanager:
 *  - an alerting rule with `for: 0s` fires at the first evaluation its expression holds, with no
 *    pending stage (prometheus.io/docs/prometheus/latest/configuration/alerting_rules/, "for";
 *    prometheus/prometheus rules/alerting.go, Eval: a pending alert fires once
 *    `ts.Sub(ActiveAt) >= holdDuration`, in the same evaluation when that is 0);
 *  - an alert that fires again after it resolved is a new alert (rules/alerting.go replaces an
 *    inactive one) with a new FiredAt, which Prometheus sends as `startsAt` (rules/manager.go,
 *    SendAlerts): a new episode for the function;
 *  - Alertmanager sends a new group after `group_wait`, changes (a resolution included) after
 *    `group_interval`, re-sends a firing group every `repeat_interval`
 *    (prometheus.io/docs/alerting/latest/configuration/#route); the stack sets 1 s / 2 s / 3 s;
 *  - `send_resolved` defaults to true (prometheus.io/docs/alerting/latest/configuration/#webhook_config;
 *    the stack sets it anyway), so the function hears DemoCpuHigh resolve;
 *  - `group_by: [alertname, cluster]` (the stack's route): the high and the low alert are separate
 *    groups, each delivery carries one of them.
 *
 * The function's clock (and both sandboxes') is the test's: the nodes' 20 s to join, the pod's 30 s
 * grace are moved past with `advance`, never slept through; Prometheus and Alertmanager run on the
 * wall clock, only seconds apart.
 */
const CLUSTER = 'cls-e55paxnt';
const AM_TOKEN = 'am-cycle-token';
const HIGH = 0.95;
const LOW = 0.1;

interface Delivery {
  readonly alertname: string;
  readonly status: 'firing' | 'resolved';
  readonly answer: number;
  readonly body: Record<string, any>;
  readonly payload: Record<string, any>;
}

let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const advance = (ms: number) => (offsetMs += ms);

describe('a real Prometheus and Alertmanager moving a cluster up and down', () => {
  let tke: TkeSandbox;
  let kube: KubeSandbox;
  let h: Harness;
  let server: FunctionUrlServer;
  let stack: AlertingStack | undefined;
  const deliveries: Delivery[] = [];

  beforeAll(async () => {
    tke = new TkeSandbox({ now: clock, joinSeconds: 20 });
    await tke.start();
    kube = new KubeSandbox({ tke });
    await kube.start();
    h = await startHarness({
      now: clock,
      sandbox: tke,
      env: { ALERTMANAGER_TOKEN: AM_TOKEN, DEMO_KUBE_SERVER: kube.serverUrl(CLUSTER), DEMO_KUBE_TOKEN: kube.token(CLUSTER) },
      config: (doc) => {
        doc.throttle = RELAXED_THROTTLE;
        doc.clusters.demo.kubernetes = { serverEnv: 'DEMO_KUBE_SERVER', tokenEnv: 'DEMO_KUBE_TOKEN' };
        // The function keeps at least one of its nodes; two may go at once; no wait after a purchase.
        doc.release = { floor: 1, maxDisrupted: 2, keepRequestedBelow: 0.7, delayAfterPurchase: '0s', drainTimeout: '1m' };
        doc.rules = [
          { name: 'demo-cpu-high', sources: ['alertmanager'], match: { labels: { alertname: 'DemoCpuHigh', cluster: 'demo' } }, scale: { cluster: 'demo', template: 'small', count: 2 } },
          // Asks for more than the floor lets go: what it gets shows the floor holding.
          { name: 'demo-cpu-low', action: 'scale-in', sources: ['alertmanager'], match: { labels: { alertname: 'DemoCpuLow', cluster: 'demo' } }, scale: { cluster: 'demo', count: 3 } },
        ];
      },
    });
    // The function as its Function URL serves it, noting what Alertmanager sent and got.
    const recording: ScfHandler = async (event, context) => {
      const response = await h.function.handler(event, context);
      const payload = JSON.parse(event.body ?? '{}');
      deliveries.push({ alertname: payload.groupLabels?.alertname, status: payload.status, answer: response.statusCode, body: JSON.parse(response.body), payload });
      return response;
    };
    server = await startFunctionUrlServer(recording);
  });
  afterAll(async () => {
    await stack?.stop();
    await server?.close();
    await h?.close();
    await kube?.stop();
    await tke?.stop();
  });

  const waitFor = (what: string, condition: () => boolean, timeoutMs?: number) =>
    waitUntil(what, condition, () => deliveries.map((d) => [d.alertname, d.status, d.answer, d.body.status ?? d.body.results?.[0]?.status]), stack, timeoutMs);
  const TIMER = { Type: 'Timer', TriggerName: 'scaleout-follow', Time: '2026-12-07T10:00:00Z', Message: '' };
  const pass = () => (h.function.handler as unknown as (e: unknown, c: object) => Promise<unknown>)(TIMER, { request_id: `pass-${Math.random()}`, getRemainingTimeInMillis: () => 20_000 });
  const passLines = () => h.logLines.filter((l) => l.msg === 'purchase pass');
  const purchases = async () =>
    (await h.invoke({ httpMethod: 'GET', path: '/purchases', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent)).json.purchases as Array<Record<string, any>>;
  const firstResult = (d: Delivery) => d.body.results?.[0] as Record<string, any> | undefined;
  const delivered = (alertname: string, status: 'firing' | 'resolved', result?: string) =>
    deliveries.filter((d) => d.alertname === alertname && d.status === status && (result === undefined || firstResult(d)?.status === result));
  const nodeNameOf = (id: string) => (kube.nodes(CLUSTER).find((n) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`))?.metadata as { name: string } | undefined)?.name;
  const createCalls = () => tke.calls.filter((c) => c.action === 'CreateClusterInstances' && c.errorCode === undefined);
  const deleteCalls = () => tke.calls.filter((c) => c.action === 'DeleteClusterInstances' && c.errorCode === undefined);

  it('high buys, the nodes join; low gives the newest back drained, above the floor; high again buys anew', async () => {
    const originals = tke.instancesOf(CLUSTER).map((i) => i.InstanceId);
    expect(originals).toHaveLength(3);
    // An older node of the function's, bought by hand before the alarms: the floor keeps it.
    const earlier = await h.postGeneric({ eventId: 'by-hand-1', cluster: 'demo', template: 'small', count: 1 });
    expect(earlier.statusCode).toBe(200);
    const [older] = earlier.json.instanceIds as string[];
    advance(5_000);

    stack = await startAlertingStack({
      webhookUrl: `${server.url}/hooks/alertmanager`,
      bearerToken: AM_TOKEN,
      metric: 'demo_cpu_utilisation',
      // Between the two thresholds: neither rule fires until the test moves the gauge.
      initialValue: 0.5,
      rules: [
        { alert: 'DemoCpuHigh', expr: 'demo_cpu_utilisation > 0.8', for: '0s', labels: { cluster: 'demo', severity: 'warning' }, annotations: { summary: 'CPU high on demo' } },
        { alert: 'DemoCpuLow', expr: 'demo_cpu_utilisation < 0.3', for: '0s', labels: { cluster: 'demo', severity: 'info' }, annotations: { summary: 'CPU low on demo' } },
      ],
    });

    // 1. High: DemoCpuHigh fires, Alertmanager delivers it, the function buys 2 nodes.
    stack.setPressure(HIGH);
    await waitFor('the purchase for DemoCpuHigh', () => delivered('DemoCpuHigh', 'firing', 'created').length === 1);
    const bought = firstResult(delivered('DemoCpuHigh', 'firing', 'created')[0]!)!;
    expect(bought).toMatchObject({ clusterId: CLUSTER, template: 'small', count: 2 });
    const newest = bought.instanceIds as string[];
    expect(createCalls()).toHaveLength(2);
    // The timer's pass: 25 s on, the nodes have joined; the Kubernetes API lists them.
    advance(25_000);
    await pass();
    expect((await purchases()).map((p) => p.state)).toEqual(['ready', 'ready']);
    for (const id of [older!, ...newest]) expect(nodeNameOf(id)).toBeDefined();
    // A workload pod on one of the new nodes: the drain must evict it (30 s grace on the clock).
    kube.addPod({ namespace: 'web', name: 'api-1', nodeName: nodeNameOf(newest[0]!)!, requests: { cpu: '100m', memory: '128Mi' }, ownerKind: 'ReplicaSet', ownerName: 'api' });

    // 2. Low: DemoCpuHigh resolves (acknowledged, nothing asked), DemoCpuLow fires: an ask to give back.
    stack.setPressure(LOW);
    await waitFor('DemoCpuHigh resolved and DemoCpuLow delivered', () => delivered('DemoCpuHigh', 'resolved').length > 0 && delivered('DemoCpuLow', 'firing', 'release-requested').length === 1);
    for (const resolution of delivered('DemoCpuHigh', 'resolved')) expect(resolution.body).toMatchObject({ status: 'ignored' });
    expect(firstResult(delivered('DemoCpuLow', 'firing', 'release-requested')[0]!)).toMatchObject({ action: 'scale-in', cluster: 'demo', count: 3 });

    // Passes until the drain is done: cordon both, evict the pod, wait out its grace, delete.
    for (let i = 0; i < 8 && tke.deleted.length < 2; i++) {
      await pass();
      advance(20_000);
    }
    // The plan: the two newest, the older one held by the floor.
    const planned = passLines().find((l) => (l.released as Array<Record<string, unknown>> | undefined)?.some((r) => r.planned !== undefined));
    expect((planned!.released as Array<Record<string, any>>)[0]).toMatchObject({ cluster: 'demo', planned: expect.arrayContaining(newest), held: [{ instanceId: older, reason: 'floor' }] });
    expect(tke.deleted.map((d) => d.instanceId).sort()).toEqual([...newest].sort());
    // One DeleteClusterInstances per node, each when its drain is done: the one without a workload
    // pod first, the other once its pod's grace is over.
    expect(deleteCalls().map((c) => [c.params.ClusterId, c.params.InstanceIds])).toEqual([
      [CLUSTER, [newest[1]]],
      [CLUSTER, [newest[0]]],
    ]);
    // Only the function's newest nodes were cordoned; the cluster's own and the older one untouched.
    const cordoned = new Set(kube.calls().filter((c) => c.verb === 'patch-node').map((c) => c.path.split('/').pop()));
    expect(cordoned.size).toBe(2);
    const remaining = tke.instancesOf(CLUSTER).map((i) => i.InstanceId);
    expect(remaining.sort()).toEqual([...originals, older!].sort());
    for (const id of [...originals, older!]) expect(cordoned.has(nodeNameOf(id))).toBe(false);
    // The evicted pod's replacement runs on a node that stays.
    const api = kube.pods(CLUSTER).filter((p) => (p.metadata as { namespace: string }).namespace === 'web');
    expect(api).toHaveLength(1);
    expect([...originals, older!].map(nodeNameOf)).toContain((api[0]!.spec as { nodeName?: string }).nodeName);
    // The records: the alarm's purchase released node by node; the older one not touched.
    const records = await purchases();
    const released = records.find((p) => p.instanceIds.includes(newest[0]))!;
    expect(Object.values(released.instances).map((i: any) => i.release?.state)).toEqual(['released', 'released']);
    const kept = records.find((p) => p.instanceIds.includes(older))!;
    expect(Object.values(kept.instances).map((i: any) => i.release)).toEqual([undefined]);
    // Alertmanager's repeat of the same low episode (repeat_interval) is the same ask: nothing more goes.
    await waitFor('a repeat of DemoCpuLow', () => delivered('DemoCpuLow', 'firing', 'replayed').length > 0);
    await pass();
    expect(passLines().at(-1)!.released).toBeUndefined();
    expect(tke.deleted).toHaveLength(2);

    // 3. High again: DemoCpuLow resolves, DemoCpuHigh fires with a new startsAt: a new episode, a new purchase.
    stack.setPressure(HIGH);
    await waitFor('the second purchase for DemoCpuHigh', () => delivered('DemoCpuHigh', 'firing', 'created').length === 2);
    await waitFor('DemoCpuLow resolved', () => delivered('DemoCpuLow', 'resolved').length > 0);
    const again = firstResult(delivered('DemoCpuHigh', 'firing', 'created')[1]!)!;
    expect(again.eventId).not.toBe(bought.eventId);
    expect(again.eventId.split('/')[1]).toBe(bought.eventId.split('/')[1]); // the same alert (fingerprint)...
    expect(again).toMatchObject({ clusterId: CLUSTER, count: 2 }); // ...a new episode, bought anew
    for (const resolution of delivered('DemoCpuLow', 'resolved')) expect(resolution.body).toMatchObject({ status: 'ignored' });
    expect(createCalls()).toHaveLength(3);
    expect(tke.deleted).toHaveLength(2);

    // Every answer Alertmanager got was a 2xx: nothing for it to retry.
    expect(deliveries.filter((d) => d.answer < 200 || d.answer > 299)).toEqual([]);
  }, 90_000);
});
