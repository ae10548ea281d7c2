import type { ScfHandler } from '../../src/handler';
import { startFunctionUrlServer, type FunctionUrlServer } from '../../dev/local/function-url-server';
import { startAlertingStack, waitUntil, type AlertingStack } from '../support/alerting-stack';
import { startHarness, type Harness } from '../support/harness';
import { withNodeBudget } from '../support/fixtures';

/**
 * With a real Prometheus and a real Alertmanager: an alert that keeps firing, re-sent
 * every repeat_interval (1 s, shorter than the rule's `every` of 4 s), buys once per period until
 * the node budget stops it; the re-sends inside a period add nothing; resolving stops it. The
 * count is sized from the alert's value, which the Prometheus rule puts in an annotation
 * (`value: "{{ $value }}"`, the templating Prometheus documents for alerting rules).
 */
const TOKEN = 'am-repeat-token';

interface Delivery {
  readonly status: 'firing' | 'resolved';
  readonly answer: number;
  readonly body: Record<string, any>;
  readonly at: number;
}

describe.each([
  ['stops at the node budget', 3],
  ['stops when the alert resolves', 100],
] as const)('a real Alertmanager re-sending an alert that keeps firing: %s', (_name, maxNodesPerWindow) => {
  let h: Harness;
  let server: FunctionUrlServer;
  let stack: AlertingStack | undefined;
  const deliveries: Delivery[] = [];

  beforeAll(async () => {
    h = await startHarness({
      env: { ALERTMANAGER_TOKEN: TOKEN },
      config: (doc) => {
        withNodeBudget(doc, { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow });
        const rule = doc.rules[0];
        rule.sources = ['alertmanager'];
        rule.scale.count = { steps: { value: { annotation: 'value' }, threshold: 0, ranges: [{ from: 0, to: 5, count: 1 }, { from: 5, count: 2 }] }, default: 2 };
        rule.repeat = { every: '4s' };
      },
    });
    const recording: ScfHandler = async (event, context) => {
      const response = await h.function.handler(event, context);
      const payload = JSON.parse(event.body ?? '{}');
      deliveries.push({ status: payload.status, answer: response.statusCode, body: JSON.parse(response.body), at: Date.now() });
      return response;
    };
    server = await startFunctionUrlServer(recording);
  });
  afterAll(async () => {
    await stack?.stop();
    await server?.close();
    await h?.close();
  });

  const waitFor = (what: string, condition: () => boolean, timeoutMs = 40_000) =>
    waitUntil(what, condition, () => deliveries.map((d) => [d.status, d.answer, d.body.results?.[0]?.status ?? d.body.results?.[0]?.error?.rule]), stack, timeoutMs);
  const results = () => deliveries.filter((d) => d.status === 'firing').map((d) => d.body.results?.[0]).filter(Boolean);

  const startStack = async () => {
    stack = await startAlertingStack({
      webhookUrl: `${server.url}/hooks/alertmanager`,
      bearerToken: TOKEN,
      labels: { cluster: 'demo', severity: 'critical' },
      annotations: { value: '{{ $value }}', summary: 'CPU pressure on demo' },
      groupWait: '1s',
      groupInterval: '1s',
      repeatInterval: '1s',
    });
    stack.setPressure(3);
  };

  const checkPurchases = (count: number, replaysSeen: boolean) => {
    expect(h.sandbox.createdCalls).toHaveLength(count);
    const created = results().filter((r) => r.status === 'created');
    // One per period: the episode's own event ID, then /p<n> (a period without a re-send in it is
    // skipped, never bought twice).
    expect(created).toHaveLength(count);
    const periods = created.map((r) => r.period as number);
    expect(periods).toEqual([...periods].sort((a, b) => a - b));
    expect(new Set(periods).size).toBe(count);
    // Period 0 keeps the episode's own event ID; period n adds /p<n>. (Period 0 itself is skipped
    // when Alertmanager's first send comes after it, which a slow start can make happen.)
    for (const r of created) expect(r.eventId.endsWith(r.period === 0 ? `/${r.eventId.split('/')[2]}` : `/p${r.period}`)).toBe(true);
    // Sized by the value 3: 3 beyond the threshold 0, the first range.
    for (const r of created) expect(r).toMatchObject({ count: 1, sizing: { by: 'steps', value: 3, excess: 3, step: { from: 0, to: 5 } } });
    // Alertmanager re-sent within periods (repeat_interval 1 s), and those were replays.
    if (replaysSeen) expect(results().filter((r) => r.status === 'replayed').length).toBeGreaterThan(0);
    // Each purchase its own ClientToken.
    expect(new Set(h.sandbox.createdCalls.map((c) => JSON.parse(c.params.RunInstancePara as string).ClientToken)).size).toBe(count);
    expect(deliveries.find((d) => d.status === 'resolved')!.body.status).toBe('ignored');
  };

  if (maxNodesPerWindow === 3) {
    it('one scale-out per period (every 4 s), sized by the value, until the node budget holds the next back', async () => {
      await startStack();
      await waitFor('three purchases', () => h.sandbox.createdCalls.length === 3);
      await waitFor('the budget holding a fourth period back', () => results().some((r) => r.error?.rule === 'node-budget'));
      const held = deliveries.find((d) => d.body.results?.[0]?.error?.rule === 'node-budget')!;
      expect(held.answer).toBe(429);
      stack!.setPressure(0);
      await waitFor('the resolution', () => deliveries.some((d) => d.status === 'resolved'));
      checkPurchases(3, true);
    }, 90_000);
  } else {
    it('one scale-out per period while it fires, and none once it has resolved', async () => {
      await startStack();
      await waitFor('two purchases', () => h.sandbox.createdCalls.length === 2);
      stack!.setPressure(0);
      await waitFor('the resolution', () => deliveries.some((d) => d.status === 'resolved'));
      const atResolution = h.sandbox.createdCalls.length;
      // Two more periods pass: nothing is bought for an alert that no longer fires.
      await new Promise((r) => setTimeout(r, 8_000));
      expect(h.sandbox.createdCalls.length).toBe(atResolution);
      // (Whether a re-send fell inside a period before the resolution depends on timing here; the
      // budget case above waits long enough to see them.)
      checkPurchases(atResolution, false);
      expect(deliveries.filter((d) => d.status === 'resolved').every((d) => d.answer === 200)).toBe(true);
    }, 90_000);
  }
});
