import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';

/** `Authorization: Bearer <token>`, compared in constant time. */
export function verifyBearer(authorization: string | undefined, expectedToken: string): void {
  if (authorization === undefined || authorization === '') {
    throw new UnauthorizedError('missing Authorization header; expected "Bearer <token>"');
  }
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (match === null) throw new UnauthorizedError('Authorization header must be "Bearer <token>"');
  if (!constantTimeEquals(match[1]!, expectedToken)) throw new UnauthorizedError('wrong bearer token');
}
