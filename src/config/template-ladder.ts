import { deleteAt, isForbiddenSegment, parsePath, writeAt } from '../core/json-path';
import type { ClusterConfig, Ladder, ParamSpec } from '../core/model';
import { DEFAULT_CHARGE_TYPE } from '../core/price';
import { FUNCTION_OWNED_RUN_INSTANCE_PARA_KEYS, RUN_INSTANCE_PARA_KEYS } from '../tke/tke-params';
import type { RawConfig } from './schema';

/**
 * A template's ladder, checked: an alternative may replace only values the template itself sets at
 * paths it lists as `overridable`, with a value of the same kind, and never where an event's param
 * writes (the sender's choice and the rung's would fight); a zone must be in every region the
 * template scales. So every rung is the template with a few values swapped, never a wider request.
 */
export function ladderOf(t: RawConfig['templates'][string], at: string, params: ReadonlyMap<string, ParamSpec>, clusters: readonly ClusterConfig[], problems: string[]): Ladder | undefined {
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
