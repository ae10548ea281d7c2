import { createHmac } from 'node:crypto';
import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';
import { checkTimestampWindow } from './timestamp-window';

/**
 * The generic sender's HMAC scheme, the common shape of Slack's and Stripe's:
 *
 *   X-Scaleout-Timestamp: <unix seconds>
 *   X-Scaleout-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * The timestamp is signed with the body and must be within `toleranceSeconds` of now, so a captured
 * request cannot be replayed later (and within the window, the event ID makes a replay a no-op).
 */
export const GENERIC_SIGNATURE_HEADER = 'x-scaleout-signature';
export const GENERIC_TIMESTAMP_HEADER = 'x-scaleout-timestamp';

export function signGenericPayload(secret: string, timestamp: string | number, rawBody: Buffer | string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  return `sha256=${mac}`;
}

export function verifyGenericSignature(
  headers: Readonly<Record<string, string>>,
  rawBody: Buffer,
  secret: string,
  nowMs: number,
  toleranceSeconds: number,
): void {
  const timestamp = headers[GENERIC_TIMESTAMP_HEADER];
  const signature = headers[GENERIC_SIGNATURE_HEADER];
  if (timestamp === undefined) throw new UnauthorizedError(`missing ${GENERIC_TIMESTAMP_HEADER} header`);
  if (signature === undefined) throw new UnauthorizedError(`missing ${GENERIC_SIGNATURE_HEADER} header`);
  checkTimestampWindow(GENERIC_TIMESTAMP_HEADER, timestamp, nowMs, toleranceSeconds);
  if (!/^sha256=[0-9a-f]{64}$/i.test(signature)) {
    throw new UnauthorizedError(`${GENERIC_SIGNATURE_HEADER} must be "sha256=<64 hex digits>"`);
  }
  const expected = signGenericPayload(secret, timestamp, rawBody);
  if (!constantTimeEquals(signature.toLowerCase(), expected)) throw new UnauthorizedError('signature does not match the body');
}
