import { clientTokenFor } from '../../../src/core/client-token';

const request = { ClusterId: 'cls-e55paxnt', RunInstancePara: '{"InstanceType":"S3.SMALL1","InstanceCount":1}' };

describe('clientTokenFor', () => {
  it('is deterministic: the same event always gets the same token', () => {
    expect(clientTokenFor('cls-e55paxnt', 'small', 'evt-1', request)).toBe(clientTokenFor('cls-e55paxnt', 'small', 'evt-1', request));
  });

  it('fits CVM: at most 64 ASCII characters, even for the longest event ID', () => {
    const token = clientTokenFor('cls-e55paxnt', 'a-template-name-that-is-long', 'x'.repeat(128), request);
    expect(token.length).toBeLessThanOrEqual(64);
    expect(token).toMatch(/^[\x20-\x7e]+$/);
    expect(token).toMatch(/^so2-[0-9a-f]{40}$/);
  });

  it('differs when any part differs, and the parts cannot run into each other', () => {
    const tokens = new Set([
      clientTokenFor('cls-e55paxnt', 'small', 'evt-1', request),
      clientTokenFor('cls-e55paxnt', 'small', 'evt-2', request),
      clientTokenFor('cls-nfjdk3n0', 'small', 'evt-1', request),
      clientTokenFor('cls-e55paxnt', 'multi-disk', 'evt-1', request),
      clientTokenFor('cls-e55paxnt', 'smal', 'levt-1', request),
    ]);
    expect(tokens.size).toBe(5);
  });

  it('differs when the request differs (one token, one exact RunInstancePara)', () => {
    const other = { ...request, RunInstancePara: '{"InstanceType":"S3.SMALL1","InstanceCount":2}' };
    expect(clientTokenFor('cls-e55paxnt', 'small', 'evt-1', request)).not.toBe(clientTokenFor('cls-e55paxnt', 'small', 'evt-1', other));
  });

  it('does not collide over many events', () => {
    const tokens = new Set(Array.from({ length: 20000 }, (_, i) => clientTokenFor('cls-e55paxnt', 'small', `evt-${i}`, request)));
    expect(tokens.size).toBe(20000);
  });
});
