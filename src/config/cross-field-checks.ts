import type { ClusterConfig, CostBudget, Ladder, TemplateConfig, ThrottleRules } from '../core/model';
import { chargeKindOf, DEFAULT_CHARGE_TYPE } from '../core/price';
import { throttleRulesOf } from '../core/throttle';
import { MARK_KEYS } from '../core/marks';
import type { RawConfig } from './schema';

/**
 * Checks across fields that the schema, seeing one value at a time, cannot make. Each returns (or
 * adds) one line per problem, naming the key to change; assemble-config.ts runs them all, so an
 * operator sees every problem at once.
 */

/**
 * What a rule names must exist and fit: its cluster, its template (allowed on that cluster), its
 * senders (enabled), and a step-sized count must be able to read its value and threshold from them.
 */
export function ruleProblems(raw: RawConfig, clusters: ReadonlyMap<string, ClusterConfig>, templates: ReadonlyMap<string, TemplateConfig>): string[] {
  const problems: string[] = [];
  const ruleNames = new Set<string>();
  raw.rules.forEach((rule, i) => {
    const at = `rules.${i}`;
    if (ruleNames.has(rule.name)) problems.push(`${at}.name: ${rule.name} is used by another rule`);
    ruleNames.add(rule.name);
    const template = rule.scale.template === undefined ? undefined : templates.get(rule.scale.template);
    if (!clusters.has(rule.scale.cluster)) problems.push(`${at}.scale.cluster: unknown cluster ${JSON.stringify(rule.scale.cluster)}`);
    if (rule.scale.template === undefined) {
      if (rule.action === 'scale-out') problems.push(`${at}.scale.template: is required: the template the rule's scale-outs buy`);
    } else if (template === undefined) problems.push(`${at}.scale.template: unknown template ${JSON.stringify(rule.scale.template)}`);
    else if (!template.clusters.includes(rule.scale.cluster)) {
      problems.push(`${at}.scale.template: template ${template.name} may scale ${template.clusters.join(', ')}, not ${rule.scale.cluster}`);
    }
    if (rule.action === 'scale-in' && clusters.get(rule.scale.cluster) !== undefined && clusters.get(rule.scale.cluster)!.kubernetes === undefined) {
      problems.push(`${at}.action: scale-in needs the cluster's Kubernetes API to drain its nodes: set clusters.${rule.scale.cluster}.kubernetes`);
    }
    if (rule.release !== undefined && rule.action === 'scale-in') problems.push(`${at}.release: a scale-in rule buys nothing to give back on resolution`);
    if (rule.release !== undefined && clusters.get(rule.scale.cluster) !== undefined && clusters.get(rule.scale.cluster)!.kubernetes === undefined) {
      problems.push(`${at}.release: giving nodes back needs the cluster's Kubernetes API: set clusters.${rule.scale.cluster}.kubernetes`);
    }
    if (rule.action === 'scale-in' && rule.repeat?.warmUp !== undefined) problems.push(`${at}.repeat.warmUp: a scale-in rule buys nothing, so has no warm-up; the release's own delay and budget pace it`);
    for (const source of rule.sources) {
      if (raw.sources[source as keyof typeof raw.sources] === undefined) {
        problems.push(`${at}.sources: ${source} is not enabled under sources`);
      }
    }
    const count = rule.scale.count;
    if (typeof count === 'object' && 'steps' in count) {
      // Only Tencent Cloud Monitor sends its threshold (calcValue); only Grafana (values) and
      // Tencent Cloud Monitor (currentValue) send named values.
      const others = rule.sources.filter((s) => s !== 'tencent-monitor');
      if (count.steps.threshold === undefined && others.length > 0) {
        problems.push(`${at}.scale.count.steps.threshold: is required: only Tencent Cloud Monitor sends its own threshold, and this rule also hears ${others.join(', ')}`);
      }
      if ('value' in count.steps.value && rule.sources.includes('alertmanager')) {
        problems.push(`${at}.scale.count.steps.value: Alertmanager sends no named values; take the value from a label or an annotation (e.g. annotations: { value: "{{ $value }}" } in the Prometheus rule)`);
      }
    }
  });
  return problems;
}

/**
 * With a money budget on a cluster, every rung of every template that scales it must buy with a
 * charge type the budget has a limit for: a prepaid rung on a budget with only `hourly` would be
 * refused at every alarm, so it is refused here, naming the key to set.
 */
export function costBudgetProblems(
  t: RawConfig['templates'][string],
  name: string,
  ladder: Ladder | undefined,
  clusters: ReadonlyMap<string, ClusterConfig>,
  deployment: CostBudget | undefined,
  problems: string[],
): void {
  const para = t.runInstancePara as Record<string, unknown>;
  const chargeTypes = [para.InstanceChargeType, ...(ladder?.alternatives ?? []).map((a) => a.sets.find((s) => s.path === 'InstanceChargeType')?.value ?? para.InstanceChargeType)].map((c) =>
    typeof c === 'string' ? c : DEFAULT_CHARGE_TYPE,
  );
  for (const alias of t.clusters) {
    const cluster = clusters.get(alias);
    if (cluster === undefined) continue;
    const budgets: Array<[string, CostBudget]> = [
      ...(cluster.costBudget !== undefined ? [[`clusters.${alias}.costBudget`, cluster.costBudget] as [string, CostBudget]] : []),
      ...(deployment !== undefined ? [['costBudget', deployment] as [string, CostBudget]] : []),
    ];
    if (budgets.length === 0) continue;
    if (para.ImageId === undefined && para.LaunchTemplate === undefined) {
      problems.push(`templates.${name}.runInstancePara.ImageId: is required to price the template for ${budgets[0]![0]} (InquiryPriceRunInstances needs ImageId or LaunchTemplate)`);
    }
    for (const [key, budget] of budgets) {
      chargeTypes.forEach((chargeType, i) => {
        const kind = chargeKindOf(chargeType);
        const rung = i === 0 ? 'the template' : `ladder.alternatives.${i - 1}`;
        if (kind === undefined) problems.push(`templates.${name}: ${rung} buys ${chargeType}, which a money budget cannot price; ${key} prices POSTPAID_BY_HOUR, SPOTPAID and PREPAID`);
        else if (budget[kind] === undefined) problems.push(`${key}.${kind}: is not set, and templates.${name} (${rung}) buys ${chargeType} on clusters.${alias}: set a limit for it`);
      });
    }
  }
}

/**
 * A template that may not clamp (`count.clamp: false`) is refused whenever it asks for more than its
 * throttle could ever grant (core/throttle.ts: beyond-limit): more nodes than the node budget's whole
 * window, or more than the cluster ceiling with the cluster empty. So a `count.max` above either
 * would be refused at the alarm that needs it most; it is refused here, naming both keys. The
 * throttle is the one its scale-outs fall under (core/throttle.ts, throttleScopeOf): the cluster's,
 * with the template's own overrides where it declares a `throttle`. A template that may clamp is
 * granted what is left instead.
 */
export function countBudgetProblems(t: RawConfig['templates'][string], name: string, raw: RawConfig, clusters: ReadonlyMap<string, ClusterConfig>): string[] {
  if (t.count.clamp) return [];
  const problems = new Set<string>();
  for (const alias of t.clusters) {
    const cluster = clusters.get(alias);
    if (cluster === undefined) continue;
    const rules = throttleRulesOf(cluster, t);
    const limits: Array<[keyof ThrottleRules, string]> = [
      ['maxNodesPerWindow', 'raise the budget'],
      ['maxClusterNodes', 'raise the ceiling'],
    ];
    for (const [field, raise] of limits) {
      const limit = rules[field];
      if (limit === undefined || t.count.max <= limit) continue;
      const key = t.throttle?.[field] !== undefined ? `templates.${name}.throttle.${field}` : raw.clusters[alias]?.throttle?.[field] !== undefined ? `clusters.${alias}.throttle.${field}` : `throttle.${field}`;
      // The same line for every cluster when the limit is the template's own.
      problems.add(
        `templates.${name}.count.max (${t.count.max}) exceeds ${key} (${limit})${key === `throttle.${field}` ? ` on clusters.${alias}` : ''}: a request for more than ${limit} nodes could never be granted; lower count.max, ${raise}, or set count.clamp: true`,
      );
    }
  }
  return [...problems];
}

/** One account, one billing currency: a deployment budget and a cluster's must name the same one. */
export function currencyProblems(raw: RawConfig): string[] {
  const deployment = raw.costBudget;
  if (deployment === undefined) return [];
  return Object.entries(raw.clusters)
    .filter(([, c]) => c.costBudget !== undefined && c.costBudget.currency !== deployment.currency)
    .map(([alias, c]) => `clusters.${alias}.costBudget.currency: ${c.costBudget!.currency} differs from costBudget.currency ${deployment.currency}; prices come in the account's one billing currency`);
}

/**
 * A signed request is accepted while its timestamp is within `toleranceSeconds` of the function's
 * clock, either way: a request stamped up to that far ahead verifies until twice that after it
 * first arrived. Its event must be remembered at least that long, or a replay after the record
 * expired would be handled again as new (and, once CVM forgets the ClientToken, buy again).
 */
export function replayFloorProblems(raw: RawConfig): string[] {
  const windows: Array<[string, number]> = [];
  const { generic, grafana, slack, feishu, dingtalk } = raw.sources;
  if (generic !== undefined && generic.auth !== 'none' && generic.auth.hmac !== undefined) windows.push(['sources.generic.auth.hmac.toleranceSeconds', generic.auth.hmac.toleranceSeconds]);
  if (grafana !== undefined && grafana.auth !== 'none' && grafana.auth.hmac?.timestampHeader !== undefined) windows.push(['sources.grafana.auth.hmac.toleranceSeconds', grafana.auth.hmac.toleranceSeconds]);
  if (slack !== undefined) windows.push(['sources.slack.toleranceSeconds', slack.toleranceSeconds]);
  if (feishu !== undefined) windows.push(['sources.feishu.toleranceSeconds', feishu.toleranceSeconds]);
  if (dingtalk !== undefined) windows.push(['sources.dingtalk.toleranceSeconds', dingtalk.toleranceSeconds]);
  const ttl = raw.idempotency.ttlSeconds;
  return windows
    .filter(([, tolerance]) => ttl < 2 * tolerance)
    .map(([key, tolerance]) => `idempotency.ttlSeconds: ${ttl} s is shorter than twice ${key} (${tolerance} s): a signed request could be replayed after its event is forgotten and be handled again; set at least ${2 * tolerance}`);
}

/**
 * The event's record must outlive every budget's window. A reservation that may have bought stays
 * counted for its window, found again by its event; the record keeps the request that event sent
 * for the ttl, and only the record says to re-send it. A ttl shorter than a window would let a
 * redelivery after the record expired find its old reservation, render afresh and buy with a new
 * ClientToken, counted nowhere.
 */
export function ttlCoversWindowsProblems(raw: RawConfig): string[] {
  const windows: Array<[string, number | undefined]> = [['throttle.windowSeconds', raw.throttle.windowSeconds]];
  for (const [alias, c] of Object.entries(raw.clusters)) {
    windows.push([`clusters.${alias}.throttle.windowSeconds`, c.throttle?.windowSeconds]);
    windows.push([`clusters.${alias}.costBudget.windowSeconds`, c.costBudget?.windowSeconds]);
  }
  for (const [name, t] of Object.entries(raw.templates)) windows.push([`templates.${name}.throttle.windowSeconds`, t.throttle?.windowSeconds]);
  windows.push(['costBudget.windowSeconds', raw.costBudget?.windowSeconds]);
  const ttl = raw.idempotency.ttlSeconds;
  return windows
    .filter((w): w is [string, number] => w[1] !== undefined && ttl < w[1])
    .map(([key, window]) => `idempotency.ttlSeconds: ${ttl} s is shorter than ${key} (${window} s): an event's record must outlive the budget window its purchase is counted in, or a late redelivery could buy again uncounted; set at least ${window}`);
}

/** Tencent Cloud binds at most 50 tags to a resource ("使用限制", cloud.tencent.com/document/product/651/13354). */
const MAX_TAGS = 50;

/**
 * The function marks every node and instance it buys with its own label and tag keys
 * (core/marks.ts): a template may carry labels and tags of its own, but not ours (a node marked by
 * hand would be taken for the function's, or the function's mark overwritten), and not so many
 * tags that ours no longer fit.
 */
export function markProblems(t: RawConfig['templates'][string], name: string): string[] {
  const ours = new Set<string>(Object.values(MARK_KEYS));
  const problems: string[] = [];
  const labels = (t.instanceAdvancedSettings as { Labels?: unknown } | undefined)?.Labels;
  if (Array.isArray(labels)) {
    labels.forEach((label: { Name?: unknown } | null, i) => {
      if (typeof label?.Name === 'string' && ours.has(label.Name)) problems.push(`templates.${name}.instanceAdvancedSettings.Labels.${i}.Name: ${label.Name} is the function's own mark; use another label name`);
    });
  }
  const specifications = (t.runInstancePara as { TagSpecification?: unknown }).TagSpecification;
  if (Array.isArray(specifications)) {
    specifications.forEach((spec: { ResourceType?: unknown; Tags?: unknown } | null, i) => {
      if (!Array.isArray(spec?.Tags)) return;
      spec!.Tags.forEach((tag: { Key?: unknown } | null, j: number) => {
        if (typeof tag?.Key === 'string' && ours.has(tag.Key)) problems.push(`templates.${name}.runInstancePara.TagSpecification.${i}.Tags.${j}.Key: ${tag.Key} is the function's own mark; use another tag key`);
      });
      if (spec!.ResourceType === 'instance' && spec!.Tags.length + ours.size > MAX_TAGS) {
        problems.push(`templates.${name}.runInstancePara.TagSpecification.${i}.Tags: ${spec!.Tags.length} tags and the function's ${ours.size} pass the ${MAX_TAGS} a CVM instance may carry`);
      }
    });
  }
  return problems;
}

/** Every route names a declared sink, cluster and rule; a sink nobody routes to is a mistake too. */
export function notifyProblems(raw: RawConfig, clusters: ReadonlyMap<string, ClusterConfig>): string[] {
  const notify = raw.notify;
  if (notify === undefined) return [];
  const problems: string[] = [];
  const sinks = Object.keys(notify.sinks);
  const routed = new Set<string>();
  const checkList = (at: string, names: readonly string[]) =>
    names.forEach((name, i) => {
      routed.add(name);
      if (!sinks.includes(name)) problems.push(`${at}.${i}: unknown sink ${JSON.stringify(name)}; declared: ${sinks.join(', ')}`);
    });
  checkList('notify.default', notify.default);
  for (const [alias, names] of Object.entries(notify.clusters)) {
    if (!clusters.has(alias)) problems.push(`notify.clusters.${alias}: unknown cluster; declared: ${[...clusters.keys()].join(', ')}`);
    checkList(`notify.clusters.${alias}`, names);
  }
  const rules = raw.rules.map((r) => r.name);
  for (const [rule, names] of Object.entries(notify.rules)) {
    if (!rules.includes(rule)) problems.push(`notify.rules.${rule}: unknown rule; declared: ${rules.join(', ') || 'none'}`);
    checkList(`notify.rules.${rule}`, names);
  }
  for (const name of sinks) if (!routed.has(name)) problems.push(`notify.sinks.${name}: no route sends anything to it (name it in notify.default, notify.clusters or notify.rules)`);
  return problems;
}
