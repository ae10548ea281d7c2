import type { FunctionUrlEvent } from '../../src/scf/event';
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

// The event alarm's shape follows Tencent's callback doc ("告警回调说明",
// cloud.tencent.com/document/product/248/38209 and 248/50397): alarmType "event", conditions with
// productName/eventName instead of a metric, a dimension holding a nested objDetail object. The
// doc's own sample page could be read here only in excerpts, so the nested object's fields are as
// captured callbacks are described; policyId and namespace are left out as captures lack them.
const eventAlarm = {
  sessionId: 'xxxxxxxx-event-1',
  alarmStatus: 1,
  alarmType: 'event',
  alarmObjInfo: {
    region: 'gz',
    dimensions: {
      unInstanceId: 'ins-o9p3rg3m',
      objDetail: { id: 'ins-o9p3rg3m', name: 'demo-node-1', lanIp: '10.0.1.17', zone: 'ap-guangzhou-4' },
    },
  },
  alarmPolicyInfo: {
    policyType: 'cvm_device',
    policyName: 'node reboots',
    policyTypeCName: 'CVM - basic',
    conditions: { productName: 'cvm', productShowName: '云服务器', eventName: 'guest_reboot', eventShowName: '服务器重启' },
  },
  firstOccurTime: '2026-11-25 16:00:00',
  durationTime: 0,
  recoverTime: '0',
};

describe('Tencent Cloud Monitor: event alarms, the URL check and its 5 s', () => {
  let h: Harness;
  afterEach(() => h.close());

  const withRules = (rules: Array<Record<string, unknown>>, extra: (doc: Record<string, any>) => void = () => undefined) =>
    startHarness({
      env: { TENCENT_MONITOR_TOKEN: TOKEN },
      config: (doc) => {
        doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 1000 };
        doc.rules = rules;
        extra(doc);
      },
    });

  it('matches an event alarm by event name and product, without policyId or namespace, with a numeric alarmStatus', async () => {
    h = await withRules([{ name: 'reboots', sources: ['tencent-monitor'], match: { eventName: 'guest_reboot', product: 'cvm' }, scale: { cluster: 'demo', template: 'small', count: 1 } }]);
    const reply = await deliver(h, eventAlarm);
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toMatchObject({ sessionId: 'xxxxxxxx-event-1', retCode: 0, status: 'created', results: [{ status: 'created', eventId: expect.stringMatching(/^reboots\/guest_reboot\/[0-9a-f]{12}\/20261125160000$/) }] });
    // The same alarm repeated, its objDetail's keys in another order: the same event.
    const { objDetail } = eventAlarm.alarmObjInfo.dimensions;
    const reordered = { ...eventAlarm, alarmStatus: '1', alarmObjInfo: { ...eventAlarm.alarmObjInfo, dimensions: { objDetail: { zone: objDetail.zone, lanIp: objDetail.lanIp, name: objDetail.name, id: objDetail.id }, unInstanceId: 'ins-o9p3rg3m' } } };
    expect((await deliver(h, reordered)).json.results[0]).toMatchObject({ status: 'replayed', eventId: reply.json.results[0].eventId });
    // Another event of the product does not match.
    const other = await deliver(h, { ...eventAlarm, alarmPolicyInfo: { ...eventAlarm.alarmPolicyInfo, conditions: { ...eventAlarm.alarmPolicyInfo.conditions, eventName: 'disk_readonly' } } });
    expect(other.json).toMatchObject({ status: 'ignored', retCode: 0 });
  });

  it('matches a namespace without regard to case (the docs write QCE/TKE2 and qce/cvm)', async () => {
    h = await withRules([{ name: 'any-cvm', sources: ['tencent-monitor'], match: { namespace: 'QCE/CVM' }, scale: { cluster: 'demo', template: 'small', count: 1 } }]);
    const cvm = { ...alarm, alarmObjInfo: { ...alarm.alarmObjInfo, namespace: 'qce/cvm' } };
    expect((await deliver(h, cvm)).json.status).toBe('created');
  });

  it('answers the console\'s check of a saved URL with 200 when the token is right, 401 when not', async () => {
    h = await withRules([]);
    const check = (method: string, body: string, query: Record<string, string> = { token: TOKEN }) =>
      h.invoke({ httpMethod: method, path: '/hooks/tencent-monitor', headers: {}, queryString: query, body } as FunctionUrlEvent);
    for (const [method, body] of [['GET', ''], ['HEAD', ''], ['POST', ''], ['POST', '{}']] as const) {
      const reply = await check(method, body);
      expect(reply.statusCode).toBe(200);
      expect(reply.json).toEqual({ retCode: 0, status: 'verified' });
    }
    expect((await check('GET', '', { token: 'wrong' })).statusCode).toBe(401);
    expect((await check('GET', '', {})).statusCode).toBe(401);
    expect((await check('PUT', '')).statusCode).toBe(405);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('cuts a slow TKE call to answer well within the push\'s 5 s: 504, and the retry goes on with the same ClientToken', async () => {
    h = await withRules([{ name: 'demo-tcm', sources: ['tencent-monitor'], match: { policyId: 'policy-n4exeh88' }, scale: { cluster: 'demo', template: 'small', count: 1 } }]);
    h.sandbox.injectFault({ kind: 'delay', ms: 8000, action: 'CreateClusterInstances' });
    // Uncut, the call would wait 8 s and succeed (the function has 10 s here).
    const slow = await deliver(h, alarm);
    expect(slow.statusCode).toBe(504);
    expect(slow.json.status).toBe('TkeTimeout');
    const retry = await deliver(h, alarm);
    expect(retry.json.results[0].status).toBe('created');
    expect(new Set(h.sandbox.createdCalls.flatMap((c) => c.instanceIds ?? [])).size).toBe(1);
  });
});
