import type { RuleConfig } from '../config/load-config';
import { UnprocessableError } from '../errors';
import type { Sizing } from '../core/scale-out-request';
import type { Alert } from './alert';

/**
 * How many nodes a rule asks for on behalf of one alert. Pure.
 *
 *   count: 3                                   always 3
 *   count: { label | annotation, default }     a whole number the alert carries (else 422, as before)
 *   count: { steps: {...}, default }           by how far the alarm's value is beyond its threshold,
 *                                              the way AWS step adjustments size a step policy
 *                                              (docs.aws.amazon.com/autoscaling/ec2/APIReference/
 *                                              API_StepAdjustment.html: bounds relative to the
 *                                              threshold, the lower inclusive, the upper exclusive)
 *   count: { severity: {...}, default }        by a severity label
 *
 * For steps and severity, a value that cannot be read (missing, not a number, not beyond the
 * threshold, a severity the table does not list) gives the rule's `default`, and `fallback` says
 * why: the answer and the log line carry it.
 */
export type SizeResult = { readonly count?: number; readonly sizing?: Sizing } | UnprocessableError;

export function sizeFor(rule: RuleConfig, alert: Alert): SizeResult {
  const spec = rule.scale.count;
  if (spec === undefined) return {};
  if (typeof spec === 'number') return { count: spec };
  if ('steps' in spec) return bySteps(spec.steps, spec.default, alert);
  if ('severity' in spec) return bySeverity(spec.severity, spec.default, alert);
  const [kind, name] = spec.label !== undefined ? ['label', spec.label] : spec.annotation !== undefined ? ['annotation', spec.annotation] : [undefined, undefined];
  if (kind === undefined || name === undefined) return { count: spec.default };
  const from = kind === 'label' ? alert.labels : alert.annotations;
  const raw = Object.hasOwn(from, name) ? from[name] : undefined;
  if (raw === undefined || raw.trim() === '') return { count: spec.default };
  if (!/^\s*\d{1,4}\s*$/.test(raw)) {
    return new UnprocessableError('InvalidCount', `${kind} ${name} of the alert must be a whole number of nodes, got ${JSON.stringify(raw.slice(0, 32))}`);
  }
  return { count: Number(raw) };
}

type Steps = Extract<NonNullable<RuleConfig['scale']['count']>, { steps: unknown }>['steps'];
type Severity = Extract<NonNullable<RuleConfig['scale']['count']>, { severity: unknown }>['severity'];

function bySteps(steps: Steps, fallbackCount: number, alert: Alert): SizeResult {
  const fallback = (why: string): SizeResult => ({ count: fallbackCount, sizing: { by: 'steps', fallback: `${why}: the rule's default count ${fallbackCount}` } });
  const source = 'label' in steps.value ? `label ${steps.value.label}` : 'annotation' in steps.value ? `annotation ${steps.value.annotation}` : `value ${steps.value.value}`;
  const raw =
    'label' in steps.value
      ? own(alert.labels, steps.value.label)
      : 'annotation' in steps.value
        ? own(alert.annotations, steps.value.annotation)
        : alert.values === undefined
          ? undefined
          : own(alert.values, steps.value.value);
  if (raw === undefined) return fallback(`the alert has no ${source}`);
  const value = typeof raw === 'number' ? raw : parseNumber(raw);
  if (value === undefined) return fallback(`${source} is ${JSON.stringify(String(raw).slice(0, 32))}, not a number`);
  const threshold = steps.threshold ?? alert.threshold;
  if (threshold === undefined) return fallback('the alert sends no threshold and the rule sets none');
  const direction = steps.direction ?? alert.direction ?? 'above';
  const excess = direction === 'above' ? value - threshold : threshold - value;
  const step = steps.ranges.find((r) => excess >= r.from && (r.to === undefined || excess < r.to));
  const measured = { value, threshold, direction, excess: round(excess) };
  if (step === undefined) {
    return { count: fallbackCount, sizing: { by: 'steps', ...measured, fallback: `${source} ${value} is ${round(excess)} ${direction === 'above' ? 'above' : 'below'} the threshold ${threshold}, in no range: the rule's default count ${fallbackCount}` } };
  }
  return { count: step.count, sizing: { by: 'steps', ...measured, step: { from: step.from, ...(step.to !== undefined && { to: step.to }) } } };
}

function bySeverity(severity: Severity, fallbackCount: number, alert: Alert): SizeResult {
  const value = own(alert.labels, severity.label);
  if (value === undefined) return { count: fallbackCount, sizing: { by: 'severity', fallback: `the alert has no label ${severity.label}: the rule's default count ${fallbackCount}` } };
  const count = own(severity.counts, value);
  if (count === undefined) {
    return { count: fallbackCount, sizing: { by: 'severity', severity: value, fallback: `severity ${JSON.stringify(value.slice(0, 32))} is not in the rule's table (${Object.keys(severity.counts).join(', ')}): the rule's default count ${fallbackCount}` } };
  }
  return { count, sizing: { by: 'severity', severity: value } };
}

function own<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * A decimal number as alarms write them ("92.4", " 1e3 "); anything else (NaN, Infinity, "12%") is
 * not one. Longer than any number an alarm writes is not one either, before any regex runs; and the
 * pattern has one way to match each digit, so it is linear in what it reads.
 */
export function parseNumber(raw: string): number | undefined {
  if (raw.length > 64) return undefined;
  const text = raw.trim();
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
