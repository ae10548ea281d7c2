import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/fixtures';
import { SCF_STANDIN_CREDENTIAL, ScfApiStandin } from '../support/scf-api-standin';

/**
 * `npm run deploy` against a local stand-in of the SCF API (signatures checked, functions that are
 * Creating/Updating for a while, one Function URL per function), as the function is tested against
 * the TKE sandbox. The real command: package, bundle, run; only the endpoint differs.
 */
const ZIP = join(REPO_ROOT, 'dist', 'tke-scaleout.zip');
const SECRETS = { SCALEOUT_GENERIC_TOKEN: 'deploy-test-generic-token', ALERTMANAGER_TOKEN: 'deploy-test-am-token', SCALEOUT_STORE: 'redis://:deploy-test-password@10.0.0.5:6379/0' };

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('npm run deploy', () => {
  const standin = new ScfApiStandin({ settleMs: 300 });
  let endpoint: string;

  beforeAll(async () => {
    endpoint = await standin.start();
  });
  afterAll(() => standin.stop());

  /** The whole command as a user runs it; asynchronous, since the stand-in answers from this process. */
  const deploy = (args: string[], env: Record<string, string | undefined> = {}): Promise<Run> =>
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
      execFile('npm', ['run', 'deploy', '--silent', '--', ...args], { cwd: REPO_ROOT, env: childEnv }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      );
    });

  const fn = () => standin.functions.get('ap-guangzhou/default/tke-scaleout');

  it('creates the function on Node 18.15 with the packaged zip, and its Function URL', async () => {
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

    const url = JSON.parse(created.triggers[0]!.TriggerDesc).ExtranetUrl as string;
    expect(created.triggers).toHaveLength(1);
    expect(JSON.parse(created.triggers[0]!.TriggerDesc)).toMatchObject({ AuthType: 'NONE', NetConfig: { EnableExtranet: true } });
    expect(run.stdout).toContain(`Function URL: ${url} (new)`);
    expect(run.stdout).toContain(`generic          ${url}/hooks/generic`);
    expect(run.stdout).toContain(`alertmanager     ${url}/hooks/alertmanager`);
    expect(run.stdout).toContain('not set here: SLACK_SIGNING_SECRET');
    // Names of the env vars only, never their values.
    for (const value of Object.values(SECRETS)) expect(run.stdout).not.toContain(value);
    // Each change waited for Active: SCF would have refused the trigger while Creating.
    expect(standin.calls.filter((c) => c.errorCode !== undefined && c.action !== 'GetFunction')).toEqual([]);
  }, 120_000);

  it('updates in place on a second run: same function, same URL, nothing created twice', async () => {
    const before = fn()!;
    const url = JSON.parse(before.triggers[0]!.TriggerDesc).ExtranetUrl as string;
    // Configured by environment this time, as a CI job would; no role: the function keeps its own.
    const run = await deploy(['--memory', '512'], { SCF_ENDPOINT: endpoint, SCF_REGION: 'ap-guangzhou', SCF_TIMEOUT_SECONDS: '60', SCF_VPC_ID: 'vpc-abc123', SCF_SUBNET_ID: 'subnet-def456' });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Function URL: ${url}\n`);
    expect(standin.callsOf('CreateFunction')).toHaveLength(1);
    expect(standin.callsOf('CreateTrigger')).toHaveLength(1);
    expect(standin.callsOf('UpdateFunctionCode')).toHaveLength(1);
    expect(standin.callsOf('UpdateFunctionConfiguration')).toHaveLength(1);
    expect(fn()).toMatchObject({ MemorySize: 512, Timeout: 60, Role: 'SCF_TkeScaleoutRole', VpcConfig: { VpcId: 'vpc-abc123', SubnetId: 'subnet-def456' }, triggers: [{ Type: 'http' }] });
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
    const out = execFileSync('node', [join(REPO_ROOT, 'dist', 'deploy', 'deploy.js'), '--help'], { encoding: 'utf8' });
    expect(out).toContain('--region');
    expect(out).toContain('--role');
  });
});
