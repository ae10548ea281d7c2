import { createHash } from 'node:crypto';
import { backOff } from 'exponential-backoff';
import { describeApiFailure } from '../src/tencentcloud/api-failure';
import { FOLLOW_TRIGGER_NAME, planFollowTrigger } from './follow-timer';
import type { scf } from 'tencentcloud-sdk-nodejs-scf';

type ScfClient = InstanceType<typeof scf.v20180416.Client>;

/**
 * Create or update the function on SCF, then make sure it has a Function URL and the timer trigger
 * of the pass that follows what it bought, with the official SCF SDK (CreateFunction /
 * UpdateFunctionCode / UpdateFunctionConfiguration; the Function URL is a trigger of Type "http",
 * see CreateTrigger's doc, 583/18589; the timer one of Type "timer", updated in place with
 * UpdateTrigger, see deploy/follow-timer.ts). Run it twice and the second run updates the function
 * in place, finds the same URL and leaves the timer as it is: nothing is created twice.
 *
 * SCF changes a function asynchronously: after each change it is Creating or Updating and refuses
 * the next change (FailedOperation.FunctionStatusError) until Active, so every step waits for it.
 * The SDK never retries; transient API errors (rate limit, internal) are retried here with backoff.
 */
export interface FunctionSpec {
  readonly name: string;
  readonly namespace: string;
  readonly description: string;
  /** SCF's newest Node runtime (docs/PLATFORM.md); the bundle is built and tested for it. */
  readonly runtime: 'Nodejs18.15';
  readonly handler: 'index.main_handler';
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /**
   * The execution role whose temporary keys the function gets as TENCENTCLOUD_* (needs TKE access).
   * Unset: a new function gets none (it will refuse to start until one is set); an existing one
   * keeps its own.
   */
  readonly role?: string;
  readonly vpc?: { readonly vpcId: string; readonly subnetId: string };
  readonly environment: Readonly<Record<string, string>>;
  readonly zip: Buffer;
  /** Function URL auth: NONE (each sender is verified by the function itself) or CAM. */
  readonly urlAuth: 'NONE' | 'CAM';
  /**
   * The schedule of the follow timer (trigger `scaleout-follow`), a 7-field SCF cron expression
   * already checked (checkSchedule); undefined: no timer (`--no-follow`), and one that exists is
   * turned off.
   */
  readonly followSchedule: string | undefined;
}

/** What became of the follow timer. */
export type FollowResult =
  | { readonly action: 'created'; readonly schedule: string }
  | { readonly action: 'updated'; readonly schedule: string; readonly was: string | undefined; readonly wasEnabled: boolean }
  | { readonly action: 'unchanged'; readonly schedule: string | undefined; readonly enabled: boolean }
  | { readonly action: 'disabled'; readonly schedule: string | undefined }
  | { readonly action: 'none' };

export interface DeployResult {
  readonly action: 'created' | 'updated';
  readonly url: string | undefined;
  readonly urlCreated: boolean;
  readonly follow: FollowResult;
  readonly codeSha256: string;
}

export interface DeployOptions {
  /** Progress lines for a person; never given a secret. */
  readonly say: (line: string) => void;
  /** How long to wait for the function to become Active after each change. */
  readonly waitMs: number;
  /** Delay between status polls (short in tests). */
  readonly pollMs: number;
}

export async function deployFunction(client: ScfClient, spec: FunctionSpec, options: DeployOptions): Promise<DeployResult> {
  const ids = { FunctionName: spec.name, Namespace: spec.namespace };
  const zipFile = spec.zip.toString('base64');
  const configuration = {
    Description: spec.description,
    MemorySize: spec.memoryMb,
    Timeout: spec.timeoutSeconds,
    Runtime: spec.runtime,
    ...(spec.role !== undefined && { Role: spec.role }),
    Environment: { Variables: Object.entries(spec.environment).map(([Key, Value]) => ({ Key, Value })) },
    ...(spec.vpc !== undefined && { VpcConfig: { VpcId: spec.vpc.vpcId, SubnetId: spec.vpc.subnetId } }),
  };

  const existing = await call(() => client.GetFunction(ids)).catch((error: unknown) => {
    if (describeApiFailure(error).code === 'ResourceNotFound.Function') return undefined;
    throw error;
  });

  let action: DeployResult['action'];
  if (existing === undefined) {
    options.say(`creating function ${spec.namespace}/${spec.name} (${spec.runtime}, ${spec.memoryMb} MB, ${spec.timeoutSeconds} s)`);
    await call(() => client.CreateFunction({ ...ids, ...configuration, Handler: spec.handler, Type: 'Event', Code: { ZipFile: zipFile } }));
    await waitUntilActive(client, ids, options);
    action = 'created';
  } else {
    options.say(`updating function ${spec.namespace}/${spec.name} (was ${existing.Runtime}, ${existing.Status})`);
    if (existing.Status !== 'Active') await waitUntilActive(client, ids, options);
    await call(() => client.UpdateFunctionCode({ ...ids, Handler: spec.handler, ZipFile: zipFile }));
    await waitUntilActive(client, ids, options);
    await call(() => client.UpdateFunctionConfiguration({ ...ids, ...configuration }));
    await waitUntilActive(client, ids, options);
    action = 'updated';
  }

  // One Function URL per function: SCF refuses a second http trigger, so find it before creating.
  const triggers = await call(() => client.ListTriggers({ ...ids, Limit: 100 }));
  const http = triggers.Triggers?.find((t) => t.Type === 'http');
  let url: string | undefined;
  let urlCreated = false;
  if (http !== undefined) {
    url = functionUrlIn(JSON.stringify(http));
    options.say(`Function URL exists (trigger ${http.TriggerName})`);
  } else {
    options.say(`creating the Function URL (auth ${spec.urlAuth}, public)`);
    const created = await call(() =>
      client.CreateTrigger({
        ...ids,
        TriggerName: 'scaleout-url',
        Type: 'http',
        TriggerDesc: JSON.stringify({ AuthType: spec.urlAuth, NetConfig: { EnableIntranet: false, EnableExtranet: true } }),
        Enable: 'OPEN',
      }),
    );
    url = functionUrlIn(JSON.stringify(created.TriggerInfo ?? {}));
    urlCreated = true;
  }
  // Where SCF puts the address is not documented: when the trigger does not show it, the function's
  // description may (AccessInfo).
  url ??= functionUrlIn(JSON.stringify(await call(() => client.GetFunction(ids))));

  const timer = triggers.Triggers?.find((t) => t.Type === 'timer' && t.TriggerName === FOLLOW_TRIGGER_NAME);
  const follow = await applyFollowTrigger(client, ids, timer, spec.followSchedule, options);
  return { action, url, urlCreated, follow, codeSha256: createHash('sha256').update(spec.zip).digest('hex') };
}

/**
 * The follow timer: created (CreateTrigger, Type "timer", TriggerDesc the cron expression, Enable
 * OPEN), updated in place when its schedule differs or it is off (UpdateTrigger, same fields, on the
 * trigger's own Qualifier), turned off with `--no-follow` (UpdateTrigger, Enable CLOSE, its schedule
 * kept), else left alone. Never deleted: a trigger of that name is ours.
 */
async function applyFollowTrigger(
  client: ScfClient,
  ids: { FunctionName: string; Namespace: string },
  existing: { TriggerDesc?: string; Enable?: number; Qualifier?: string } | undefined,
  schedule: string | undefined,
  options: DeployOptions,
): Promise<FollowResult> {
  const plan = planFollowTrigger(existing, schedule);
  const trigger = { ...ids, TriggerName: FOLLOW_TRIGGER_NAME, Type: 'timer', ...(existing?.Qualifier && { Qualifier: existing.Qualifier }) };
  switch (plan.action) {
    case 'none':
      return plan;
    case 'keep':
      options.say(`follow timer ${FOLLOW_TRIGGER_NAME} exists (${plan.schedule ?? 'schedule not shown'}, ${plan.enabled ? 'on' : 'off'})`);
      return { action: 'unchanged', schedule: plan.schedule, enabled: plan.enabled };
    case 'create':
      options.say(`creating the follow timer ${FOLLOW_TRIGGER_NAME} (${plan.schedule})`);
      await call(() => client.CreateTrigger({ ...trigger, TriggerDesc: plan.schedule, Enable: 'OPEN' }));
      return { action: 'created', schedule: plan.schedule };
    case 'update':
      options.say(`updating the follow timer ${FOLLOW_TRIGGER_NAME}: ${plan.was ?? '?'}${plan.wasEnabled ? '' : ' (off)'} -> ${plan.schedule} (on)`);
      await call(() => client.UpdateTrigger({ ...trigger, TriggerDesc: plan.schedule, Enable: 'OPEN' }));
      return { action: 'updated', schedule: plan.schedule, was: plan.was, wasEnabled: plan.wasEnabled };
    case 'disable':
      options.say(`turning off the follow timer ${FOLLOW_TRIGGER_NAME} (--no-follow; its schedule ${plan.schedule ?? '?'} is kept)`);
      await call(() => client.UpdateTrigger({ ...trigger, ...(plan.schedule !== undefined && { TriggerDesc: plan.schedule }), Enable: 'CLOSE' }));
      return { action: 'disabled', schedule: plan.schedule };
  }
}

/** Polls GetFunction until Active; a failed create or update is an error naming SCF's reason. */
async function waitUntilActive(client: ScfClient, ids: { FunctionName: string; Namespace: string }, options: DeployOptions): Promise<void> {
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const fn = await call(() => client.GetFunction(ids));
    if (fn.Status === 'Active') return;
    if (fn.Status !== undefined && /Failed$/.test(fn.Status)) {
      const reasons = (fn.StatusReasons ?? []).map((r) => r.ErrorMessage).filter(Boolean).join('; ');
      throw new Error(`function ${ids.FunctionName} is ${fn.Status}${reasons ? `: ${reasons}` : ''}${fn.StatusDesc ? ` (${fn.StatusDesc})` : ''}`);
    }
    if (Date.now() > deadline) throw new Error(`function ${ids.FunctionName} is still ${fn.Status} after ${options.waitMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}

/**
 * Where a Function URL's address sits in SCF's answers is not documented (the trigger's
 * description, or the function's AccessInfo): take the first Function URL address in the text,
 * https://<appid>-<id>.<region>.tencentscf.com (583/69491), with its escaped slashes undone.
 */
export function functionUrlIn(text: string): string | undefined {
  return /https:\/\/[A-Za-z0-9.-]+\.tencentscf\.com(?:\/[^\s"\\]*)?/.exec(text.replace(/\\\//g, '/'))?.[0];
}

const TRANSIENT = /^(RequestLimitExceeded|InternalError|FailedOperation\.FunctionStatusError)/;

/** One API call, retried with backoff on rate limits, internal errors and network failures. */
function call<T>(request: () => Promise<T>): Promise<T> {
  return backOff(request, {
    numOfAttempts: 5,
    startingDelay: 500,
    timeMultiple: 2,
    jitter: 'full',
    retry: (error: unknown) => {
      const { code, httpCode } = describeApiFailure(error);
      return code === undefined ? httpCode === undefined || httpCode >= 500 : TRANSIENT.test(code);
    },
  });
}
