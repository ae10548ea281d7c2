import { UnauthorizedError } from '../errors';
import { constantTimeEquals } from './constant-time';

/** `Authorization: Basic base64(user:password)`; both parts compared in constant time. */
export function verifyBasic(authorization: string | undefined, username: string, password: string): void {
  if (authorization === undefined || authorization === '') {
    throw new UnauthorizedError('missing Authorization header; expected "Basic <credentials>"');
  }
  const match = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (match === null) throw new UnauthorizedError('Authorization header must be "Basic <base64 user:password>"');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const [user, pass] = colon < 0 ? [decoded, ''] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
  // Both compared, always, so the time taken does not say which one was wrong.
  const userOk = constantTimeEquals(user, username);
  const passOk = constantTimeEquals(pass, password);
  if (!(userOk && passOk)) throw new UnauthorizedError('wrong username or password');
}
