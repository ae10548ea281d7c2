import { createHmac } from 'node:crypto';
import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';
import { checkTimestampWindow } from './timestamp-window';

/**
 * Slack's request signing (api.slack.com/authentication/verifying-requests-from-slack):
 * X-Slack-Signature = "v0=" + hex HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body),
 * refused when the timestamp is more than 5 minutes away.
 */
export function signSlackRequest(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`;
}

export function verifySlackSignature(headers: Readonly<Record<string, string>>, rawBody: Buffer, secret: string, nowMs: number, toleranceSeconds: number): void {
  const timestamp = headers['x-slack-request-timestamp'];
  const signature = headers['x-slack-signature'];
  if (timestamp === undefined) throw new UnauthorizedError('missing X-Slack-Request-Timestamp header');
  if (signature === undefined) throw new UnauthorizedError('missing X-Slack-Signature header');
  checkTimestampWindow('X-Slack-Request-Timestamp', timestamp, nowMs, toleranceSeconds);
  if (!/^v0=[0-9a-f]{64}$/.test(signature)) throw new UnauthorizedError('X-Slack-Signature must be "v0=<64 hex digits>"');
  if (!constantTimeEquals(signature, signSlackRequest(secret, timestamp, rawBody))) throw new UnauthorizedError('signature does not match the body');
}
