import { clientTokenFor } from '../../../src/core/client-token';
import { renderCreateClusterInstances } from '../../../src/core/render';
import { resolveScaleOut } from '../../../src/core/resolve';
import type { ParamValue } from '../../../src/config/load-config';
import { exampleConfig, fixture } from '../../support/fixtures';

const config = exampleConfig();
const resolve = (cluster: string, template: string, count: number | undefined, params: Record<string, ParamValue> = {}) =>
  resolveScaleOut(config, {
    source: 'generic',
    eventId: 'evt-1',
    cluster,
    template,
    ...(count !== undefined && { count }),
    params: new Map(Object.entries(params)),
  });

describe('renderCreateClusterInstances', () => {
  it('renders multi-disk as the seed example 2 plus InstanceCount and ClientToken', () => {
    const token = clientTokenFor('cls-nfjdk3n0', 'multi-disk', 'evt-1');
    const rendered = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', undefined), token);
    const seed = fixture<{ ClusterId: string; RunInstancePara: string; InstanceAdvancedSettings: unknown }>('seed-example-2.json');

    expect(rendered.ClusterId).toBe(seed.ClusterId);
    expect(typeof rendered.RunInstancePara).toBe('string');
    expect(JSON.parse(rendered.RunInstancePara)).toEqual({ ...JSON.parse(seed.RunInstancePara), InstanceCount: 1, ClientToken: token });
    expect(rendered.InstanceAdvancedSettings).toEqual(seed.InstanceAdvancedSettings);
    expect(rendered.SkipValidateOptions).toBeUndefined();
  });

  it('renders small as the seed example 1 with the event count', () => {
    const rendered = renderCreateClusterInstances(resolve('demo', 'small', 3), 'tok');
    const seed = fixture<{ ClusterId: string; RunInstancePara: string }>('seed-example-1.json');
    expect(rendered.ClusterId).toBe(seed.ClusterId);
    expect(JSON.parse(rendered.RunInstancePara)).toEqual({ ...JSON.parse(seed.RunInstancePara), InstanceCount: 3, ClientToken: 'tok' });
    expect(rendered.InstanceAdvancedSettings).toBeUndefined();
  });

  it('writes a param to every path it declares and leaves the template untouched', () => {
    const rendered = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', 2, { dataDiskSize: 200, instanceType: 'S5.2XLARGE16' }), 'tok');
    const para = JSON.parse(rendered.RunInstancePara);
    expect(para.DataDisks).toEqual([{ DiskType: 'CLOUD_BSSD', DiskSize: 50 }, { DiskType: 'CLOUD_BSSD', DiskSize: 200 }]);
    expect(para.InstanceType).toBe('S5.2XLARGE16');
    expect((rendered.InstanceAdvancedSettings!.DataDisks as Array<{ DiskSize: number }>).map((d) => d.DiskSize)).toEqual([50, 200]);
    // The frozen template still holds the base values.
    expect((config.templates.get('multi-disk')!.runInstancePara.DataDisks as Array<{ DiskSize: number }>)[1]!.DiskSize).toBe(50);
  });

  it('is deterministic, so a retry sends byte-identical parameters', () => {
    const a = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', 2, { dataDiskSize: 80 }), 'tok');
    const b = renderCreateClusterInstances(resolve('demo-bj', 'multi-disk', 2, { dataDiskSize: 80 }), 'tok');
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});
