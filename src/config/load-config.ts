import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as z from 'zod';
import { ConfigError } from '../errors';
import { deleteAt, isForbiddenSegment, parsePath, pathProblem, writeAt } from '../core/json-path';
import { FUNCTION_OWNED_RUN_INSTANCE_PARA_KEYS, RUN_INSTANCE_PARA_KEYS } from '../tke/tke-params';
import type { ClusterConfig, CostBudget, Ladder, ParamSpec, ParamTarget, ParamWrite, TemplateConfig } from '../core/model';
import { chargeKindOf, DEFAULT_CHARGE_TYPE } from '../core/price';
import type { RawConfig, RuleInput } from './schema';
import { dotted, isMissing } from './zod-issues';

export type { ClusterConfig, ParamSpec, ParamTarget, ParamValue, ParamWrite, TemplateConfig } from '../core/model';

/** The validated, frozen config every request reads. Built once per cold start. */
export interface Config {
  readonly origin: string;
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  readonly templates: ReadonlyMap<string, TemplateConfig>;
  readonly sources: RawConfig['sources'];
  readonly rules: readonly RuleConfig[];
  readonly limits: RawConfig['limits'];
  readonly store: RawConfig['store'];
  readonly idempotency: RawConfig['idempotency'];
  readonly tke: RawConfig['tke'];
  /** The deployment's money budget, across every cluster (core/cost-budget.ts). */
  readonly costBudget?: CostBudget;
  readonly capacity: RawConfig['capacity'];
  readonly pricing: RawConfig['pricing'];
  readonly health?: RawConfig['health'];
}

/** A rule as validated: which alarms of which senders scale which cluster with which template. */
export type RuleConfig = RuleInput;

/**
 * Reads, parses and validates the config file at `path`: YAML (what operators write), or the JSON
 * that `npm run package` compiles it into for the zip. Throws ConfigError naming every problem.
 */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  if (!path.endsWith('.json')) return parseConfig(text, path);
  const validated = validatedForm(path, text);
  return validated !== undefined ? checkCrossFields(validated, path) : validateConfig(parseCompiledConfig(text, path), path);
}

/**
 * The packaged config's validated form (`npm run package` writes it beside config/scaleout.json):
 * the schema's own output for exactly that file, defaults applied, with the sha256 of the file it
 * came from. When the digest matches, a cold start skips the schema (loading it and parsing with
 * it cost ~20 ms on SCF's Node 18, docs/PERFORMANCE.md) and runs only the cross-field checks. A
 * file edited after packaging no longer matches and is validated in full, as without one.
 */
export const VALIDATED_SUFFIX = '.validated.json';
const VALIDATED_FORMAT = 1;

export function validatedFormOf(path: string): string {
  const text = readFileSync(path, 'utf8');
  const raw = schema().configSchema.safeParse(parseCompiledConfig(text, path));
  if (!raw.success) throw new ConfigError(path, formatIssues(raw.error.issues));
  return `${JSON.stringify({ format: VALIDATED_FORMAT, source: sha256(text), config: raw.data })}\n`;
}

function validatedForm(path: string, text: string): RawConfig | undefined {
  let form: { format?: unknown; source?: unknown; config?: unknown };
  try {
    form = JSON.parse(readFileSync(path.replace(/\.json$/, VALIDATED_SUFFIX), 'utf8')) as typeof form;
  } catch {
    return undefined;
  }
  return form.format === VALIDATED_FORMAT && form.source === sha256(text) && typeof form.config === 'object' && form.config !== null ? (form.config as RawConfig) : undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Loaded on first use: a packaged function whose validated form matches never needs it (see
 * `validatedForm`).
 */
function schema(): typeof import('./schema') {
  return require('./schema') as typeof import('./schema');
}

export function parseConfig(yamlText: string, origin: string): Config {
  return validateConfig(parseYamlConfig(yamlText, origin), origin);
}

/** The YAML as plain data, before validation. */
function parseYamlConfig(yamlText: string, origin: string): unknown {
  const { parseDocument } = yamlLibrary(origin);
  // Duplicate keys are errors (yaml's uniqueKeys default): a second `small:` must not silently win.
  const doc = parseDocument(yamlText, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(origin, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  return doc.toJS() ?? {};
}

/**
 * Loaded here rather than at the top: the packaged function reads the compiled JSON and its bundle
 * leaves the YAML library out (build/package.mjs), since parsing YAML there (the library and a 6 KB
 * file) cost every cold start ~25 ms on SCF's Node 18 (docs/PERFORMANCE.md).
 */
function yamlLibrary(origin: string): typeof import('yaml') {
  try {
    return require('yaml') as typeof import('yaml');
  } catch {
    throw new ConfigError(origin, [
      'this bundle reads JSON config: point SCALEOUT_CONFIG at the config/scaleout.json that `npm run package` compiles from your YAML, or leave it unset',
    ]);
  }
}

function parseCompiledConfig(jsonText: string, origin: string): unknown {
  try {
    return JSON.parse(jsonText) as unknown;
  } catch (err) {
    throw new ConfigError(origin, [`JSON: ${(err as Error).message}`]);
  }
}

/** Validates parsed config data (from YAML or compiled JSON) into the frozen Config. */
function validateConfig(data: unknown, origin: string): Config {
  const parsed = schema().configSchema.safeParse(data);
  if (!parsed.success) {
    throw new ConfigError(origin, formatIssues(parsed.error.issues));
  }
  return checkCrossFields(parsed.data, origin);
}

/** What the schema cannot see (a template naming an unknown cluster, ...), then frozen. */
function checkCrossFields(raw: RawConfig, origin: string): Config {
  const problems: string[] = [];
  const config = resolve(raw, origin, problems);
  if (problems.length > 0) throw new ConfigError(origin, problems);
  return deepFreeze(config);
}

function resolve(raw: RawConfig, origin: string, problems: string[]): Config {
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
    const ladder = t.ladder === undefined ? undefined : ladderOf(t, at, params, t.clusters.map((a) => clusters.get(a)).filter((c): c is ClusterConfig => c !== undefined), problems);
    costBudgetProblems(t, name, ladder, clusters, raw.costBudget, problems);
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
      ...(ladder !== undefined && { ladder }),
    });
  }

  const ruleNames = new Set<string>();
  raw.rules.forEach((rule, i) => {
    const at = `rules.${i}`;
    if (ruleNames.has(rule.name)) problems.push(`${at}.name: ${rule.name} is used by another rule`);
    ruleNames.add(rule.name);
    const template = templates.get(rule.scale.template);
    if (!clusters.has(rule.scale.cluster)) problems.push(`${at}.scale.cluster: unknown cluster ${JSON.stringify(rule.scale.cluster)}`);
    if (template === undefined) problems.push(`${at}.scale.template: unknown template ${JSON.stringify(rule.scale.template)}`);
    else if (!template.clusters.includes(rule.scale.cluster)) {
      problems.push(`${at}.scale.template: template ${template.name} may scale ${template.clusters.join(', ')}, not ${rule.scale.cluster}`);
    }
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

  replayFloorProblems(raw).forEach((p) => problems.push(p));
  currencyProblems(raw).forEach((p) => problems.push(p));

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
    capacity: raw.capacity,
    pricing: raw.pricing,
    ...(raw.health !== undefined && { health: raw.health }),
  };
}

/**
 * A template's ladder, checked: an alternative may replace only values the template itself sets at
 * paths it lists as `overridable`, with a value of the same kind, and never where an event's param
 * writes (the sender's choice and the rung's would fight); a zone must be in every region the
 * template scales. So every rung is the template with a few values swapped, never a wider request.
 */
function ladderOf(t: RawConfig['templates'][string], at: string, params: ReadonlyMap<string, ParamSpec>, clusters: readonly ClusterConfig[], problems: string[]): Ladder | undefined {
  const ladder = t.ladder!;
  const before = problems.length;
  const para = t.runInstancePara as Record<string, unknown>;
  const overridable = new Map<string, readonly (string | number)[]>();
  ladder.overridable.forEach((path, i) => {
    const segments = parsePath(path);
    const key = String(segments[0]);
    const where = `${at}.ladder.overridable.${i}`;
    if ((FUNCTION_OWNED_RUN_INSTANCE_PARA_KEYS as readonly string[]).includes(key)) return void problems.push(`${where}: ${path} is written by the function itself`);
    if (!(RUN_INSTANCE_PARA_KEYS as readonly string[]).includes(key)) return void problems.push(`${where}: ${path}: ${key} is not a RunInstancePara key`);
    const forbidden = segments.find(isForbiddenSegment);
    if (forbidden !== undefined) return void problems.push(`${where}: ${path}: segment ${String(forbidden)} is not allowed`);
    if (valueAt(para, segments) === undefined) {
      return void problems.push(`${where}: ${path}: the template sets no value there; a rung may only replace what the template itself sets`);
    }
    for (const spec of params.values()) {
      const clash = spec.writes.find((w) => w.target === 'RunInstancePara' && overlaps(w.segments, segments));
      if (clash !== undefined) problems.push(`${where}: ${path}: params.${spec.name} writes ${clash.path}; a rung must not replace what an event chooses`);
    }
    overridable.set(path, segments);
  });
  const alternatives = ladder.alternatives.map((alternative, i) => {
    const where = `${at}.ladder.alternatives.${i}`;
    const sets = Object.entries(alternative).flatMap(([path, value]) => {
      const segments = overridable.get(path);
      if (segments === undefined) {
        const key = path.split('.')[0]!;
        problems.push(
          (RUN_INSTANCE_PARA_KEYS as readonly string[]).includes(key) && !ladder.overridable.includes(path)
            ? `${where}.${path}: is not overridable; ladder.overridable lists ${ladder.overridable.join(', ')} (an alternative may not widen what the template allows)`
            : `${where}.${path}: unknown key; an alternative replaces values at the paths ladder.overridable lists: ${ladder.overridable.join(', ')}`,
        );
        return [];
      }
      const current = valueAt(para, segments);
      // null removes the template's value: e.g. InstanceMarketOptions on a rung that is not spot.
      if (value !== null && jsonKind(value) !== jsonKind(current)) {
        problems.push(`${where}.${path}: must be a ${jsonKind(current)} like the template's ${JSON.stringify(current)}, got ${JSON.stringify(value)}`);
        return [];
      }
      if (path === 'Placement.Zone') {
        for (const cluster of clusters) {
          if (!String(value).startsWith(`${cluster.region}-`)) problems.push(`${where}.${path}: zone ${String(value)} is not in region ${cluster.region} of cluster ${cluster.alias}`);
        }
      }
      return [{ path, segments, value }];
    });
    if (sets.length > 0 && sets.every((set) => JSON.stringify(set.value) === JSON.stringify(valueAt(para, set.segments)))) {
      problems.push(`${where}: replaces nothing: every value is the template's own`);
    }
    return { sets };
  });
  if (problems.length > before) return undefined;
  // Each rung rendered must still be a request CVM can take (cvm_models.d.ts, RunInstancesRequest).
  alternatives.forEach((alternative, i) => {
    const rendered = structuredClone(para);
    for (const set of alternative.sets) {
      if (set.value === null) deleteAt(rendered, set.segments);
      else writeAt(rendered, set.segments, set.value);
    }
    runInstanceParaProblems(rendered).forEach((p) => problems.push(`${at}.ladder.alternatives.${i}: ${p}`));
  });
  return problems.length > before ? undefined : { overridable: ladder.overridable, alternatives };
}

/**
 * What CVM requires of a RunInstancePara's charge type (cvm_models.d.ts, RunInstancesRequest):
 * InstanceMarketOptions is required for SPOTPAID and applies to nothing else; PREPAID requires
 * InstanceChargePrepaid. Checked for every rung of a ladder, where a charge type is swapped.
 */
function runInstanceParaProblems(para: Record<string, unknown>): string[] {
  const chargeType = typeof para.InstanceChargeType === 'string' ? para.InstanceChargeType : DEFAULT_CHARGE_TYPE;
  const problems: string[] = [];
  if (chargeType === 'SPOTPAID' && para.InstanceMarketOptions === undefined) problems.push('a SPOTPAID rung needs InstanceMarketOptions (spot options)');
  if (chargeType !== 'SPOTPAID' && para.InstanceMarketOptions !== undefined) {
    problems.push(`a ${chargeType} rung must not carry the template's InstanceMarketOptions (spot options): list InstanceMarketOptions in overridable and set it to null here`);
  }
  if (chargeType === 'PREPAID' && para.InstanceChargePrepaid === undefined) problems.push('a PREPAID rung needs InstanceChargePrepaid (its period)');
  return problems;
}

/**
 * With a money budget on a cluster, every rung of every template that scales it must buy with a
 * charge type the budget has a limit for: a prepaid rung on a budget with only `hourly` would be
 * refused at every alarm, so it is refused here, naming the key to set.
 */
function costBudgetProblems(
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

/** One account, one billing currency: a deployment budget and a cluster's must name the same one. */
function currencyProblems(raw: RawConfig): string[] {
  const deployment = raw.costBudget;
  if (deployment === undefined) return [];
  return Object.entries(raw.clusters)
    .filter(([, c]) => c.costBudget !== undefined && c.costBudget.currency !== deployment.currency)
    .map(([alias, c]) => `clusters.${alias}.costBudget.currency: ${c.costBudget!.currency} differs from costBudget.currency ${deployment.currency}; prices come in the account's one billing currency`);
}

/** The template's own value at `segments` (own properties only: nothing inherited counts as set). */
function valueAt(root: unknown, segments: readonly (string | number)[]): unknown {
  let node = root;
  for (const segment of segments) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** One path is a prefix of the other: writing either changes the other. */
function overlaps(a: readonly (string | number)[], b: readonly (string | number)[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function jsonKind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'list' : typeof value === 'object' ? 'object' : typeof value;
}

/**
 * A signed request is accepted while its timestamp is within `toleranceSeconds` of the function's
 * clock, either way: a request stamped up to that far ahead verifies until twice that after it
 * first arrived. Its event must be remembered at least that long, or a replay after the record
 * expired would be handled again as new (and, once CVM forgets the ClientToken, buy again).
 */
function replayFloorProblems(raw: RawConfig): string[] {
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

/** One line per problem: `path.to.key: what was expected`, with a spelling hint for unknown keys. */
function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union') {
      // Report the branch that got furthest (deepest path); e.g. `auth: {bearer: {tokenEnvv}}`
      // should talk about tokenEnvv, not about "expected 'none'".
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      if (depth(best) === 0) {
        lines.push(`${dotted(path)}: ${describeMissing(issue.input) ?? 'has the wrong form'}; ${issue.message === 'Invalid input' ? 'see the config reference in README.md' : issue.message}`);
      } else {
        lines.push(...formatIssues(best, path));
      }
    } else if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        lines.push(`${dotted([...path, key])}: unknown key${hintFor(key, issue)}`);
      }
    } else if (issue.code === 'invalid_key') {
      lines.push(`${dotted(path)}: invalid name: ${issue.issues.map((i) => i.message).join('; ')}`);
    } else if (isMissing(issue) && issue.code === 'invalid_type') {
      lines.push(`${dotted(path)}: is required (expected ${issue.expected})`);
    } else {
      lines.push(`${dotted(path)}: ${issue.message}`);
    }
  }
  return lines;
}

function depth(branch: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...branch.map((i) => i.path.length + (i.code === 'unrecognized_keys' ? 1 : 0)));
}

function describeMissing(input: unknown): string | undefined {
  return input === undefined ? 'is required' : undefined;
}


/**
 * Every key the schema knows, for spelling hints: collected from the schema itself, so a key added
 * there is hinted without a second list to keep in step. RunInstancePara is a record checked
 * against CVM's parameter list, so that list is added.
 */
let knownKeys: readonly string[] | undefined;
const KNOWN_KEYS = (): readonly string[] => (knownKeys ??= [...schemaKeys(schema().configSchema), ...RUN_INSTANCE_PARA_KEYS]);

function schemaKeys(schema: z.ZodType, found = new Set<string>()): Set<string> {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const visit = (inner: unknown) => {
    if (inner !== undefined && inner !== null) schemaKeys(inner as z.ZodType, found);
  };
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        found.add(key);
        visit(value);
      }
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      visit(def.innerType);
      break;
    case 'union':
      for (const option of def.options as z.ZodType[]) visit(option);
      break;
    case 'array':
      visit(def.element);
      break;
    case 'record':
      visit(def.valueType);
      break;
    case 'pipe':
      visit(def.in);
      visit(def.out);
      break;
  }
  return found;
}

function hintFor(key: string, issue: z.core.$ZodIssue): string {
  // A key near a known one is almost always a typo; name the likely intent.
  const close = KNOWN_KEYS().find((known) => known !== key && editDistance(known.toLowerCase(), key.toLowerCase()) <= 2);
  if (close !== undefined) return `; did you mean ${close}?`;
  return issue.message.startsWith('Unrecognized key') ? '' : `; ${issue.message}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    // Maps are not frozen by Object.freeze; block the mutators so a request cannot change config.
    for (const method of ['set', 'delete', 'clear'] as const) {
      Object.defineProperty(value, method, { value: () => { throw new TypeError('config is read-only'); } });
    }
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}
