import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';
import { checkTimestampWindow } from './timestamp-window';

/**
 * Feishu/Lark event security (open.feishu.cn, "Encrypt Key"):
 *  - with an Encrypt Key, the body is `{"encrypt": base64(iv || AES-256-CBC(sha256(EncryptKey), iv, json))}`;
 *  - and X-Lark-Signature = hex sha256(X-Lark-Request-Timestamp + X-Lark-Request-Nonce + EncryptKey + raw body).
 */
export function decryptFeishu(encrypted: string, encryptKey: string): string {
  const key = createHash('sha256').update(encryptKey).digest();
  const data = Buffer.from(encrypted, 'base64');
  if (data.length < 32 || data.length % 16 !== 0) throw new UnauthorizedError('encrypt is not a Feishu encrypted event');
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, data.subarray(0, 16));
    return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString('utf8');
  } catch {
    throw new UnauthorizedError('encrypt could not be decrypted with the Encrypt Key');
  }
}

/** For tests and the sample events: what Feishu sends. */
export function encryptFeishu(plain: string, encryptKey: string, iv: Buffer = randomBytes(16)): string {
  const cipher = createCipheriv('aes-256-cbc', createHash('sha256').update(encryptKey).digest(), iv);
  return Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
}

export function feishuSignature(timestamp: string, nonce: string, encryptKey: string, rawBody: Buffer | string): string {
  return createHash('sha256').update(timestamp + nonce + encryptKey).update(rawBody).digest('hex');
}

export function verifyFeishuSignature(headers: Readonly<Record<string, string>>, rawBody: Buffer, encryptKey: string, nowMs: number, toleranceSeconds: number): void {
  const timestamp = headers['x-lark-request-timestamp'];
  const nonce = headers['x-lark-request-nonce'];
  const signature = headers['x-lark-signature'];
  if (timestamp === undefined || nonce === undefined || signature === undefined) {
    throw new UnauthorizedError('missing X-Lark-Request-Timestamp, X-Lark-Request-Nonce or X-Lark-Signature header');
  }
  checkTimestampWindow('X-Lark-Request-Timestamp', timestamp, nowMs, toleranceSeconds);
  if (!constantTimeEquals(signature.toLowerCase(), feishuSignature(timestamp, nonce, encryptKey, rawBody))) {
    throw new UnauthorizedError('X-Lark-Signature does not match the body');
  }
}
