import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/fixtures';
import { SCF_STANDIN_CREDENTIAL, ScfApiStandin, type StandinFunction } from '../support/scf-api-standin';

/**
 * `npm run deploy` against a local stand-in of the SCF API (signatures checked, functions that are
 * Creating/Updating for a while, one Function URL per function, timer triggers), as the function is
 * tested against the TKE sandbox. The real command: package, bundle, run; only the endpoint differs.
 * After the first run, the bundled command is run again without packaging (`built`), to save time.
 */
const ZIP = join(REPO_ROOT, 'dist', 'tke-scaleout.zip');
const SECRETS = { SCALEOUT_GENERIC_TOKEN: 'deploy-test-generic-token', ALERTMANAGER_TOKEN: 'deploy-test-am-token', SCALEOUT_STORE: 'redis://:deploy-test-password@10.0.0.5:6379/0' };

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const DEPLOY_JS = join(REPO_ROOT, 'dist', 'deploy', 'deploy.js');
const urlTrigger = (fn: StandinFunction) => fn.triggers.find((t) => t.Type === 'http')!;
const followTimer = (fn: StandinFunction) => fn.triggers.find((t) => t.Type === 'timer' && t.TriggerName === 'scaleout-follow');

describe('npm run deploy', () => {
  const standin = new ScfApiStandin({ settleMs: 300 });
  let endpoint: string;

  beforeAll(async () => {
    endpoint = await standin.start();
  });
  afterAll(() => standin.stop());

  /** The whole command as a user runs it; asynchronous, since the stand-in answers from this process. */
  const deploy = (args: string[], env: Record<string, string | undefined> = {}, how: 'npm' | 'built' = 'npm'): Promise<Run> =>
    new Promise((resolve) => {
      const childEnv: NodeJS.ProcessEnv = {
        ...process.env,
        TENCENTCLOUD_SECRETID: SCF_STANDIN_CREDENTIAL.secretId,
        TENCENTCLOUD_SECRETKEY: SCF_STANDIN_CREDENTIAL.secretKey,
        DEPLOY_POLL_MS: '50',
        ...SECRETS,
        ...env,
      };
      for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
      for (const key of Object.keys(childEnv)) if (key.startsWith('SCF_') && !(key in env)) delete childEnv[key];
      for (const key of ['GRAFANA_WEBHOOK_SECRET', 'TENCENT_MONITOR_TOKEN', 'SLACK_SIGNING_SECRET', 'FEISHU_VERIFICATION_TOKEN', 'FEISHU_ENCRYPT_KEY', 'FEISHU_APP_ID', 'FEISHU_APP_SECRET', 'DINGTALK_APP_SECRET', 'SCALEOUT_CHAT_ALLOW', 'SCALEOUT_CONFIG', 'TKE_ENDPOINT', 'LOG_LEVEL']) {
        delete childEnv[key];
      }
      const [command, commandArgs] = how === 'npm' ? ['npm', ['run', 'deploy', '--silent', '--', ...args]] : ['node', [DEPLOY_JS, ...args]];
      execFile(command, commandArgs, { cwd: REPO_ROOT, env: childEnv }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      );
    });

  const fn = () => standin.functions.get('ap-guangzhou/default/tke-scaleout');

  it('creates the function on Node 18.15 with the packaged zip, its Function URL and its follow timer', async () => {
    const run = await deploy(['--region', 'ap-guangzhou', '--role', 'SCF_TkeScaleoutRole', '--endpoint', endpoint]);
    expect(run.stderr).not.toContain('deploy failed');
    expect(run.code).toBe(0);

    const created = fn()!;
    expect(created).toMatchObject({ Runtime: 'Nodejs18.15', Handler: 'index.main_handler', MemorySize: 256, Timeout: 30, Role: 'SCF_TkeScaleoutRole' });
    expect(createHash('sha256').update(created.code).digest('hex')).toBe(createHash('sha256').update(readFileSync(ZIP)).digest('hex'));
    // The secrets the example config names, from the deployer's shell, and the store setting.
    // And its own name, for the chat follow-ups it sends itself (an asynchronous Invoke).
    expect(Object.fromEntries(created.Environment.Variables.map((v) => [v.Key, v.Value]))).toEqual({
      ...SECRETS,
      SCALEOUT_FUNCTION_NAME: 'tke-scaleout',
      SCALEOUT_FUNCTION_NAMESPACE: 'default',
      SCALEOUT_FUNCTION_REGION: 'ap-guangzhou',
    });

    const url = JSON.parse(urlTrigger(created).TriggerDesc).ExtranetUrl as string;
    expect(created.triggers).toHaveLength(2);
    expect(JSON.parse(urlTrigger(created).TriggerDesc)).toMatchObject({ AuthType: 'NONE', NetConfig: { EnableExtranet: true } });
    // The follow timer: Type timer, the 7-field cron as TriggerDesc, on; listed as {"cron": …}.
    expect(standin.callsOf('CreateTrigger').map((c) => c.params)).toEqual([
      expect.objectContaining({ Type: 'http', Enable: 'OPEN' }),
      expect.objectContaining({ FunctionName: 'tke-scaleout', TriggerName: 'scaleout-follow', Type: 'timer', TriggerDesc: '0 */1 * * * * *', Enable: 'OPEN' }),
    ]);
    expect(followTimer(created)).toMatchObject({ Type: 'timer', TriggerName: 'scaleout-follow', TriggerDesc: JSON.stringify({ cron: '0 */1 * * * * *' }), Enable: 1, Qualifier: '$LATEST' });
    expect(run.stdout).toContain('Follow timer: scaleout-follow, "0 */1 * * * * *" (new)');
    expect(run.stdout).toContain(`Function URL: ${url} (new)`);
    expect(run.stdout).toContain(`generic          ${url}/hooks/generic`);
    expect(run.stdout).toContain(`alertmanager     ${url}/hooks/alertmanager`);
    expect(run.stdout).toContain('not set here: SLACK_SIGNING_SECRET');
    // Names of the env vars only, never their values.
    for (const value of Object.values(SECRETS)) expect(run.stdout).not.toContain(value);
    // Each change waited for Active: SCF would have refused the trigger while Creating.
    expect(standin.calls.filter((c) => c.errorCode !== undefined && c.action !== 'GetFunction')).toEqual([]);
  }, 120_000);

  it('updates in place on a second run: same function, same URL, nothing created twice, the timer untouched', async () => {
    const before = fn()!;
    const url = JSON.parse(urlTrigger(before).TriggerDesc).ExtranetUrl as string;
    const timerBefore = { ...followTimer(before)! };
    // Configured by environment this time, as a CI job would; no role: the function keeps its own.
    const run = await deploy(['--memory', '512'], { SCF_ENDPOINT: endpoint, SCF_REGION: 'ap-guangzhou', SCF_TIMEOUT_SECONDS: '60', SCF_VPC_ID: 'vpc-abc123', SCF_SUBNET_ID: 'subnet-def456' });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Function URL: ${url}\n`);
    expect(standin.callsOf('CreateFunction')).toHaveLength(1);
    expect(standin.callsOf('CreateTrigger')).toHaveLength(2);
    expect(standin.callsOf('UpdateTrigger')).toHaveLength(0);
    expect(standin.callsOf('UpdateFunctionCode')).toHaveLength(1);
    expect(standin.callsOf('UpdateFunctionConfiguration')).toHaveLength(1);
    expect(fn()).toMatchObject({ MemorySize: 512, Timeout: 60, Role: 'SCF_TkeScaleoutRole', VpcConfig: { VpcId: 'vpc-abc123', SubnetId: 'subnet-def456' }, triggers: [{ Type: 'http' }, { Type: 'timer' }] });
    expect(followTimer(fn()!)).toEqual(timerBefore);
    expect(run.stdout).toContain('Follow timer: scaleout-follow, "0 */1 * * * * *"\n');
  }, 120_000);

  it('applies a changed schedule in place (UpdateTrigger), once', async () => {
    const triggersBefore = standin.callsOf('CreateTrigger').length;
    const run = await deploy(['--endpoint', endpoint, '--follow-every', '0 */5 * * * * *'], {}, 'built');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(standin.callsOf('UpdateTrigger').map((c) => c.params)).toEqual([
      expect.objectContaining({ FunctionName: 'tke-scaleout', TriggerName: 'scaleout-follow', Type: 'timer', TriggerDesc: '0 */5 * * * * *', Enable: 'OPEN', Qualifier: '$LATEST' }),
    ]);
    expect(standin.callsOf('CreateTrigger')).toHaveLength(triggersBefore);
    expect(followTimer(fn()!)).toMatchObject({ TriggerDesc: JSON.stringify({ cron: '0 */5 * * * * *' }), Enable: 1 });
    expect(fn()!.triggers).toHaveLength(2);
    expect(run.stdout).toContain('Follow timer: scaleout-follow, "0 */5 * * * * *" (was "0 */1 * * * * *")');

    // The same schedule again, from the environment this time: nothing to do.
    const again = await deploy([], { SCF_ENDPOINT: endpoint, SCF_FOLLOW_EVERY: '0 */5 * * * * *' }, 'built');
    expect(again.code).toBe(0);
    expect(standin.callsOf('UpdateTrigger')).toHaveLength(1);
  }, 120_000);

  it('--no-follow turns the timer off and keeps it; the next deploy turns it on again', async () => {
    const off = await deploy(['--endpoint', endpoint, '--no-follow'], {}, 'built');
    expect(off.code).toBe(0);
    expect(standin.callsOf('UpdateTrigger').at(-1)?.params).toMatchObject({ TriggerName: 'scaleout-follow', Type: 'timer', Enable: 'CLOSE', TriggerDesc: '0 */5 * * * * *' });
    expect(followTimer(fn()!)).toMatchObject({ TriggerDesc: JSON.stringify({ cron: '0 */5 * * * * *' }), Enable: 0 });
    expect(off.stdout).toContain('Follow timer: scaleout-follow turned off (--no-follow)');
    const updates = standin.callsOf('UpdateTrigger').length;

    const stillOff = await deploy([], { SCF_ENDPOINT: endpoint, SCF_NO_FOLLOW: '1' }, 'built');
    expect(stillOff.code).toBe(0);
    expect(standin.callsOf('UpdateTrigger')).toHaveLength(updates);

    const on = await deploy(['--endpoint', endpoint], {}, 'built');
    expect(on.code).toBe(0);
    expect(standin.callsOf('UpdateTrigger').at(-1)?.params).toMatchObject({ TriggerDesc: '0 */1 * * * * *', Enable: 'OPEN' });
    expect(followTimer(fn()!)).toMatchObject({ TriggerDesc: JSON.stringify({ cron: '0 */1 * * * * *' }), Enable: 1 });
    expect(on.stdout).toContain('Follow timer: scaleout-follow, "0 */1 * * * * *" (was "0 */5 * * * * *", off)');
    expect(standin.callsOf('CreateTrigger').filter((c) => c.params.Type === 'timer')).toHaveLength(1);
  }, 120_000);

  it('--no-follow on a new function creates no timer, only the Function URL', async () => {
    const run = await deploy(['--endpoint', endpoint, '--name', 'no-follow', '--no-follow'], {}, 'built');
    expect(run.code).toBe(0);
    expect(standin.functions.get('ap-guangzhou/default/no-follow')!.triggers.map((t) => t.Type)).toEqual(['http']);
    expect(standin.callsOf('CreateTrigger').filter((c) => c.params.FunctionName === 'no-follow').map((c) => c.params.Type)).toEqual(['http']);
    expect(standin.callsOf('UpdateTrigger').filter((c) => c.params.FunctionName === 'no-follow')).toEqual([]);
    expect(run.stdout).toContain('Follow timer: none (--no-follow)');
  }, 120_000);

  it('says what is missing or wrong, and changes nothing', async () => {
    const calls = standin.calls.length;
    const badRegion = await deploy(['--region', 'Guangzhou', '--endpoint', endpoint]);
    expect(badRegion.code).toBe(2);
    expect(badRegion.stderr).toContain('--region: a region such as ap-guangzhou');
    const halfVpc = await deploy(['--vpc', 'vpc-1', '--endpoint', endpoint]);
    expect(halfVpc.stderr).toContain('--vpc and --subnet: give both or neither');
    const badMemory = await deploy(['--region', 'ap-guangzhou', '--role', 'r', '--memory', 'lots', '--endpoint', endpoint]);
    expect(badMemory.stderr).toContain('--memory: expected an integer from 64 to 3072');
    const crontab = await deploy(['--follow-every', '*/5 * * * *', '--endpoint', endpoint], {}, 'built');
    expect(crontab.code).toBe(2);
    expect(crontab.stderr).toContain("--follow-every \"*/5 * * * *\": SCF's cron has 7 fields (second minute hour day month weekday year), got 5");
    const outOfRange = await deploy(['--follow-every', '0 0 25 * * * *', '--endpoint', endpoint], {}, 'built');
    expect(outOfRange.stderr).toContain('hour field "25"');
    const both = await deploy(['--follow-every', '0 */5 * * * * *', '--no-follow', '--endpoint', endpoint], {}, 'built');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--follow-every and --no-follow: give one or neither');
    const bothEnv = await deploy(['--endpoint', endpoint], { SCF_FOLLOW_EVERY: '0 */5 * * * * *', SCF_NO_FOLLOW: 'true' }, 'built');
    expect(bothEnv.stderr).toContain('SCF_FOLLOW_EVERY and SCF_NO_FOLLOW: set one or neither');
    const unknownFlag = await deploy(['--regoin', 'ap-guangzhou', '--endpoint', endpoint]);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("Unknown option '--regoin'");
    const noCredentials = await deploy(['--region', 'ap-guangzhou', '--role', 'r', '--endpoint', endpoint], { TENCENTCLOUD_SECRETID: undefined });
    expect(noCredentials.stderr).toContain('TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY');
    expect(standin.calls.length).toBe(calls);

    // A key the API does not know: the API's own error code, from the first call.
    const wrongKey = await deploy(['--region', 'ap-guangzhou', '--role', 'r', '--endpoint', endpoint], { TENCENTCLOUD_SECRETKEY: 'not-the-key' });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/deploy failed: AuthFailure\.SignatureFailure/);
    expect(wrongKey.stderr).not.toContain('not-the-key');
  }, 120_000);
});

describe('npm run deploy without a role', () => {
  const standin = new ScfApiStandin({ settleMs: 50 });
  afterAll(() => standin.stop());

  it('creates the function all the same, and says it cannot start until a role is set', async () => {
    const endpoint = await standin.start();
    const run = await new Promise<Run>((resolve) =>
      execFile(
        'node',
        [join(REPO_ROOT, 'dist', 'deploy', 'deploy.js'), '--region', 'ap-beijing', '--name', 'no-role', '--endpoint', endpoint],
        { env: { PATH: process.env.PATH, TENCENTCLOUD_SECRETID: SCF_STANDIN_CREDENTIAL.secretId, TENCENTCLOUD_SECRETKEY: SCF_STANDIN_CREDENTIAL.secretKey, DEPLOY_POLL_MS: '20' } },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      ),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('no --role: a new function gets no execution role and will refuse to start');
    expect(standin.functions.get('ap-beijing/default/no-role')?.Role).toBeUndefined();
  }, 60_000);
});

describe('npm run deploy -- --help', () => {
  it('prints the usage', () => {
    const out = execFileSync('node', [DEPLOY_JS, '--help'], { encoding: 'utf8' });
    expect(out).toContain('--region');
    expect(out).toContain('--role');
    // The follow timer's options, and every TKE action the role needs, the follow pass's included.
    expect(out).toContain('--follow-every');
    expect(out).toContain('--no-follow');
    expect(out).toContain('"0 */1 * * * * *"');
    for (const action of ['tke:CreateClusterInstances', 'tke:DescribeClusters', 'tke:DescribeClusterInstances', 'tke:DeleteClusterInstances']) expect(out).toContain(action);
  });
});
