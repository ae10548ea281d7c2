import type { ParamValue } from '../../../src/config/load-config';
import { resolveScaleOut } from '../../../src/core/resolve';
import type { ScaleOutRequest } from '../../../src/core/scale-out-request';
import { UnprocessableError } from '../../../src/errors';
import { exampleConfig, resolvedOf } from '../../support/fixtures';

const config = exampleConfig();
const request = (overrides: Partial<ScaleOutRequest> = {}, params: Record<string, ParamValue> = {}): ScaleOutRequest => ({
  source: 'generic',
  eventId: 'evt-1',
  cluster: 'demo',
  template: 'small',
  params: new Map(Object.entries(params)),
  ...overrides,
});

// The verdict is data: a refusal carries the 422 to answer; nothing is thrown.
const rejection = (req: ScaleOutRequest): UnprocessableError => {
  const resolution = resolveScaleOut(config, req);
  if (resolution.kind !== 'refused') throw new Error('expected a refusal');
  expect(resolution.error).toBeInstanceOf(UnprocessableError);
  return resolution.error;
};
const resolve = (req: ScaleOutRequest) => resolvedOf(resolveScaleOut(config, req));

describe('resolveScaleOut', () => {
  it('resolves an alias, the default count and no params', () => {
    const resolved = resolve(request());
    expect(resolved.cluster.clusterId).toBe('cls-e55paxnt');
    expect(resolved.cluster.region).toBe('ap-guangzhou');
    expect(resolved.template.name).toBe('small');
    expect(resolved.count).toBe(1);
  });

  it('accepts a ClusterId the config declares', () => {
    expect(resolve(request({ cluster: 'cls-e55paxnt' })).cluster.alias).toBe('demo');
  });

  it('accepts declared params within their bounds', () => {
    const resolved = resolve(request({ cluster: 'demo-bj', template: 'multi-disk', count: 10 }, { dataDiskSize: 200, instanceType: 'S5.2XLARGE16' }));
    expect(resolved.count).toBe(10);
    expect(resolved.params.get('dataDiskSize')).toBe(200);
  });

  it.each([
    ['an unknown cluster', request({ cluster: 'prod' }), 'UnknownCluster', 'cluster "prod" is not in the config; known: demo (cls-e55paxnt), demo-bj (cls-nfjdk3n0)'],
    ['a ClusterId the config does not declare', request({ cluster: 'cls-zzzzzzzz' }), 'UnknownCluster', 'cluster "cls-zzzzzzzz"'],
    ['an unknown template', request({ template: 'huge' }), 'UnknownTemplate', 'template "huge" is not in the config; known: small, multi-disk'],
    ['a template not meant for the cluster', request({ cluster: 'demo-bj' }), 'TemplateNotForCluster', 'template small may scale demo, not demo-bj'],
    ['a count above the template max', request({ count: 6 }), 'CountOutOfRange', 'count must be a whole number from 1 to 5 for template small, got 6'],
    ['a zero count', request({ count: 0 }), 'CountOutOfRange', 'got 0'],
    ['a fractional count', request({ count: 1.5 }), 'CountOutOfRange', 'got 1.5'],
    ['an undeclared param', request({}, { instanceType: 'S3.LARGE8' }), 'UnknownParam', 'params.instanceType is not declared by template small; declared: zone'],
    ['a value outside the list', request({}, { zone: 'ap-shanghai-1' }), 'ParamValueNotAllowed', 'params.zone: "ap-shanghai-1" is not one of "ap-guangzhou-3", "ap-guangzhou-4", "ap-guangzhou-6"'],
    ['a number above the range', request({ cluster: 'demo-bj', template: 'multi-disk' }, { dataDiskSize: 501 }), 'ParamValueNotAllowed', 'params.dataDiskSize: must be from 50 to 500, got 501'],
    ['a string for a range', request({ cluster: 'demo-bj', template: 'multi-disk' }, { dataDiskSize: '100' }), 'ParamValueNotAllowed', 'params.dataDiskSize: must be a number, got "100"'],
    ['a fraction for an integer range', request({ cluster: 'demo-bj', template: 'multi-disk' }, { dataDiskSize: 60.5 }), 'ParamValueNotAllowed', 'must be a whole number, got 60.5'],
  ])('rejects %s with a 422 naming it', (_name, req, code, message) => {
    const error = rejection(req);
    expect(error.status).toBe(422);
    expect(error.code).toBe(code);
    expect(error.message).toContain(message);
  });
});
