import type { RuleConfig } from '../../../src/config/load-config';
import type { Alert } from '../../../src/rules/alert';
import { planScaleOuts } from '../../../src/rules/plan';
import { sizeFor } from '../../../src/rules/sizing';
import { decideWarmUp, recordPurchase } from '../../../src/core/warm-up';

/**
 * Step sizes, severities, repeat periods and warm-up, as pure functions.
 *
 * Step bounds follow AWS step adjustments (docs.aws.amazon.com/autoscaling/ec2/APIReference/
 * API_StepAdjustment.html): relative to the alarm's threshold, the lower bound inclusive and the
 * upper exclusive ("greater than or equal to 50 and less than 60" for bounds 0 and 10 on a
 * threshold of 50).
 */
const T0 = Date.parse('2026-11-26T10:00:00Z');

const alert = (extra: Partial<Alert> = {}): Alert => ({
  status: 'firing',
  labels: { alertname: 'CPUHigh', cluster: 'demo', severity: 'critical' },
  annotations: {},
  episode: `f00d/${T0 / 1000}`,
  startedAt: T0,
  ...extra,
});

const stepsRule = (steps: Record<string, unknown> = {}, extra: Partial<RuleConfig> = {}): RuleConfig =>
  ({
    name: 'cpu',
    sources: ['alertmanager', 'grafana', 'tencent-monitor'],
    match: { labels: { alertname: 'CPUHigh' } },
    scale: {
      cluster: 'demo',
      template: 'small',
      count: {
        steps: { value: { annotation: 'value' }, threshold: 50, ranges: [{ from: 0, to: 10, count: 1 }, { from: 10, to: 20, count: 2 }, { from: 20, count: 5 }], ...steps },
        default: 1,
      },
    },
    perAlert: false,
    ...extra,
  }) as RuleConfig;

const countAt = (value: string, rule = stepsRule()) => sizeFor(rule, alert({ annotations: { value } }));

describe('step sizes', () => {
  it.each([
    ['50', 1, { from: 0, to: 10 }],   // exactly at the threshold: the first range (lower bound inclusive)
    ['59.99', 1, { from: 0, to: 10 }],
    ['60', 2, { from: 10, to: 20 }],  // upper bound exclusive: the next range
    ['69.5', 2, { from: 10, to: 20 }],
    ['70', 5, { from: 20 }],
    ['1000', 5, { from: 20 }],        // the last range is open-ended
  ])('value %s on a threshold of 50: %d nodes', (value, count, step) => {
    expect(countAt(value)).toEqual({ count, sizing: { by: 'steps', value: Number(value), threshold: 50, direction: 'above', excess: Math.round((Number(value) - 50) * 1e6) / 1e6, step } });
  });

  it('an alarm that fires below its threshold measures the other way', () => {
    const rule = stepsRule({ direction: 'below', threshold: 20 });
    expect(countAt('4', rule)).toMatchObject({ count: 2, sizing: { excess: 16, direction: 'below' } });
  });

  it.each([
    ['no such annotation', {}, 'the alert has no annotation value: the rule\'s default count 1'],
    ['not a number', { value: '92%' }, 'annotation value is "92%", not a number: the rule\'s default count 1'],
    ['NaN', { value: 'NaN' }, 'annotation value is "NaN", not a number'],
    ['Infinity', { value: 'Infinity' }, 'annotation value is "Infinity", not a number'],
    ['not beyond the threshold', { value: '42' }, 'annotation value 42 is -8 above the threshold 50, in no range: the rule\'s default count 1'],
  ])('a value that cannot be used (%s) gives the default count, saying why', (_name, annotations, fallback) => {
    const result = sizeFor(stepsRule(), alert({ annotations }));
    expect(result).toMatchObject({ count: 1, sizing: { by: 'steps', fallback: expect.stringContaining(fallback) } });
  });

  it('Tencent Cloud Monitor: the alarm\'s own threshold and direction (calcValue, calcType) and currentValue', () => {
    const rule = stepsRule({ value: { value: 'currentValue' }, threshold: undefined });
    const tcm = alert({ values: { currentValue: '97.5' }, threshold: 85, direction: 'above' });
    expect(sizeFor(rule, tcm)).toMatchObject({ count: 2, sizing: { value: 97.5, threshold: 85, excess: 12.5, step: { from: 10, to: 20 } } });
    // A rule's own threshold wins over the alarm's.
    expect(sizeFor(stepsRule({ value: { value: 'currentValue' }, threshold: 60 }), tcm)).toMatchObject({ count: 5 });
    // No threshold anywhere: the default, saying so.
    expect(sizeFor(rule, alert({ values: { currentValue: '97.5' } }))).toMatchObject({ count: 1, sizing: { fallback: expect.stringContaining('sends no threshold') } });
  });

  it('Grafana: a query\'s value by refId', () => {
    const rule = stepsRule({ value: { value: 'A' }, threshold: 80 });
    expect(sizeFor(rule, alert({ values: { A: 91.2, C: 1 } }))).toMatchObject({ count: 2, sizing: { value: 91.2, excess: 11.2 } });
  });
});

describe('severity sizes', () => {
  const rule = { ...stepsRule(), scale: { cluster: 'demo', template: 'small', count: { severity: { label: 'severity', counts: { warning: 1, critical: 3 } }, default: 1 } } } as RuleConfig;
  it('maps the severity label to a count', () => {
    expect(sizeFor(rule, alert())).toEqual({ count: 3, sizing: { by: 'severity', severity: 'critical' } });
    expect(sizeFor(rule, alert({ labels: { severity: 'warning' } }))).toMatchObject({ count: 1 });
  });
  it('an unlisted or missing severity gives the default, saying why', () => {
    expect(sizeFor(rule, alert({ labels: { severity: 'page' } }))).toMatchObject({ count: 1, sizing: { fallback: expect.stringContaining('severity "page" is not in the rule\'s table (warning, critical)') } });
    expect(sizeFor(rule, alert({ labels: {} }))).toMatchObject({ count: 1, sizing: { fallback: expect.stringContaining('has no label severity') } });
  });
});

describe('repeat periods', () => {
  const repeating = stepsRule({}, { repeat: { every: '10m', warmUp: '5m' } } as Partial<RuleConfig>);
  const plan = (now: number, extra: Partial<Alert> = {}) => planScaleOuts([repeating], 'alertmanager', [alert({ annotations: { value: '65' }, ...extra })], now).requests[0]!;

  it('the first period keeps the episode\'s event ID; each later period is a new event', () => {
    expect(plan(T0 + 60_000)).toMatchObject({ eventId: `cpu/f00d/${T0 / 1000}`, repeat: { period: 0, episode: `cpu/f00d/${T0 / 1000}`, warmUpSeconds: 300 } });
    expect(plan(T0 + 599_999).eventId).toBe(`cpu/f00d/${T0 / 1000}`);
    expect(plan(T0 + 600_000)).toMatchObject({ eventId: `cpu/f00d/${T0 / 1000}/p1`, repeat: { period: 1 }, reason: 'rule cpu: CPUHigh, still firing (period 1)' });
    expect(plan(T0 + 3_600_000).eventId).toBe(`cpu/f00d/${T0 / 1000}/p6`);
  });

  it('counts by how long the sender says the alarm has lasted when it says so (Tencent Cloud Monitor\'s durationTime), not by the clock', () => {
    expect(plan(T0 + 3_600_000, { elapsedMs: 650_000 }).eventId).toBe(`cpu/f00d/${T0 / 1000}/p1`);
  });

  it('a clock behind the alarm\'s start is period 0, never negative', () => {
    expect(plan(T0 - 60_000).eventId).toBe(`cpu/f00d/${T0 / 1000}`);
  });

  it('without repeat, one event per episode whatever the time', () => {
    const once = planScaleOuts([stepsRule()], 'alertmanager', [alert({ annotations: { value: '65' } })], T0 + 86_400_000).requests[0]!;
    expect(once.eventId).toBe(`cpu/f00d/${T0 / 1000}`);
    expect(once.repeat).toBeUndefined();
  });
});

describe('warm-up', () => {
  it('holds a repeat back until warm-up has passed since the last purchase', () => {
    const bought = recordPurchase(300, T0);
    expect(bought.write).toEqual({ kind: 'put', value: { lastPurchaseAt: T0 }, expiresAt: T0 + 300_000 });
    const state = { lastPurchaseAt: T0 };
    expect(decideWarmUp(state, 300, T0 + 120_000).result).toEqual({ kind: 'warming-up', retryAt: T0 + 300_000, detail: 'nodes bought for this alarm 120 s ago are still warming up (300 s)' });
    expect(decideWarmUp(state, 300, T0 + 300_000).result).toEqual({ kind: 'ready' });
    expect(decideWarmUp(undefined, 300, T0).result).toEqual({ kind: 'ready' });
  });
});

describe('hostile values', () => {
  it.each([
    ['a megabyte of digits and a letter', `${'1'.repeat(1_000_000)}x`],
    ['a megabyte of digits with a dot', `${'1'.repeat(500_000)}.${'1'.repeat(500_000)}x`],
    ['a megabyte of spaces', ' '.repeat(1_000_000)],
  ])('%s is not a number, read in linear time (the default count)', (_name, value) => {
    const rule = {
      name: 'cpu', sources: ['alertmanager'], match: { labels: { alertname: 'CPUHigh' } }, perAlert: false,
      scale: { cluster: 'demo', template: 'small', count: { steps: { value: { annotation: 'value' }, threshold: 0, ranges: [{ from: 0, count: 2 }] }, default: 1 } },
    } as unknown as RuleConfig;
    expect(sizeFor(rule, alert({ annotations: { value } }))).toMatchObject({ count: 1, sizing: { fallback: expect.stringContaining('not a number') } });
  });
});
