import { createHash } from 'node:crypto';
import { CLIENT_TOKEN_MAX_LENGTH, type CreateClusterInstancesRequest } from '../tke/tke-params';

const SCHEME = 'so2';

/**
 * CVM's ClientToken for one exact request of one event.
 *
 * CVM requires a ClientToken to be unique per distinct request: one token must always go out with
 * one exact RunInstancePara (other clouds answer a reuse with other parameters with
 * IdempotentParameterMismatch; CVM does not say what it does). So the token is derived from the
 * event AND the rendered request without its token: a redelivery, a retry after a timeout or a
 * replay after a crash renders the same request and sends the same token, and cannot buy twice;
 * a delivery whose count was clamped differently (after a refusal gave the budget back) is another
 * request and gets another token. A redelivery after an UNKNOWN outcome does not render again: it
 * re-sends the exact request stored with its grant (core/throttle.ts), first token included.
 *
 * sha256 over the parts with unambiguous separators (NUL cannot occur in ClusterId, template or
 * event ID, which are validated; the request is JSON), truncated to 160 bits: `so2-` + 40 hex = 44
 * ASCII characters, within CVM's 64. The prefix names the scheme (`so1` hashed the event alone), so
 * a change of derivation cannot collide with tokens already issued.
 */
export function clientTokenFor(clusterId: string, template: string, eventId: string, unsigned: CreateClusterInstancesRequest): string {
  const digest = createHash('sha256').update(`${clusterId}\0${template}\0${eventId}\0${JSON.stringify(unsigned)}`).digest('hex');
  const token = `${SCHEME}-${digest.slice(0, 40)}`;
  // Cheap invariant: a token CVM would reject must never leave this function.
  if (token.length > CLIENT_TOKEN_MAX_LENGTH) throw new Error('client token longer than CVM allows');
  return token;
}
