import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTc3Authorization, tc3Signature, utcDate } from './tc3-signature';

/**
 * What every local stand-in of a Tencent Cloud API 3.0 service shares (the TKE sandbox, and the SCF
 * stand-in `npm run deploy` is tested against): the request checks the real services make, in the
 * order they make them, and the answer envelope. An ApiError becomes `{"Response":{"Error":…}}`
 * with HTTP 200, as the real API answers errors.
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiCredential {
  readonly secretId: string;
  readonly secretKey: string;
  /** When set, calls with this key must send it as X-TC-Token (temporary credentials). */
  readonly token?: string;
}

export interface Tc3Api {
  /** The service the credential scope must name: "tke", "scf". */
  readonly service: string;
  readonly credentials: ReadonlyMap<string, ApiCredential>;
  readonly now: () => number;
}

/** The real API refuses a signature more than 5 minutes from its clock (AuthFailure.SignatureExpire). */
const MAX_SKEW_SECONDS = 300;

/** Checks a call's TC3-HMAC-SHA256 signature as the real API does; throws ApiError(AuthFailure.*). */
export function authenticateTc3(req: IncomingMessage, body: Buffer, api: Tc3Api): void {
  const authorization = header(req, 'authorization');
  if (authorization === undefined) throw new ApiError('AuthFailure.SignatureFailure', 'the Authorization header is missing');
  const auth = parseTc3Authorization(authorization);
  if (auth === undefined) throw new ApiError('AuthFailure.InvalidAuthorization', 'Authorization is not a TC3-HMAC-SHA256 authorization');
  const credential = api.credentials.get(auth.secretId);
  if (credential === undefined) throw new ApiError('AuthFailure.SecretIdNotFound', 'the SecretId is not found');
  const timestamp = Number(header(req, 'x-tc-timestamp'));
  if (!Number.isInteger(timestamp)) throw new ApiError('MissingParameter', 'the X-TC-Timestamp header is required');
  if (Math.abs(api.now() / 1000 - timestamp) > MAX_SKEW_SECONDS) {
    throw new ApiError('AuthFailure.SignatureExpire', 'the signature has expired: X-TC-Timestamp is more than 5 minutes from server time');
  }
  if (auth.date !== utcDate(timestamp)) throw new ApiError('AuthFailure.SignatureFailure', 'the credential date does not match X-TC-Timestamp');
  if (auth.service !== api.service) {
    throw new ApiError('AuthFailure.SignatureFailure', `the credential scope names service ${JSON.stringify(auth.service)}; this is ${api.service}`);
  }
  if (!auth.signedHeaders.includes('content-type') || !auth.signedHeaders.includes('host')) {
    throw new ApiError('AuthFailure.SignatureFailure', 'SignedHeaders must include content-type and host');
  }
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = header(req, name) ?? '';
    // The real API is reached on the default port, so its Host never has one; the SDK signs the
    // host name without port.
    headers[name] = name === 'host' ? value.replace(/:\d+$/, '') : value;
  }
  const expected = tc3Signature({
    method: req.method ?? 'POST',
    canonicalUri: '/',
    canonicalQuery: '',
    headers,
    signedHeaders: auth.signedHeaders,
    payload: body,
    timestamp,
    service: auth.service,
    secretKey: credential.secretKey,
  }).signature;
  if (expected !== auth.signature) throw new ApiError('AuthFailure.SignatureFailure', 'the provided credentials could not be validated: signature mismatch');
  if (credential.token !== undefined && header(req, 'x-tc-token') !== credential.token) {
    throw new ApiError('AuthFailure.TokenFailure', 'the X-TC-Token is missing or wrong for these temporary credentials');
  }
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function parseParams(req: IncomingMessage, body: Buffer): Record<string, unknown> {
  const contentType = header(req, 'content-type') ?? '';
  if (!contentType.toLowerCase().startsWith('application/json')) {
    throw new ApiError('InvalidParameter', 'the sandbox accepts POST with Content-Type application/json');
  }
  try {
    const parsed = JSON.parse(body.length === 0 ? '{}' : body.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new ApiError('InvalidParameter', 'the body is not a JSON object');
  }
}

export function send(res: ServerResponse, response: Record<string, unknown>): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Response: response }));
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface LocalApiServer {
  /** The base URL, e.g. http://127.0.0.1:9001. */
  readonly url: string;
  /** Closes the server and every open connection (keep-alive clients included). */
  stop(): Promise<void>;
}

/** Serves `serve` on `host:port` (port 0 = any free port); an exception in it is a 500, not a crash. */
export async function startLocalApiServer(serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>, port = 0, host = '127.0.0.1'): Promise<LocalApiServer> {
  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
