import { parsePath, pathProblem } from '../core/json-path';
import type { ClusterConfig, ParamSpec, ParamTarget, ParamWrite, ReleaseSettings, TemplateConfig } from '../core/model';
import { durationSeconds } from './duration';
import type { Config } from './config';
import { costBudgetProblems, countBudgetProblems, currencyProblems, markProblems, notifyProblems, replayFloorProblems, ruleProblems, ttlCoversWindowsProblems } from './cross-field-checks';
import type { RawConfig } from './schema';
import { ladderOf } from './template-ladder';

/**
 * The Config the requests read, built from the schema's output: each cluster's throttle merged
 * over the defaults, each template's param paths parsed and its ladder checked. What the schema
 * cannot see (a template naming an unknown cluster, a param path outside its template, a rule's
 * unknown template, ...) is added to `problems`, every one of them, not just the first.
 */
export function assembleConfig(raw: RawConfig, origin: string, problems: string[]): Config {
  const clusters = new Map<string, ClusterConfig>();
  const seenIds = new Map<string, string>();
  for (const [alias, c] of Object.entries(raw.clusters)) {
    const other = seenIds.get(c.clusterId);
    if (other !== undefined) problems.push(`clusters.${alias}.clusterId: ${c.clusterId} is already declared as ${other}`);
    seenIds.set(c.clusterId, alias);
    clusters.set(alias, {
      alias,
      clusterId: c.clusterId,
      region: c.region,
      throttle: { ...raw.throttle, ...c.throttle },
      ...(c.costBudget !== undefined && { costBudget: c.costBudget }),
      ...(c.kubernetes !== undefined && { kubernetes: c.kubernetes }),
      release: releaseSettingsOf({ ...raw.release, ...c.release }),
    });
  }

  const templates = new Map<string, TemplateConfig>();
  for (const [name, t] of Object.entries(raw.templates)) {
    const at = `templates.${name}`;
    t.clusters.forEach((alias, i) => {
      if (!clusters.has(alias)) {
        problems.push(`${at}.clusters.${i}: unknown cluster ${JSON.stringify(alias)}; declared: ${[...clusters.keys()].join(', ')}`);
      }
    });
    const params = paramSpecsOf(t, at, problems);
    const ladder = t.ladder === undefined ? undefined : ladderOf(t, at, params, t.clusters.map((a) => clusters.get(a)).filter((c): c is ClusterConfig => c !== undefined), problems);
    costBudgetProblems(t, name, ladder, clusters, raw.costBudget, problems);
    countBudgetProblems(t, name, raw, clusters).forEach((p) => problems.push(p));
    markProblems(t, name).forEach((p) => problems.push(p));
    templates.set(name, {
      name,
      ...(t.description !== undefined && { description: t.description }),
      clusters: t.clusters,
      count: t.count,
      runInstancePara: t.runInstancePara,
      ...(t.instanceAdvancedSettings !== undefined && { instanceAdvancedSettings: t.instanceAdvancedSettings }),
      ...(t.skipValidateOptions !== undefined && { skipValidateOptions: t.skipValidateOptions }),
      params,
      ...(t.throttle !== undefined && { throttle: t.throttle }),
      ...(t.provisionTimeoutSeconds !== undefined && { provisionTimeoutSeconds: t.provisionTimeoutSeconds }),
      ...(t.maxLifetime !== undefined && { maxLifetimeSeconds: durationSeconds(t.maxLifetime) }),
      ...(ladder !== undefined && { ladder }),
    });
  }

  ruleProblems(raw, clusters, templates).forEach((p) => problems.push(p));
  replayFloorProblems(raw).forEach((p) => problems.push(p));
  ttlCoversWindowsProblems(raw).forEach((p) => problems.push(p));
  currencyProblems(raw).forEach((p) => problems.push(p));
  notifyProblems(raw, clusters).forEach((p) => problems.push(p));

  return {
    origin,
    clusters,
    templates,
    sources: raw.sources,
    rules: raw.rules,
    limits: raw.limits,
    store: raw.store,
    idempotency: raw.idempotency,
    tke: raw.tke,
    ...(raw.costBudget !== undefined && { costBudget: raw.costBudget }),
    purchases: raw.purchases,
    capacity: raw.capacity,
    pricing: raw.pricing,
    ...(raw.health !== undefined && { health: raw.health }),
    ...(raw.notify !== undefined && { notify: raw.notify }),
  };
}

/** The release settings as the core reads them: durations in seconds. */
function releaseSettingsOf(r: RawConfig['release']): ReleaseSettings {
  return {
    floor: r.floor,
    maxDisrupted: r.maxDisrupted,
    keepRequestedBelow: r.keepRequestedBelow,
    delayAfterPurchaseSeconds: durationSeconds(r.delayAfterPurchase),
    cooldownSeconds: durationSeconds(r.cooldown),
    drainTimeoutSeconds: durationSeconds(r.drainTimeout),
    force: r.force,
  };
}

/**
 * A template's params, each with the paths it writes parsed: a path must lead to a place the
 * template's request has (core/json-path.ts) and never to what the function writes itself.
 */
function paramSpecsOf(t: RawConfig['templates'][string], at: string, problems: string[]): Map<string, ParamSpec> {
  const params = new Map<string, ParamSpec>();
  for (const [paramName, p] of Object.entries(t.params)) {
    const writes: ParamWrite[] = [];
    for (const path of typeof p.path === 'string' ? [p.path] : p.path) {
      const [targetName, ...segments] = parsePath(path);
      const target = targetName as ParamTarget;
      const problem =
        target === 'RunInstancePara' && (segments[0] === 'ClientToken' || segments[0] === 'InstanceCount')
          ? 'is written by the function itself'
          : pathProblem(target === 'RunInstancePara' ? t.runInstancePara : (t.instanceAdvancedSettings ?? {}), segments);
      if (problem !== undefined) problems.push(`${at}.params.${paramName}.path: ${path}: ${problem}`);
      else writes.push({ path, target, segments });
    }
    if (writes.length === 0) continue;
    params.set(paramName, {
      name: paramName,
      ...(p.description !== undefined && { description: p.description }),
      writes,
      ...(p.values !== undefined && { values: p.values }),
      ...(p.min !== undefined && { min: p.min }),
      ...(p.max !== undefined && { max: p.max }),
      integer: p.integer,
    });
  }
  return params;
}
