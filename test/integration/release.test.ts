import type { FunctionUrlEvent } from '../../src/scf/event';
import { signSlackRequest } from '../../src/auth/slack-signature';
import { signGrafanaPayload } from '../../src/auth/grafana-hmac';
import { StoreUnavailableError } from '../../src/errors';
import { KubeSandbox } from '../../dev/sandbox/kube-sandbox';
import { TkeSandbox } from '../../dev/sandbox/tke-sandbox';
import { NotifyCapture } from '../../dev/sandbox/notify-capture';
import { fixture, RELAXED_THROTTLE } from '../support/fixtures';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';

/**
 * Giving the function's nodes back (issue 19), through the real handler, the TKE sandbox and its
 * Kubernetes API stand-in (dev/sandbox/kube-sandbox.ts): an ask queued, then passes that cordon
 * (PATCH spec.unschedulable, merge patch), evict through policy/v1 Eviction (201; 429 while a
 * PodDisruptionBudget refuses, tried again next pass), wait for the pods to go, and delete with
 * DeleteClusterInstances (kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/). The
 * clock is the test's; both sandboxes run on it.
 */
const CLUSTER = 'cls-e55paxnt';
let tke: TkeSandbox;
let kube: KubeSandbox;
let h: Harness;
let capture: NotifyCapture;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
const advance = (ms: number) => (offsetMs += ms);

afterEach(async () => {
  await h?.close();
  await capture?.stop();
  await kube?.stop();
  await tke?.stop();
  offsetMs = 0;
});

async function start(release: Record<string, unknown> = {}, change: (doc: Record<string, any>) => void = () => undefined): Promise<void> {
  tke = new TkeSandbox({ now: clock, joinSeconds: 20 });
  await tke.start();
  kube = new KubeSandbox({ tke });
  await kube.start();
  capture = new NotifyCapture({ now: clock });
  const captureUrl = await capture.start();
  h = await startHarness({
    now: clock,
    sandbox: tke,
    env: { DEMO_KUBE_SERVER: kube.serverUrl(CLUSTER), DEMO_KUBE_TOKEN: kube.token(CLUSTER), TEAM_SLACK: `${captureUrl}/slack/services/T/B/team`, AM_TOKEN: 'am-token', SLACK_SIGNING_SECRET: 'slack-secret', SCALEOUT_CHAT_ALLOW: 'U1', GRAFANA_WEBHOOK_SECRET: 'grafana-secret', TENCENT_MONITOR_TOKEN: 'tcm-token' },
    config: (doc) => {
      doc.throttle = RELAXED_THROTTLE;
      doc.notify = { sinks: { team: { type: 'slack', urlEnv: 'TEAM_SLACK', events: ['released', 'stuck', 'restored'] } }, default: ['team'] };
      doc.clusters.demo.kubernetes = { serverEnv: 'DEMO_KUBE_SERVER', tokenEnv: 'DEMO_KUBE_TOKEN' };
      doc.release = { delayAfterPurchase: '0s', cooldown: '0s', ...release };
      change(doc);
    },
  });
}

const TIMER = { Type: 'Timer', TriggerName: 'scaleout-follow', Time: '2026-12-07T10:00:00Z', Message: '' };
const pass = () => (h.function.handler as unknown as (e: unknown, c: object) => Promise<unknown>)(TIMER, { request_id: `pass-${Math.random()}`, getRemainingTimeInMillis: () => 20_000 });
const passLines = () => h.logLines.filter((l) => l.msg === 'purchase pass');
const scaleIn = (body: Record<string, unknown>) => h.postGeneric({ action: 'scale-in', cluster: 'demo', ...body });
const purchases = async () =>
  (await h.invoke({ httpMethod: 'GET', path: '/purchases', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent)).json.purchases as Array<Record<string, any>>;

describe('giving nodes back', () => {
  it('an ask of 2: the newest go, drained (a budget refusing once holds one pass), then deleted; the cluster\'s own nodes are never touched', async () => {
    await start({ maxDisrupted: 2 });
    const first = await h.postGeneric({ eventId: 'buy-1', cluster: 'demo', template: 'small', count: 1 });
    advance(5_000);
    const second = await h.postGeneric({ eventId: 'buy-2', cluster: 'demo', template: 'small', count: 2 });
    advance(25_000);
    await pass();
    expect((await purchases()).map((p) => p.state)).toEqual(['ready', 'ready']);
    const newest = second.json.instanceIds as string[];
    // A workload pod on one of the newest nodes, under a budget that refuses its first eviction.
    const nodeOf = (id: string) => kube.nodes(CLUSTER).find((n) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`))!;
    const target = (nodeOf(newest[0]!).metadata as { name: string }).name;
    kube.addPod({ namespace: 'web', name: 'api-1', nodeName: target, requests: { cpu: '100m', memory: '128Mi' }, ownerKind: 'ReplicaSet', pdbBlocksTimes: 1 });

    const asked = await scaleIn({ eventId: 'in-1', count: 2, reason: 'load is low' });
    expect(asked.statusCode).toBe(202);
    expect(asked.json).toMatchObject({ status: 'release-requested', cluster: 'demo', count: 2 });
    // The sender's retry is the same ask.
    expect((await scaleIn({ eventId: 'in-1', count: 2, reason: 'load is low' })).json.status).toBe('replayed');

    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', planned: expect.arrayContaining(newest), steps: { [newest[0]!]: 'cordoned', [newest[1]!]: 'cordoned' } }]);
    expect((nodeOf(newest[0]!).spec as { unschedulable?: boolean }).unschedulable).toBe(true);
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', steps: { [newest[0]!]: expect.stringMatching(/refused 1/), [newest[1]!]: expect.stringMatching(/^(evicting|deleting|released)/) } }]);
    // Next passes: evicted, the pod terminates (30 s grace on the clock), then the node goes.
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    const deleted = tke.deleted.map((d) => d.instanceId).sort();
    expect(deleted).toEqual([...newest].sort());
    expect(tke.deleted.every((d) => d.mode === 'terminate')).toBe(true);
    // The older purchase's node stays; the cluster's own 3 nodes too.
    expect(tke.instancesOf(CLUSTER).map((i) => i.InstanceId)).toEqual(expect.arrayContaining(first.json.instanceIds));
    expect(tke.instancesOf(CLUSTER)).toHaveLength(3 + 1);
    const records = await purchases();
    const released = records.find((p) => p.instanceIds.includes(newest[0]))!;
    expect(Object.values(released.instances).map((i: any) => i.release?.state)).toEqual(['released', 'released']);
    // The purchase stays ready (its nodes did join); its nodes say what became of them.
    expect(released).toMatchObject({ state: 'ready', nodes: { inService: 0, givingBack: 0, released: 2 } });
    expect(records.find((p) => p.instanceIds.includes(first.json.instanceIds[0]))).toMatchObject({ nodes: { inService: 1, givingBack: 0, released: 0 } });
    // The team is told of each node given back, once.
    const titles = capture.received().map((m) => m.text.split('\n')[0]);
    expect(titles).toHaveLength(2);
    for (const title of titles) expect(title).toMatch(/^Gave node \S+ of demo \(cls-e55paxnt\) back: drained and deleted$/);
    expect(capture.received()[0]!.text).toContain('Reason: load is low');
  });

  it('the Kubernetes API failing mid-drain, then TKE refusing the deletion: nothing lost, each step taken again by the next pass', async () => {
    await start({ maxDisrupted: 5 });
    const bought = await h.postGeneric({ eventId: 'buy-f', cluster: 'demo', template: 'small', count: 1 });
    const [id] = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    await scaleIn({ eventId: 'in-f', count: 1 });
    // The cordon fails (503), then succeeds on the next pass.
    kube.injectFault({ kind: 'status', status: 503, verb: 'patch-node' });
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', planned: [id], steps: { [id!]: 'failed, tried again next pass: KubeApiFailed' }, problems: [expect.stringContaining('HTTP 503')] }]);
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', steps: { [id!]: 'cordoned' } }]);
    // Listing the pods fails: the pass does nothing to the node, says why.
    kube.injectFault({ kind: 'status', status: 500, verb: 'list-pods' });
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', problems: [expect.stringContaining('HTTP 500')] }]);
    // TKE refuses the deletion as a whole: tried again, deleted once.
    h.sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'DeleteClusterInstances', times: 1 });
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    expect(tke.deleted.map((d) => d.instanceId)).toEqual([id]);
    expect(Object.values((await purchases())[0]!.instances).map((i: any) => i.release?.state)).toEqual(['released']);
  });

  it('a PodDisruptionBudget that never lets go: after the drain\'s time the node stays cordoned, not deleted, and the team is told once', async () => {
    await start({ maxDisrupted: 5, drainTimeout: '1m' });
    const bought = await h.postGeneric({ eventId: 'buy-s', cluster: 'demo', template: 'small', count: 1 });
    const [id] = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    const node = kube.nodes(CLUSTER).find((n) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`))!;
    kube.addPod({ namespace: 'db', name: 'primary-0', nodeName: (node.metadata as { name: string }).name, requests: { cpu: '100m' }, ownerKind: 'StatefulSet', pdbBlocksTimes: 1000 });
    await scaleIn({ eventId: 'in-s', count: 1 });
    for (let i = 0; i < 6; i++) {
      advance(20_000);
      await pass();
    }
    expect(tke.deleted).toEqual([]);
    expect((kube.nodes(CLUSTER).find((n) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`))!.spec as { unschedulable?: boolean }).unschedulable).toBe(true);
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', steps: { [id!]: expect.stringMatching(/^stuck: 1 pod\(s\) still on it after the drain's time: db\/primary-0$/) } }]);
    const stuck = capture.received().filter((m) => m.text.includes('could not be drained in time'));
    expect(stuck).toHaveLength(1);
    expect(stuck[0]!.text).toContain('db/primary-0');
  });

  it('a lease (the template\'s maxLifetime) ends: its nodes are given back whatever the alarms say, and not before', async () => {
    await start({ maxDisrupted: 5 }, (doc) => (doc.templates.small.maxLifetime = '1m'));
    const bought = await h.postGeneric({ eventId: 'buy-l', cluster: 'demo', template: 'small', count: 1 });
    const [id] = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    expect(passLines().at(-1)!.released).toBeUndefined();
    advance(30_000);
    await pass();
    // 55 s after the purchase: the lease holds.
    expect(passLines().at(-1)!.released).toBeUndefined();
    advance(10_000);
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', planned: [id], steps: { [id!]: 'cordoned' } }]);
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    expect(tke.deleted.map((d) => d.instanceId)).toEqual([id]);
    const released = capture.received().find((m) => m.text.startsWith('Gave node'))!;
    expect(released.text).toContain('Reason: its lease of 1 min (template small, maxLifetime) ended');
  });

  it('a low alarm (Alertmanager, a scale-in rule) gives one node back per episode; its resolution and a repeat of it give nothing more', async () => {
    await start({ maxDisrupted: 5 }, (doc) => {
      doc.sources.alertmanager = { auth: { bearer: { tokenEnv: 'AM_TOKEN' } } };
      doc.rules.push({ name: 'demo-low-test', action: 'scale-in', sources: ['alertmanager'], match: { labels: { alertname: 'DemoLowCpu' } }, scale: { cluster: 'demo', count: 1 } });
    });
    const bought = await h.postGeneric({ eventId: 'buy-low', cluster: 'demo', template: 'small', count: 2 });
    advance(25_000);
    await pass();
    const payload = fixture<Record<string, any>>('alertmanager-firing.json');
    const alert = { ...payload.alerts[0], labels: { alertname: 'DemoLowCpu', cluster: 'demo' }, fingerprint: '10a0000000000001' };
    const deliver = (status: 'firing' | 'resolved') =>
      h.invoke({ httpMethod: 'POST', path: '/hooks/alertmanager', headers: { 'content-type': 'application/json', authorization: 'Bearer am-token' }, body: JSON.stringify({ ...payload, status, alerts: [{ ...alert, status }] }) } as FunctionUrlEvent);
    const answered = await deliver('firing');
    expect(answered.statusCode).toBe(200);
    expect(answered.json.results).toEqual([expect.objectContaining({ action: 'scale-in', status: 'release-requested', cluster: 'demo', count: 1 })]);
    // Alertmanager's repeat of the same episode is the same ask.
    expect((await deliver('firing')).json.results).toEqual([expect.objectContaining({ status: 'replayed' })]);
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    expect(tke.deleted).toHaveLength(1);
    expect(bought.json.instanceIds).toContain(tke.deleted[0]!.instanceId);
    // A repeat after the pass took the ask is still that ask, not a new one.
    expect((await deliver('firing')).json.results).toEqual([expect.objectContaining({ status: 'replayed' })]);
    // Its resolution asks for nothing.
    expect((await deliver('resolved')).json).toMatchObject({ status: 'ignored' });
    advance(20_000);
    await pass();
    expect(tke.deleted).toHaveLength(1);
  });

  it('release on resolution (opt-in): what the episode bought goes once it stayed resolved `after`; firing again inside it keeps the nodes', async () => {
    await start({ maxDisrupted: 5 }, (doc) => {
      doc.sources.alertmanager = { auth: { bearer: { tokenEnv: 'AM_TOKEN' } } };
      doc.rules.push({ name: 'demo-batch', sources: ['alertmanager'], match: { labels: { alertname: 'BatchBacklog' } }, scale: { cluster: 'demo', template: 'small', count: 1 }, release: { onResolve: true, after: '1m' } });
    });
    const payload = fixture<Record<string, any>>('alertmanager-firing.json');
    const alert = { ...payload.alerts[0], labels: { alertname: 'BatchBacklog', cluster: 'demo' }, fingerprint: 'ba7c000000000001' };
    const deliver = (status: 'firing' | 'resolved') =>
      h.invoke({ httpMethod: 'POST', path: '/hooks/alertmanager', headers: { 'content-type': 'application/json', authorization: 'Bearer am-token' }, body: JSON.stringify({ ...payload, status, alerts: [{ ...alert, status }] }) } as FunctionUrlEvent);
    expect((await deliver('firing')).json.results).toEqual([expect.objectContaining({ status: 'created' })]);
    advance(25_000);
    await pass();
    // Resolved, then firing again 30 s later: the nodes stay.
    expect((await deliver('resolved')).json.results).toEqual([expect.objectContaining({ action: 'scale-in', status: 'release-requested' })]);
    advance(30_000);
    await pass();
    await deliver('firing');
    advance(60_000);
    await pass();
    expect(kube.calls().filter((c) => c.verb === 'patch-node')).toEqual([]);
    // Resolved for good (a later resolution of the same episode is a new ask only once the first is gone: withdrawn above).
    await deliver('resolved');
    advance(30_000);
    await pass();
    expect(tke.deleted).toEqual([]);
    advance(40_000);
    await pass();
    expect(passLines().at(-1)!.released).toEqual([expect.objectContaining({ planned: [expect.any(String)] })]);
    for (let i = 0; i < 3; i++) {
      advance(20_000);
      await pass();
    }
    expect(tke.deleted).toHaveLength(1);
  });

  it("release on resolution from Grafana (the alert resolved, state ok) and Tencent Cloud Monitor (alarmStatus 0, a string or a number: its callback doc, 248/38209, shows both)", async () => {
    await start({ maxDisrupted: 5 }, (doc) => {
      delete doc.sources.grafana.auth.hmac.timestampHeader;
      doc.sources.grafana.auth.hmac.acceptReplays = true;
      const rule = (name: string) => doc.rules.find((r: { name: string }) => r.name === name);
      rule('demo-critical').release = { onResolve: true, after: '0s' };
      rule('demo-tcm').release = { onResolve: true, after: '0s' };
    });
    const grafana = (body: Record<string, unknown>) => {
      const text = JSON.stringify(body);
      return h.invoke({ httpMethod: 'POST', path: '/hooks/grafana', headers: { 'content-type': 'application/json', 'x-grafana-alert-signature': signGrafanaPayload('grafana-secret', text) }, body: text } as FunctionUrlEvent);
    };
    const tcm = (body: Record<string, unknown>) => h.invoke({ httpMethod: 'POST', path: '/hooks/tencent-monitor', headers: { 'content-type': 'application/json' }, queryString: { token: 'tcm-token' }, body: JSON.stringify(body) } as FunctionUrlEvent);
    const firing = fixture<Record<string, any>>('grafana-firing.json');
    expect((await grafana(firing)).json.results[0]).toMatchObject({ status: 'created' });
    const alarm = fixture<Record<string, any>>('tencent-monitor-alarm.json');
    expect((await tcm(alarm)).json.results[0]).toMatchObject({ status: 'created' });
    advance(25_000);
    await pass();
    // Grafana's resolution: the top-level state "ok", each alert "resolved" (grafana/alerting notify/webhook).
    const resolved = { ...firing, status: 'resolved', state: 'ok', alerts: firing.alerts.map((a: Record<string, unknown>) => ({ ...a, status: 'resolved', endsAt: '2026-11-25T10:20:00+02:00' })) };
    expect((await grafana(resolved)).json.results).toEqual([expect.objectContaining({ action: 'scale-in', status: 'release-requested' })]);
    // Cloud Monitor's recovery, alarmStatus "0" then the same recovery with 0 as a number: one ask.
    // (Its answer is Cloud Monitor's shape: retCode 0 and what became of the delivery.)
    expect((await tcm({ ...alarm, alarmStatus: '0', recoverTime: '2026-11-25 15:40:00' })).json).toMatchObject({ retCode: 0, action: 'scale-in', status: 'release-requested' });
    expect((await tcm({ ...alarm, alarmStatus: 0, recoverTime: '2026-11-25 15:40:00' })).json).toMatchObject({ retCode: 0, action: 'scale-in', status: 'replayed' });
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    // Each episode's own nodes, and only those: 3 of Grafana's, 1 of Cloud Monitor's.
    expect(tke.deleted).toHaveLength(4);
  });

  it('a chat /scalein (Slack): a dry run lists what would go; the command gives it back; a user not allowed changes nothing', async () => {
    await start({ maxDisrupted: 5 });
    const bought = await h.postGeneric({ eventId: 'buy-chat', cluster: 'demo', template: 'small', count: 1 });
    advance(25_000);
    await pass();
    let trigger = 0;
    const slash = (text: string, user = 'U1') => {
      const body = new URLSearchParams({ command: '/scalein', text, user_id: user, channel_id: 'C1', trigger_id: `trig-in-${++trigger}-${Date.now()}` }).toString();
      const ts = String(Math.floor(clock() / 1000));
      return h.invoke({ httpMethod: 'POST', path: '/hooks/slack', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest('slack-secret', ts, body) }, body } as FunctionUrlEvent);
    };
    const dry = await slash('demo all --dry-run');
    expect(dry.json).toEqual({ response_type: 'ephemeral', text: `Dry run, nothing changed. Would give back ${bought.json.instanceIds[0]} of demo.` });
    expect((await slash('demo 1', 'U2')).json.text).toMatch(/^You may not scale clusters from here/);
    const asked = await slash('demo 1');
    expect(asked.json).toEqual({ response_type: 'in_channel', text: expect.stringMatching(/^Giving back 1 node of demo, newest first/) });
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    expect(tke.deleted.map((d) => d.instanceId)).toEqual(bought.json.instanceIds);
  });

  it('an ask made while the nodes still join, within the delay after the purchase, waits for the delay, then gives them back', async () => {
    await start({ maxDisrupted: 5, delayAfterPurchase: '1m' });
    const bought = await h.postGeneric({ eventId: 'buy-w', cluster: 'demo', template: 'small', count: 1 });
    expect((await scaleIn({ eventId: 'in-w', count: 1 })).statusCode).toBe(202);
    advance(25_000);
    await pass();
    advance(25_000);
    await pass();
    expect(kube.calls().filter((c) => c.verb === 'patch-node')).toEqual([]);
    advance(15_000);
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', planned: bought.json.instanceIds, steps: { [bought.json.instanceIds[0]]: 'cordoned' } }]);
  });

  it('a dry run of a resolution (?dryRun=true) lists only what that episode bought', async () => {
    await start({ maxDisrupted: 5 }, (doc) => {
      doc.sources.alertmanager = { auth: { bearer: { tokenEnv: 'AM_TOKEN' } } };
      doc.rules.push({ name: 'demo-batch', sources: ['alertmanager'], match: { labels: { alertname: 'BatchBacklog' } }, scale: { cluster: 'demo', template: 'small', count: 1 }, release: { onResolve: true, after: '0s' } });
    });
    const other = await h.postGeneric({ eventId: 'buy-other', cluster: 'demo', template: 'small', count: 1 });
    const payload = fixture<Record<string, any>>('alertmanager-firing.json');
    const alert = { ...payload.alerts[0], labels: { alertname: 'BatchBacklog', cluster: 'demo' }, fingerprint: 'ba7c000000000002' };
    const deliver = (status: 'firing' | 'resolved', query: Record<string, string> = {}) =>
      h.invoke({ httpMethod: 'POST', path: '/hooks/alertmanager', headers: { 'content-type': 'application/json', authorization: 'Bearer am-token' }, queryString: query, body: JSON.stringify({ ...payload, status, alerts: [{ ...alert, status }] }) } as FunctionUrlEvent);
    const bought = (await deliver('firing')).json.results[0].instanceIds as string[];
    advance(25_000);
    await pass();
    const dry = await deliver('resolved', { dryRun: 'true' });
    expect(dry.json.results).toEqual([expect.objectContaining({ action: 'scale-in', status: 'dry-run', wouldRelease: bought })]);
    expect(bought).not.toContain(other.json.instanceIds[0]);
    await pass();
    expect(kube.calls().filter((c) => c.verb === 'patch-node')).toEqual([]);
  });

  it('a node an operator took over mid-drain (its marks removed) is left alone, never deleted', async () => {
    await start({ maxDisrupted: 5 });
    const bought = await h.postGeneric({ eventId: 'buy-t', cluster: 'demo', template: 'small', count: 1 });
    const [id] = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    kube.addPod({ namespace: 'web', name: 'api-t', nodeName: (kube.nodes(CLUSTER).find((n) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`))!.metadata as { name: string }).name, requests: { cpu: '100m' }, ownerKind: 'ReplicaSet', pdbBlocksTimes: 1000 });
    await scaleIn({ eventId: 'in-t', count: 1 });
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', planned: [id], steps: { [id!]: 'cordoned' } }]);
    // The operator removes the function's purchase mark from the node (its label on the instance).
    const instance = tke.instancesOf(CLUSTER).find((i) => i.InstanceId === id)!;
    (instance as unknown as { Labels: Array<{ Name: string; Value: string }> }).Labels.splice(0, Infinity, ...(instance as unknown as { Labels: Array<{ Name: string; Value: string }> }).Labels.filter((l) => l.Name !== 'tke-scaleout/purchase'));
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', steps: { [id!]: "left alone: its node no longer carries the function's marks" } }]);
    expect(tke.deleted).toEqual([]);
  });

  it("nodes without the function's marks, or with forged marks and no record, are never touched, even when a resolved alert and an ask for all name their cluster", async () => {
    await start({ maxDisrupted: 10 }, (doc) => {
      doc.sources.alertmanager = { auth: { bearer: { tokenEnv: 'AM_TOKEN' } } };
      doc.rules.push({ name: 'demo-batch-2', sources: ['alertmanager'], match: { labels: { alertname: 'BatchBacklog' } }, scale: { cluster: 'demo', template: 'small', count: 1 }, release: { onResolve: true, after: '1m' } });
    });
    const bought = await h.postGeneric({ eventId: 'buy-own', cluster: 'demo', template: 'small', count: 1 });
    advance(25_000);
    await pass();
    // One of the cluster's own nodes is made to look like the function's: both marks, a purchase no record has.
    const original = tke.instancesOf(CLUSTER).find((i) => !bought.json.instanceIds.includes(i.InstanceId))!;
    const labels = (original as unknown as { Labels: Array<{ Name: string; Value: string }> }).Labels;
    const owner = ((tke.instancesOf(CLUSTER).find((i) => i.InstanceId === bought.json.instanceIds[0]) as unknown as { Labels: Array<{ Name: string; Value: string }> }).Labels.find((l) => l.Name === 'tke-scaleout/owner'))!.Value;
    labels.push({ Name: 'tke-scaleout/owner', Value: owner }, { Name: 'tke-scaleout/purchase', Value: 'p-forged00000000' });
    advance(1_000);
    expect(kube.nodes(CLUSTER).filter((n) => (n.metadata as { labels: Record<string, string> }).labels['tke-scaleout/purchase'] === 'p-forged00000000')).toHaveLength(1);
    // A resolved alert of a rule that releases on resolution (it bought nothing: nothing of its episode), and an ask for all.
    const payload = fixture<Record<string, any>>('alertmanager-firing.json');
    const alert = { ...payload.alerts[0], status: 'resolved', labels: { alertname: 'BatchBacklog', cluster: 'demo' }, fingerprint: 'ba7c000000000002' };
    await h.invoke({ httpMethod: 'POST', path: '/hooks/alertmanager', headers: { 'content-type': 'application/json', authorization: 'Bearer am-token' }, body: JSON.stringify({ ...payload, status: 'resolved', alerts: [alert] }) } as FunctionUrlEvent);
    await scaleIn({ eventId: 'in-all', count: 'all' });
    for (let i = 0; i < 6; i++) {
      advance(20_000);
      await pass();
    }
    // Only the function's recorded node went; no other node was cordoned, none other deleted.
    expect(tke.deleted.map((d) => d.instanceId)).toEqual(bought.json.instanceIds);
    const patched = new Set(kube.calls().filter((c) => c.verb === 'patch-node').map((c) => c.path));
    expect([...patched]).toHaveLength(1);
    expect(tke.instancesOf(CLUSTER).map((i) => i.InstanceId)).toContain(original.InstanceId);
  });

  it('the scale-in cooldown: a second ask within it waits, said as such, and goes once it is over (even after the first purchase is all gone)', async () => {
    await start({ maxDisrupted: 5, cooldown: '5m' });
    const one = await h.postGeneric({ eventId: 'buy-c1', cluster: 'demo', template: 'small', count: 1 });
    advance(5_000);
    const two = await h.postGeneric({ eventId: 'buy-c2', cluster: 'demo', template: 'small', count: 1 });
    advance(25_000);
    await pass();
    await scaleIn({ eventId: 'in-c1', count: 1 });
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', planned: two.json.instanceIds, steps: { [two.json.instanceIds[0]]: 'cordoned' } }]);
    // The newest is gone within two more passes; its purchase is no longer live.
    for (let i = 0; i < 2; i++) {
      advance(20_000);
      await pass();
    }
    expect(tke.deleted.map((d) => d.instanceId)).toEqual(two.json.instanceIds);
    await scaleIn({ eventId: 'in-c2', count: 1 });
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', held: [{ instanceId: one.json.instanceIds[0], reason: 'cooldown', detail: expect.stringContaining('release.cooldown') }] }]);
    // 5 min after the first began (40 s ago): over.
    advance(4 * 60_000 + 20_000);
    await pass();
    expect(passLines().at(-1)!.released).toEqual([{ cluster: 'demo', planned: one.json.instanceIds, steps: { [one.json.instanceIds[0]]: 'cordoned' } }]);
  });

  it('--dry-run says what would go and what stays, and why, changing nothing', async () => {
    await start({ floor: 1 });
    const bought = await h.postGeneric({ eventId: 'buy-d', cluster: 'demo', template: 'small', count: 2 });
    advance(25_000);
    await pass();
    const dry = await scaleIn({ eventId: 'in-dry', count: 'all', dryRun: true });
    expect(dry.statusCode).toBe(200);
    expect(dry.json).toMatchObject({ status: 'dry-run', wouldRelease: [expect.any(String)], held: [{ reason: 'floor' }] });
    expect((bought.json.instanceIds as string[])).toContain(dry.json.wouldRelease[0]);
    await pass();
    expect(kube.calls().filter((c) => c.verb === 'patch-node' || c.verb === 'evict')).toEqual([]);
    expect(tke.deleted).toEqual([]);
  });

  it('refuses a cluster with no Kubernetes API configured, naming what to set', async () => {
    await start();
    const refused = await h.postGeneric({ action: 'scale-in', eventId: 'in-bj', cluster: 'demo-bj', count: 1 });
    expect(refused.statusCode).toBe(422);
    expect(refused.json.error).toMatchObject({ code: 'ReleaseNotConfigured', message: expect.stringContaining('clusters.demo-bj.kubernetes') });
  });
});

describe('the high alarm fires again while nodes are being given back', () => {
  const nodeOf = (id: string) => kube.nodes(CLUSTER).find((n) => (n.spec as { providerID: string }).providerID.endsWith(`/${id}`))!;
  const unschedulable = (id: string) => (nodeOf(id).spec as { unschedulable?: boolean }).unschedulable === true;
  const stateOf = async (id: string) => (await purchases()).find((p) => p.instanceIds.includes(id))!.instances[id].release?.state;

  /** Two nodes bought and joined, then an ask to give both back, cordoned by the next pass (one holds a pod a PDB keeps). */
  async function twoDraining(): Promise<string[]> {
    const bought = await h.postGeneric({ eventId: 'buy-r', cluster: 'demo', template: 'small', count: 2 });
    const ids = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    kube.addPod({ namespace: 'web', name: 'api-1', nodeName: (nodeOf(ids[0]!).metadata as { name: string }).name, requests: { cpu: '100m' }, ownerKind: 'ReplicaSet', pdbBlocksTimes: 1000 });
    await scaleIn({ eventId: 'in-r', count: 2, reason: 'load is low' });
    await pass();
    expect(ids.every(unschedulable)).toBe(true);
    return ids;
  }

  it('puts them back in service (uncordoned) instead of buying, answers "restored", and no pass drains them again', async () => {
    await start({ maxDisrupted: 5 });
    const ids = await twoDraining();
    const created = tke.createdCalls.length;
    const high = await h.postGeneric({ eventId: 'high-again', cluster: 'demo', template: 'small', count: 2 });
    expect(high.statusCode).toBe(200);
    expect(high.json).toMatchObject({ status: 'restored', count: 0, instanceIds: [], restored: expect.arrayContaining(ids) });
    expect(tke.createdCalls).toHaveLength(created);
    expect(ids.some(unschedulable)).toBe(false);
    expect(await stateOf(ids[0]!)).toBe('restored');
    // The team hears it, as it would have heard of a purchase.
    const told = capture.received().filter((m) => m.text.startsWith('Put 2 nodes of demo (cls-e55paxnt) back in service instead of buying'));
    expect(told).toHaveLength(1);
    for (const id of ids) expect(told[0]!.text).toContain(id);
    // The sender's retry replays the answer; it takes nothing more.
    const again = await h.postGeneric({ eventId: 'high-again', cluster: 'demo', template: 'small', count: 2 });
    expect(again.json).toMatchObject({ status: 'replayed', restored: expect.arrayContaining(ids) });
    // Passes leave them in service: the ask was done, nothing waits.
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    expect(ids.some(unschedulable)).toBe(false);
    expect(tke.deleted).toEqual([]);
    expect(h.logLines.find((l) => l.msg !== 'purchase pass' && l.outcome === 'restored')).toMatchObject({ restored: expect.arrayContaining(ids) });
    // Back in service, they are the function's nodes like any: a later low alarm may give them back.
    await scaleIn({ eventId: 'in-r2', count: 1 });
    await pass();
    expect(ids.filter(unschedulable)).toHaveLength(1);
  });

  it('puts back what is draining and buys only the rest; a redelivery after a failed call counts what it put back and buys no more', async () => {
    await start({ maxDisrupted: 5 });
    const ids = await twoDraining();
    const created = tke.createdCalls.length;
    // TKE fails every attempt of the purchase for the rest: the sender gets a 5xx and retries.
    h.sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'CreateClusterInstances', times: 4 });
    const first = await h.postGeneric({ eventId: 'high-3', cluster: 'demo', template: 'small', count: 3 });
    expect(first.statusCode).toBeGreaterThanOrEqual(500);
    expect(ids.some(unschedulable)).toBe(false);
    const retry = await h.postGeneric({ eventId: 'high-3', cluster: 'demo', template: 'small', count: 3 });
    expect(retry.statusCode).toBe(200);
    expect(retry.json).toMatchObject({ status: 'created', count: 1, restored: expect.arrayContaining(ids) });
    expect(retry.json.instanceIds).toHaveLength(1);
    expect(tke.createdCalls).toHaveLength(created + 1);
    expect(JSON.parse(String(tke.createdCalls.at(-1)!.params.RunInstancePara)).InstanceCount).toBe(1);
  });

  it('the ask still waiting (held by the disruption budget) is withdrawn: once put back, no pass drains the rest', async () => {
    await start({ maxDisrupted: 1 });
    const bought = await h.postGeneric({ eventId: 'buy-w', cluster: 'demo', template: 'small', count: 2 });
    const ids = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    await scaleIn({ eventId: 'in-w', count: 2 });
    await pass();
    const draining = ids.filter(unschedulable);
    expect(draining).toHaveLength(1);
    const high = await h.postGeneric({ eventId: 'high-w', cluster: 'demo', template: 'small', count: 1 });
    expect(high.json).toMatchObject({ status: 'restored', restored: draining });
    expect(h.logLines.find((l) => l.outcome === 'restored')).toMatchObject({ releaseAsksWithdrawn: 1 });
    for (let i = 0; i < 4; i++) {
      advance(20_000);
      await pass();
    }
    expect(ids.some(unschedulable)).toBe(false);
    expect(tke.deleted).toEqual([]);
  });

  it('two scale-outs at once each put one back (they share the lock; their claims are atomic): nothing bought, nothing taken twice', async () => {
    await start({ maxDisrupted: 5 });
    const ids = await twoDraining();
    const created = tke.createdCalls.length;
    const [a, b] = await Promise.all([h.postGeneric({ eventId: 'high-a', cluster: 'demo', template: 'small', count: 1 }), h.postGeneric({ eventId: 'high-b', cluster: 'demo', template: 'small', count: 1 })]);
    expect([a.json.status, b.json.status]).toEqual(['restored', 'restored']);
    expect([...a.json.restored, ...b.json.restored].sort()).toEqual([...ids].sort());
    expect(tke.createdCalls).toHaveLength(created);
  });

  it("a deletion TKE carried out but whose every answer was lost: the node is deleting, never put back; the scale-out buys instead, and a pass finishes it", async () => {
    await start({ maxDisrupted: 5 });
    const bought = await h.postGeneric({ eventId: 'buy-x', cluster: 'demo', template: 'small', count: 1 });
    const [id] = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    await scaleIn({ eventId: 'in-x', count: 1 });
    await pass();
    expect(await stateOf(id!)).toBe('draining');
    h.sandbox.injectFault({ kind: 'drop-after-create', action: 'DeleteClusterInstances', times: 20 });
    await pass();
    expect(tke.deleted.map((d) => d.instanceId)).toEqual([id]);
    // Written before the call: whatever its answer, no scale-out takes it for a node in service.
    expect(await stateOf(id!)).toBe('deleting');
    const high = await h.postGeneric({ eventId: 'high-x', cluster: 'demo', template: 'small', count: 1 });
    expect(high.json).toMatchObject({ status: 'created', count: 1 });
    expect(high.json.restored).toBeUndefined();
    h.sandbox.clearFaults();
    advance(20_000);
    await pass();
    expect(await stateOf(id!)).toBe('released');
  });

  it('the store failing part-way through putting nodes back: what was put back stays counted, the rest is bought, never more than the count', async () => {
    await start({ maxDisrupted: 5 });
    const ids = await twoDraining();
    const store = h.function.store as { update: (key: string, step: unknown) => Promise<unknown> };
    const update = store.update.bind(store);
    let intentWrites = 0;
    store.update = (key, step) => (key.startsWith('restore:{') && ++intentWrites === 3 ? Promise.reject(new StoreUnavailableError('injected: a Redis blip')) : update(key, step));
    const created = tke.createdCalls.length;
    const high = await h.postGeneric({ eventId: 'high-s', cluster: 'demo', template: 'small', count: 2 });
    store.update = update;
    const bought = tke.createdCalls.slice(created).reduce((n, c) => n + (JSON.parse(String(c.params.RunInstancePara)) as { InstanceCount: number }).InstanceCount, 0);
    expect(high.json).toMatchObject({ status: 'created', count: 1, restored: [expect.any(String)] });
    expect(ids.filter((id) => !unschedulable(id))).toEqual(high.json.restored);
    expect(bought).toBe(1);
    expect(h.logLines.find((l) => l.eventId === 'high-s')!.restoreProblems).toEqual([expect.stringContaining('stopped part-way')]);
  });

  it('a pass that read the asks before a scale-out withdrew them plans none of them once it holds the lock', async () => {
    await start({ maxDisrupted: 1 });
    const bought = await h.postGeneric({ eventId: 'buy-w2', cluster: 'demo', template: 'small', count: 2 });
    const ids = bought.json.instanceIds as string[];
    advance(25_000);
    await pass();
    await scaleIn({ eventId: 'in-w2', count: 2 });
    await pass();
    expect(ids.filter(unschedulable)).toHaveLength(1);
    // The scale-out comes between the pass's first read of the asks and its taking the lock.
    const store = h.function.store as { update: (key: string, step: unknown) => Promise<unknown> };
    const update = store.update.bind(store);
    let armed = false;
    let high: Awaited<ReturnType<typeof h.postGeneric>> | undefined;
    store.update = async (key, step) => {
      if (key === `release-asks:{${CLUSTER}}` && high === undefined) armed = true;
      else if (armed && key === `purchases:{${CLUSTER}}`) {
        armed = false;
        high = await h.postGeneric({ eventId: 'high-w2', cluster: 'demo', template: 'small', count: 1 });
      }
      return update(key, step);
    };
    await pass();
    store.update = update;
    expect(high!.json.status).toBe('restored');
    expect(ids.some(unschedulable)).toBe(false);
    expect(passLines().at(-1)!.released).toBeUndefined();
  });

  it("a node being given back that an operator took over (its marks removed) is neither put back nor counted: the rest is bought", async () => {
    await start({ maxDisrupted: 5 });
    // Two purchases of one node each (a purchase's instances share its labels in the sandbox).
    const ids = [(await h.postGeneric({ eventId: 'buy-o1', cluster: 'demo', template: 'small', count: 1 })).json.instanceIds[0], (await h.postGeneric({ eventId: 'buy-o2', cluster: 'demo', template: 'small', count: 1 })).json.instanceIds[0]] as string[];
    advance(25_000);
    await pass();
    for (const id of ids) kube.addPod({ namespace: 'web', name: `api-${id}`, nodeName: (nodeOf(id).metadata as { name: string }).name, requests: { cpu: '100m' }, ownerKind: 'ReplicaSet', pdbBlocksTimes: 1000 });
    await scaleIn({ eventId: 'in-o', count: 2 });
    await pass();
    expect(ids.every(unschedulable)).toBe(true);
    const labels = (tke.instancesOf(CLUSTER).find((i) => i.InstanceId === ids[1])! as unknown as { Labels: Array<{ Name: string; Value: string }> }).Labels;
    labels.splice(0, Infinity, ...labels.filter((l) => l.Name !== 'tke-scaleout/purchase'));
    advance(1_000);
    const high = await h.postGeneric({ eventId: 'high-o', cluster: 'demo', template: 'small', count: 2 });
    expect(high.json).toMatchObject({ status: 'created', count: 1, restored: [ids[0]] });
    expect(unschedulable(ids[1]!)).toBe(true);
  });

  it('a scale-out for another template leaves them on their way out (a node is put back only for its own template)', async () => {
    await start({ maxDisrupted: 5 }, (doc) => {
      doc.templates.big = { ...doc.templates.small };
    });
    const ids = await twoDraining();
    const other = await h.postGeneric({ eventId: 'high-big', cluster: 'demo', template: 'big', count: 1 });
    expect(other.json).toMatchObject({ status: 'created', count: 1 });
    expect(other.json.restored).toBeUndefined();
    expect(ids.every(unschedulable)).toBe(true);
  });

  it('a claim whose uncordon failed is finished by the next pass; a dry run says what it would put back and changes nothing', async () => {
    await start({ maxDisrupted: 5 });
    const ids = await twoDraining();
    const dry = await h.postGeneric({ eventId: 'high-dry', cluster: 'demo', template: 'small', count: 3, dryRun: true });
    expect(dry.json).toMatchObject({ status: 'dry-run', count: 1, wouldRestore: expect.arrayContaining(ids) });
    expect(ids.every(unschedulable)).toBe(true);
    kube.injectFault({ kind: 'status', status: 503, verb: 'patch-node', times: 2 });
    const high = await h.postGeneric({ eventId: 'high-f', cluster: 'demo', template: 'small', count: 2 });
    expect(high.json).toMatchObject({ status: 'restored', restored: expect.arrayContaining(ids) });
    expect(ids.every(unschedulable)).toBe(true);
    expect(await stateOf(ids[0]!)).toBe('restoring');
    expect(h.logLines.find((l) => l.outcome === 'restored')!.restoreProblems).toEqual([expect.stringContaining('the next pass uncordons it'), expect.stringContaining('the next pass uncordons it')]);
    await pass();
    expect(ids.some(unschedulable)).toBe(false);
    expect(await stateOf(ids[0]!)).toBe('restored');
    expect(tke.deleted).toEqual([]);
  });
});
