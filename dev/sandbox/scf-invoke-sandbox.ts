import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, authenticateTc3, header, parseParams, readBody, send, startLocalApiServer, type ApiCredential, type LocalApiServer } from './api3-server';
import { SANDBOX_CREDENTIAL } from './tke-sandbox';

/**
 * A local stand-in for SCF's `Invoke` API (service scf, API 3.0), for `npm start` and the tests:
 * with `InvocationType: "Event"` it checks the call as SCF does (TC3 signature for service scf, the
 * function's name and namespace, the event's size), answers at once with a FunctionRequestId, and
 * then runs the function's handler with the event, as SCF's asynchronous invocation does, with the
 * function's timeout. Only asynchronous invocations of the one function it stands in for.
 */
export type InvokedHandler = (event: unknown, context: object) => Promise<unknown>;

export interface ScfInvokeSandboxOptions {
  readonly functionName: string;
  readonly namespace?: string;
  /** The invoked function's timeout, which bounds each run. */
  readonly timeoutMs?: number;
  readonly credentials?: readonly ApiCredential[];
  readonly now?: () => number;
}

export const SCF_ASYNC_EVENT_LIMIT_BYTES = 128 * 1024;

export class ScfInvokeSandbox {
  private server: LocalApiServer | undefined;
  private handler: InvokedHandler | undefined;
  private readonly running = new Set<Promise<unknown>>();
  /** Every accepted invocation's event, in order. */
  readonly invocations: unknown[] = [];

  constructor(private readonly options: ScfInvokeSandboxOptions) {}

  /** The handler runs the events; set after the function is built (it needs this sandbox's URL). */
  setHandler(handler: InvokedHandler): void {
    this.handler = handler;
  }

  async start(port = 0): Promise<string> {
    this.server = await startLocalApiServer((req, res) => this.serve(req, res), port);
    return this.server.url;
  }

  async stop(): Promise<void> {
    await this.settled();
    await this.server?.stop();
  }

  /** Resolves when every invocation started so far has finished. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const requestId = randomUUID();
    const now = this.options.now ?? Date.now;
    try {
      authenticateTc3(req, body, {
        service: 'scf',
        credentials: new Map((this.options.credentials ?? [SANDBOX_CREDENTIAL]).map((c) => [c.secretId, c])),
        now,
      });
      const action = header(req, 'x-tc-action');
      if (action !== 'Invoke') throw new ApiError('InvalidAction', `the SCF sandbox answers Invoke only, not ${JSON.stringify(action)}`);
      const params = parseParams(req, body);
      if (params.FunctionName !== this.options.functionName || (params.Namespace ?? 'default') !== (this.options.namespace ?? 'default')) {
        throw new ApiError('ResourceNotFound.Function', `no function ${String(params.Namespace ?? 'default')}/${String(params.FunctionName)} here`);
      }
      if (params.InvocationType !== 'Event') throw new ApiError('InvalidParameterValue.InvocationType', 'the SCF sandbox runs asynchronous invocations (InvocationType Event) only');
      const context = typeof params.ClientContext === 'string' ? params.ClientContext : '{}';
      if (Buffer.byteLength(context) > SCF_ASYNC_EVENT_LIMIT_BYTES) throw new ApiError('InvalidParameterValue.ClientContext', 'ClientContext is over 128 KB for an asynchronous invocation');
      let event: unknown;
      try {
        event = JSON.parse(context);
      } catch {
        throw new ApiError('InvalidParameterValue.ClientContext', 'ClientContext is not JSON');
      }
      this.invocations.push(event);
      this.run(event, requestId);
      send(res, { Result: { FunctionRequestId: requestId }, RequestId: requestId });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      send(res, { Error: { Code: error.code, Message: error.message }, RequestId: requestId });
    }
  }

  private run(event: unknown, requestId: string): void {
    const handler = this.handler;
    if (handler === undefined) return;
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const startedAt = Date.now();
    const context = { request_id: requestId, time_limit_in_ms: timeoutMs, getRemainingTimeInMillis: () => timeoutMs - (Date.now() - startedAt) };
    // After the answer, as SCF runs an asynchronous invocation once it has queued it.
    const running: Promise<unknown> = new Promise((resolve) => setImmediate(resolve))
      .then(() => handler(event, context))
      .catch(() => undefined)
      .finally(() => this.running.delete(running));
    this.running.add(running);
  }
}
