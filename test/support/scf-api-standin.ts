import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, authenticateTc3, header, parseParams, readBody, send, startLocalApiServer, type ApiCredential, type LocalApiServer } from '../../dev/sandbox/api3-server';

/**
 * A local stand-in for scf.tencentcloudapi.com (API 3.0, version 2018-04-16), for testing
 * `npm run deploy` as the TKE sandbox tests the function. Faithful where the deploy depends on it:
 *
 *  - TC3-HMAC-SHA256 signatures for service "scf" are checked as the real API checks them;
 *  - a function is `Creating` / `Updating` for a while after CreateFunction, UpdateFunctionCode and
 *    UpdateFunctionConfiguration, and refuses other changes until `Active`
 *    (FailedOperation.FunctionStatusError), as SCF does;
 *  - GetFunction of an unknown function is ResourceNotFound.Function; CreateFunction of an existing
 *    one ResourceInUse.Function; a second http trigger (Function URL) ResourceInUse.Trigger;
 *  - the Function URL is an `http` trigger whose name SCF chooses and whose description carries the
 *    URL (https://<appid>-<id>.<region>.tencentscf.com), created with CreateTrigger Type "http" and
 *    TriggerDesc {"AuthType": "NONE"|"CAM", "NetConfig": {...}};
 *  - a timer trigger is created with CreateTrigger Type "timer", TriggerDesc the cron expression
 *    (7 fields with seconds, 583/9708) and its name (up to 60 of a-z A-Z 0-9 - _, starting with a
 *    letter; unique per function and qualifier: a second one is ResourceInUse.Trigger), and listed
 *    with TriggerDesc {"cron": "<expression>"}, as terraform-provider-tencentcloud and
 *    serverless-tencent-scf read it back; UpdateTrigger (Type timer only here) changes its
 *    TriggerDesc and Enable in place, an unknown one is ResourceNotFound.Trigger. What SCF does
 *    with a 7-field expression it cannot schedule (a 30th of February) is not modelled: only the
 *    field count and characters are checked.
 */
export const SCF_STANDIN_CREDENTIAL: ApiCredential = {
  secretId: 'AKIDscfStandinLOCALONLY000000000000',
  secretKey: 'scf-standin-secret-key-local-only-00',
};

const STANDIN_CREDENTIALS = new Map([[SCF_STANDIN_CREDENTIAL.secretId, SCF_STANDIN_CREDENTIAL]]);

/** Runtimes CreateFunction accepts for Node (the SDK's list): there is no Node 20. */
const NODE_RUNTIMES = ['Nodejs6.10', 'Nodejs8.9', 'Nodejs10.15', 'Nodejs12.16', 'Nodejs14.18', 'Nodejs16.13', 'Nodejs18.15'];
const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$/;
const TIMER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,59}$/;
const CRON_FIELD = /^[0-9A-Za-z,\-*/?#]+$/;
const APP_ID = '1250000000';

export interface StandinFunction {
  FunctionName: string;
  Namespace: string;
  Runtime: string;
  Handler: string;
  MemorySize: number;
  Timeout: number;
  Description: string;
  Role?: string;
  VpcConfig?: { VpcId?: string; SubnetId?: string };
  Environment: { Variables: Array<{ Key: string; Value: string }> };
  code: Buffer;
  status: 'Creating' | 'Updating' | 'Active';
  busyUntil: number;
  triggers: StandinTrigger[];
}

export interface StandinTrigger {
  Type: string;
  TriggerName: string;
  TriggerDesc: string;
  Enable: number;
  Qualifier: string;
  AddTime: string;
  ModTime: string;
}

export interface StandinCall {
  readonly action: string;
  readonly region: string | undefined;
  readonly errorCode?: string;
  readonly params: Record<string, unknown>;
}

export class ScfApiStandin {
  readonly calls: StandinCall[] = [];
  readonly functions = new Map<string, StandinFunction>();
  private server: LocalApiServer | undefined;

  constructor(
    private readonly options: {
      /** How long a function stays Creating/Updating (ms). */
      readonly settleMs?: number;
      readonly now?: () => number;
    } = {},
  ) {}

  private get now(): () => number {
    return this.options.now ?? Date.now;
  }

  async start(): Promise<string> {
    this.server = await startLocalApiServer((req, res) => this.serve(req, res));
    return this.server.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }

  callsOf(action: string): StandinCall[] {
    return this.calls.filter((c) => c.action === action && c.errorCode === undefined);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const action = header(req, 'x-tc-action') ?? '';
    const region = header(req, 'x-tc-region');
    let params: Record<string, unknown> = {};
    try {
      authenticateTc3(req, body, { service: 'scf', credentials: STANDIN_CREDENTIALS, now: this.now });
      params = parseParams(req, body);
      if (header(req, 'x-tc-version') !== '2018-04-16') throw new ApiError('InvalidParameterValue', 'X-TC-Version must be 2018-04-16 for scf');
      if (region === undefined) throw new ApiError('MissingParameter', 'the X-TC-Region header is required');
      const response = this.dispatch(action, region, params);
      this.calls.push({ action, region, params });
      send(res, { ...response, RequestId: randomUUID() });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.calls.push({ action, region, params, errorCode: error.code });
      send(res, { Error: { Code: error.code, Message: error.message }, RequestId: randomUUID() });
    }
  }

  private dispatch(action: string, region: string, p: Record<string, unknown>): Record<string, unknown> {
    const namespace = typeof p.Namespace === 'string' ? p.Namespace : 'default';
    const key = `${region}/${namespace}/${String(p.FunctionName)}`;
    const existing = this.functions.get(key);
    const active = () => {
      if (existing === undefined) throw new ApiError('ResourceNotFound.Function', `function ${String(p.FunctionName)} does not exist in ${region}/${namespace}`);
      if (this.statusOf(existing) !== 'Active') {
        throw new ApiError('FailedOperation.FunctionStatusError', `the function is ${this.statusOf(existing)}; try again when it is Active`);
      }
      return existing;
    };
    const busy = (fn: StandinFunction, status: 'Creating' | 'Updating') => {
      fn.status = status;
      fn.busyUntil = this.now() + (this.options.settleMs ?? 100);
    };

    switch (action) {
      case 'GetFunction': {
        if (existing === undefined) throw new ApiError('ResourceNotFound.Function', `function ${String(p.FunctionName)} does not exist in ${region}/${namespace}`);
        return this.describe(existing);
      }
      case 'CreateFunction': {
        if (existing !== undefined) throw new ApiError('ResourceInUse.Function', `function ${String(p.FunctionName)} already exists`);
        if (typeof p.FunctionName !== 'string' || !FUNCTION_NAME.test(p.FunctionName)) throw new ApiError('InvalidParameterValue.FunctionName', 'FunctionName: 2-60 letters, digits, - and _, starting with a letter');
        const code = zipOf((p.Code as { ZipFile?: unknown } | undefined)?.ZipFile, 'Code.ZipFile');
        const runtime = String(p.Runtime ?? 'Python2.7');
        if (runtime.startsWith('Nodejs') && !NODE_RUNTIMES.includes(runtime)) throw new ApiError('InvalidParameterValue.Runtime', `Runtime ${runtime} is not supported; Node runtimes: ${NODE_RUNTIMES.join(', ')}`);
        const fn: StandinFunction = {
          FunctionName: p.FunctionName,
          Namespace: namespace,
          Runtime: runtime,
          Handler: String(p.Handler ?? 'index.main_handler'),
          MemorySize: Number(p.MemorySize ?? 128),
          Timeout: Number(p.Timeout ?? 3),
          Description: String(p.Description ?? ''),
          ...(typeof p.Role === 'string' && { Role: p.Role }),
          ...(p.VpcConfig !== undefined && { VpcConfig: p.VpcConfig as StandinFunction['VpcConfig'] }),
          Environment: environmentOf(p.Environment),
          code,
          status: 'Creating',
          busyUntil: 0,
          triggers: [],
        };
        checkLimits(fn);
        busy(fn, 'Creating');
        this.functions.set(key, fn);
        return {};
      }
      case 'UpdateFunctionCode': {
        const fn = active();
        fn.code = zipOf(p.ZipFile, 'ZipFile');
        if (typeof p.Handler === 'string') fn.Handler = p.Handler;
        busy(fn, 'Updating');
        return {};
      }
      case 'UpdateFunctionConfiguration': {
        const fn = active();
        for (const field of ['Description', 'Runtime', 'Role'] as const) if (typeof p[field] === 'string') fn[field] = p[field];
        if (typeof p.MemorySize === 'number') fn.MemorySize = p.MemorySize;
        if (typeof p.Timeout === 'number') fn.Timeout = p.Timeout;
        if (p.VpcConfig !== undefined) fn.VpcConfig = p.VpcConfig as StandinFunction['VpcConfig'];
        if (p.Environment !== undefined) fn.Environment = environmentOf(p.Environment);
        checkLimits(fn);
        busy(fn, 'Updating');
        return {};
      }
      case 'ListTriggers': {
        if (existing === undefined) throw new ApiError('ResourceNotFound.Function', `function ${String(p.FunctionName)} does not exist`);
        return { TotalCount: existing.triggers.length, Triggers: existing.triggers.map((t) => ({ ...t, AvailableStatus: 'Available', BindStatus: '' })) };
      }
      case 'CreateTrigger': {
        const fn = active();
        if (p.Type === 'timer') return { TriggerInfo: this.createTimer(fn, p) };
        if (p.Type !== 'http') throw new ApiError('InvalidParameterValue.Type', 'this stand-in creates Function URLs (Type "http") and timer triggers only');
        if (fn.triggers.some((t) => t.Type === 'http')) throw new ApiError('ResourceInUse.Trigger', 'the function already has a Function URL (http trigger)');
        let desc: { AuthType?: unknown; NetConfig?: { EnableIntranet?: unknown; EnableExtranet?: unknown } };
        try {
          desc = JSON.parse(String(p.TriggerDesc)) as typeof desc;
        } catch {
          throw new ApiError('InvalidParameterValue.TriggerDesc', 'TriggerDesc must be JSON');
        }
        if (desc.AuthType !== 'NONE' && desc.AuthType !== 'CAM') throw new ApiError('InvalidParameterValue.TriggerDesc', 'TriggerDesc.AuthType must be NONE or CAM');
        const id = randomBytes(5).toString('hex');
        const trigger = {
          Type: 'http',
          TriggerName: id, // SCF names it; the name passed in is not used
          TriggerDesc: JSON.stringify({
            ...desc,
            ...(desc.NetConfig?.EnableExtranet === true && { ExtranetUrl: `https://${APP_ID}-${id}.${region}.tencentscf.com` }),
            ...(desc.NetConfig?.EnableIntranet === true && { IntranetUrl: `https://${APP_ID}-${id}.in.${region}.tencentscf.com` }),
          }),
          Enable: p.Enable === 'CLOSE' ? 0 : 1,
          Qualifier: typeof p.Qualifier === 'string' ? p.Qualifier : '$LATEST',
          AddTime: new Date(this.now()).toISOString(),
          ModTime: new Date(this.now()).toISOString(),
        };
        fn.triggers.push(trigger);
        return { TriggerInfo: trigger };
      }
      case 'UpdateTrigger': {
        const fn = active();
        if (p.Type !== 'timer') throw new ApiError('InvalidParameterValue.Type', 'this stand-in updates timer triggers only');
        const qualifier = typeof p.Qualifier === 'string' ? p.Qualifier : '$LATEST';
        const trigger = fn.triggers.find((t) => t.Type === 'timer' && t.TriggerName === p.TriggerName && t.Qualifier === qualifier);
        if (trigger === undefined) throw new ApiError('ResourceNotFound.Trigger', `no timer trigger ${String(p.TriggerName)} on ${qualifier}`);
        if (p.TriggerDesc !== undefined) trigger.TriggerDesc = JSON.stringify({ cron: cronOf(p.TriggerDesc) });
        if (p.Enable !== undefined) trigger.Enable = enableOf(p.Enable);
        trigger.ModTime = new Date(this.now()).toISOString();
        return {};
      }
      default:
        throw new ApiError('InvalidAction', `this stand-in does not implement ${action}`);
    }
  }

  private createTimer(fn: StandinFunction, p: Record<string, unknown>): StandinTrigger {
    if (typeof p.TriggerName !== 'string' || !TIMER_NAME.test(p.TriggerName)) {
      throw new ApiError('InvalidParameterValue.TriggerName', 'a timer trigger name is up to 60 letters, digits, - and _, starting with a letter');
    }
    const qualifier = typeof p.Qualifier === 'string' ? p.Qualifier : '$LATEST';
    if (fn.triggers.some((t) => t.Type === 'timer' && t.TriggerName === p.TriggerName && t.Qualifier === qualifier)) {
      throw new ApiError('ResourceInUse.Trigger', `the function already has a timer trigger ${p.TriggerName}`);
    }
    const at = new Date(this.now()).toISOString();
    const trigger: StandinTrigger = {
      Type: 'timer',
      TriggerName: p.TriggerName,
      TriggerDesc: JSON.stringify({ cron: cronOf(p.TriggerDesc) }),
      Enable: p.Enable === undefined ? 1 : enableOf(p.Enable),
      Qualifier: qualifier,
      AddTime: at,
      ModTime: at,
    };
    fn.triggers.push(trigger);
    return trigger;
  }

  private statusOf(fn: StandinFunction): StandinFunction['status'] {
    if (fn.status !== 'Active' && this.now() >= fn.busyUntil) fn.status = 'Active';
    return fn.status;
  }

  private describe(fn: StandinFunction): Record<string, unknown> {
    return {
      FunctionName: fn.FunctionName,
      Namespace: fn.Namespace,
      Runtime: fn.Runtime,
      Handler: fn.Handler,
      MemorySize: fn.MemorySize,
      Timeout: fn.Timeout,
      Description: fn.Description,
      Role: fn.Role ?? '',
      VpcConfig: fn.VpcConfig ?? { VpcId: '', SubnetId: '' },
      Environment: fn.Environment,
      Status: this.statusOf(fn),
      CodeSize: fn.code.length,
      CodeInfo: createHash('sha256').update(fn.code).digest('hex'),
      Type: 'Event',
      Triggers: fn.triggers,
    };
  }
}

function zipOf(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value === '') throw new ApiError('InvalidParameterValue.ZipFile', `${field}: a base64 zip is required`);
  const zip = Buffer.from(value, 'base64');
  if (zip.subarray(0, 4).toString('binary') !== 'PK\u0003\u0004') throw new ApiError('InvalidParameterValue.ZipFile', `${field}: not a zip file`);
  return zip;
}

/** A timer's cron expression: 7 fields (583/9708) of the characters its fields allow. */
function cronOf(value: unknown): string {
  const fields = typeof value === 'string' ? value.trim().split(/\s+/) : [];
  if (fields.length !== 7 || !fields.every((f) => CRON_FIELD.test(f))) {
    throw new ApiError('InvalidParameterValue.TriggerDesc', 'a timer TriggerDesc is a cron expression of 7 fields: second minute hour day month weekday year');
  }
  return fields.join(' ');
}

function enableOf(value: unknown): number {
  if (value === 'OPEN') return 1;
  if (value === 'CLOSE') return 0;
  throw new ApiError('InvalidParameterValue.Enable', 'Enable is OPEN or CLOSE');
}

function environmentOf(value: unknown): StandinFunction['Environment'] {
  const variables = (value as { Variables?: unknown } | undefined)?.Variables;
  if (variables === undefined) return { Variables: [] };
  if (!Array.isArray(variables)) throw new ApiError('InvalidParameterValue.Environment', 'Environment.Variables must be a list');
  return { Variables: variables.map((v: { Key?: unknown; Value?: unknown }) => ({ Key: String(v.Key), Value: String(v.Value ?? '') })) };
}

/** SCF's limits (docs/PLATFORM.md): memory 64-3072 MB, timeout 1-900 s, env vars 4 KB in all, reserved prefixes. */
function checkLimits(fn: StandinFunction): void {
  if (fn.MemorySize < 64 || fn.MemorySize > 3072) throw new ApiError('InvalidParameterValue.MemorySize', 'MemorySize must be 64-3072');
  if (fn.Timeout < 1 || fn.Timeout > 900) throw new ApiError('InvalidParameterValue.Timeout', 'Timeout must be 1-900');
  const reserved = fn.Environment.Variables.find((v) => /^(SCF_|QCLOUD_|TENCENTCLOUD_)/.test(v.Key));
  if (reserved !== undefined) throw new ApiError('InvalidParameterValue.Environment', `${reserved.Key}: the prefixes SCF_, QCLOUD_ and TENCENTCLOUD_ are reserved`);
  const size = fn.Environment.Variables.reduce((sum, v) => sum + v.Key.length + v.Value.length, 0);
  if (size > 4096) throw new ApiError('InvalidParameterValue.Environment', `environment variables total ${size} bytes; at most 4 KB`);
}
