import { createHmac } from 'node:crypto';
import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';
import { checkTimestampWindow } from './timestamp-window';

/**
 * Grafana alerting's webhook HMAC (hmac_config): the signature header carries the hex
 * HMAC-SHA256 of the raw body, or of "<unix seconds>:<raw body>" when a timestamp header is
 * configured (then the timestamp must also be within the tolerance, against replay).
 */
export function signGrafanaPayload(secret: string, rawBody: Buffer | string, timestamp?: string): string {
  const mac = createHmac('sha256', secret);
  if (timestamp !== undefined) mac.update(`${timestamp}:`);
  return mac.update(rawBody).digest('hex');
}

export function verifyGrafanaSignature(
  headers: Readonly<Record<string, string>>,
  rawBody: Buffer,
  secret: string,
  opts: { header: string; timestampHeader?: string; toleranceSeconds: number; nowMs: number },
): void {
  const signatureName = opts.header.toLowerCase();
  const signature = headers[signatureName];
  if (signature === undefined) throw new UnauthorizedError(`missing ${opts.header} header`);
  let timestamp: string | undefined;
  if (opts.timestampHeader !== undefined) {
    timestamp = headers[opts.timestampHeader.toLowerCase()];
    if (timestamp === undefined) throw new UnauthorizedError(`missing ${opts.timestampHeader} header`);
    checkTimestampWindow(opts.timestampHeader, timestamp, opts.nowMs, opts.toleranceSeconds);
  }
  if (!/^[0-9a-f]{64}$/i.test(signature)) throw new UnauthorizedError(`${opts.header} must be 64 hex digits`);
  if (!constantTimeEquals(signature.toLowerCase(), signGrafanaPayload(secret, rawBody, timestamp))) {
    throw new UnauthorizedError('signature does not match the body');
  }
}
