import type { FunctionUrlEvent } from '../../src/scf/event';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, RELAXED_THROTTLE, REPO_ROOT } from '../support/fixtures';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';

/** The Alertmanager sender through the real handler, with payloads captured from a real Alertmanager 0.25. */
const firing = fixture<Record<string, any>>('alertmanager-firing.json');
const resolved = fixture<Record<string, any>>('alertmanager-resolved.json');
const TOKEN = 'am-token';

const deliver = (h: Harness, payload: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
  const event: FunctionUrlEvent = {
    httpMethod: 'POST',
    path: '/hooks/alertmanager',
    headers: { 'content-type': 'application/json', 'user-agent': 'Alertmanager/0.25.0', ...headers },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  };
  return h.invoke(event);
};

const withAlerts = (alerts: Array<Record<string, any>>) => ({ ...firing, alerts });
const alertOf = (overrides: Record<string, any>) => ({ ...firing.alerts[0], ...overrides, labels: { ...firing.alerts[0].labels, ...overrides.labels } });

describe('Alertmanager sender', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env: { ALERTMANAGER_TOKEN: TOKEN } });
  });
  afterEach(() => h.close());

  it('the purchase records what asked: the rule, the alert, its labels and its fingerprint episode', async () => {
    const reply = await deliver(h, firing);
    expect(reply.statusCode).toBe(200);
    const alert = firing.alerts[0];
    const listed = await h.invoke({ httpMethod: 'GET', path: '/purchases', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent);
    expect(listed.json.purchases[0].askedBy).toMatchObject({
      source: 'alertmanager',
      origin: { kind: 'alert', rule: 'demo-critical', alert: alert.labels.alertname, labels: alert.labels, episode: `${alert.fingerprint}/${Math.floor(Date.parse(alert.startsAt) / 1000)}` },
    });
  });

  it('scales the rule cluster with the template and the count from the annotation', async () => {
    const reply = await deliver(h, firing);
    expect(reply.statusCode).toBe(200);
    const alert = firing.alerts[0];
    expect(reply.json).toMatchObject({
      status: 'ok',
      results: [
        {
          status: 'created',
          eventId: `demo-critical/${alert.fingerprint}/${Math.floor(Date.parse(alert.startsAt) / 1000)}`,
          clusterId: 'cls-e55paxnt',
          template: 'small',
          count: 2,
        },
      ],
    });
    expect(JSON.parse(h.sandbox.createdCalls[0]!.params.RunInstancePara as string)).toMatchObject({ InstanceCount: 2, Placement: { Zone: 'ap-guangzhou-4' } });
    // The re-send of the group (repeat_interval) is a replay.
    expect((await deliver(h, firing)).json.results[0].status).toBe('replayed');
    expect(h.sandbox.createdCalls).toHaveLength(1);
  });

  // Alertmanager never re-sends a group answered 4xx (notify/webhook: only 5xx
  // and transport errors are retried), so a 422 for the whole group loses its valid scale-outs for
  // good. (Before: one alert with scaleout_count "lots" made the whole delivery a 422.)
  it('refuses only the alert whose count cannot be read; the rest of the group is scaled', async () => {
    await h.close();
    h = await startHarness({
      env: { ALERTMANAGER_TOKEN: TOKEN },
      config: (doc) => {
        doc.throttle = RELAXED_THROTTLE;
        doc.rules[0].perAlert = true;
      },
    });
    const good = alertOf({ fingerprint: '1111111111111111', annotations: { scaleout_count: '2' } });
    const bad = alertOf({ fingerprint: '2222222222222222', annotations: { scaleout_count: 'lots' } });
    const reply = await deliver(h, withAlerts([bad, good]));
    expect(reply.statusCode).toBe(200);
    expect(reply.json.status).toBe('partial');
    expect(reply.json.results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: 'created', count: 2 }),
        expect.objectContaining({ eventId: expect.stringMatching(/^demo-critical\/2222222222222222\//), error: expect.objectContaining({ code: 'InvalidCount', message: expect.stringContaining('got "lots"') }) }),
      ]),
    );
    expect(h.sandbox.createdCalls).toHaveLength(1);
    const line = h.logLines.at(-1)!;
    expect(line).toMatchObject({ outcome: 'mixed', status: 200 });
    expect(line.results).toEqual(expect.arrayContaining([expect.objectContaining({ outcome: 'rejected', error: expect.objectContaining({ code: 'InvalidCount' }) })]));
  });

  // Alertmanager's webhook_config max_alerts defaults to 0, no limit
  // (prometheus/alertmanager notify/webhook/webhook.go: truncateAlerts cuts only when maxAlerts != 0),
  // and it re-sends a failed notification at every group_interval (a failed send is not written to
  // the notification log, notify/notify.go SetNotifiesStage). A big group answered 413 would come
  // back forever. Alarm senders get SCF's own 6 MB limit; chat and script senders keep 64 KB.
  it('takes a group of 1,200 alerts (~0.5 MB, no max_alerts) as one scale-out; other senders keep their 64 KB limit', async () => {
    const alerts = Array.from({ length: 1200 }, (_, i) => alertOf({ fingerprint: (0x1000000 + i).toString(16).padStart(16, '0'), labels: { pod: `web-${i}` } }));
    const body = JSON.stringify(withAlerts(alerts));
    expect(body.length).toBeGreaterThan(320_000);
    const reply = await deliver(h, body);
    expect(reply.statusCode).toBe(200);
    expect(reply.json.results).toHaveLength(1);
    expect(reply.json.results[0].status).toBe('created');
    expect(h.sandbox.createdCalls).toHaveLength(1);

    const big = await h.postGeneric({ eventId: 'big', cluster: 'demo', template: 'small', reason: 'x'.repeat(70_000) });
    expect(big.statusCode).toBe(413);
  });

  it('acknowledges a resolution and unmatched alerts with 200 ignored, and logs them', async () => {
    const reply = await deliver(h, resolved);
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toEqual({ status: 'ignored', ignored: [{ episode: expect.stringMatching(/^[0-9a-f]{16}\/\d+$/), reason: 'resolved' }] });
    const warning = await deliver(h, withAlerts([alertOf({ labels: { severity: 'warning' } })]));
    expect(warning.json.ignored[0].reason).toBe('no-rule');
    expect(h.sandbox.calls).toHaveLength(0);
    expect(h.logLines.filter((l) => l.msg === 'scale-out decision').map((l) => [l.outcome, l.status])).toEqual([
      ['ignored', 200],
      ['ignored', 200],
    ]);
  });

  it('makes one scale-out for a group of firing alerts', async () => {
    const group = withAlerts([
      alertOf({ fingerprint: '1111111111111111', startsAt: '2026-11-25T07:00:00Z' }),
      alertOf({ fingerprint: '2222222222222222', startsAt: '2026-11-25T06:59:00Z' }),
      alertOf({ fingerprint: '3333333333333333', startsAt: '2026-11-25T07:01:00Z' }),
    ]);
    const reply = await deliver(h, group);
    expect(reply.json.results).toHaveLength(1);
    expect(reply.json.results[0].eventId).toBe(`demo-critical/2222222222222222/${Date.parse('2026-11-25T06:59:00Z') / 1000}`);
    expect(h.sandbox.createdCalls).toHaveLength(1);
  });

  it('answers 5xx when a scale-out may succeed on retry, so Alertmanager retries; 4xx when not', async () => {
    h.sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'CreateClusterInstances', times: 4 });
    const failed = await deliver(h, firing);
    expect(failed.statusCode).toBe(502);
    expect(failed.json.results[0]).toMatchObject({ error: { code: 'InternalError' } });
    expect((await deliver(h, firing)).json.results[0].status).toBe('created');

    h.sandbox.injectFault({ kind: 'error', code: 'InternalError.ImageIdNotFound', action: 'CreateClusterInstances' });
    const refused = await deliver(h, withAlerts([alertOf({ fingerprint: '4444444444444444' })]));
    expect(refused.statusCode).toBe(422);
  });

  it('answers a throttled alert with a final 429 (no retry loop) and logs the rule', async () => {
    await h.close();
    h = await startHarness({ env: { ALERTMANAGER_TOKEN: TOKEN }, config: (doc) => (doc.throttle = { cooldownSeconds: 300 }) });
    await deliver(h, firing);
    const next = await deliver(h, withAlerts([alertOf({ fingerprint: '5555555555555555' })]));
    expect(next.statusCode).toBe(429);
    expect(next.json.results[0].error).toMatchObject({ code: 'Throttled', rule: 'cooldown' });
    expect(h.logLines.at(-1)).toMatchObject({ outcome: 'throttled', throttledBy: 'cooldown', status: 429 });
  });

  it('answers 200 when one rule created nodes and another was refused for good', async () => {
    await h.close();
    h = await startHarness({
      env: { ALERTMANAGER_TOKEN: TOKEN },
      config: (doc) => {
        doc.throttle = RELAXED_THROTTLE;
        doc.rules.push({ name: 'bj', sources: ['alertmanager'], match: { labels: { cluster: 'demo-bj' } }, scale: { cluster: 'demo-bj', template: 'multi-disk', count: 99 } });
      },
    });
    const reply = await deliver(h, withAlerts([alertOf({}), alertOf({ fingerprint: '6666666666666666', labels: { cluster: 'demo-bj' } })]));
    expect(reply.statusCode).toBe(200);
    expect(reply.json.status).toBe('partial');
    expect(reply.json.results.map((r: any) => r.status ?? r.error.code)).toEqual(['created', 'CountOutOfRange']);
    const line = h.logLines.at(-1)!;
    expect(line).toMatchObject({ outcome: 'mixed', status: 200 });
    expect((line.results as unknown[]).length).toBe(2);
  });

  it('serves the sample SCF event in events/', async () => {
    const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events', 'alertmanager-function-url.json'), 'utf8')) as FunctionUrlEvent;
    const reply = await h.invoke({ ...event, headers: { ...event.headers, authorization: `Bearer ${TOKEN}` } });
    expect(reply.statusCode).toBe(200);
    expect(reply.json.results[0]).toMatchObject({ status: 'created', count: 2 });
  });

  it.each([
    ['a wrong token', { authorization: 'Bearer nope' }, 401],
    ['no token', {}, 401],
    ['basic auth where bearer is configured', { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }, 401],
  ])('refuses %s', async (_name, headers, status) => {
    expect((await deliver(h, firing, headers)).statusCode).toBe(status);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('names what is missing from a payload that is not Alertmanager-shaped', async () => {
    const reply = await deliver(h, { receiver: 'x', status: 'firing' });
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error.message).toBe('not the Alertmanager webhook payload: alerts: is required');
    const bad = await deliver(h, withAlerts([{ ...firing.alerts[0], fingerprint: undefined }]));
    expect(bad.json.error.message).toBe('not the Alertmanager webhook payload: alerts.0.fingerprint: is required');
  });

  it('accepts basic auth when configured, and answers 503 when its secret is unset', async () => {
    await h.close();
    const basic = (doc: Record<string, any>) => (doc.sources.alertmanager.auth = { basic: { username: 'alertmanager', passwordEnv: 'AM_PASSWORD' } });
    h = await startHarness({ env: { AM_PASSWORD: 'pw' }, config: basic });
    const header = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
    expect((await deliver(h, firing, header('alertmanager', 'pw'))).statusCode).toBe(200);
    expect((await deliver(h, firing, header('alertmanager', 'pW'))).statusCode).toBe(401);
    expect((await deliver(h, firing, header('root', 'pw'))).statusCode).toBe(401);
    await h.close();
    h = await startHarness({ config: basic });
    const unset = await deliver(h, firing, header('alertmanager', 'pw'));
    expect(unset.statusCode).toBe(503);
    expect(unset.json.error.message).toBe('sender alertmanager is not ready: its secret env var AM_PASSWORD is not set');
  });
});
