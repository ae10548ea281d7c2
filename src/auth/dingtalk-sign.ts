import { createHmac } from 'node:crypto';
import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';
import { checkTimestampWindow } from './timestamp-window';

/**
 * DingTalk outgoing robot (企业内部机器人): headers `timestamp` (ms) and
 * `sign` = base64 HMAC-SHA256(appSecret, timestamp + "\n" + appSecret), refused over an hour away.
 * The sign does not cover the body, so a captured pair would authorise any body within the window:
 * the sender binds each pair to the first body it came with (core/signature-binding.ts).
 */
export function dingtalkSign(appSecret: string, timestampMs: string): string {
  return createHmac('sha256', appSecret).update(`${timestampMs}\n${appSecret}`).digest('base64');
}

export function verifyDingtalkSign(headers: Readonly<Record<string, string>>, appSecret: string, nowMs: number, toleranceSeconds: number): void {
  const timestamp = headers.timestamp;
  const sign = headers.sign;
  if (timestamp === undefined) throw new UnauthorizedError('missing timestamp header');
  if (sign === undefined) throw new UnauthorizedError('missing sign header');
  checkTimestampWindow('timestamp', timestamp, nowMs, toleranceSeconds, 'milliseconds');
  if (!constantTimeEquals(sign, dingtalkSign(appSecret, timestamp))) throw new UnauthorizedError('sign does not match');
}
