import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented secret or signature with the expected one in constant time. Both are hashed
 * first so that their lengths are equal (timingSafeEqual throws otherwise) and the comparison time
 * says nothing about the expected length.
 */
export function constantTimeEquals(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
