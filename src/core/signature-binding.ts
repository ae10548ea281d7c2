import type { StoreStep } from './store-step';

/**
 * A signature that does not cover the body binds to the first body it authorised.
 *
 * DingTalk's outgoing robot signs only its timestamp (sign = HMAC(appSecret, timestamp + "\n" +
 * appSecret)), so one captured `(timestamp, sign)` pair would otherwise authorise ANY body for as
 * long as the timestamp is in its window: another sender ID (past the allow-list), another command.
 * The first delivery that uses a pair records its body's digest until the pair's window closes; the
 * same pair with another body is refused, and the same body again (the platform's own redelivery)
 * goes on to the event's idempotency record as before. Pure: the store applies the write atomically,
 * so two racing deliveries with one pair cannot both be first.
 */
export interface SignatureUse {
  /** The store key of the pair: `signature:{<sender>:<timestamp>:<sign>}`. */
  readonly key: string;
  /** sha256 of the body, hex. */
  readonly bodyDigest: string;
  /** When the pair stops being accepted anyway: the end of its timestamp window (epoch ms). */
  readonly expiresAt: number;
}

export interface SignatureRecord {
  readonly bodyDigest: string;
}

export type SignatureVerdict = 'first-use' | 'same-body' | 'other-body';

export function signatureKeyFor(sender: string, timestamp: string, signature: string): string {
  return `signature:{${sender}:${timestamp}:${signature}}`;
}

export function bindSignature(current: SignatureRecord | undefined, use: SignatureUse, now: number): StoreStep<SignatureRecord, SignatureVerdict> {
  if (current === undefined) {
    return { write: { kind: 'put', value: { bodyDigest: use.bodyDigest }, expiresAt: Math.max(use.expiresAt, now + 1000) }, result: 'first-use' };
  }
  return { write: { kind: 'keep' }, result: current.bodyDigest === use.bodyDigest ? 'same-body' : 'other-body' };
}
