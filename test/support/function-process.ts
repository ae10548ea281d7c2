import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { SANDBOX_CREDENTIAL } from '../../dev/sandbox/tke-sandbox';
import { REPO_ROOT } from './fixtures';

/** The bundle `npm start` runs, built once per test file that spawns it. */
export function buildLocalBundle(): void {
  execFileSync('npm', ['run', 'build:local', '--silent'], { cwd: REPO_ROOT, stdio: 'pipe' });
}

export interface FunctionProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node dist/local/start.js` with `env` (on top of a clean copy of ours) and waits until it listens. */
export async function startFunctionProcess(env: Record<string, string>): Promise<FunctionProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: '0', SANDBOX_PORT: '0', SCF_SANDBOX_PORT: '0', NOTIFY_CAPTURE_PORT: '0', KUBE_SANDBOX_PORT: '0' };
  for (const key of ['TENCENTCLOUD_SECRETID', 'TENCENTCLOUD_SECRETKEY', 'TENCENTCLOUD_SESSIONTOKEN', 'TKE_ENDPOINT', 'SCALEOUT_GENERIC_TOKEN', 'ALERTMANAGER_TOKEN', 'GRAFANA_WEBHOOK_SECRET', 'TENCENT_MONITOR_TOKEN', 'SLACK_SIGNING_SECRET', 'FEISHU_VERIFICATION_TOKEN', 'FEISHU_ENCRYPT_KEY', 'DINGTALK_APP_SECRET', 'SCALEOUT_HEALTH_TOKEN', 'SCALEOUT_CHAT_ALLOW', 'FEISHU_APP_ID', 'FEISHU_APP_SECRET', 'SCALEOUT_CONFIG', 'SCALEOUT_STORE', 'SCALEOUT_FUNCTION_NAME', 'SCALEOUT_FUNCTION_NAMESPACE', 'SCALEOUT_FUNCTION_REGION', 'SCALEOUT_SCF_ENDPOINT']) {
    delete childEnv[key];
  }
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, ['dist/local/start.js'], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the function did not listen in time:\n${output}`)), 15_000);
    const poll = setInterval(() => {
      const listening = /listening on (http:\/\/\S+)/.exec(output);
      if (listening) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(listening[1]!);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`the function exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * `count` instances of the function as separate OS processes sharing one sandbox (its TKE and its
 * CVM) and one Redis: what SCF runs when deliveries land on different instances.
 */
export function startInstancesSharing(
  count: number,
  shared: { readonly sandboxUrl: string; readonly redisUrl: string; readonly config: string; readonly genericToken: string; readonly timeoutMs: number; readonly env?: Record<string, string> },
): Promise<FunctionProcess[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      startFunctionProcess({
        TENCENTCLOUD_SECRETID: SANDBOX_CREDENTIAL.secretId,
        TENCENTCLOUD_SECRETKEY: SANDBOX_CREDENTIAL.secretKey,
        TKE_ENDPOINT: shared.sandboxUrl,
        CVM_ENDPOINT: shared.sandboxUrl,
        SCALEOUT_STORE: shared.redisUrl,
        SCALEOUT_CONFIG: shared.config,
        SCALEOUT_GENERIC_TOKEN: shared.genericToken,
        LOCAL_TIMEOUT_MS: String(shared.timeoutMs),
        LOG_LEVEL: 'warn',
        ...shared.env,
      }),
    ),
  );
}
