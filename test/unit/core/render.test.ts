import { purchaseIdOf } from '../../../src/core/marks';
import { renderCreateClusterInstances } from '../../../src/core/render';
import { resolveScaleOut } from '../../../src/core/resolve';
import type { ParamValue } from '../../../src/config/load-config';
import { exampleConfig, fixture, resolvedOf } from '../../support/fixtures';

const config = exampleConfig();
const resolve = (cluster: string, template: string, count: number | undefined, params: Record<string, ParamValue> = {}) =>
  resolvedOf(resolveScaleOut(config, {
    source: 'generic',
    eventId: 'evt-1',
    cluster,
    template,
    ...(count !== undefined && { count }),
    params: new Map(Object.entries(params)),
  }));

/** The function's marks for event evt-1 of the generic sender, owner as in the example config. */
const PURCHASE = purchaseIdOf('generic', 'evt-1');
const MARK_TAGS = [{ Key: 'tke-scaleout/owner', Value: 'tke-scaleout' }, { Key: 'tke-scaleout/purchase', Value: PURCHASE }];
const MARK_LABELS = [{ Name: 'tke-scaleout/owner', Value: 'tke-scaleout' }, { Name: 'tke-scaleout/purchase', Value: PURCHASE }];

describe('renderCreateClusterInstances', () => {
  it('renders multi-disk as the seed example 2 plus InstanceCount and ClientToken', () => {
    const { request: rendered, clientToken: token } = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', undefined));
    const seed = fixture<{ ClusterId: string; RunInstancePara: string; InstanceAdvancedSettings: unknown }>('seed-example-2.json');

    expect(rendered.ClusterId).toBe(seed.ClusterId);
    expect(typeof rendered.RunInstancePara).toBe('string');
    // The seed's request, plus the function's marks (core/marks.ts), InstanceCount and ClientToken.
    expect(JSON.parse(rendered.RunInstancePara)).toEqual({ ...JSON.parse(seed.RunInstancePara), TagSpecification: [{ ResourceType: 'instance', Tags: MARK_TAGS }], InstanceCount: 1, ClientToken: token });
    expect(rendered.InstanceAdvancedSettings).toEqual({ ...(seed.InstanceAdvancedSettings as object), Labels: MARK_LABELS });
    expect(rendered.SkipValidateOptions).toBeUndefined();
  });

  it('renders small as the seed example 1 with the event count', () => {
    const { request: rendered, clientToken } = renderCreateClusterInstances(resolve('demo', 'small', 3));
    const seed = fixture<{ ClusterId: string; RunInstancePara: string }>('seed-example-1.json');
    expect(rendered.ClusterId).toBe(seed.ClusterId);
    expect(JSON.parse(rendered.RunInstancePara)).toEqual({ ...JSON.parse(seed.RunInstancePara), TagSpecification: [{ ResourceType: 'instance', Tags: MARK_TAGS }], InstanceCount: 3, ClientToken: clientToken });
    // The seed has no InstanceAdvancedSettings: the function's labels are all of it.
    expect(rendered.InstanceAdvancedSettings).toEqual({ Labels: MARK_LABELS });
  });

  it('writes a param to every path it declares and leaves the template untouched', () => {
    const { request: rendered } = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', 2, { dataDiskSize: 200, instanceType: 'S5.2XLARGE16' }));
    const para = JSON.parse(rendered.RunInstancePara);
    expect(para.DataDisks).toEqual([{ DiskType: 'CLOUD_BSSD', DiskSize: 50 }, { DiskType: 'CLOUD_BSSD', DiskSize: 200 }]);
    expect(para.InstanceType).toBe('S5.2XLARGE16');
    expect((rendered.InstanceAdvancedSettings!.DataDisks as Array<{ DiskSize: number }>).map((d) => d.DiskSize)).toEqual([50, 200]);
    // The frozen template still holds the base values.
    expect((config.templates.get('multi-disk')!.runInstancePara.DataDisks as Array<{ DiskSize: number }>)[1]!.DiskSize).toBe(50);
  });

  it('is deterministic, so a retry sends byte-identical parameters', () => {
    const a = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', 2, { dataDiskSize: 80 }));
    const b = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', 2, { dataDiskSize: 80 }));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  // One ClientToken always goes out with one exact RunInstancePara. A delivery of
  // the same event whose count was clamped differently is another request, with another token.
  it('gives another request of the same event another token, and the same request the same one', () => {
    const tokens = [2, 3, 2].map((count) => renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', count)).clientToken);
    expect(tokens[0]).toBe(tokens[2]);
    expect(tokens[0]).not.toBe(tokens[1]);
    const disk = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', 2, { dataDiskSize: 80 })).clientToken;
    expect(disk).not.toBe(tokens[0]);
    expect(tokens[0]).toMatch(/^so2-[0-9a-f]{40}$/);
  });
});
