/**
 * `npm run deploy -- --region ap-guangzhou --role SCF_TkeScaleoutRole`: packages the function
 * (`npm run package` runs first) and creates or updates it on SCF with its Function URL and the
 * timer trigger of the pass that follows what it bought (`scaleout-follow`, every minute unless
 * `--follow-every` or `--no-follow`), then prints the URL to give each sender. Run it again after a
 * change: it updates in place, same URL, same timer.
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
import { routeFor, sdkClientConfig } from '../src/tencentcloud/endpoint-route';
import { envVarsNamedBy } from './config-env-vars';
import { checkSchedule, DEFAULT_FOLLOW_SCHEDULE, FOLLOW_TRIGGER_NAME, ROLE_TKE_ACTIONS } from './follow-timer';
import { deployFunction, type FollowResult, type FunctionSpec } from './scf-deploy';

const ROOT = join(__dirname, '..', '..');
const ZIP = join(ROOT, 'dist', 'tke-scaleout.zip');
const PACKAGED_CONFIG = join(ROOT, 'dist', 'function', 'config', 'scaleout.json');
/** Settings of the function itself, passed on when set in the deployer's shell. */
const FUNCTION_SETTINGS = ['SCALEOUT_STORE', 'TKE_ENDPOINT', 'CVM_ENDPOINT', 'LOG_LEVEL'];
const ENV_LIMIT_BYTES = 4096;

const USAGE = `npm run deploy -- [--region <region>] [--role <execution role>] [options]

  --region        SCF region (default ap-guangzhou)                              env SCF_REGION
  --role          execution role the function runs as; it must allow, on each
                  cluster the config names,
${ROLE_TKE_ACTIONS.map((action) => `                    ${action}`).join('\n')}
                  with cvm:DescribeInstances for the pass's cleanup (and
                  cvm:InquiryPriceRunInstances with a money budget,
                  scf:InvokeFunction on itself for chat follow-ups; docs/DEPLOY.md).
                  Without one a new function cannot start; an existing one keeps
                  its own.                                                       env SCF_ROLE
  --name          function name (default tke-scaleout)                           env SCF_FUNCTION_NAME
  --namespace     SCF namespace (default "default")                              env SCF_NAMESPACE
  --memory        MB, 64-3072 (default 256)                                      env SCF_MEMORY_MB
  --timeout       seconds, 1-900 (default 30)                                    env SCF_TIMEOUT_SECONDS
  --vpc, --subnet VPC and subnet, both or neither (to reach TencentDB for Redis) env SCF_VPC_ID, SCF_SUBNET_ID
  --url-auth      Function URL auth: NONE (default; each sender is verified by
                  the function) or CAM                                           env SCF_URL_AUTH
  --follow-every  schedule of the timer trigger ${FOLLOW_TRIGGER_NAME}, which runs the
                  pass following what the function bought: SCF's cron, 7 fields
                  (second minute hour day month weekday year); default
                  "${DEFAULT_FOLLOW_SCHEDULE}", every minute. One that exists with another
                  schedule is updated in place.                                  env SCF_FOLLOW_EVERY
  --no-follow     no timer: none is created, and an existing ${FOLLOW_TRIGGER_NAME}
                  is turned off (kept, not deleted)                              env SCF_NO_FOLLOW=1
  --endpoint      SCF API URL instead of https://scf.tencentcloudapi.com
                  (private endpoints, stand-ins)                                 env SCF_ENDPOINT

Credentials: TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY (and TENCENTCLOUD_SESSIONTOKEN).
A flag wins over its env var.`;

class UsageError extends Error {}

function integer(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      region: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      namespace: { type: 'string' },
      memory: { type: 'string' },
      timeout: { type: 'string' },
      vpc: { type: 'string' },
      subnet: { type: 'string' },
      'url-auth': { type: 'string' },
      'follow-every': { type: 'string' },
      'no-follow': { type: 'boolean' },
      endpoint: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  // A flag, else its env var (for CI jobs that configure by environment), else the default.
  const setting = (flag: string | undefined, name: string, fallback?: string) => flag ?? (env[name] === '' ? undefined : env[name]) ?? fallback;
  const values = {
    region: setting(flags.region, 'SCF_REGION', 'ap-guangzhou')!,
    role: setting(flags.role, 'SCF_ROLE'),
    name: setting(flags.name, 'SCF_FUNCTION_NAME', 'tke-scaleout')!,
    namespace: setting(flags.namespace, 'SCF_NAMESPACE', 'default')!,
    memory: setting(flags.memory, 'SCF_MEMORY_MB'),
    timeout: setting(flags.timeout, 'SCF_TIMEOUT_SECONDS'),
    vpc: setting(flags.vpc, 'SCF_VPC_ID'),
    subnet: setting(flags.subnet, 'SCF_SUBNET_ID'),
    urlAuth: setting(flags['url-auth'], 'SCF_URL_AUTH', 'NONE')!,
    endpoint: setting(flags.endpoint, 'SCF_ENDPOINT'),
    followSchedule: followScheduleOf(flags['follow-every'], flags['no-follow'], env),
  };
  if (!/^[a-z]{2,}-[a-z]+(-[a-z0-9]+)*$/.test(values.region)) throw new UsageError(`--region: a region such as ap-guangzhou, got ${JSON.stringify(values.region)}`);
  if ((values.vpc === undefined) !== (values.subnet === undefined)) throw new UsageError('--vpc and --subnet: give both or neither');
  if (values.urlAuth !== 'NONE' && values.urlAuth !== 'CAM') throw new UsageError(`--url-auth: NONE or CAM, got ${JSON.stringify(values.urlAuth)}`);
  if (values.endpoint !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(values.endpoint)) throw new UsageError(`--endpoint: a URL such as https://scf.internal.tencentcloudapi.com, got ${JSON.stringify(values.endpoint)}`);
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
  // The function's own name, namespace and region, so a chat command TKE does not answer in time is
  // finished by an asynchronous Invoke of itself (src/sources/chat/follow-up.ts); its role needs scf:InvokeFunction
  // on this function (docs/DEPLOY.md).
  environment.SCALEOUT_FUNCTION_NAME = values.name;
  environment.SCALEOUT_FUNCTION_NAMESPACE = values.namespace;
  environment.SCALEOUT_FUNCTION_REGION = values.region;
  const envBytes = Object.entries(environment).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
  if (envBytes > ENV_LIMIT_BYTES) throw new UsageError(`the function's environment would be ${envBytes} bytes; SCF allows 4 KB in all`);

  const spec: FunctionSpec = {
    name: values.name,
    namespace: values.namespace,
    description: 'TKE scale-out webhook: alarms and chat commands in, one idempotent CreateClusterInstances out.',
    runtime: 'Nodejs18.15',
    handler: 'index.main_handler',
    memoryMb: integer(values.memory, 'memory', 256, 64, 3072),
    timeoutSeconds: integer(values.timeout, 'timeout', 30, 1, 900),
    ...(values.role !== undefined && { role: values.role }),
    ...(values.vpc !== undefined && { vpc: { vpcId: values.vpc, subnetId: values.subnet! } }),
    environment,
    zip: readFileSync(ZIP),
    urlAuth: values.urlAuth,
    followSchedule: values.followSchedule,
  };

  const route = routeFor(values.endpoint, 'scf.tencentcloudapi.com');
  const credentials = { secretId: env.TENCENTCLOUD_SECRETID, secretKey: env.TENCENTCLOUD_SECRETKEY, ...(env.TENCENTCLOUD_SESSIONTOKEN && { token: env.TENCENTCLOUD_SESSIONTOKEN }) };
  const client = new scf.v20180416.Client(sdkClientConfig(route, values.region, () => credentials, 60_000));

  const say = (line: string) => console.log(line);
  say(`SCF ${route.description}, region ${values.region}; ${(spec.zip.length / 1024).toFixed(0)} KB from ${ZIP}`);
  say(`function environment: ${Object.keys(environment).join(', ') || '(none)'}`);
  if (values.role === undefined) say('  no --role: a new function gets no execution role and will refuse to start until one is set; an existing one keeps its own');
  for (const name of unset) say(`  not set here: ${name} (the sender that reads it answers 503 until it is set on the function)`);

  const result = await deployFunction(client, spec, { say, waitMs: Number(env.DEPLOY_WAIT_MS ?? 180_000), pollMs: Number(env.DEPLOY_POLL_MS ?? 2000) });
  say(`${result.action} ${spec.namespace}/${spec.name}: ${spec.runtime}, handler ${spec.handler}, code sha256 ${result.codeSha256.slice(0, 16)}…`);
  say(followLine(result.follow));
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

/**
 * The follow timer's schedule: --no-follow (none), else --follow-every, else their env vars, else
 * every minute. Both at once, at either level, is a usage error.
 */
function followScheduleOf(every: string | undefined, noFollow: boolean | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (noFollow === true && every !== undefined) throw new UsageError('--follow-every and --no-follow: give one or neither');
  if (noFollow === true) return undefined;
  let wanted = every;
  let source = '--follow-every';
  if (wanted === undefined) {
    const noFollowEnv = env.SCF_NO_FOLLOW ?? '';
    if (!['', '0', 'false', '1', 'true'].includes(noFollowEnv)) throw new UsageError(`SCF_NO_FOLLOW: 1 or true (no timer), 0, false or unset, got ${JSON.stringify(noFollowEnv)}`);
    const off = noFollowEnv === '1' || noFollowEnv === 'true';
    const everyEnv = env.SCF_FOLLOW_EVERY === '' ? undefined : env.SCF_FOLLOW_EVERY;
    if (off && everyEnv !== undefined) throw new UsageError('SCF_FOLLOW_EVERY and SCF_NO_FOLLOW: set one or neither');
    if (off) return undefined;
    wanted = everyEnv ?? DEFAULT_FOLLOW_SCHEDULE;
    source = 'SCF_FOLLOW_EVERY';
  }
  const checked = checkSchedule(wanted);
  if (!checked.ok) throw new UsageError(`${source} ${JSON.stringify(wanted)}: ${checked.reason}`);
  return checked.schedule;
}

function followLine(follow: FollowResult): string {
  const name = FOLLOW_TRIGGER_NAME;
  switch (follow.action) {
    case 'created':
      return `Follow timer: ${name}, "${follow.schedule}" (new)`;
    case 'updated':
      return `Follow timer: ${name}, "${follow.schedule}" (was ${follow.was === undefined ? 'not shown' : `"${follow.was}"`}${follow.wasEnabled ? '' : ', off'})`;
    case 'unchanged':
      return `Follow timer: ${name}, ${follow.schedule === undefined ? 'its schedule not shown' : `"${follow.schedule}"`}${follow.enabled ? '' : ', off (--no-follow)'}`;
    case 'disabled':
      return `Follow timer: ${name} turned off (--no-follow); what the function bought is not followed until a deploy without --no-follow`;
    case 'none':
      return 'Follow timer: none (--no-follow); what the function bought is not followed';
  }
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
