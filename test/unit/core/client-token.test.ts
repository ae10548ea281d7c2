import { clientTokenFor } from '../../../src/core/client-token';

describe('clientTokenFor', () => {
  it('is deterministic: the same event always gets the same token', () => {
    expect(clientTokenFor('cls-e55paxnt', 'small', 'evt-1')).toBe(clientTokenFor('cls-e55paxnt', 'small', 'evt-1'));
  });

  it('fits CVM: at most 64 ASCII characters, even for the longest event ID', () => {
    const token = clientTokenFor('cls-e55paxnt', 'a-template-name-that-is-long', 'x'.repeat(128));
    expect(token.length).toBeLessThanOrEqual(64);
    expect(token).toMatch(/^[\x20-\x7e]+$/);
    expect(token).toMatch(/^so1-[0-9a-f]{40}$/);
  });

  it('differs when any part differs, and the parts cannot run into each other', () => {
    const tokens = new Set([
      clientTokenFor('cls-e55paxnt', 'small', 'evt-1'),
      clientTokenFor('cls-e55paxnt', 'small', 'evt-2'),
      clientTokenFor('cls-nfjdk3n0', 'small', 'evt-1'),
      clientTokenFor('cls-e55paxnt', 'multi-disk', 'evt-1'),
      clientTokenFor('cls-e55paxnt', 'smal', 'levt-1'),
    ]);
    expect(tokens.size).toBe(5);
  });

  it('does not collide over many events', () => {
    const tokens = new Set(Array.from({ length: 20000 }, (_, i) => clientTokenFor('cls-e55paxnt', 'small', `evt-${i}`)));
    expect(tokens.size).toBe(20000);
  });
});
