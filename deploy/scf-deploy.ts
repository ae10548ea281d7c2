import { createHash } from 'node:crypto';
import { backOff } from 'exponential-backoff';
import { describeApiFailure } from '../src/tencentcloud/api-failure';
import type { scf } from 'tencentcloud-sdk-nodejs-scf';

type ScfClient = InstanceType<typeof scf.v20180416.Client>;

/**
 * Create or update the function on SCF, then make sure it has a Function URL, with the official
 * SCF SDK (CreateFunction / UpdateFunctionCode / UpdateFunctionConfiguration; the Function URL is a
 * trigger of Type "http", see CreateTrigger's doc, 583/18589). Run it twice and the second run
 * updates in place and finds the same URL: nothing is created twice.
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
}

export interface DeployResult {
  readonly action: 'created' | 'updated';
  readonly url: string | undefined;
  readonly urlCreated: boolean;
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
  return { action, url, urlCreated, codeSha256: createHash('sha256').update(spec.zip).digest('hex') };
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
