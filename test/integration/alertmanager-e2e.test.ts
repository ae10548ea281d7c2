import type { ScfHandler } from '../../src/handler';
import { startFunctionUrlServer, type FunctionUrlServer } from '../../dev/local/function-url-server';
import { startAlertingStack, waitUntil, type AlertingStack } from '../support/alerting-stack';
import { startHarness, type Harness } from '../support/harness';

/**
 * A real Prometheus fires a real alert; a real Alertmanager delivers it, retries our 5xx, re-sends
 * the group every repeat_interval, then sends the resolution. The sandbox must see exactly one
 * scale-out for the firing episode, and none for the resolution.
 */
const TOKEN = 'am-e2e-token';

interface Delivery {
  readonly status: 'firing' | 'resolved';
  readonly answer: number;
  readonly body: Record<string, any>;
  readonly payload: Record<string, any>;
}

describe('a real Alertmanager', () => {
  let h: Harness;
  let server: FunctionUrlServer;
  let stack: AlertingStack | undefined;
  const deliveries: Delivery[] = [];

  beforeAll(async () => {
    h = await startHarness({ env: { ALERTMANAGER_TOKEN: TOKEN } });
    // The function as a Function URL would serve it, noting what Alertmanager sent and got.
    const recording: ScfHandler = async (event, context) => {
      const response = await h.function.handler(event, context);
      const payload = JSON.parse(event.body ?? '{}');
      deliveries.push({ status: payload.status, answer: response.statusCode, body: JSON.parse(response.body), payload });
      return response;
    };
    server = await startFunctionUrlServer(recording);
  });
  afterAll(async () => {
    await stack?.stop();
    await server.close();
    await h.close();
  });

  const waitFor = (what: string, condition: () => boolean, timeoutMs?: number) => waitUntil(what, condition, () => deliveries.map((d) => [d.status, d.answer]), stack, timeoutMs);

  it('adds nodes once per firing episode despite retries and repeats, and none on resolution', async () => {
    // TKE fails the first attempt for good (4 InternalErrors = all our retries): we answer 5xx, and
    // Alertmanager must retry.
    h.sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'CreateClusterInstances', times: 4 });
    stack = await startAlertingStack({
      webhookUrl: `${server.url}/hooks/alertmanager`,
      bearerToken: TOKEN,
      labels: { cluster: 'demo', severity: 'critical' },
      annotations: { scaleout_count: '2', summary: 'CPU pressure on demo' },
    });
    stack.setPressure(1);

    await waitFor('the scale-out', () => h.sandbox.createdCalls.length === 1);
    await waitFor('two repeats of the firing group', () => deliveries.filter((d) => d.status === 'firing' && d.body.results?.[0]?.status === 'replayed').length >= 2);
    stack.setPressure(0);
    await waitFor('the resolution', () => deliveries.some((d) => d.status === 'resolved'));

    const firing = deliveries.filter((d) => d.status === 'firing');
    expect(firing[0]!.answer).toBe(502); // our 5xx...
    const created = firing.find((d) => d.body.results?.[0]?.status === 'created')!;
    expect(created.answer).toBe(200); // ...which Alertmanager retried
    expect(created.body.results[0]).toMatchObject({ clusterId: 'cls-e55paxnt', template: 'small', count: 2 });
    for (const repeat of firing.filter((d) => d.body.results?.[0]?.status === 'replayed')) {
      expect(repeat.answer).toBe(200);
      expect(repeat.body.results[0].instanceIds).toEqual(created.body.results[0].instanceIds);
    }
    const resolved = deliveries.find((d) => d.status === 'resolved')!;
    expect(resolved.answer).toBe(200);
    expect(resolved.body.status).toBe('ignored');

    // Exactly one scale-out reached TKE with nodes; every attempt carried the same ClientToken.
    expect(h.sandbox.createdCalls).toHaveLength(1);
    expect(h.sandbox.instancesOf('cls-e55paxnt')).toHaveLength(3 + 2);
    const tokens = new Set(h.sandbox.calls.map((c) => JSON.parse(c.params.RunInstancePara as string).ClientToken));
    expect(tokens.size).toBe(1);
    // The event ID is the rule and the alert's episode (fingerprint/startsAt).
    const alert = created.payload.alerts[0];
    expect(created.body.results[0].eventId).toBe(`demo-critical/${alert.fingerprint}/${Math.floor(Date.parse(alert.startsAt) / 1000)}`);
  }, 90_000);
});
