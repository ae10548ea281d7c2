import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/fixtures';
import { buildLocalBundle, startFunctionProcess, type FunctionProcess } from '../support/function-process';

/**
 * Issue 19: `npm start` shows a whole cycle. A high alarm buys, the nodes join, a low alarm gives
 * them back, they are drained and go, and the notifications say so: the README's "Watch the whole
 * cycle in `npm start`" block, whose commands this test reads from the README and runs as they are
 * (bash and curl), only pointed at the process's free ports and a temporary config path. The
 * process is the bundle `npm start` runs (npm-start.test.ts), passing on its own timer; nothing
 * here drives a pass or a clock.
 *
 * The example config keeps its production-like `release.delayAfterPurchase` (10 min, as
 * cluster-autoscaler's scale-down-delay-after-add) and `release.cooldown` (5 min, as Tencent Auto
 * Scaling's); the README's first command makes a copy without them, which this test uses too: the delay is a setting of the product, so it is changed where a
 * user would change it, not by a knob of the local server that would make `npm start` behave
 * unlike the deployed function with the same config. The local server's own knobs,
 * FOLLOW_EVERY_SECONDS and SANDBOX_JOIN_SECONDS, only stand in for SCF's timer and TKE's node join.
 */
beforeAll(buildLocalBundle);

const DEMO = 'cls-e55paxnt';
const BLOCK_TITLE = '**Watch the whole cycle in `npm start`**';

/** The commands of the README's block: a line each, continued lines joined (bash's `\` newline), comment lines dropped. */
function readmeCycle(): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf(BLOCK_TITLE);
  expect(from).toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(from))![1]!;
  return block
    .replace(/\\\n/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
}

type Json = Record<string, any>;

describe("npm start's whole cycle, with the README's commands", () => {
  let started: FunctionProcess | undefined;
  afterAll(() => started?.stop());

  it('a high alarm buys two nodes, they join; two episodes of the low alarm give them back, drained; the original nodes stay', async () => {
    const commands = readmeCycle();
    expect(commands).toHaveLength(8);
    const [copyConfig, npmStart, highAlarm, kubeView, workloadPod, lowAlarm, lowAlarmAgain, deletedView] = commands as [string, string, string, string, string, string, string, string];

    // 1. The config: the example's, without the delay after a purchase and the cooldown.
    const configPath = join(mkdtempSync(join(tmpdir(), 'npm-start-cycle-')), 'cycle.yaml');
    expect(copyConfig).toContain('> /tmp/cycle.yaml');
    await bash(copyConfig.replace('/tmp/cycle.yaml', configPath));
    expect(readFileSync(configPath, 'utf8')).toBe(`${readFileSync(join(REPO_ROOT, 'config', 'example.yaml'), 'utf8')}release:\n  delayAfterPurchase: 0s\n  cooldown: 0s\n`);

    // 2. `VAR=value … npm start`: the same variables for the bundle npm start runs.
    const startLine = /^((?:[A-Z_]+=\S+ )+)npm start$/.exec(npmStart);
    expect(startLine).not.toBeNull();
    const env = Object.fromEntries(startLine![1]!.trim().split(' ').map((pair) => pair.split('=') as [string, string]));
    expect(env).toEqual({ SCALEOUT_CONFIG: '/tmp/cycle.yaml', FOLLOW_EVERY_SECONDS: '1', SANDBOX_JOIN_SECONDS: '5' });
    started = await startFunctionProcess({ ...env, SCALEOUT_CONFIG: configPath });
    const fn = started;
    expect(fn.output()).toContain('its nodes join in 5 s: SANDBOX_JOIN_SECONDS');
    // Printed just after it listens.
    await waitFor(() => fn.output().includes('a pass every 1 s follows each purchase (FOLLOW_EVERY_SECONDS)'), fn);
    const urls = {
      9000: fn.url,
      9001: /local sandbox at (http:\/\/\S+)/.exec(fn.output())![1]!,
      9004: /its nodes and pods: GET (http:\/\/\S+)\/__kube\/clusters/.exec(fn.output())![1]!,
    } as Record<string, string>;
    // The README's ports (npm start's defaults), pointed at this process's free ones.
    const run = async (command: string) => JSON.parse(await bash(command.replace(/(?:http:\/\/)?(?:localhost|127\.0\.0\.1):(9000|9001|9004)\b/g, (_, port: string) => urls[port]!))) as any;
    const get = async (url: string) => (await (await fetch(url)).json()) as any;
    const demoInstances = async () => ((await get(`${urls[9001]}/__sandbox/clusters`)) as Json[]).find((c) => c.clusterId === DEMO)!.instances as Json[];
    const demoKube = async () => ((await get(`${urls[9004]}/__kube/clusters`)) as Json[]).find((c) => c.clusterId === DEMO)! as { nodes: Json[]; pods: Json[] };
    const originalIds = (await demoInstances()).map((i) => i.InstanceId as string);
    const originalNodes = (await demoKube()).nodes.map((n) => n.metadata.name as string);
    expect(originalNodes).toHaveLength(3);
    const printed = (text: string) => fn.output().split(text).length - 1;

    // 3. A high alarm, as Alertmanager posts it: rule demo-critical buys two.
    expect(highAlarm).toContain('/hooks/alertmanager');
    const bought = await run(highAlarm);
    expect(bought).toMatchObject({ status: 'ok', results: [{ status: 'created', clusterId: DEMO, template: 'small', count: 2 }] });
    const boughtIds = bought.results[0].instanceIds as string[];
    expect(boughtIds).toHaveLength(2);
    expect(fn.output()).toContain(`[notify-capture] slack\n  Bought 2 nodes for demo (${DEMO})`);

    // 4. They join, seen by the process's own pass, which tells the team.
    await waitFor(() => printed(`[notify-capture] slack\n  2 nodes joined demo (${DEMO}) and are ready`) === 1, fn);
    const joined = (await run(kubeView)) as Json[];
    const demoNodes = joined.find((c) => c.clusterId === DEMO)!.nodes as Json[];
    // The README's node name is the first node bought: its providerID names one of the instances.
    // (spec.providerID: qcloud:///<zone ID>/<instance ID>, dev/sandbox/kube-sandbox.ts)
    const webNodeId = String(demoNodes.find((n) => n.metadata.name === '10.0.0.21')?.spec.providerID).split('/').at(-1)!;
    expect(boughtIds).toContain(webNodeId);
    const boughtNodes = demoNodes.filter((n) => !originalNodes.includes(n.metadata.name)).map((n) => n.metadata.name as string);
    expect(boughtNodes.sort()).toEqual(['10.0.0.21', '10.0.0.22']);

    // 5. A workload pod on it, so there is something to drain.
    expect(await run(workloadPod)).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ name: 'web-1' }), spec: expect.objectContaining({ nodeName: '10.0.0.21' }) })]);

    // 6. The low alarm: rule demo-low asks for one node; the passes cordon, evict, delete.
    const asked = { status: 'ok', results: [{ action: 'scale-in', status: 'release-requested', cluster: 'demo', count: 1 }] };
    expect(await run(lowAlarm)).toMatchObject(asked);
    await waitFor(() => printed(`[notify-capture] slack\n  Gave node `) === 1, fn);
    // 7. Its next episode, once that node is gone: the other.
    expect(lowAlarmAgain).not.toBe(lowAlarm);
    expect(await run(lowAlarmAgain)).toMatchObject(asked);
    await waitFor(() => printed(`[notify-capture] slack\n  Gave node `) === 2, fn);

    // TKE deleted the two it bought, terminated, not forced (they had joined); nothing else.
    const deleted = (await run(deletedView)) as Json[];
    expect(deleted.map((d) => d.instanceId).sort()).toEqual([...boughtIds].sort());
    expect(deleted.every((d) => d.clusterId === DEMO && d.mode === 'terminate' && d.forced === false)).toBe(true);
    expect((await demoInstances()).map((i) => i.InstanceId)).toEqual(originalIds);

    // The Kubernetes API: the original nodes, never cordoned; web-1 evicted (policy/v1 Eviction,
    // 201 Created: kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/) before its node
    // was deleted, and started again by its ReplicaSet on an original node; the DaemonSet pods
    // not evicted, as `kubectl drain --ignore-daemonsets` leaves them
    // (kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/; docs/DESIGN.md).
    const kube = await demoKube();
    expect(kube.nodes.map((n) => n.metadata.name)).toEqual(originalNodes);
    expect(kube.pods.every((p) => originalNodes.includes(p.spec.nodeName))).toBe(true);
    expect(kube.pods.filter((p) => p.metadata.name.startsWith('web-'))).toEqual([
      expect.objectContaining({ metadata: expect.objectContaining({ name: expect.not.stringMatching(/^web-1$/) }), status: expect.objectContaining({ phase: 'Running' }) }),
    ]);
    const calls = ((await get(`${urls[9004]}/__kube/calls`)) as Json[]).filter((c) => c.clusterId === DEMO);
    const cordoned = calls.filter((c) => c.verb === 'patch-node' && c.body?.spec?.unschedulable === true);
    expect(cordoned.map((c) => c.path.split('/').at(-1)).sort()).toEqual(['10.0.0.21', '10.0.0.22']);
    const evictions = calls.filter((c) => c.verb === 'evict');
    expect(evictions.map((c) => [c.path, c.status])).toEqual([['/api/v1/namespaces/default/pods/web-1/eviction', 201]]);
    expect(evictions[0]!.at).toBeLessThan(Date.parse(deleted.find((d) => d.instanceId === webNodeId)!.at));

    // Pass by pass, as each pass's log line says: one step per node per pass, web-1's node waiting
    // for it to go (its 5 s grace period) before it is deleted.
    const stepsOf = (id: string) =>
      fn
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes('"msg":"purchase pass"'))
        .flatMap((line) => ((JSON.parse(line).released ?? []) as Json[]).map((r) => r.steps?.[id] as string | undefined))
        .filter((step): step is string => step !== undefined);
    const webSteps = stepsOf(webNodeId);
    expect(webSteps.slice(0, 2)).toEqual(['cordoned', 'evicting 1']);
    expect(webSteps.length).toBeGreaterThan(3);
    expect(webSteps.at(-1)).toBe('released (terminate)');
    expect(stepsOf(boughtIds.find((id) => id !== webNodeId)!)).toEqual(['cordoned', 'released (terminate)']);

    // The team was told, for each node, in every channel the purchase's rule (demo-critical) routes to.
    for (const node of ['10.0.0.21', '10.0.0.22']) {
      expect(fn.output()).toContain(`[notify-capture] slack\n  Gave node ${node} of demo (${DEMO}) back: drained and deleted\n`);
      expect(fn.output()).toContain(`[notify-capture] webhook\n  Gave node ${node} of demo (${DEMO}) back: drained and deleted\n`);
      expect(fn.output()).toContain(`[notify-capture] feishu\n  已归还集群 demo (${DEMO}) 的节点 ${node}：已排空并删除\n`);
    }
    expect(printed('  Reason: rule demo-low: DemoCpuLow\n')).toBe(4);
    // And the function's record says so.
    const purchases = (await (await fetch(`${fn.url}/purchases`, { headers: { authorization: 'Bearer dev-token' } })).json()) as { purchases: Json[] };
    expect(purchases.purchases).toHaveLength(1);
    expect(Object.values(purchases.purchases[0]!.instances).map((i: any) => i.release?.state)).toEqual(['released', 'released']);
  }, 60_000);
});

/** Runs one of the README's commands with bash, from the repository's root (as a newcomer would); its stdout. */
function bash(command: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('bash', ['-c', command], { cwd: REPO_ROOT }, (error, stdout, stderr) => (error ? reject(new Error(`${command}\n${stderr}${error.message}`)) : resolve(stdout))),
  );
}

/** Polls until `done`, at most 20 s (the passes run every second; a failure shows what the process printed). */
async function waitFor(done: () => boolean, fn: FunctionProcess): Promise<void> {
  const until = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > until) throw new Error(`not seen in time; the process printed:\n${fn.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
