import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../support/fixtures';

/**
 * The newcomer's path, as the README gives it: `npm start` with no cloud credentials serves the
 * function on localhost against the local sandbox, and the README's curl scales the demo cluster.
 * Runs the built bundle exactly as `npm start` does (build, then node), on free ports.
 */
describe('npm start (sandbox mode)', () => {
  let child: ChildProcess;
  let baseUrl: string;
  let sandboxUrl: string;
  let output = '';

  beforeAll(async () => {
    execFileSync('npm', ['run', 'build:local', '--silent'], { cwd: REPO_ROOT, stdio: 'pipe' });
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', SANDBOX_PORT: '0' };
    for (const key of ['TENCENTCLOUD_SECRETID', 'TENCENTCLOUD_SECRETKEY', 'TKE_ENDPOINT', 'SCALEOUT_GENERIC_TOKEN', 'SCALEOUT_CONFIG']) delete env[key];
    child = spawn(process.execPath, ['dist/local/start.js'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not listen in time:\n${output}`)), 15_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const listening = /listening on (http:\/\/\S+)/.exec(output);
        const sandbox = /local sandbox at (http:\/\/\S+)/.exec(output);
        if (listening && sandbox) {
          baseUrl = listening[1]!;
          sandboxUrl = sandbox[1]!;
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    });
  });

  afterAll(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  });

  it('says which mode it is in', () => {
    expect(output).toContain('mode: SANDBOX');
  });

  it('serves /healthz with the sandbox named', async () => {
    const health = await (await fetch(`${baseUrl}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', tke: { mode: 'sandbox' }, store: { kind: 'memory' } });
  });

  it("scales the demo cluster with the README's curl, then replays it", async () => {
    const post = () =>
      fetch(`${baseUrl}/hooks/generic`, {
        method: 'POST',
        headers: { Authorization: 'Bearer dev-token', 'Content-Type': 'application/json' },
        body: JSON.stringify({ eventId: 'try-1', cluster: 'demo', template: 'small', count: 2 }),
      });
    const first = (await (await post()).json()) as { instanceIds: string[] };
    expect(first).toMatchObject({ status: 'created', clusterId: 'cls-e55paxnt', count: 2 });
    expect(first.instanceIds).toHaveLength(2);
    const second = await (await post()).json();
    expect(second).toEqual({ ...first, status: 'replayed' });

    const clusters = (await (await fetch(`${sandboxUrl}/__sandbox/clusters`)).json()) as Array<{ clusterId: string; nodes: number }>;
    expect(clusters.find((c) => c.clusterId === 'cls-e55paxnt')!.nodes).toBe(3 + 2);
  });

  it('logs each decision as one JSON line on stdout', () => {
    const decisions = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((line) => line.msg === 'scale-out decision');
    expect(decisions.map((d) => d.outcome)).toEqual(['created', 'replayed']);
    expect(output).not.toContain('sandbox-secret-key');
  });
});
