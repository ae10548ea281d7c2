import type { FunctionUrlEvent } from '../../src/http/scf-event';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, REPO_ROOT } from '../support/fixtures';
import { startHarness, type Harness } from '../support/harness';

/** Tencent Cloud Monitor's alarm callback through the real handler, in the documented payload shape. */
const alarm = fixture<Record<string, any>>('tencent-monitor-alarm.json');
const TOKEN = 'tcm-token';

const deliver = (h: Harness, payload: unknown, query: Record<string, string> = { token: TOKEN }, headers: Record<string, string> = {}) => {
  const event: FunctionUrlEvent = {
    httpMethod: 'POST',
    path: '/hooks/tencent-monitor',
    headers: { 'content-type': 'application/json', ...headers },
    queryString: query,
    body: JSON.stringify(payload),
  };
  return h.invoke(event);
};

describe('Tencent Cloud Monitor sender', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env: { TENCENT_MONITOR_TOKEN: TOKEN } });
  });
  afterEach(() => h.close());

  it('maps an alarm of the policy to the rule cluster, template and count', async () => {
    const reply = await deliver(h, alarm);
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toMatchObject({
      status: 'created',
      results: [{ status: 'created', eventId: expect.stringMatching(/^demo-tcm\/policy-n4exeh88\/[0-9a-f]{12}\/20261125153000$/), clusterId: 'cls-e55paxnt', template: 'small', count: 1 }],
    });
  });

  it('treats a repeat of the same alarm (same policy, object, first-occur time) as the same event', async () => {
    const first = await deliver(h, alarm);
    const repeat = await deliver(h, { ...alarm, sessionId: 'another-session', durationTime: 420, alarmPolicyInfo: { ...alarm.alarmPolicyInfo, conditions: { ...alarm.alarmPolicyInfo.conditions, currentValue: '95' } } });
    expect(repeat.json.results[0]).toMatchObject({ status: 'replayed', instanceIds: first.json.results[0].instanceIds });
    // A new episode (new first-occur time) or another object is a new event.
    const next = await deliver(h, { ...alarm, firstOccurTime: '2026-11-25 18:00:00' });
    const other = await deliver(h, { ...alarm, alarmObjInfo: { ...alarm.alarmObjInfo, dimensions: { tke_cluster_instance_id: 'cls-nfjdk3n0' } } });
    expect(new Set([first, next, other].map((r) => r.json.results[0].eventId)).size).toBe(3);
  });

  it('acknowledges a recovery and alarms of other policies with 200 ignored', async () => {
    expect((await deliver(h, { ...alarm, alarmStatus: 0, recoverTime: '2026-11-25 15:40:00' })).json.status).toBe('ignored');
    const other = await deliver(h, { ...alarm, alarmPolicyInfo: { ...alarm.alarmPolicyInfo, policyId: 'policy-zzzzzzzz' } });
    expect(other.json).toMatchObject({ status: 'ignored', ignored: [{ reason: 'no-rule' }] });
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('answers a throttled alarm with 200 (its 3 quick retries could not help) and 5xx only when a retry could', async () => {
    await h.close();
    h = await startHarness({ env: { TENCENT_MONITOR_TOKEN: TOKEN }, config: (doc) => (doc.throttle = { cooldownSeconds: 300 }) });
    await deliver(h, alarm);
    const throttled = await deliver(h, { ...alarm, firstOccurTime: '2026-11-25 16:00:00' });
    expect(throttled.statusCode).toBe(200);
    expect(throttled.json).toMatchObject({ status: 'throttled', results: [{ error: { code: 'Throttled', rule: 'cooldown' } }] });

    await h.close();
    h = await startHarness({ env: { TENCENT_MONITOR_TOKEN: TOKEN } });
    h.sandbox.injectFault({ kind: 'http', status: 502, times: 8 });
    expect((await deliver(h, alarm)).statusCode).toBe(502);
  });

  it.each([
    ['no token', {}],
    ['a wrong token', { token: 'nope' }],
    ['the token under another name', { key: TOKEN }],
  ])('refuses %s with 401', async (_name, query) => {
    expect((await deliver(h, alarm, query)).statusCode).toBe(401);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('names what is missing from a body that is not an alarm callback', async () => {
    const reply = await deliver(h, { alarmStatus: '1', alarmObjInfo: {} });
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error.message).toBe('not a Tencent Cloud Monitor alarm callback: alarmPolicyInfo: is required');
  });

  it('serves the sample SCF event in events/', async () => {
    const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events', 'tencent-monitor-function-url.json'), 'utf8')) as FunctionUrlEvent;
    const reply = await h.invoke({ ...event, queryString: { token: TOKEN } });
    expect(reply.json.results[0].status).toBe('created');
  });

  it('accepts basic auth from the callback URL when configured', async () => {
    await h.close();
    h = await startHarness({ env: { TCM_PASSWORD: 'pw' }, config: (doc) => (doc.sources['tencent-monitor'].auth = { basic: { username: 'monitor', passwordEnv: 'TCM_PASSWORD' } }) });
    const basic = (pass: string) => ({ authorization: `Basic ${Buffer.from(`monitor:${pass}`).toString('base64')}` });
    expect((await deliver(h, alarm, {}, basic('pw'))).statusCode).toBe(200);
    expect((await deliver(h, alarm, {}, basic('px'))).statusCode).toBe(401);
  });
});
