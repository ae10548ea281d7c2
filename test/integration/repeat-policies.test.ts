import { signGrafanaPayload } from '../../src/auth/grafana-hmac';
import type { FunctionUrlEvent } from '../../src/scf/event';
import { fixture, RELAXED_THROTTLE } from '../support/fixtures';
import { startHarness, type Harness } from '../support/harness';

/**
 * Alarms that keep firing, through the real handler and the sandbox, in each sender's own
 * payload format, with the function's clock moved instead of waiting.
 *
 * Tencent Cloud Monitor re-sends a firing alarm when its policy's notification is set to repeat
 * (`alarmNotifyType: continuousAlarm`, every `alarmNotifyPeriod`): "API callbacks also support
 * repeated alarms" (tencentcloud.com/document/product/248/38919). Each repeat carries the same
 * policy, object and firstOccurTime, and `durationTime`, how long the alarm has lasted.
 * Grafana re-sends a firing alert at the notification policy's repeat interval, with the same
 * fingerprint and startsAt, and each query's latest value in `values` (grafana/alerting's webhook
 * payload, test/fixtures/grafana-firing.json).
 */
const T0 = Date.parse('2026-11-26T10:00:00Z');
let h: Harness;
let clock = T0;
afterEach(async () => h?.close());

const tcmAlarm = (durationTime: number, currentValue: string, alarmStatus = '1') => {
  const alarm = fixture<Record<string, any>>('tencent-monitor-alarm.json');
  return {
    ...alarm,
    alarmStatus,
    durationTime: String(durationTime),
    firstOccurTime: '2026-11-26 18:00:00',
    alarmPolicyInfo: { ...alarm.alarmPolicyInfo, policyId: 'policy-sh5tep00', conditions: { ...alarm.alarmPolicyInfo.conditions, calcType: '>', calcValue: '85', currentValue, alarmNotifyType: 'continuousAlarm', alarmNotifyPeriod: 300 } },
  };
};

const deliverTcm = (payload: unknown, query: Record<string, string> = {}) =>
  h.invoke({ httpMethod: 'POST', path: '/hooks/tencent-monitor', headers: { 'content-type': 'application/json' }, queryString: { token: 'tcm-token', ...query }, body: JSON.stringify(payload) } as FunctionUrlEvent);

describe('Tencent Cloud Monitor continuousAlarm repeats, with the example\'s sh-cpu-steps policy (every 10m, warm-up 5m, steps on the alarm\'s own threshold)', () => {
  beforeEach(async () => {
    clock = T0;
    h = await startHarness({ env: { TENCENT_MONITOR_TOKEN: 'tcm-token' }, now: () => clock, sandbox: { clusters: [{ clusterId: 'cls-sh7k2m9q', region: 'ap-shanghai', maxNodes: 1000 }] }, config: (doc) => (doc.throttle = RELAXED_THROTTLE) });
  });

  it('one scale-out per period while it keeps firing, sized by how far it is beyond 85; repeats within a period replay; warm-up holds an early one; recovery stops it', async () => {
    // Period 0: 97 is 12 beyond 85: the 10-25 range, 2 nodes.
    const first = await deliverTcm(tcmAlarm(0, '97'));
    expect(first.json.results[0]).toMatchObject({ status: 'created', count: 2, period: 0, sizing: { by: 'steps', value: 97, threshold: 85, excess: 12, step: { from: 10, to: 25 } } });
    // The 5-minute repeat is in the same period: the same event, even with another value.
    clock += 300_000;
    expect((await deliverTcm(tcmAlarm(300, '120'))).json.results[0]).toMatchObject({ status: 'replayed', count: 2 });
    // Period 1 (durationTime 600): 120 is 35 beyond: 4 nodes, a new ClientToken.
    clock += 300_000;
    const second = await deliverTcm(tcmAlarm(600, '120'));
    expect(second.json.results[0]).toMatchObject({ status: 'created', count: 4, period: 1, eventId: expect.stringMatching(/\/p1$/) });
    expect(second.json.results[0].clientToken).not.toBe(first.json.results[0].clientToken);
    // Period 2 arrives (durationTime 1200) only 2 minutes after period 1's purchase: warm-up.
    clock += 120_000;
    const early = await deliverTcm(tcmAlarm(1200, '130'));
    expect(early.statusCode).toBe(200); // Tencent Cloud Monitor gets 200 for anything a retry would not fix
    expect(early.json.results[0].error).toMatchObject({ code: 'Throttled', rule: 'warm-up' });
    expect(early.json.results[0].error.message).toContain('still warming up (300 s)');
    // Its next repeat, after the warm-up, in the same period: bought now.
    clock += 300_000;
    expect((await deliverTcm(tcmAlarm(1500, '130'))).json.results[0]).toMatchObject({ status: 'created', count: 4, period: 2 });
    // Recovered: nothing more.
    clock += 600_000;
    expect((await deliverTcm(tcmAlarm(2100, '80', '0'))).json).toMatchObject({ status: 'ignored' });
    expect(h.sandbox.createdCalls.map((c) => JSON.parse(c.params.RunInstancePara as string).InstanceCount)).toEqual([2, 4, 4]);
    // The log line says which period and step.
    expect(h.logLines.filter((l) => l.msg === 'scale-out decision' && l.outcome === 'created').map((l) => [l.period, (l.sizing as { step: unknown }).step])).toEqual([
      [0, { from: 10, to: 25 }],
      [1, { from: 25 }],
      [2, { from: 25 }],
    ]);
  });

  it('a value it cannot read gives the rule\'s default count, and the answer says so', async () => {
    const reply = await deliverTcm(tcmAlarm(0, 'n/a'));
    expect(reply.json.results[0]).toMatchObject({ status: 'created', count: 1, sizing: { by: 'steps', fallback: 'value currentValue is "n/a", not a number: the rule\'s default count 1' } });
  });

  it('?dryRun=true shows which step a value would take, buying nothing', async () => {
    const reply = await deliverTcm(tcmAlarm(0, '111'), { dryRun: 'true' });
    expect(reply.json.results[0]).toMatchObject({ status: 'dry-run', count: 4, sizing: { value: 111, excess: 26, step: { from: 25 } }, period: 0 });
    expect(h.sandbox.createdCalls).toHaveLength(0);
  });
});

describe('Grafana repeats of a firing alert, sized by a query\'s value', () => {
  const SECRET = 'grafana-secret';
  const startsAt = '2026-11-26T09:58:00Z';
  const firing = (valueA: number) => {
    const payload = fixture<Record<string, any>>('grafana-firing.json');
    payload.alerts[0].startsAt = startsAt;
    payload.alerts[0].values = { A: valueA, C: 1 };
    return JSON.stringify(payload);
  };
  const deliver = (body: string) =>
    h.invoke({ httpMethod: 'POST', path: '/hooks/grafana', headers: { 'content-type': 'application/json', 'x-grafana-alert-signature': signGrafanaPayload(SECRET, body) }, body } as FunctionUrlEvent);

  beforeEach(async () => {
    clock = T0;
    h = await startHarness({
      env: { GRAFANA_WEBHOOK_SECRET: SECRET },
      now: () => clock,
      config: (doc) => {
        doc.throttle = RELAXED_THROTTLE;
        delete doc.sources.grafana.auth.hmac.timestampHeader;
        doc.sources.grafana.auth.hmac.acceptReplays = true;
        doc.rules[0].scale.count = { steps: { value: { value: 'A' }, threshold: 80, ranges: [{ from: 0, to: 10, count: 1 }, { from: 10, count: 3 }] }, default: 1 };
        doc.rules[0].sources = ['grafana'];
        doc.rules[0].repeat = { every: '4m' };
      },
    });
  });

  it('each repeat interval past `every` is a new scale-out, sized by the latest value; repeats in between replay', async () => {
    // 2 minutes after startsAt: period 0. A=85: 5 beyond 80, 1 node.
    expect((await deliver(firing(85))).json.results[0]).toMatchObject({ status: 'created', count: 1, period: 0, sizing: { value: 85, excess: 5 } });
    clock += 60_000; // Grafana's repeat a minute later, still period 0, a higher value: a replay.
    expect((await deliver(firing(95))).json.results[0]).toMatchObject({ status: 'replayed', count: 1 });
    clock += 180_000; // 6 minutes after startsAt: period 1; A=95: 15 beyond, 3 nodes.
    expect((await deliver(firing(95))).json.results[0]).toMatchObject({ status: 'created', count: 3, period: 1 });
    expect(h.sandbox.createdCalls).toHaveLength(2);
  });
});
