/**
 * `npm run deploy -- --region ap-guangzhou --role SCF_TkeScaleoutRole`: packages the function
 * (`npm run package` runs first) and creates or updates it on SCF with its Function URL, then prints
 * the URL to give each sender. Run it again after a change: it updates in place, same URL.
 *
 * Credentials: the deployer's own TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY
 * (/ TENCENTCLOUD_SESSIONTOKEN), as tccli reads them. The function's environment: every env var the
 * packaged config names (tokenEnv, secretEnv, usersEnv, …) and SCALEOUT_STORE, TKE_ENDPOINT,
 * LOG_LEVEL, copied from this shell when set; never printed, only their names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scf } from 'tencentcloud-sdk-nodejs-scf';
import { routeFor } from '../src/tencentcloud/endpoint-route';
import { envVarsNamedBy } from './config-env-vars';
import { deployFunction, type FunctionSpec } from './scf-deploy';

const ROOT = join(__dirname, '..', '..');
const ZIP = join(ROOT, 'dist', 'tke-scaleout.zip');
const PACKAGED_CONFIG = join(ROOT, 'dist', 'function', 'config', 'scaleout.json');
/** Settings of the function itself, passed on when set in the deployer's shell. */
const FUNCTION_SETTINGS = ['SCALEOUT_STORE', 'TKE_ENDPOINT', 'LOG_LEVEL'];
const ENV_LIMIT_BYTES = 4096;

const USAGE = `npm run deploy -- --region <region> --role <execution role> [options]

  --region        SCF region, e.g. ap-guangzhou (required)
  --role          execution role the function runs as; it must allow tke:CreateClusterInstances and
                  tke:DescribeClusters (required: without it the function has no credentials)
  --name          function name (default tke-scaleout)
  --namespace     SCF namespace (default "default")
  --memory        MB, 64-3072 (default 256)
  --timeout       seconds, 1-900 (default 30)
  --vpc, --subnet VPC and subnet, both or neither (to reach TencentDB for Redis)
  --url-auth      Function URL auth: NONE (default; each sender is verified by the function) or CAM
  --endpoint      SCF API URL instead of https://scf.tencentcloudapi.com (private endpoints, tests)

Credentials: TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY (and TENCENTCLOUD_SESSIONTOKEN).`;

class UsageError extends Error {}

function integer(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      region: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string', default: 'tke-scaleout' },
      namespace: { type: 'string', default: 'default' },
      memory: { type: 'string' },
      timeout: { type: 'string' },
      vpc: { type: 'string' },
      subnet: { type: 'string' },
      'url-auth': { type: 'string', default: 'NONE' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  if (!values.region) throw new UsageError('--region: required (the SCF region to deploy to, e.g. ap-guangzhou)');
  if (!values.role) throw new UsageError('--role: required (an execution role with TKE access; the function gets its keys from it)');
  if ((values.vpc === undefined) !== (values.subnet === undefined)) throw new UsageError('--vpc and --subnet: give both or neither');
  if (values['url-auth'] !== 'NONE' && values['url-auth'] !== 'CAM') throw new UsageError(`--url-auth: NONE or CAM, got ${JSON.stringify(values['url-auth'])}`);
  if (!env.TENCENTCLOUD_SECRETID || !env.TENCENTCLOUD_SECRETKEY) throw new UsageError('TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY: the deployer\'s credentials must be set');

  const config = JSON.parse(readFileSync(PACKAGED_CONFIG, 'utf8')) as unknown;
  const wanted = [...envVarsNamedBy(config), ...FUNCTION_SETTINGS];
  const environment: Record<string, string> = {};
  const unset: string[] = [];
  for (const name of wanted) {
    const value = env[name];
    if (value !== undefined && value !== '') environment[name] = value;
    else if (!FUNCTION_SETTINGS.includes(name)) unset.push(name);
  }
  const envBytes = Object.entries(environment).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  if (envBytes > ENV_LIMIT_BYTES) throw new UsageError(`the function's environment would be ${envBytes} bytes; SCF allows 4 KB in all`);

  const spec: FunctionSpec = {
    name: values.name!,
    namespace: values.namespace!,
    description: 'TKE scale-out webhook: alarms and chat commands in, one idempotent CreateClusterInstances out.',
    runtime: 'Nodejs18.15',
    handler: 'index.main_handler',
    memoryMb: integer(values.memory, 'memory', 256, 64, 3072),
    timeoutSeconds: integer(values.timeout, 'timeout', 30, 1, 900),
    role: values.role,
    ...(values.vpc !== undefined && { vpc: { vpcId: values.vpc, subnetId: values.subnet! } }),
    environment,
    zip: readFileSync(ZIP),
    urlAuth: values['url-auth'],
  };

  const route = routeFor(values.endpoint, 'scf.tencentcloudapi.com');
  const client = new scf.v20180416.Client({
    credential: {
      secretId: env.TENCENTCLOUD_SECRETID,
      secretKey: env.TENCENTCLOUD_SECRETKEY,
      ...(env.TENCENTCLOUD_SESSIONTOKEN && { token: env.TENCENTCLOUD_SESSIONTOKEN }),
    },
    region: values.region,
    profile: { httpProfile: { endpoint: route.sdkEndpoint, protocol: route.protocol, agent: route.agent, reqTimeout: 60 } },
  });

  const say = (line: string) => console.log(line);
  say(`SCF ${route.description}, region ${values.region}; ${(spec.zip.length / 1024).toFixed(0)} KB from ${ZIP}`);
  say(`function environment: ${Object.keys(environment).join(', ') || '(none)'}`);
  for (const name of unset) say(`  not set here: ${name} (the sender that reads it answers 503 until it is set on the function)`);

  const result = await deployFunction(client, spec, { say, waitMs: Number(env.DEPLOY_WAIT_MS ?? 180_000), pollMs: Number(env.DEPLOY_POLL_MS ?? 2000) });
  say(`${result.action} ${spec.namespace}/${spec.name}: ${spec.runtime}, handler ${spec.handler}, code sha256 ${result.codeSha256.slice(0, 16)}…`);
  if (result.url === undefined) {
    say('Function URL: created, but SCF did not say its address; see the function\'s "Function URL" tab in the console');
    return;
  }
  const base = result.url.replace(/\/$/, '');
  const senders = Object.keys((config as { sources?: Record<string, unknown> }).sources ?? {});
  say(`Function URL: ${base}${result.urlCreated ? ' (new)' : ''}`);
  say('Give the senders (docs/SENDERS.md says how to set each up):');
  for (const sender of senders) say(`  ${sender.padEnd(16)} ${base}/hooks/${sender}`);
  say(`  ${'health'.padEnd(16)} ${base}/healthz`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const e = error as { code?: string; message?: string; requestId?: string };
  console.error(`deploy failed: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}${e.requestId ? ` (RequestId ${e.requestId})` : ''}`);
  process.exit(1);
});
