import { parseConfig } from '../../../src/config/load-config';
import { configProblems, exampleConfig } from '../../support/fixtures';

/**
 * A template that may not clamp and whose count.max its throttle could never grant is refused at
 * load: such a request would be refused (beyond-limit) at every alarm that asks for that many.
 */
const config = ({ throttle = '', clusterThrottle = '', templateThrottle = '', count = '{ max: 12 }', clusters = '[demo]' } = {}) => `
clusters:
  demo: { clusterId: cls-e55paxnt, region: ap-guangzhou${clusterThrottle === '' ? '' : `, throttle: ${clusterThrottle}`} }
  other: { clusterId: cls-nfjdk3n0, region: ap-guangzhou }
templates:
  big:
    clusters: ${clusters}
    count: ${count}
    runInstancePara: { Placement: { Zone: ap-guangzhou-4 }, InstanceType: S3.SMALL1 }
${templateThrottle === '' ? '' : `    throttle: ${templateThrottle}\n`}${throttle === '' ? '' : `throttle: ${throttle}\n`}sources:
  generic: { auth: none }
`;

describe('a template whose count.max its node budget could never grant', () => {
  it("is refused against the cluster's own budget, naming both keys and the ways out", () => {
    expect(configProblems(config({ clusterThrottle: '{ maxNodesPerWindow: 10 }' }))).toEqual([
      'templates.big.count.max (12) exceeds clusters.demo.throttle.maxNodesPerWindow (10): a request for more than 10 nodes could never be granted; lower count.max, raise the budget, or set count.clamp: true',
    ]);
  });

  it('is refused against the top-level budget (written or the default 20), naming the cluster', () => {
    expect(configProblems(config({ throttle: '{ maxNodesPerWindow: 10 }' }))).toEqual([
      'templates.big.count.max (12) exceeds throttle.maxNodesPerWindow (10) on clusters.demo: a request for more than 10 nodes could never be granted; lower count.max, raise the budget, or set count.clamp: true',
    ]);
    expect(configProblems(config({ count: '{ max: 21 }' }))).toEqual([expect.stringMatching(/^templates\.big\.count\.max \(21\) exceeds throttle\.maxNodesPerWindow \(20\) on clusters\.demo: /)]);
  });

  it("is judged by the template's own throttle where it declares one, once for all its clusters", () => {
    const problems = configProblems(config({ clusters: '[demo, other]', clusterThrottle: '{ maxNodesPerWindow: 50 }', templateThrottle: '{ maxNodesPerWindow: 5 }' }));
    expect(problems).toEqual([
      'templates.big.count.max (12) exceeds templates.big.throttle.maxNodesPerWindow (5): a request for more than 5 nodes could never be granted; lower count.max, raise the budget, or set count.clamp: true',
    ]);
  });

  it("keeps the cluster's budget under a template throttle that does not override it, and names only the cluster too small", () => {
    const problems = configProblems(config({ clusters: '[demo, other]', clusterThrottle: '{ maxNodesPerWindow: 10 }', templateThrottle: '{ cooldownSeconds: 60 }' }));
    expect(problems).toEqual([expect.stringMatching(/^templates\.big\.count\.max \(12\) exceeds clusters\.demo\.throttle\.maxNodesPerWindow \(10\): /)]);
  });

  it('is refused above the cluster ceiling (maxClusterNodes), which even an empty cluster could not take', () => {
    expect(configProblems(config({ clusterThrottle: '{ maxClusterNodes: 8 }' }))).toEqual([
      'templates.big.count.max (12) exceeds clusters.demo.throttle.maxClusterNodes (8): a request for more than 8 nodes could never be granted; lower count.max, raise the ceiling, or set count.clamp: true',
    ]);
  });

  it.each([
    ['the template may clamp', { clusterThrottle: '{ maxNodesPerWindow: 10, maxClusterNodes: 8 }', count: '{ max: 12, clamp: true }' }],
    ['count.max is exactly the budget', { clusterThrottle: '{ maxNodesPerWindow: 12, maxClusterNodes: 12 }' }],
    ["the template's own throttle raises the budget for its own scope", { clusterThrottle: '{ maxNodesPerWindow: 10 }', templateThrottle: '{ maxNodesPerWindow: 12 }' }],
  ])('is accepted when %s', (_what, parts) => {
    expect(parseConfig(config(parts), 'test.yaml').templates.get('big')?.count.max).toBe(12);
  });

  it('leaves the shipped example loading', () => {
    expect(() => exampleConfig()).not.toThrow();
  });
});
