import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';

/** A shared token in the query string, for senders that can neither sign nor set headers. */
export function verifyQueryToken(query: Readonly<Record<string, string>>, param: string, expected: string): void {
  const presented = Object.hasOwn(query, param) ? query[param] : undefined;
  if (presented === undefined || presented === '') throw new UnauthorizedError(`missing ${param} query parameter`);
  if (!constantTimeEquals(presented, expected)) throw new UnauthorizedError(`wrong ${param} query parameter`);
}
