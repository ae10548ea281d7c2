import { createHash } from 'node:crypto';
import { CLIENT_TOKEN_MAX_LENGTH } from '../tke/tke-params';

const SCHEME = 'so1';

/**
 * CVM's ClientToken for one event: the same (ClusterId, template, eventId) always yields the same
 * token, so a redelivery, a retry after a timeout, or a replay after a crash reaches CVM with the
 * token of the first attempt and cannot buy nodes twice.
 *
 * sha256 over the three parts with unambiguous separators (NUL cannot occur in any of them:
 * ClusterId and template names are validated, event IDs are printable ASCII), truncated to 160 bits:
 * `so1-` + 40 hex = 44 ASCII characters, within CVM's 64. The `so1` prefix names the scheme so a
 * future change of derivation cannot collide with tokens already issued.
 */
export function clientTokenFor(clusterId: string, template: string, eventId: string): string {
  const digest = createHash('sha256').update(`${clusterId}\0${template}\0${eventId}`).digest('hex');
  const token = `${SCHEME}-${digest.slice(0, 40)}`;
  // Cheap invariant: a token CVM would reject must never leave this function.
  if (token.length > CLIENT_TOKEN_MAX_LENGTH) throw new Error('client token longer than CVM allows');
  return token;
}
