import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ScfHandler } from '../../src/handler';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { startLocalApiServer } from '../sandbox/api3-server';

export interface FunctionUrlServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves an SCF handler on localhost the way a Function URL would call it: each HTTP request
 * becomes a Function URL event (lower-case headers, x-scf-remote-addr, queryString, body; bodies
 * that are not UTF-8 go base64 with isBase64Encoded) and the integration response becomes the HTTP
 * answer. Used by `npm start`, the integration tests and the benchmark. Listening and closing are
 * the stand-ins' (dev/sandbox/api3-server.ts).
 */
export async function startFunctionUrlServer(
  handler: ScfHandler,
  options: { port?: number; host?: string; timeoutMs?: number } = {},
): Promise<FunctionUrlServer> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const server = await startLocalApiServer(async function serveFunctionUrl(req, res) {
    try {
      const event = await toFunctionUrlEvent(req);
      const startedAt = Date.now();
      const response = await handler(event, {
        request_id: randomUUID(),
        time_limit_in_ms: timeoutMs,
        getRemainingTimeInMillis: () => timeoutMs - (Date.now() - startedAt),
      });
      const body = response.isBase64Encoded ? Buffer.from(response.body, 'base64') : response.body;
      res.writeHead(response.statusCode, response.headers).end(body);
    } catch (error) {
      if (error instanceof RequestTooLargeError) {
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error: { code: 'RequestTooLarge', message: 'SCF accepts at most 6 MB' } }));
        return;
      }
      // SCF answers an invocation that threw with its own error; so do we, without internals.
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'FunctionError', message: 'the function threw; see its log' } }));
      console.error(error);
    }
  }, options.port ?? 0, options.host ?? '127.0.0.1');
  return { url: server.url, close: () => server.stop() };
}

/** SCF refuses synchronous requests over 6 MB before the function sees them (docs/PLATFORM.md). */
const SCF_MAX_REQUEST_BYTES = 6 * 1024 * 1024;

class RequestTooLargeError extends Error {}

async function toFunctionUrlEvent(req: IncomingMessage): Promise<FunctionUrlEvent> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > SCF_MAX_REQUEST_BYTES) throw new RequestTooLargeError();
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers['x-scf-remote-addr'] = req.socket.remoteAddress ?? '127.0.0.1';
  const queryString: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const existing = queryString[name];
    queryString[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const text = raw.toString('utf8');
  const isUtf8 = Buffer.from(text, 'utf8').equals(raw);
  return {
    httpMethod: req.method ?? 'GET',
    path: url.pathname,
    headers,
    queryString,
    body: isUtf8 ? text : raw.toString('base64'),
    isBase64Encoded: !isUtf8,
  };
}
