import { readFileSync } from 'node:fs';
import { parseConfig } from '../../../src/config/load-config';
import { renderCreateClusterInstances } from '../../../src/core/render';
import { resolveScaleOut } from '../../../src/core/resolve';
import { configProblems, EXAMPLE_CONFIG_PATH, exampleConfigText, resolvedOf } from '../../support/fixtures';

/**
 * Bad input: a ladder that widens what the template allows, an alternative with an
 * unknown key, a rung CVM could not take, a budget without a currency: each refused at cold start,
 * naming the key. The example's `burst` template on `demo-sh` is the starting point.
 */
const problemsOf = (change: (doc: Record<string, any>) => void): string[] => configProblems(exampleConfigText(change));

const ladder = (doc: Record<string, any>) => doc.templates.burst.ladder;

describe('a ladder is refused at cold start, naming the key, when', () => {
  it.each<[string, (doc: Record<string, any>) => void, string]>([
    [
      'an alternative sets a RunInstancePara value the template does not declare overridable (it would widen the template)',
      (doc) => ladder(doc).alternatives.push({ 'SystemDisk.DiskSize': 500 }),
      'templates.burst.ladder.alternatives.3.SystemDisk.DiskSize: is not overridable; ladder.overridable lists Placement.Zone, VirtualPrivateCloud.SubnetId, InstanceChargeType, InstanceMarketOptions, InstanceType (an alternative may not widen what the template allows)',
    ],
    [
      'an alternative has an unknown key',
      (doc) => ladder(doc).alternatives.push({ Zone: 'ap-shanghai-5' }),
      'templates.burst.ladder.alternatives.3.Zone: unknown key; an alternative replaces values at the paths ladder.overridable lists: Placement.Zone, VirtualPrivateCloud.SubnetId, InstanceChargeType, InstanceMarketOptions, InstanceType',
    ],
    [
      'overridable names a path the template does not set',
      (doc) => ladder(doc).overridable.push('DataDisks.0.DiskType'),
      'templates.burst.ladder.overridable.5: DataDisks.0.DiskType: the template sets no value there; a rung may only replace what the template itself sets',
    ],
    [
      'overridable names something that is not a RunInstancePara key',
      (doc) => ladder(doc).overridable.push('Zone'),
      'templates.burst.ladder.overridable.5: Zone: Zone is not a RunInstancePara key',
    ],
    [
      'overridable names what the function writes itself',
      (doc) => ladder(doc).overridable.push('InstanceCount'),
      'templates.burst.ladder.overridable.5: InstanceCount is written by the function itself',
    ],
    [
      'an event\'s param writes a path a rung would replace',
      (doc) => (doc.templates.burst.params = { zone: { path: 'RunInstancePara.Placement.Zone', values: ['ap-shanghai-2'] } }),
      'templates.burst.ladder.overridable.0: Placement.Zone: params.zone writes RunInstancePara.Placement.Zone; a rung must not replace what an event chooses',
    ],
    [
      'a value of another kind than the template\'s',
      (doc) => (ladder(doc).alternatives[0]['Placement.Zone'] = 4),
      'templates.burst.ladder.alternatives.0.Placement.Zone: must be a string like the template\'s "ap-shanghai-2", got 4',
    ],
    [
      'a zone outside the region of a cluster the template scales',
      (doc) => (ladder(doc).alternatives[0]['Placement.Zone'] = 'ap-beijing-3'),
      'templates.burst.ladder.alternatives.0.Placement.Zone: zone ap-beijing-3 is not in region ap-shanghai of cluster demo-sh',
    ],
    [
      'a pay-as-you-go rung would still carry the template\'s spot options',
      (doc) => delete ladder(doc).alternatives[1].InstanceMarketOptions,
      'templates.burst.ladder.alternatives.1: a POSTPAID_BY_HOUR rung must not carry the template\'s InstanceMarketOptions (spot options): list InstanceMarketOptions in overridable and set it to null here',
    ],
    [
      'a prepaid rung has no period',
      (doc) => (ladder(doc).alternatives[1].InstanceChargeType = 'PREPAID'),
      'templates.burst.ladder.alternatives.1: a PREPAID rung needs InstanceChargePrepaid (its period)',
    ],
    [
      'an alternative replaces nothing',
      (doc) => ladder(doc).alternatives.push({ 'Placement.Zone': 'ap-shanghai-2' }),
      'templates.burst.ladder.alternatives.3: replaces nothing: every value is the template\'s own',
    ],
    [
      'overridable reaches into the prototype',
      (doc) => ladder(doc).overridable.push('Placement.__proto__'),
      'templates.burst.ladder.overridable.5: Placement.__proto__: segment __proto__ is not allowed',
    ],
    [
      'overridable names an inherited property the template does not set',
      (doc) => ladder(doc).overridable.push('Placement.toString'),
      'templates.burst.ladder.overridable.5: Placement.toString: the template sets no value there; a rung may only replace what the template itself sets',
    ],
    ['an alternative is empty', (doc) => ladder(doc).alternatives.push({}), 'templates.burst.ladder.alternatives.3: an alternative must replace at least one value'],
    [
      'more than eight alternatives',
      (doc) => (ladder(doc).alternatives = Array.from({ length: 9 }, (_, i) => ({ 'VirtualPrivateCloud.SubnetId': `subnet-${i}` }))),
      'templates.burst.ladder.alternatives: Too big: expected array to have <=8 items',
    ],
  ])('%s', (_name, change, problem) => {
    expect(problemsOf(change)).toContain(problem);
  });
});

describe('a money budget is refused at cold start, naming the key, when', () => {
  it.each<[string, (doc: Record<string, any>) => void, string]>([
    ['it has no currency', (doc) => delete doc.clusters['demo-sh'].costBudget.currency, 'clusters.demo-sh.costBudget.currency: is required'],
    ['its currency is not one CVM bills in', (doc) => (doc.clusters['demo-sh'].costBudget.currency = 'EUR'), 'clusters.demo-sh.costBudget.currency: must be CNY or USD'],
    ['it has no limit at all', (doc) => (doc.clusters['demo-sh'].costBudget = { currency: 'CNY' }), 'clusters.demo-sh.costBudget: set hourly (pay-as-you-go run-rate per hour) or prepaid (total), or both'],
    ['a limit is not positive', (doc) => (doc.clusters['demo-sh'].costBudget.hourly = 0), 'clusters.demo-sh.costBudget.hourly: Too small: expected number to be >0'],
    [
      'a rung buys a charge type the budget has no limit for',
      (doc) => delete doc.clusters['demo-sh'].costBudget.hourly,
      'clusters.demo-sh.costBudget.hourly: is not set, and templates.burst (the template) buys SPOTPAID on clusters.demo-sh: set a limit for it',
    ],
    [
      'a template it must price has no ImageId',
      (doc) => delete doc.templates.burst.runInstancePara.ImageId,
      'templates.burst.runInstancePara.ImageId: is required to price the template for clusters.demo-sh.costBudget (InquiryPriceRunInstances needs ImageId or LaunchTemplate)',
    ],
    [
      'the deployment\'s budget and a cluster\'s name different currencies',
      (doc) => (doc.costBudget = { currency: 'USD', hourly: 5 }),
      'clusters.demo-sh.costBudget.currency: CNY differs from costBudget.currency USD; prices come in the account\'s one billing currency',
    ],
    [
      'the deployment\'s budget covers a template CVM cannot price (no ImageId)',
      (doc) => (doc.costBudget = { currency: 'CNY', hourly: 5 }),
      'templates.small.runInstancePara.ImageId: is required to price the template for costBudget',
    ],
    [
      'the deployment\'s budget has no limit for a charge type some template buys',
      (doc) => {
        doc.templates.small.runInstancePara.ImageId = 'img-fqais24x';
        doc.costBudget = { currency: 'CNY', prepaid: 100 };
      },
      'costBudget.hourly: is not set, and templates.small (the template) buys POSTPAID_BY_HOUR on clusters.demo: set a limit for it',
    ],
  ])('%s', (_name, change, problem) => {
    expect(problemsOf(change).some((p) => p.startsWith(problem))).toBe(true);
  });
});

describe('the rungs of the example ladder, rendered', () => {
  it('each is the template with only its replacements, each with its own ClientToken', () => {
    const config = parseConfig(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8'), 'example');
    const resolved = resolvedOf(resolveScaleOut(config, { source: 'generic', eventId: 'e-1', cluster: 'demo-sh', template: 'burst', params: new Map() }));
    const rungs = [1, 2, 3, 4].map((rung) => renderCreateClusterInstances(resolved, rung));
    const paras = rungs.map((r) => JSON.parse(r.request.RunInstancePara) as Record<string, any>);
    expect(paras[0]).toMatchObject({ InstanceChargeType: 'SPOTPAID', Placement: { Zone: 'ap-shanghai-2' }, VirtualPrivateCloud: { VpcId: 'vpc-sh1x2y3z', SubnetId: 'subnet-sh2aaaaa' }, InstanceMarketOptions: { MarketType: 'spot' } });
    expect(paras[1]).toMatchObject({ InstanceChargeType: 'SPOTPAID', Placement: { Zone: 'ap-shanghai-4' }, VirtualPrivateCloud: { VpcId: 'vpc-sh1x2y3z', SubnetId: 'subnet-sh4bbbbb' } });
    expect(paras[2]).toMatchObject({ InstanceChargeType: 'POSTPAID_BY_HOUR', Placement: { Zone: 'ap-shanghai-2' }, InstanceType: 'S5.MEDIUM4' });
    expect(paras[2]!.InstanceMarketOptions).toBeUndefined();
    expect(paras[3]).toMatchObject({ InstanceChargeType: 'POSTPAID_BY_HOUR', InstanceType: 'SA2.MEDIUM4', Placement: { Zone: 'ap-shanghai-4' } });
    // Everything not replaced is the template's, byte for byte.
    for (const para of paras) expect(para).toMatchObject({ ImageId: 'img-fqais24x', SystemDisk: { DiskType: 'CLOUD_BSSD', DiskSize: 50 }, InstanceCount: 2 });
    expect(new Set(rungs.map((r) => r.clientToken)).size).toBe(4);
    // Deterministic: the same rung renders the same token.
    expect(renderCreateClusterInstances(resolved, 2).clientToken).toBe(rungs[1]!.clientToken);
  });
});
