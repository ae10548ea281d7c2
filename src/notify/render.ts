import type { Sizing } from '../core/scale-out-request';
import type { BoughtNotice, FailedNotice, HeldBackNotice, HeldBackReason, Notice, NoticePrice, NoticeWhy, ReadyNotice, ReleasedNotice, RestoredNotice, StuckNotice } from '../core/notice';
import type { Language } from '../core/notice';
import type { Message, MessageFact } from './message';

/**
 * A notice in words, in the operator's language (config `notify.language`, or a sink's own): a
 * title line, the facts, the alert's labels, and a link to the cluster's node list in the TKE
 * console. Pure: the same notice always reads the same, so a retried delivery says what the first
 * would have.
 *
 * The link's shape is the console's own (its node list page, as Tencent's public docs link to it:
 * `console.cloud.tencent.com/tke2/cluster/sub/list/nodeManage/node?clusterId=...`); console URLs are
 * no documented API, so the config may give its own (`notify.consoleLink`, `{clusterId}` and
 * `{region}` filled in).
 */
export const DEFAULT_CONSOLE_LINK = 'https://console.cloud.tencent.com/tke2/cluster/sub/list/nodeManage/node?clusterId={clusterId}&region={region}';

export function renderNotice(notice: Notice, language: Language, consoleLink: string = DEFAULT_CONSOLE_LINK): Message {
  const t = WORDS[language];
  const link = { text: t.nodeList, url: consoleLink.replaceAll('{clusterId}', encodeURIComponent(notice.clusterId)).replaceAll('{region}', encodeURIComponent(notice.region)) };
  const where = `${notice.cluster} (${notice.clusterId})`;
  const labels = labelsOf(notice.why);
  const common = { link, ...(labels.length > 0 && { labels }) };
  switch (notice.kind) {
    case 'bought':
      return { title: t.boughtTitle(notice.count, where), severity: 'info', facts: boughtFacts(notice, t), ...common };
    case 'ready':
      return { title: t.readyTitle(notice.count, where), severity: 'info', facts: readyFacts(notice, t), ...common };
    case 'failed':
      return { title: t.failedTitle(notice.instances.length, notice.count, where, t.outcome[failedOutcome(notice)]), severity: 'error', facts: failedFacts(notice, t), ...common };
    case 'held-back':
      return { title: t.heldTitle(where, t.heldReason[notice.reason]), severity: 'warning', facts: heldFacts(notice, t), ...common };
    case 'released':
      return { title: t.releasedTitle(notice.nodeName, where), severity: 'info', facts: releasedFacts(notice, t), ...common };
    case 'stuck':
      return { title: t.stuckTitle(notice.nodeName, where), severity: 'warning', facts: stuckFacts(notice, t), ...common };
    case 'restored':
      return { title: t.restoredTitle(notice.instanceIds.length, where), severity: 'info', facts: restoredFacts(notice, t), ...common };
  }
}

function boughtFacts(n: BoughtNotice, t: Words): MessageFact[] {
  const asked = n.requestedCount !== undefined && n.requestedCount !== n.count ? ` ${t.askedFor(n.requestedCount, n.clampedBy)}` : '';
  return [
    { name: t.template, value: n.template },
    { name: t.offering, value: `${n.instanceType}, ${n.zone}, ${n.chargeType}${n.rung > 1 ? ` ${t.fallbackRung(n.rung)}` : ''}` },
    ...(n.passedOver !== undefined && n.passedOver.length > 0 ? [{ name: t.passedOver, value: n.passedOver.join('; ') }] : []),
    { name: t.nodes, value: `${n.count}${asked}` },
    { name: t.instances, value: n.instanceIds.length > 0 ? n.instanceIds.join(', ') : t.instancesUnknown },
    ...(n.restored !== undefined ? [{ name: t.restoredFirst, value: n.restored.join(', ') }] : []),
    ...(n.price !== undefined ? [{ name: t.price, value: priceText(n.price, n.count, t) }] : []),
    ...budgetFacts(n, t),
    ...whyFacts(n.why, t),
    { name: t.purchase, value: n.purchaseId },
  ];
}

function readyFacts(n: ReadyNotice, t: Words): MessageFact[] {
  return [
    { name: t.template, value: n.template },
    { name: t.instances, value: n.instanceIds.join(', ') },
    { name: t.timeToReady, value: durationText(n.secondsToReady, t) },
    ...whyFacts(n.why, t),
    { name: t.purchase, value: n.purchaseId },
  ];
}

/**
 * What became of the nodes that never joined, for the title: an operator reads "cleaned up" as
 * "no longer billed", so it says so only when that is true.
 */
function failedOutcome(n: FailedNotice): 'cleaned' | 'retained' | 'leftAlone' | 'gone' | 'pending' {
  const cleanups = n.instances.map((i) => i.cleanup);
  if (cleanups.includes('unmarked')) return 'leftAlone';
  if (cleanups.includes('removed')) return 'retained';
  if (cleanups.includes('terminated')) return 'cleaned';
  if (cleanups.length > 0 && cleanups.every((c) => c === 'gone')) return 'gone';
  return 'pending';
}

function failedFacts(n: FailedNotice, t: Words): MessageFact[] {
  const given = [
    `${n.givenBack.nodes} ${t.nodeUnit(n.givenBack.nodes)}`,
    ...(n.givenBack.money !== undefined && n.givenBack.money > 0 ? [`${n.givenBack.money.toFixed(2)} ${n.givenBack.currency ?? ''}/h`.replace(' /h', '/h')] : []),
  ].join(', ');
  return [
    { name: t.template, value: n.template },
    { name: t.instances, value: n.instances.map((i) => `${i.instanceId}: ${i.failedReason ?? t.notRunning}${i.cleanup !== undefined ? ` → ${t.cleanup[i.cleanup] ?? i.cleanup}` : ''}`).join('; ') },
    { name: t.reason, value: n.reason },
    { name: t.givenBack, value: given },
    ...(n.backOff !== undefined ? [{ name: t.backOff, value: t.backOffText(n.backOff.offering, timeText(n.backOff.until)) }] : []),
    ...whyFacts(n.why, t),
    { name: t.purchase, value: n.purchaseId },
  ];
}

function heldFacts(n: HeldBackNotice, t: Words): MessageFact[] {
  return [
    { name: t.detail, value: n.detail },
    ...(n.retryAt !== undefined ? [{ name: t.until, value: timeText(n.retryAt) }] : []),
    { name: t.template, value: n.template },
    ...whyFacts(n.why, t),
    { name: t.note, value: t.heldOnce },
  ];
}

function releasedFacts(n: ReleasedNotice, t: Words): MessageFact[] {
  return [
    { name: t.instances, value: `${n.instanceId} (${n.nodeName})${n.mode === 'retain' ? ` ${t.retained}` : ''}` },
    { name: t.reason, value: n.reason },
    { name: t.drainTook, value: durationText(n.secondsToRelease, t) },
    { name: t.template, value: n.template },
    { name: t.purchase, value: n.purchaseId },
  ];
}

function restoredFacts(n: RestoredNotice, t: Words): MessageFact[] {
  return [{ name: t.template, value: n.template }, { name: t.instances, value: n.instanceIds.join(', ') }, ...whyFacts(n.why, t), { name: t.note, value: t.restoredNote }];
}

function stuckFacts(n: StuckNotice, t: Words): MessageFact[] {
  return [
    { name: t.instances, value: `${n.instanceId} (${n.nodeName})` },
    { name: t.detail, value: n.detail },
    { name: t.reason, value: n.reason },
    { name: t.note, value: t.stuckNote },
    { name: t.purchase, value: n.purchaseId },
  ];
}

function budgetFacts(n: BoughtNotice, t: Words): MessageFact[] {
  const left = n.budgetLeft;
  if (left === undefined) return [];
  const parts = [
    ...(left.nodes !== undefined ? [t.nodesLeft(left.nodes.left, left.nodes.of, durationText(left.nodes.windowSeconds, t))] : []),
    ...(left.money?.hourly !== undefined ? [`${left.money.hourly.toFixed(2)} ${left.money.currency}/h`] : []),
    ...(left.money?.prepaid !== undefined ? [`${left.money.prepaid.toFixed(2)} ${left.money.currency} ${t.prepaid}`] : []),
  ];
  return parts.length > 0 ? [{ name: t.budgetLeft, value: parts.join('; ') }] : [];
}

/** Why it happened: the alarm (rule, alert, value against threshold, the step) or the person and command. */
function whyFacts(why: NoticeWhy, t: Words): MessageFact[] {
  const origin = why.origin;
  if (origin?.kind === 'chat') {
    const who = `${origin.user}${origin.conversation !== undefined ? ` ${t.inConversation(origin.conversation)}` : ''}`;
    return [{ name: t.askedBy, value: `${who}${why.command !== undefined ? `: ${why.command}` : ''} (${why.source})` }];
  }
  if (origin?.kind === 'alert') {
    const policy = origin.policyId !== undefined ? `, ${t.policy} ${origin.policyId}` : '';
    return [
      { name: t.alert, value: `${origin.alert} (${t.rule} ${origin.rule}${policy}; ${why.source})` },
      ...(why.sizing !== undefined ? [{ name: t.sizing, value: sizingText(why.sizing, t) }] : []),
    ];
  }
  return [{ name: t.askedBy, value: `${why.source}${why.reason !== undefined ? `: ${why.reason}` : ''} (${t.event} ${why.eventId})` }];
}

function sizingText(s: Sizing, t: Words): string {
  if (s.fallback !== undefined) return t.sizingDefault(s.fallback);
  if (s.by === 'severity') return `${t.severity} ${s.severity ?? '?'}`;
  const against = s.value !== undefined && s.threshold !== undefined ? t.valueAgainst(s.value, s.direction === 'below' ? '<' : '>', s.threshold) : s.value !== undefined ? String(s.value) : '?';
  const step = s.step !== undefined ? `, ${t.step} [${s.step.from}, ${s.step.to ?? '∞'})` : '';
  return `${against}${step}`;
}

function labelsOf(why: NoticeWhy): Array<readonly [string, string]> {
  const labels = why.origin?.kind === 'alert' ? why.origin.labels : undefined;
  return labels === undefined ? [] : Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
}

/** `p` is the whole purchase's price: the total, and what one node costs. */
function priceText(p: NoticePrice, count: number, t: Words): string {
  const each = (p.amount / Math.max(1, count)).toFixed(2);
  if (p.kind === 'hourly') return t.hourly(`${p.amount.toFixed(2)} ${p.currency}/h`, `${each} ${p.currency}/h`);
  return t.prepaidPrice(`${p.amount.toFixed(2)} ${p.currency}`, `${each} ${p.currency}`);
}

/** UTC, to the minute: channels show messages in many time zones. */
export function timeText(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function durationText(seconds: number, t: Words): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return t.seconds(s);
  if (s < 7200) return t.minutes(Math.floor(s / 60), s % 60);
  return t.hours(Math.round((s / 3600) * 10) / 10);
}

type Words = (typeof WORDS)['en'];

const WORDS = {
  en: {
    boughtTitle: (n: number, where: string) => `Bought ${n} node${n === 1 ? '' : 's'} for ${where}`,
    readyTitle: (n: number, where: string) => `${n} node${n === 1 ? '' : 's'} joined ${where} and ${n === 1 ? 'is' : 'are'} ready`,
    failedTitle: (failed: number, of: number, where: string, outcome: string) => `${failed} of ${of} node${of === 1 ? '' : 's'} failed to join ${where}: ${outcome}`,
    outcome: { cleaned: 'cleaned up', retained: 'removed from the cluster; prepaid instances kept (still billed)', leftAlone: 'some left alone (no mark of this function)', gone: 'already gone', pending: 'not cleaned up yet' },
    heldTitle: (where: string, why: string) => `Scale-outs of ${where} are held back: ${why}`,
    heldReason: { 'node-budget': 'the node budget is spent', 'money-budget': 'the money budget is spent', 'cluster-ceiling': 'the cluster is at its node ceiling', 'sold-out': 'CVM is sold out on every rung' } satisfies Record<HeldBackReason, string>,
    heldOnce: 'said once per cluster, reason and window; later refusals in it are not announced',
    releasedTitle: (node: string, where: string) => `Gave node ${node} of ${where} back: drained and deleted`,
    stuckTitle: (node: string, where: string) => `Node ${node} of ${where} could not be drained in time: left cordoned`,
    restoredTitle: (n: number, where: string) => `Put ${n} node${n === 1 ? '' : 's'} of ${where} back in service instead of buying`,
    restoredFirst: 'Put back in service first',
    restoredNote: 'they were being given back (cordoned or draining) when the scale-out came: uncordoned, nothing bought',
    drainTook: 'Drained and deleted in',
    retained: '(prepaid: removed from the cluster, the instance kept and still billed)',
    stuckNote: 'not deleted: its pods were not evicted in time (a PodDisruptionBudget?); uncordon it or let the pass try again once they can go',
    nodeList: 'Node list in the TKE console',
    template: 'Template',
    offering: 'Bought',
    fallbackRung: (rung: number) => `(fallback: rung ${rung} of the ladder)`,
    passedOver: 'Passed over',
    nodes: 'Nodes',
    askedFor: (n: number, by: string | undefined) => `(asked ${n}${by !== undefined ? `; limited by ${by}` : ''})`,
    instances: 'Instances',
    instancesUnknown: 'not known yet (TKE did not answer in time; found later by their tags)',
    price: 'Price',
    hourly: (all: string, each: string) => `${all} in all (${each} per node)`,
    prepaidPrice: (all: string, each: string) => `${all} in all, prepaid (${each} per node)`,
    prepaid: 'prepaid',
    budgetLeft: 'Budget left',
    nodesLeft: (left: number, of: number, window: string) => `${left} of ${of} nodes per ${window}`,
    askedBy: 'Asked by',
    inConversation: (c: string) => `in ${c}`,
    alert: 'Alert',
    rule: 'rule',
    policy: 'policy',
    event: 'event',
    sizing: 'Sized by',
    sizingDefault: (why: string) => `the rule's default count (${why})`,
    severity: 'severity',
    valueAgainst: (v: number, op: string, th: number) => `value ${v} ${op} threshold ${th}`,
    step: 'step',
    purchase: 'Purchase',
    timeToReady: 'Time to ready',
    notRunning: 'not running in time',
    cleanup: { terminated: 'terminated', removed: 'removed from the cluster, instance kept (prepaid: still billed)', gone: 'already gone', unmarked: 'left alone (no mark of this function)' } as Record<string, string>,
    reason: 'Reason',
    givenBack: 'Given back to the budget',
    nodeUnit: (n: number): string => (n === 1 ? 'node' : 'nodes'),
    backOff: 'Back-off',
    backOffText: (offering: string, until: string) => `${offering} is skipped until ${until}; the ladder tries the next rung`,
    detail: 'Detail',
    until: 'Until',
    note: 'Note',
    seconds: (s: number) => `${s} s`,
    minutes: (m: number, s: number) => `${m} min${s > 0 ? ` ${s} s` : ''}`,
    hours: (h: number) => `${h} h`,
  },
  zh: {
    boughtTitle: (n: number, where: string) => `已为集群 ${where} 购买 ${n} 个节点`,
    readyTitle: (n: number, where: string) => `${n} 个节点已加入集群 ${where}，状态就绪`,
    failedTitle: (failed: number, of: number, where: string, outcome: string) => `集群 ${where}：${of} 个节点中有 ${failed} 个未能加入，${outcome}`,
    outcome: { cleaned: '已清理', retained: '已移出集群；包年包月实例保留（仍在计费）', leftAlone: '部分未处理（没有本函数的标记）', gone: '已不存在', pending: '尚未清理' },
    heldTitle: (where: string, why: string) => `集群 ${where} 的扩容被暂缓：${why}`,
    heldReason: { 'node-budget': '节点预算已用完', 'money-budget': '费用预算已用完', 'cluster-ceiling': '集群节点数已达上限', 'sold-out': '所有备选规格均已售罄' } satisfies Record<HeldBackReason, string>,
    heldOnce: '同一集群、同一原因在每个窗口内只通知一次，其后的拒绝不再通知',
    releasedTitle: (node: string, where: string) => `已归还集群 ${where} 的节点 ${node}：已排空并删除`,
    stuckTitle: (node: string, where: string) => `集群 ${where} 的节点 ${node} 未能按时排空：保持封锁`,
    restoredTitle: (n: number, where: string) => `已将集群 ${where} 中正在归还的 ${n} 个节点恢复服务，未新购节点`,
    restoredFirst: '先恢复服务的节点',
    restoredNote: '扩容到来时这些节点正在归还（已封锁或正在排空）：已解除封锁，未购买新节点',
    drainTook: '排空并删除耗时',
    retained: '（包年包月：已移出集群，实例保留，仍在计费）',
    stuckNote: '未删除：其 Pod 未能按时驱逐（可能受 PodDisruptionBudget 限制）；可解除封锁，或待其可驱逐时由下次巡检继续',
    nodeList: 'TKE 控制台节点列表',
    template: '模板',
    offering: '购买规格',
    fallbackRung: (rung: number) => `（备选：第 ${rung} 级）`,
    passedOver: '已跳过',
    nodes: '节点数',
    askedFor: (n: number, by: string | undefined) => `（请求 ${n} 个${by !== undefined ? `，受 ${by} 限制` : ''}）`,
    instances: '实例',
    instancesUnknown: '暂未知（TKE 未及时应答，稍后按标签查找）',
    price: '价格',
    hourly: (all: string, each: string) => `合计 ${all}（每节点 ${each}）`,
    prepaidPrice: (all: string, each: string) => `合计 ${all}，包年包月（每节点 ${each}）`,
    prepaid: '包年包月',
    budgetLeft: '剩余预算',
    nodesLeft: (left: number, of: number, window: string) => `每 ${window} ${of} 个节点，剩余 ${left} 个`,
    askedBy: '发起人',
    inConversation: (c: string) => `（会话 ${c}）`,
    alert: '告警',
    rule: '规则',
    policy: '策略',
    event: '事件',
    sizing: '扩容依据',
    sizingDefault: (why: string) => `规则的默认数量（${why}）`,
    severity: '级别',
    valueAgainst: (v: number, op: string, th: number) => `当前值 ${v} ${op} 阈值 ${th}`,
    step: '区间',
    purchase: '购买记录',
    timeToReady: '就绪耗时',
    notRunning: '未在时限内运行',
    cleanup: { terminated: '已销毁', removed: '已移出集群，实例保留（包年包月，仍在计费）', gone: '已不存在', unmarked: '未处理（没有本函数的标记）' } as Record<string, string>,
    reason: '原因',
    givenBack: '已退回预算',
    nodeUnit: (_n: number): string => '个节点',
    backOff: '退避',
    backOffText: (offering: string, until: string) => `${offering} 暂停使用至 ${until}，期间尝试下一级规格`,
    detail: '详情',
    until: '恢复时间',
    note: '说明',
    seconds: (s: number) => `${s} 秒`,
    minutes: (m: number, s: number) => `${m} 分${s > 0 ? ` ${s} 秒` : '钟'}`,
    hours: (h: number) => `${h} 小时`,
  },
} satisfies Record<Language, unknown>;
