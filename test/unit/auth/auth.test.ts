import { verifyBearer } from '../../../src/auth/bearer';
import { signGenericPayload, verifyGenericSignature } from '../../../src/auth/hmac';
import { UnauthorizedError } from '../../../src/errors';
import { thrownBy } from '../../support/thrown';

describe('verifyBearer', () => {
  it('accepts the right token, in any case of "Bearer"', () => {
    expect(() => verifyBearer('Bearer s3cret', 's3cret')).not.toThrow();
    expect(() => verifyBearer('bearer s3cret', 's3cret')).not.toThrow();
  });

  it.each([
    ['missing', undefined, 'missing Authorization header'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'must be "Bearer <token>"'],
    ['the wrong token', 'Bearer s3cre', 'wrong bearer token'],
    ['a longer token', 'Bearer s3cret2', 'wrong bearer token'],
  ])('refuses %s with 401 and never echoes the expected token', (_name, header, message) => {
    const error = thrownBy(() => verifyBearer(header, 's3cret'), UnauthorizedError);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('s3cret');
  });
});

describe('verifyGenericSignature', () => {
  const secret = 'hmac-secret';
  const body = Buffer.from('{"eventId":"e1","cluster":"demo","template":"small"}');
  const now = 1_764_000_000_000;
  const ts = String(now / 1000);
  const headers = (overrides: Record<string, string> = {}) => ({
    'x-scaleout-timestamp': ts,
    'x-scaleout-signature': signGenericPayload(secret, ts, body),
    ...overrides,
  });

  it('accepts a fresh signature over timestamp + body', () => {
    expect(headers()['x-scaleout-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(() => verifyGenericSignature(headers(), body, secret, now, 300)).not.toThrow();
  });

  it.each([
    ['a one-byte change to the body', () => verifyGenericSignature(headers(), Buffer.from(body.toString().replace('demo', 'demp')), secret, now, 300), 'does not match'],
    ['another secret', () => verifyGenericSignature(headers(), body, 'other', now, 300), 'does not match'],
    ['a stale timestamp', () => verifyGenericSignature(headers(), body, secret, now + 301_000, 300), 'is 301 s from now'],
    ['a future timestamp', () => verifyGenericSignature(headers(), body, secret, now - 301_000, 300), 'is 301 s from now'],
    ['a missing signature', () => verifyGenericSignature({ 'x-scaleout-timestamp': ts }, body, secret, now, 300), 'missing x-scaleout-signature'],
    ['a missing timestamp', () => verifyGenericSignature({ 'x-scaleout-signature': 'sha256=00' }, body, secret, now, 300), 'missing x-scaleout-timestamp'],
    ['a malformed signature', () => verifyGenericSignature(headers({ 'x-scaleout-signature': 'abc' }), body, secret, now, 300), 'must be "sha256=<64 hex digits>"'],
    ['a re-signed timestamp', () => verifyGenericSignature(headers({ 'x-scaleout-timestamp': String(Number(ts) + 1) }), body, secret, now, 300), 'does not match'],
  ])('refuses %s with 401', (_name, run, message) => {
    expect(run).toThrow(UnauthorizedError);
    expect(run).toThrow(message);
  });
});
