import { createHash, createHmac } from 'node:crypto';

/**
 * TC3-HMAC-SHA256 as the *server* checks it, for the local sandbox only. The function itself never
 * signs: the SDK does. Written from Tencent Cloud's signature v3 doc and tested against its
 * published vector (docs/PLATFORM.md), so a signature the SDK makes is judged the way the real
 * API judges it.
 */
export interface Tc3Authorization {
  readonly secretId: string;
  readonly date: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const AUTHORIZATION = /^TC3-HMAC-SHA256 Credential=([^/\s]+)\/(\d{4}-\d{2}-\d{2})\/([a-z0-9-]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

export function parseTc3Authorization(header: string): Tc3Authorization | undefined {
  const m = AUTHORIZATION.exec(header.trim());
  if (m === null) return undefined;
  return { secretId: m[1]!, date: m[2]!, service: m[3]!, signedHeaders: m[4]!.split(';'), signature: m[5]! };
}

export interface Tc3Input {
  readonly method: string;
  /** Always "/" for API 3.0. */
  readonly canonicalUri: string;
  /** Empty for POST. */
  readonly canonicalQuery: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly signedHeaders: readonly string[];
  readonly payload: Buffer | string;
  readonly timestamp: number;
  readonly service: string;
  readonly secretKey: string;
}

export function utcDate(timestampSeconds: number): string {
  return new Date(timestampSeconds * 1000).toISOString().slice(0, 10);
}

export function tc3Signature(input: Tc3Input): { signature: string; canonicalRequest: string; stringToSign: string } {
  const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

  const canonicalHeaders = input.signedHeaders
    .map((name) => `${name}:${(input.headers[name] ?? '').trim().toLowerCase()}\n`)
    .join('');
  const canonicalRequest = [
    input.method,
    input.canonicalUri,
    input.canonicalQuery,
    canonicalHeaders,
    input.signedHeaders.join(';'),
    sha256Hex(input.payload),
  ].join('\n');
  const date = utcDate(input.timestamp);
  const stringToSign = ['TC3-HMAC-SHA256', String(input.timestamp), `${date}/${input.service}/tc3_request`, sha256Hex(canonicalRequest)].join('\n');
  const secretDate = hmac(`TC3${input.secretKey}`, date);
  const secretService = hmac(secretDate, input.service);
  const secretSigning = hmac(secretService, 'tc3_request');
  const signature = createHmac('sha256', secretSigning).update(stringToSign).digest('hex');
  return { signature, canonicalRequest, stringToSign };
}
