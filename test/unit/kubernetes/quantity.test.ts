import { cpuMillis, memoryBytes, parseQuantity } from '../../../src/kubernetes/quantity';
import { instanceIdOfProviderID } from '../../../src/kubernetes/kube-api';

/**
 * Resource quantities as the API writes them (k8s.io/apimachinery/pkg/api/resource/quantity.go:
 * binary suffixes Ki..Ei, decimal n u m k M G T P E, and decimal exponents), and TKE's providerID.
 */
describe('quantities', () => {
  it('reads CPU in millicores and memory in bytes', () => {
    expect(['500m', '2', '1.5', '0.1', '100u'].map(cpuMillis)).toEqual([500, 2000, 1500, 100, 0]);
    expect(['1Gi', '128Mi', '1G', '1e3', '3.5Ki', '1000'].map(memoryBytes)).toEqual([2 ** 30, 128 * 2 ** 20, 1e9, 1000, 3584, 1000]);
  });

  it('anything else is not a quantity (counted as nothing, never a crash)', () => {
    for (const bad of ['', 'abc', '1GB', '1 Gi', '--1', {}, null, 'x'.repeat(100), '1e999']) expect(parseQuantity(bad)).toBeUndefined();
  });
});

describe('instanceIdOfProviderID', () => {
  it('takes the instance ID of a TKE CVM node, nothing else', () => {
    expect(instanceIdOfProviderID('qcloud:///ap-guangzhou-4/ins-3kd9x2a1')).toBe('ins-3kd9x2a1');
    expect(instanceIdOfProviderID('qcloud:///100003/ins-abc')).toBe('ins-abc');
    for (const other of [undefined, '', 'aws:///us-east-1a/i-0abc', 'qcloud:///ap-guangzhou-4/eklet-subnet-1', 'qcloud://ap-guangzhou-4/ins-abc', 'qcloud:///ap-guangzhou-4/ins-abc/x']) expect(instanceIdOfProviderID(other)).toBeUndefined();
  });
});
