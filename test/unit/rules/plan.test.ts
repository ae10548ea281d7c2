import type { RuleConfig } from '../../../src/config/load-config';
import { UnprocessableError } from '../../../src/errors';
import type { Alert } from '../../../src/rules/alert';
import { planScaleOuts } from '../../../src/rules/plan';

/** These rules do not repeat, so the clock changes nothing: any instant will do. */
const NOW = Date.parse('2026-11-26T10:00:00Z');

const rule = (overrides: Partial<RuleConfig> = {}): RuleConfig => ({
  name: 'demo-critical',
  sources: ['alertmanager', 'grafana'],
  match: { labels: { cluster: 'demo', severity: 'critical' } },
  scale: { cluster: 'demo', template: 'small', count: { annotation: 'scaleout_count', default: 1 } },
  perAlert: false,
  action: 'scale-out',
  ...overrides,
});

const alert = (fingerprint: string, startedAt: number, extra: Partial<Alert> = {}): Alert => ({
  status: 'firing',
  labels: { alertname: 'ClusterCPUHigh', cluster: 'demo', severity: 'critical' },
  annotations: {},
  episode: `${fingerprint}/${startedAt / 1000}`,
  startedAt,
  ...extra,
});

describe('planScaleOuts', () => {
  it('makes one scale-out per rule for a group, named after its oldest firing alert', () => {
    const plan = planScaleOuts([rule()], 'alertmanager', [alert('bbb', 2000_000), alert('aaa', 1000_000), alert('ccc', 3000_000)], NOW);
    expect(plan.requests).toHaveLength(1);
    expect(plan.requests[0]).toMatchObject({
      source: 'alertmanager',
      eventId: 'demo-critical/aaa/1000',
      cluster: 'demo',
      template: 'small',
      count: 1,
      reason: 'rule demo-critical: ClusterCPUHigh and 2 more firing',
    });
    expect(plan.ignored).toEqual([]);
  });

  it('keeps the event ID when the group changes but its oldest alert still fires', () => {
    const first = planScaleOuts([rule()], 'alertmanager', [alert('aaa', 1000_000)], NOW);
    const grown = planScaleOuts([rule()], 'alertmanager', [alert('aaa', 1000_000), alert('bbb', 2000_000)], NOW);
    const shrunk = planScaleOuts([rule()], 'alertmanager', [alert('aaa', 1000_000), alert('bbb', 2000_000, { status: 'resolved' })], NOW);
    expect(new Set([first, grown, shrunk].map((p) => p.requests[0]!.eventId))).toEqual(new Set(['demo-critical/aaa/1000']));
    // The oldest resolved while another fires: a new event, for the throttle to judge.
    const moved = planScaleOuts([rule()], 'alertmanager', [alert('aaa', 1000_000, { status: 'resolved' }), alert('bbb', 2000_000)], NOW);
    expect(moved.requests[0]!.eventId).toBe('demo-critical/bbb/2000');
    // The same alert firing again later: a new episode, a new event.
    expect(planScaleOuts([rule()], 'alertmanager', [alert('aaa', 9000_000)], NOW).requests[0]!.eventId).toBe('demo-critical/aaa/9000');
  });

  it('makes one per alert when the rule says perAlert', () => {
    const plan = planScaleOuts([rule({ perAlert: true })], 'alertmanager', [alert('aaa', 1000_000), alert('bbb', 2000_000)], NOW);
    expect(plan.requests.map((r) => r.eventId)).toEqual(['demo-critical/aaa/1000', 'demo-critical/bbb/2000']);
  });

  it('ignores resolved alerts and alerts no rule matches, saying why', () => {
    const plan = planScaleOuts([rule()], 'alertmanager', [
      alert('aaa', 1000_000, { status: 'resolved' }),
      alert('bbb', 2000_000, { labels: { cluster: 'demo', severity: 'warning' } }),
      alert('ccc', 3000_000, { labels: { severity: 'critical' } }),
    ], NOW);
    expect(plan.requests).toEqual([]);
    expect(plan.ignored).toEqual([
      { episode: 'aaa/1000', reason: 'resolved' },
      { episode: 'bbb/2000', reason: 'no-rule' },
      { episode: 'ccc/3000', reason: 'no-rule' },
    ]);
  });

  it('looks only at rules for this sender', () => {
    expect(planScaleOuts([rule({ sources: ['tencent-monitor'] })], 'alertmanager', [alert('aaa', 1000_000)], NOW).requests).toEqual([]);
  });

  it('accepts any of a list of values, and matches annotations and Tencent Cloud Monitor fields', () => {
    const listRule = rule({ match: { labels: { severity: ['critical', 'page'] }, annotations: { team: 'sre' } } });
    expect(planScaleOuts([listRule], 'alertmanager', [alert('a', 1000, { labels: { severity: 'page' }, annotations: { team: 'sre' } })], NOW).requests).toHaveLength(1);
    expect(planScaleOuts([listRule], 'alertmanager', [alert('a', 1000, { labels: { severity: 'page' }, annotations: { team: 'dev' } })], NOW).requests).toHaveLength(0);
    const tcm = rule({ sources: ['tencent-monitor'], match: { policyId: 'policy-n4exeh88', namespace: 'QCE/TKE2' } });
    const alarm = alert('p', 1000, { labels: {}, policyId: 'policy-n4exeh88', namespace: 'QCE/TKE2', metric: 'cpu_usage' });
    expect(planScaleOuts([tcm], 'tencent-monitor', [alarm], NOW).requests).toHaveLength(1);
    expect(planScaleOuts([tcm], 'tencent-monitor', [{ ...alarm, policyId: 'policy-other' }], NOW).requests).toHaveLength(0);
  });

  it('takes the count from the oldest alert, as a fixed number, a label or an annotation', () => {
    const byAnnotation = planScaleOuts([rule()], 'alertmanager', [alert('aaa', 1000_000, { annotations: { scaleout_count: '3' } }), alert('bbb', 2000_000, { annotations: { scaleout_count: '9' } })], NOW);
    expect(byAnnotation.requests[0]!.count).toBe(3);
    expect(planScaleOuts([rule({ scale: { cluster: 'demo', template: 'small', count: 4 } })], 'alertmanager', [alert('a', 1000)], NOW).requests[0]!.count).toBe(4);
    const byLabel = rule({ scale: { cluster: 'demo', template: 'small', count: { label: 'nodes', default: 2 } } });
    expect(planScaleOuts([byLabel], 'alertmanager', [alert('a', 1000, { labels: { cluster: 'demo', severity: 'critical', nodes: '5' } })], NOW).requests[0]!.count).toBe(5);
    expect(planScaleOuts([byLabel], 'alertmanager', [alert('a', 1000)], NOW).requests[0]!.count).toBe(2);
    expect(planScaleOuts([rule({ scale: { cluster: 'demo', template: 'small' } })], 'alertmanager', [alert('a', 1000)], NOW).requests[0]!.count).toBeUndefined();
  });

  it('refuses a count that is not a number with a 422 naming the annotation', () => {
    const plan = planScaleOuts([rule()], 'alertmanager', [alert('a', 1000, { annotations: { scaleout_count: 'lots' } })], NOW);
    expect(plan.requests).toEqual([]);
    const error = plan.refused[0]!.error;
    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.message).toBe('annotation scaleout_count of the alert must be a whole number of nodes, got "lots"');
    expect(plan.refused[0]!.request).toMatchObject({ eventId: 'demo-critical/a/1', cluster: 'demo', template: 'small' });
  });

  it('lets several rules each scale their own cluster from one delivery', () => {
    const other = rule({ name: 'bj', match: { labels: { cluster: 'demo-bj' } }, scale: { cluster: 'demo-bj', template: 'multi-disk' } });
    const plan = planScaleOuts([rule(), other], 'alertmanager', [alert('a', 1000), alert('b', 1000, { labels: { cluster: 'demo-bj' } })], NOW);
    expect(plan.requests.map((r) => [r.eventId, r.cluster])).toEqual([
      ['demo-critical/a/1', 'demo'],
      ['bj/b/1', 'demo-bj'],
    ]);
  });
});
