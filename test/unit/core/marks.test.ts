import { LABEL_VALUE, MARK_KEYS, marksOf, purchaseIdOf, writeMarks } from '../../../src/core/marks';
import { priceInquiryOf } from '../../../src/core/price';
import { configProblems, exampleConfigText } from '../../support/fixtures';

/**
 * The function's marks on what it buys. Shapes: InstanceAdvancedSettings.Labels is Label[] {Name,
 * Value} (tencentcloud-sdk-nodejs-tke, tke_models.d.ts, Label); RunInstancePara.TagSpecification is
 * TagSpecification[] {ResourceType, Tags: Tag[] {Key, Value}} (tencentcloud-sdk-nodejs-cvm,
 * cvm_models.d.ts). Tag naming: Tencent Cloud Tag "使用限制" (cloud.tencent.com/document/product/651/13354).
 */
const marks = { owner: 'tke-scaleout', purchase: purchaseIdOf('generic', 'evt-1') };

describe('the marks', () => {
  it('a purchase ID per event, the same every time, a valid label value and tag value', () => {
    expect(purchaseIdOf('generic', 'evt-1')).toBe(marks.purchase);
    expect(marks.purchase).toMatch(/^p-[0-9a-f]{16}$/);
    expect(marks.purchase).toMatch(LABEL_VALUE);
    expect(purchaseIdOf('generic', 'evt-2')).not.toBe(marks.purchase);
    // Sender and event ID are kept apart: "a" + "b\0c" is not "a\0b" + "c".
    expect(purchaseIdOf('a', 'b\0c')).not.toBe(purchaseIdOf('a\0b', 'c'));
  });

  it('keys valid as Kubernetes label keys (prefix a DNS label, name of 63 at most) and Tencent Cloud tag keys', () => {
    for (const key of Object.values(MARK_KEYS)) {
      const [prefix, name] = key.split('/');
      expect(prefix).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(name).toMatch(LABEL_VALUE);
      expect(key.length).toBeLessThanOrEqual(127);
      expect(key).toMatch(/^[A-Za-z0-9+\-=._:/@]+$/);
      expect(key.startsWith('qcs:') || key.startsWith('project:')).toBe(false);
    }
  });

  it("merges with the template's own labels and instance tags, and adds a specification when there is none", () => {
    const para: Record<string, unknown> = { TagSpecification: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'sre' }] }, { ResourceType: 'image', Tags: [{ Key: 'x', Value: 'y' }] }] };
    const advanced: Record<string, unknown> = { Labels: [{ Name: 'pool', Value: 'burst' }] };
    writeMarks(para, advanced, marks);
    expect(para.TagSpecification).toEqual([
      { ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'sre' }, { Key: MARK_KEYS.owner, Value: 'tke-scaleout' }, { Key: MARK_KEYS.purchase, Value: marks.purchase }] },
      { ResourceType: 'image', Tags: [{ Key: 'x', Value: 'y' }] },
    ]);
    expect(advanced.Labels).toEqual([{ Name: 'pool', Value: 'burst' }, { Name: MARK_KEYS.owner, Value: 'tke-scaleout' }, { Name: MARK_KEYS.purchase, Value: marks.purchase }]);
    const bare: Record<string, unknown> = {};
    const noAdvanced: Record<string, unknown> = {};
    writeMarks(bare, noAdvanced, marks);
    expect(bare.TagSpecification).toEqual([{ ResourceType: 'instance', Tags: [{ Key: MARK_KEYS.owner, Value: 'tke-scaleout' }, { Key: MARK_KEYS.purchase, Value: marks.purchase }] }]);
  });

  it('whatever else wrote our keys (a param, a ladder rung) is taken out: one value for each mark, ours', () => {
    const para: Record<string, unknown> = {
      TagSpecification: [
        { ResourceType: 'instance', Tags: [{ Key: MARK_KEYS.purchase, Value: 'sre' }, { Key: 'team', Value: 'sre' }] },
        { ResourceType: 'instance', Tags: [{ Key: MARK_KEYS.owner, Value: 'someone-else' }] },
      ],
    };
    const advanced: Record<string, unknown> = { Labels: [{ Name: MARK_KEYS.owner, Value: 'x' }, { Name: 'pool', Value: 'burst' }] };
    writeMarks(para, advanced, marks);
    const allTags = (para.TagSpecification as Array<{ Tags: Array<{ Key: string; Value: string }> }>).flatMap((s) => s.Tags);
    expect(allTags.filter((t) => t.Key === MARK_KEYS.owner)).toEqual([{ Key: MARK_KEYS.owner, Value: 'tke-scaleout' }]);
    expect(allTags.filter((t) => t.Key === MARK_KEYS.purchase)).toEqual([{ Key: MARK_KEYS.purchase, Value: marks.purchase }]);
    expect(advanced.Labels).toEqual([{ Name: 'pool', Value: 'burst' }, { Name: MARK_KEYS.owner, Value: 'tke-scaleout' }, { Name: MARK_KEYS.purchase, Value: marks.purchase }]);
  });

  it('reads them back from a label or tag set', () => {
    expect(marksOf([{ key: 'team', value: 'sre' }, { key: MARK_KEYS.owner, value: 'o' }, { key: MARK_KEYS.purchase, value: 'p-1' }])).toEqual({ owner: 'o', purchase: 'p-1' });
    expect(marksOf([{ key: 'team', value: 'sre' }])).toEqual({});
  });

  it("a price inquiry leaves the function's tags out (they change no price, and would defeat the price cache) and keeps the template's", () => {
    const para: Record<string, unknown> = { InstanceType: 'S5.MEDIUM4', TagSpecification: [{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'sre' }] }] };
    writeMarks(para, {}, marks);
    expect(priceInquiryOf(para).TagSpecification).toEqual([{ ResourceType: 'instance', Tags: [{ Key: 'team', Value: 'sre' }] }]);
    const ours: Record<string, unknown> = { InstanceType: 'S5.MEDIUM4' };
    writeMarks(ours, {}, marks);
    expect(priceInquiryOf(ours)).toEqual({ InstanceType: 'S5.MEDIUM4' });
  });
});

describe('the config and the marks', () => {
  it.each([
    ['an owner that is no label value', (doc: Record<string, any>) => (doc.purchases = { owner: 'SRE team!' }), /purchases\.owner/],
    ['a template label with our key', (doc: Record<string, any>) => (doc.templates['multi-disk'].instanceAdvancedSettings.Labels = [{ Name: 'tke-scaleout/purchase', Value: 'x' }]), /templates\.multi-disk\.instanceAdvancedSettings\.Labels\.0\.Name: tke-scaleout\/purchase is the function's own mark/],
    ['a template tag with our key', (doc: Record<string, any>) => (doc.templates.small.runInstancePara.TagSpecification = [{ ResourceType: 'instance', Tags: [{ Key: 'tke-scaleout/owner', Value: 'me' }] }]), /templates\.small\.runInstancePara\.TagSpecification\.0\.Tags\.0\.Key: tke-scaleout\/owner is the function's own mark/],
    ['49 instance tags (ours make 51)', (doc: Record<string, any>) => (doc.templates.small.runInstancePara.TagSpecification = [{ ResourceType: 'instance', Tags: Array.from({ length: 49 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }]), /49 tags and the function's 2 pass the 50/],
  ])('refuses %s at load, naming the key', (_what, change, message) => {
    expect(configProblems(exampleConfigText(change)).join('\n')).toMatch(message);
  });
});
