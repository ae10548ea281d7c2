import { configProblems, exampleConfigText } from '../../support/fixtures';

/** A persistent-alarm policy that cannot work is refused at cold start, naming the key. */
const problemsOf = (change: (doc: Record<string, any>) => void): string[] => configProblems(exampleConfigText(change));

/** The example's persistent-alarm rule (sh-cpu-steps). */
const policy = (doc: Record<string, any>) => doc.rules.find((r: { name: string }) => r.name === 'sh-cpu-steps');
const ranges = (doc: Record<string, any>) => policy(doc).scale.count.steps.ranges;

describe('a step table or repeat is refused when', () => {
  it.each<[string, (doc: Record<string, any>) => void, string]>([
    ['two ranges leave a gap', (doc) => (ranges(doc)[1].from = 12), 'rules.2.scale.count.steps.ranges.1.from: must be 10, where the range before ends: ranges may neither overlap nor leave a gap'],
    ['two ranges overlap', (doc) => (ranges(doc)[1].from = 5), 'rules.2.scale.count.steps.ranges.1.from: must be 10, where the range before ends'],
    ['a range before the last is open-ended', (doc) => delete ranges(doc)[0].to, 'rules.2.scale.count.steps.ranges.0.to: is required: only the last range may be open-ended'],
    ['a range ends where it starts', (doc) => (ranges(doc)[2].to = 25), 'rules.2.scale.count.steps.ranges.2.to: must be above from'],
    ['a range starts below the threshold', (doc) => (ranges(doc)[0].from = -5), 'rules.2.scale.count.steps.ranges.0.from: Too small'],
    [
      'the rule also hears a sender that sends no threshold, and sets none',
      (doc) => {
        policy(doc).sources = ['tencent-monitor', 'grafana'];
      },
      'rules.2.scale.count.steps.threshold: is required: only Tencent Cloud Monitor sends its own threshold, and this rule also hears grafana',
    ],
    [
      'a named value for Alertmanager, which sends none',
      (doc) => {
        policy(doc).sources = ['alertmanager'];
        policy(doc).scale.count.steps.threshold = 80;
      },
      'rules.2.scale.count.steps.value: Alertmanager sends no named values; take the value from a label or an annotation',
    ],
    ['a period that is not a duration', (doc) => (policy(doc).repeat.every = '10 minutes'), 'rules.2.repeat.every: must be a duration such as 30s, 10m or 1h'],
    ['a period of no time', (doc) => (policy(doc).repeat.every = '0s'), 'rules.2.repeat.every: must be from 1 s to 24 h'],
    ['an unknown key in repeat', (doc) => (policy(doc).repeat.evry = '10m'), 'rules.2.repeat.evry: unknown key; did you mean every?'],
    ['a severity table without severities', (doc) => (policy(doc).scale.count = { severity: { counts: {} } }), 'rules.2.scale.count.severity.counts: give at least one severity'],
  ])('%s', (_name, change, problem) => {
    expect(problemsOf(change).some((p) => p.startsWith(problem))).toBe(true);
  });
});
