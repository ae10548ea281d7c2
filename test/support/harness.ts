import { Writable } from 'node:stream';
import { coldStart, type ColdStart } from '../../src/cold-start';
import type { FunctionUrlEvent, ScfHttpEvent, ScfHttpResponse } from '../../src/scf/event';
import { createLogger } from '../../src/log/logger';
import { ScfInvokeSandbox, type InvokedHandler } from '../../dev/sandbox/scf-invoke-sandbox';
import { SANDBOX_CREDENTIAL, TkeSandbox, type TkeSandboxOptions } from '../../dev/sandbox/tke-sandbox';
import { exampleConfigVariant, RELAXED_THROTTLE } from './fixtures';

export const GENERIC_TOKEN = 'test-token-4f1c9e';
export const HEALTH_TOKEN = 'health-token-77aa01';

export interface Harness {
  readonly sandbox: TkeSandbox;
  /** SCF's Invoke, for the chat follow-ups the function hands to an asynchronous invocation of itself. */
  readonly scf: ScfInvokeSandbox;
  readonly function: ColdStart;
  /** Every log line the function wrote, parsed. */
  readonly logLines: Array<Record<string, unknown>>;
  /** Every raw log line, for checking that no secret appears anywhere. */
  readonly rawLog: string[];
  invoke(event: ScfHttpEvent, remainingMs?: number): Promise<ScfHttpResponse & { json: any }>;
  postGeneric(body: unknown, headers?: Record<string, string>, remainingMs?: number): Promise<ScfHttpResponse & { json: any }>;
  close(): Promise<void>;
}

/**
 * A function instance built by the real cold start (config file, env, SDK client, middy chain)
 * whose TKE is the real sandbox over HTTP. Nothing is mocked between the event and the socket.
 */
export async function startHarness(
  opts: {
    env?: Record<string, string>;
    /** The sandbox's options, or a running sandbox to share with other harnesses (left running on close). */
    sandbox?: TkeSandboxOptions | TkeSandbox;
    /** The function's clock (default Date.now): tests move it instead of sleeping. */
    now?: () => number;
    /** The function's timeout for the asynchronous invocations SCF's Invoke stand-in runs. */
    functionTimeoutMs?: number;
    /** Changes to the example config; by default only a throttle that holds nothing back. */
    config?: (doc: Record<string, any>) => void;
  } = {},
): Promise<Harness> {
  const shared = opts.sandbox instanceof TkeSandbox ? opts.sandbox : undefined;
  const sandbox = shared ?? new TkeSandbox(opts.sandbox as TkeSandboxOptions | undefined);
  const url = shared !== undefined ? shared.url() : await sandbox.start();
  const scf = new ScfInvokeSandbox({ functionName: 'tke-scaleout-test', timeoutMs: opts.functionTimeoutMs ?? 10_000 });
  const scfUrl = await scf.start();
  const logLines: Array<Record<string, unknown>> = [];
  const rawLog: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        rawLog.push(line);
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const fn = coldStart(
    {
      SCALEOUT_CONFIG: exampleConfigVariant(opts.config ?? ((doc) => (doc.throttle = RELAXED_THROTTLE))),
      TENCENTCLOUD_SECRETID: SANDBOX_CREDENTIAL.secretId,
      TENCENTCLOUD_SECRETKEY: SANDBOX_CREDENTIAL.secretKey,
      TKE_ENDPOINT: url,
      // The sandbox answers CVM's InquiryPriceRunInstances too (money budgets).
      CVM_ENDPOINT: url,
      SCALEOUT_GENERIC_TOKEN: GENERIC_TOKEN,
      SCALEOUT_HEALTH_TOKEN: HEALTH_TOKEN,
      SCALEOUT_FUNCTION_NAME: 'tke-scaleout-test',
      SCALEOUT_FUNCTION_REGION: 'ap-guangzhou',
      SCALEOUT_SCF_ENDPOINT: scfUrl,
      ...opts.env,
    },
    createLogger(destination, 'debug'),
    opts.now ?? Date.now,
  );
  // The handler takes SCF's asynchronous invocations too (its follow-up jobs).
  scf.setHandler(fn.handler as unknown as InvokedHandler);

  const invoke = async (event: ScfHttpEvent, remainingMs = 10_000) => {
    const startedAt = Date.now();
    const response = await fn.handler(event, { request_id: 'test', getRemainingTimeInMillis: () => remainingMs - (Date.now() - startedAt) });
    return { ...response, json: JSON.parse(response.body) };
  };

  return {
    sandbox,
    scf,
    function: fn,
    logLines,
    rawLog,
    invoke,
    postGeneric: (body, headers = {}, remainingMs) => {
      const event: FunctionUrlEvent = {
        httpMethod: 'POST',
        path: '/hooks/generic',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${GENERIC_TOKEN}`, ...headers },
        queryString: {},
        body: typeof body === 'string' ? body : JSON.stringify(body),
      };
      return invoke(event, remainingMs);
    },
    close: async () => {
      await scf.stop();
      if (shared === undefined) await sandbox.stop();
      await fn.store.close();
    },
  };
}
