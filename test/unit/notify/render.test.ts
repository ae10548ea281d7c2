import { fitMessage, utf8Bytes, type Message } from '../../../src/notify/message';
import { boughtNotice, failedNotice, heldBackNotice, readyNotice, restoredNotice } from '../../../src/notify/news';
import { renderNotice } from '../../../src/notify/render';
import { sinksFor } from '../../../src/notify/route';
import type { NotifyConfig } from '../../../src/config/schema';
import { ThrottledError, SoldOutError, TkeCallError } from '../../../src/errors';
import { purchaseRecord, PURCHASE_T0 } from '../../support/purchase-record';
import { exampleConfig } from '../../support/fixtures';

/** What each notice says, in English and Chinese, and how it is cut to a platform's limit. */
const T0 = PURCHASE_T0;
const alertOrigin = { kind: 'alert' as const, rule: 'cpu-high', alert: 'HighCPU', episode: 'fp/2026', labels: { severity: 'critical', namespace: 'web', cluster: 'prod' } };
const bought = purchaseRecord({
  state: 'created',
  instanceIds: ['ins-a', 'ins-b'],
  price: { amount: 1.24, kind: 'hourly', currency: 'CNY' },
  askedBy: { source: 'alertmanager', eventId: 'e1', origin: alertOrigin },
});

describe('renderNotice', () => {
  it('bought: the nodes, offering, price in all and per node, budget left, and why (alert, value against threshold, step)', () => {
    const notice = {
      ...boughtNotice(bought, T0, { asked: { source: 'alertmanager', eventId: 'e1', cluster: 'prod', template: 'small', params: new Map(), sizing: { by: 'steps', value: 92, threshold: 80, direction: 'above', excess: 12, step: { from: 10, to: 20 } } } }),
      budgetLeft: { nodes: { left: 18, of: 20, windowSeconds: 3600 } },
    } as const;
    const m = renderNotice(notice, 'en');
    expect(m.title).toBe(`Bought 2 nodes for ${bought.cluster} (${bought.clusterId})`);
    const facts = Object.fromEntries(m.facts.map((f) => [f.name, f.value]));
    expect(facts).toMatchObject({
      Instances: 'ins-a, ins-b',
      Price: '1.24 CNY/h in all (0.62 CNY/h per node)',
      'Budget left': '18 of 20 nodes per 60 min',
      Alert: 'HighCPU (rule cpu-high; alertmanager)',
      'Sized by': 'value 92 > threshold 80, step [10, 20)',
    });
    expect(m.labels).toEqual([['cluster', 'prod'], ['namespace', 'web'], ['severity', 'critical']]);
    expect(m.link?.url).toBe(`https://console.cloud.tencent.com/tke2/cluster/sub/list/nodeManage/node?clusterId=${bought.clusterId}&region=${bought.region}`);
    const zh = renderNotice(notice, 'zh');
    expect(zh.title).toBe(`已为集群 ${bought.cluster} (${bought.clusterId}) 购买 2 个节点`);
    expect(zh.facts.map((f) => f.name)).toContain('剩余预算');
  });

  it('nodes put back in service instead of bought: said on their own, or beside a purchase of the rest, in both languages', () => {
    const asked = { source: 'alertmanager', eventId: 'e2', cluster: 'prod', template: 'small', params: new Map(), origin: alertOrigin };
    const resolved = { cluster: { alias: 'prod', clusterId: bought.clusterId, region: bought.region }, template: { name: 'small' }, marks: { purchase: 'p-e2' } } as unknown as Parameters<typeof restoredNotice>[0];
    const restored = restoredNotice(resolved, asked, ['ins-c', 'ins-d'], T0);
    expect(restored.id).toBe(`restored:${bought.clusterId}:p-e2`);
    const m = renderNotice(restored, 'en');
    expect(m.title).toBe(`Put 2 nodes of prod (${bought.clusterId}) back in service instead of buying`);
    expect(Object.fromEntries(m.facts.map((f) => [f.name, f.value]))).toMatchObject({ Instances: 'ins-c, ins-d', Alert: 'HighCPU (rule cpu-high; alertmanager)' });
    expect(renderNotice(restored, 'zh').title).toBe(`已将集群 prod (${bought.clusterId}) 中正在归还的 2 个节点恢复服务，未新购节点`);
    const partly = boughtNotice(bought, T0, { answer: { eventId: 'e1', clusterId: bought.clusterId, template: 'small', count: 2, clientToken: 't', instanceIds: ['ins-a', 'ins-b'], requestId: 'r', restored: ['ins-c'] } });
    expect(renderNotice(partly, 'en').facts.find((f) => f.name === 'Put back in service first')?.value).toBe('ins-c');
  });

  it('ready, failed (each instance, the reason, what went back, the back-off) and held back read as such in both languages', () => {
    const ready = readyNotice({ ...bought, state: 'ready', createdAt: T0, readyAt: T0 + 200_000, endedAt: T0 + 200_000 }, T0 + 200_000);
    expect(renderNotice(ready, 'en').facts.find((f) => f.name === 'Time to ready')?.value).toBe('3 min 20 s');
    expect(renderNotice(ready, 'zh').title).toBe(`2 个节点已加入集群 ${bought.cluster} (${bought.clusterId})，状态就绪`);

    const cleaned = { ...bought, state: 'cleaned' as const, endedAt: T0 + 1, failedReason: 'ins-b: InitFailed', instances: { 'ins-a': { state: 'running' }, 'ins-b': { state: 'failed', failedReason: 'InitFailed', cleanup: 'terminated' as const, givenBack: true as const } } };
    const failed = failedNotice(cleaned, T0 + 1, { offering: 'S5.MEDIUM4 in ap-guangzhou-3 (POSTPAID_BY_HOUR)', until: T0 + 300_000 });
    expect(failed.givenBack).toEqual({ nodes: 1, money: 0.62, currency: 'CNY' });
    const m = renderNotice(failed, 'en');
    expect(m.severity).toBe('error');
    expect(m.title).toBe(`1 of 2 nodes failed to join ${bought.cluster} (${bought.clusterId}): cleaned up`);
    expect(m.facts.find((f) => f.name === 'Instances')?.value).toBe('ins-b: InitFailed → terminated');
    expect(m.facts.find((f) => f.name === 'Given back to the budget')?.value).toBe('1 node, 0.62 CNY/h');
    expect(m.facts.find((f) => f.name === 'Back-off')?.value).toContain('S5.MEDIUM4 in ap-guangzhou-3 (POSTPAID_BY_HOUR) is skipped until');
    expect(renderNotice(failed, 'zh').facts.find((f) => f.name === '实例')?.value).toBe('ins-b: InitFailed → 已销毁');
    // A prepaid node is removed from the cluster, not terminated: the title does not say "cleaned up".
    const retained = failedNotice({ ...cleaned, instances: { ...cleaned.instances, 'ins-b': { ...cleaned.instances['ins-b'], cleanup: 'removed' as const } } }, T0 + 1);
    expect(renderNotice(retained, 'en').title).toBe(`1 of 2 nodes failed to join ${bought.cluster} (${bought.clusterId}): removed from the cluster; prepaid instances kept (still billed)`);
  });
});

describe('heldBackNotice', () => {
  const config = exampleConfig();
  const cluster = [...config.clusters.values()][0]!;
  const template = [...config.templates.values()].find((t) => t.clusters.includes(cluster.alias))!;
  const resolved = { source: 'alertmanager', eventId: 'e', cluster, template, count: 1, requestedCount: 1, params: new Map(), marks: { owner: 'o', purchase: 'p' } };
  const asked = { source: 'alertmanager', eventId: 'e', cluster: cluster.alias, template: template.name, params: new Map() };

  it('once per cluster, reason and window: two refusals in one window have one ID, the next window another', () => {
    const spent = new ThrottledError('node-budget', 'node budget: 20 of 20 used', T0 + 60_000, T0);
    const a = heldBackNotice(config, resolved, asked, spent, T0)!;
    const b = heldBackNotice(config, resolved, asked, spent, T0 + 60_000)!;
    expect(a.id).toBe(b.id);
    const window = cluster.throttle.windowSeconds * 1000;
    expect(heldBackNotice(config, resolved, asked, spent, T0 + window)!.id).not.toBe(a.id);
    expect(a).toMatchObject({ reason: 'node-budget', retryAt: T0 + 60_000 });
    expect(heldBackNotice(config, resolved, asked, new SoldOutError('every rung', 'all sold out', T0 + 900_000, T0), T0)!.reason).toBe('sold-out');
    // A template of one rung refused by CVM for capacity is sold out on every rung it has; an unknown outcome is no refusal.
    const refused = new TkeCallError(503, 'ResourceInsufficient.SpecifiedInstanceType', 'CVM资源不足', { attempts: 1, outcomeUnknown: false });
    expect(heldBackNotice(config, resolved, asked, refused, T0)!.reason).toBe('sold-out');
    expect(heldBackNotice(config, resolved, asked, new TkeCallError(503, 'RequestLimitExceeded', 'slow down', { attempts: 4, outcomeUnknown: false }), T0)).toBeUndefined();
  });

  it('a cooldown, a warm-up or an event in flight is the throttle working: no news', () => {
    for (const rule of ['cooldown', 'warm-up', 'in-flight']) expect(heldBackNotice(config, resolved, asked, new ThrottledError(rule, 'x', T0 + 1000, T0), T0)).toBeUndefined();
  });
});

describe('sinksFor', () => {
  const notify = {
    language: 'en',
    sinks: { team: { type: 'slack', urlEnv: 'A' }, oncall: { type: 'wecom', urlEnv: 'B', events: ['failed', 'held-back'] }, cpu: { type: 'webhook', urlEnv: 'C', secretEnv: 'D' } },
    default: ['team'],
    clusters: { prod: ['team', 'oncall'] },
    rules: { 'cpu-high': ['cpu'] },
    sendWithinMs: 800,
    retryForSeconds: 3600,
  } as NotifyConfig;
  const ready = readyNotice({ ...bought, cluster: 'prod', askedBy: { source: 'generic', eventId: 'e' } }, T0);

  it('the most specific route wins: the rule that asked, else the cluster, else the default; then each sink\'s events', () => {
    expect(sinksFor(notify, readyNotice({ ...bought, cluster: 'prod' }, T0))).toEqual(['cpu']);
    expect(sinksFor(notify, ready)).toEqual(['team']);
    expect(sinksFor(notify, failedNotice({ ...bought, cluster: 'prod', askedBy: { source: 'generic', eventId: 'e' } }, T0))).toEqual(['team', 'oncall']);
    expect(sinksFor(notify, { ...ready, cluster: 'staging' })).toEqual(['team']);
  });
});

describe('fitMessage', () => {
  const message: Message = {
    title: 'Bought 2 nodes',
    severity: 'info',
    facts: [{ name: 'Instances', value: 'ins-a, ins-b' }],
    labels: Array.from({ length: 500 }, (_, i) => [`label_${i}`, `value-${'x'.repeat(40)}-${i}`] as const),
  };
  const size = (m: Message) => utf8Bytes(JSON.stringify(m));

  it('drops labels from the end and says how many, within the limit', () => {
    const fitted = fitMessage(message, 4096, size, 'en');
    expect(size(fitted)).toBeLessThanOrEqual(4096);
    const kept = fitted.labels!.length;
    expect(kept).toBeGreaterThan(10);
    expect(fitted.cut).toBe(`${500 - kept} more labels not shown`);
    expect(fitMessage(message, 4096, size, 'zh').cut).toBe(`另有 ${500 - kept} 个标签未显示`);
    // One more label would not have fitted.
    expect(size({ ...fitted, labels: message.labels!.slice(0, kept + 1) })).toBeGreaterThan(4096);
  });

  it('in Chinese, measured in bytes with escaping that grows the text: only the long value is cut, the short ones stay whole', () => {
    const zh: Message = {
      title: '集群 prod (cls-e55paxnt)：2 个节点中有 1 个未能加入，已清理',
      severity: 'error',
      facts: [
        { name: '模板', value: 'small' },
        { name: '实例', value: 'ins-aaaaaaaa: 失败 → 已销毁' },
        { name: '原因', value: '节点初始化失败<'.repeat(2000) },
        { name: '购买记录', value: 'p-0123456789abcdef' },
      ],
      labels: [['severity', 'critical']],
    };
    // As WeCom counts: UTF-8 bytes, after each `<` grew by a zero-width space (3 bytes).
    const wecomSize = (m: Message) => utf8Bytes(JSON.stringify(m).replace(/</g, '<\u200b'));
    const fitted = fitMessage(zh, 4096, wecomSize, 'zh');
    expect(wecomSize(fitted)).toBeLessThanOrEqual(4096);
    expect(fitted.facts.map((f) => f.value)).toEqual(['small', 'ins-aaaaaaaa: 失败 → 已销毁', expect.stringMatching(/…$/), 'p-0123456789abcdef']);
    // Cut to what fits, not far below it.
    expect(wecomSize(fitted)).toBeGreaterThan(4096 / 2);
    expect(fitted.cut).toBe('另有 1 个标签未显示; 内容过长，已截断');
  });

  it('cuts long fact values when even no label fits, and leaves a message that fits alone', () => {
    const long: Message = { ...message, facts: [{ name: 'Reason', value: '失败'.repeat(5000) }] };
    const fitted = fitMessage(long, 2048, size, 'zh');
    expect(size(fitted)).toBeLessThanOrEqual(2048);
    expect(fitted.facts[0]!.value.endsWith('…')).toBe(true);
    expect(fitMessage({ ...message, labels: [] }, 4096, size, 'en')).toEqual({ ...message, labels: [] });
  });
});
