import { dingtalkSign } from '../../src/auth/dingtalk-sign';
import { encryptFeishu, feishuSignature } from '../../src/auth/feishu-crypto';
import { signGrafanaPayload } from '../../src/auth/grafana-hmac';
import { signSlackRequest } from '../../src/auth/slack-signature';
import { stripMentions } from '../../src/sources/chat/command';
import { isBase64Text } from '../../src/scf/event';
import type { FunctionUrlEvent, ScfHttpEvent } from '../../src/scf/event';
import { GENERIC_TOKEN, startHarness, type Harness } from '../support/harness';

/**
 * Hostile input through the real handler.
 *
 * Linear time: every sender and the SCF adapter get bodies at SCF's own request limit (6 MB; the
 * config's maxBodyBytes is raised to it here) shaped to make a backtracking regular expression or a
 * naive scan quadratic. No wall time is asserted: at these sizes quadratic work is about 10^12 steps
 * (hours), linear work is milliseconds, so the only question is whether each finishes at all within
 * Jest's per-test timeout. Before the fix, 64 KB of `<@` in a chat command or of line breaks in a
 * base64 body cost 3-13 s of CPU; at 6 MB the old code does not finish.
 *
 * Malformed envelopes: every wrong type, null included, is a 400 naming the field, never a 500.
 */
const SIX_MB = 6 * 1024 * 1024;
const SLACK_SECRET = 'slack-signing-secret';
const DINGTALK_SECRET = 'SECdingtalk-app-secret';
const FEISHU_TOKEN = 'feishu-verification-token';
const FEISHU_KEY = 'feishu-encrypt-key';
const env = {
  SLACK_SIGNING_SECRET: SLACK_SECRET,
  DINGTALK_APP_SECRET: DINGTALK_SECRET,
  FEISHU_VERIFICATION_TOKEN: FEISHU_TOKEN,
  FEISHU_ENCRYPT_KEY: FEISHU_KEY,
  ALERTMANAGER_TOKEN: 'am-token',
  GRAFANA_WEBHOOK_SECRET: 'grafana-secret',
  TENCENT_MONITOR_TOKEN: 'tcm-token',
  SCALEOUT_CHAT_ALLOW: 'U1,manager1234,ou_1',
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    env,
    config: (doc) => {
      doc.limits = { maxBodyBytes: SIX_MB };
      doc.throttle = { cooldownSeconds: 0, windowSeconds: 3600, maxNodesPerWindow: 10_000 };
    },
  });
});
afterAll(() => h.close());

const post = (source: string, body: string, headers: Record<string, string>, extra: Partial<FunctionUrlEvent> = {}) =>
  h.invoke({ httpMethod: 'POST', path: `/hooks/${source}`, headers, body, ...extra } as FunctionUrlEvent);

/** A DingTalk timestamp no other message in this file shares (a pair is valid for one message). */
let lastDingtalkTs = 0;
const freshDingtalkTs = () => String((lastDingtalkTs = Math.max(Date.now(), lastDingtalkTs + 1)));

/** About `bytes` of `unit` repeated. */
const fill = (unit: string, bytes: number) => unit.repeat(Math.floor(bytes / unit.length));

describe('linear time in the input, at the size limit', () => {
  jest.setTimeout(30_000);

  it('the adapter checks a base64 body of 4.5 MB of line breaks that ends badly in one pass (before auth)', async () => {
    const body = fill('\n', (SIX_MB * 3) / 4 - 16) + '!';
    const reply = await post('generic', body, { 'content-type': 'application/json' }, { isBase64Encoded: true });
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error).toMatchObject({ code: 'InvalidBody' });
    // The same check on the regular expression's other bad shape: padding then letters.
    expect(isBase64Text(`${fill('A', 1000)}==${fill(' ', 1000)}A`)).toBe(false);
    expect(isBase64Text(`${Buffer.from('scale out').toString('base64')}\r\n`)).toBe(true);
  });

  it('Slack: a command of 2 MB of "<@" with no ">" is parsed in one pass (a help reply)', async () => {
    const body = new URLSearchParams({ command: '/scaleout', text: fill('<@', 2_000_000), user_id: 'U1', channel_id: 'C1', trigger_id: 'trig-hostile-1' }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    const reply = await post('slack', body, { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(SLACK_SECRET, ts, body) });
    expect(reply.statusCode).toBe(200);
    expect(reply.json.text).toMatch(/^Not understood/);
  });

  it.each([
    ['"<@" with no ">"', fill('<@', 5_000_000)],
    ['"<@>" repeated', fill('<@>', 5_000_000)],
    ['"@" then spaces', fill('@ ', 5_000_000)],
    ['one 5 MB mention', `@${fill('x', 5_000_000)}`],
  ])('DingTalk: a 5 MB command of %s is parsed in one pass', async (_name, content) => {
    const body = JSON.stringify({ msgtype: 'text', text: { content }, msgId: `msg-hostile-${content.length}-${content.charCodeAt(1)}`, senderStaffId: 'manager1234' });
    const ts = freshDingtalkTs();
    const reply = await post('dingtalk', body, { 'content-type': 'application/json', timestamp: ts, sign: dingtalkSign(DINGTALK_SECRET, ts) });
    expect(reply.statusCode).toBe(200);
    expect(reply.json.text.content).toMatch(/^(Not understood|Usage)/);
  });

  it('Feishu: an encrypted 3 MB command of "<@" is decrypted and parsed in one pass', async () => {
    const event = {
      schema: '2.0',
      header: { event_id: 'ev-hostile-1', event_type: 'im.message.receive_v1', token: FEISHU_TOKEN },
      event: { sender: { sender_id: { open_id: 'ou_1' } }, message: { message_type: 'text', content: JSON.stringify({ text: fill('<@', 3_000_000) }) } },
    };
    const body = JSON.stringify({ encrypt: encryptFeishu(JSON.stringify(event), FEISHU_KEY) });
    const ts = String(Math.floor(Date.now() / 1000));
    const reply = await post('feishu', body, {
      'content-type': 'application/json',
      'x-lark-request-timestamp': ts,
      'x-lark-request-nonce': 'n',
      'x-lark-signature': feishuSignature(ts, 'n', FEISHU_KEY, body),
    });
    expect(reply.statusCode).toBe(200);
  });

  it('generic: 6 MB of nested arrays is a 400, not a stack overflow or a 500', async () => {
    const depth = 3_000_000;
    const reply = await post('generic', '['.repeat(depth) + ']'.repeat(depth), { 'content-type': 'application/json', authorization: `Bearer ${GENERIC_TOKEN}` });
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error).toMatchObject({ code: 'InvalidJson', message: expect.stringContaining('nested deeper than 64 levels') });
  });

  it('Alertmanager: a 6 MB group of 1,000 large firing alerts is planned in one pass: one scale-out for the rule', async () => {
    const alert = (i: number) => ({
      status: 'firing',
      labels: { alertname: 'NodePressure', cluster: 'demo', severity: 'critical', pod: `p-${i}`, filler: 'x'.repeat(5_500) },
      annotations: {},
      startsAt: new Date(Date.now() - 60_000 + i).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus/graph',
      fingerprint: i.toString(16).padStart(16, '0'),
    });
    const alerts = Array.from({ length: 1000 }, (_, i) => alert(i));
    const body = JSON.stringify({ version: '4', groupKey: '{}:{alertname="NodePressure"}', truncatedAlerts: 0, status: 'firing', receiver: 'scaleout', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am', alerts });
    expect(body.length).toBeGreaterThan(4_000_000);
    expect(body.length).toBeLessThan(SIX_MB);
    const reply = await post('alertmanager', body, { 'content-type': 'application/json', authorization: 'Bearer am-token' });
    expect(reply.statusCode).toBe(200);
    expect(reply.json.results).toHaveLength(1);
  });

  it('stripMentions is one pass: it keeps words and removes every mention form', () => {
    expect(stripMentions('<@U123|bob> /scaleout @_user_1 demo @ScaleBot 2')).toBe('  /scaleout   demo   2');
    expect(stripMentions('<@> a <@ b')).toBe('<  a <@ b');
  });
});

describe('malformed SCF envelopes are a 400 naming the field', () => {
  const base = { httpMethod: 'POST', path: '/hooks/generic', headers: { 'content-type': 'application/json', authorization: `Bearer ${GENERIC_TOKEN}` }, body: '{}' };
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['requestContext: null', { ...base, requestContext: null }, /requestContext must be an object/],
    ['requestContext: a string', { ...base, requestContext: 'x' }, /requestContext must be an object/],
    ['headers: null', { ...base, headers: null, body: '{}' }, /./],
    ['headers: a list', { ...base, headers: ['a'] }, /headers must be an object/],
    ['a header that is an object', { ...base, headers: { authorization: { a: 1 } } }, /headers\.authorization must be a string/],
    ['queryString: a number', { ...base, queryString: 5 }, /queryString must be an object/],
    ['a query value that is an object', { ...base, queryString: { token: { a: 1 } } }, /queryString\.token must be a string/],
    ['body: a number', { ...base, body: 42 }, /body must be a string/],
    ['body: an object', { ...base, body: { a: 1 } }, /body must be a string/],
    ['isBase64Encoded: a string', { ...base, isBase64Encoded: 'yes' }, /isBase64Encoded must be true or false/],
    ['httpMethod: null', { ...base, httpMethod: null }, /httpMethod and path are required strings/],
    ['path: a number', { ...base, path: 7 }, /httpMethod and path are required strings/],
    ['the event itself: null', null as unknown as Record<string, unknown>, /httpMethod and path/],
    ['the event itself: a list', [] as unknown as Record<string, unknown>, /httpMethod and path/],
  ])('%s', async (_name, event, message) => {
    const calls = h.sandbox.calls.length;
    const reply = await h.invoke(event as unknown as ScfHttpEvent);
    expect(reply.statusCode).toBeGreaterThanOrEqual(400);
    expect(reply.statusCode).toBeLessThan(500);
    expect(reply.json.error.message).toMatch(message);
    expect(h.sandbox.calls.length).toBe(calls);
  });
});

describe('payloads of the wrong shape are a 4xx from every sender, never a 500', () => {
  const ts = () => String(Math.floor(Date.now() / 1000));
  const signedFor: Record<string, (body: string) => Record<string, string>> = {
    generic: () => ({ 'content-type': 'application/json', authorization: `Bearer ${GENERIC_TOKEN}` }),
    alertmanager: () => ({ 'content-type': 'application/json', authorization: 'Bearer am-token' }),
    slack: (body) => {
      const t = ts();
      return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': t, 'x-slack-signature': signSlackRequest(SLACK_SECRET, t, body) };
    },
    grafana: (body) => {
      const t = ts();
      return { 'content-type': 'application/json', 'x-grafana-alerting-timestamp': t, 'x-grafana-alert-signature': signGrafanaPayload('grafana-secret', body, t) };
    },
    feishu: (body) => {
      const t = ts();
      return { 'content-type': 'application/json', 'x-lark-request-timestamp': t, 'x-lark-request-nonce': 'n', 'x-lark-signature': feishuSignature(t, 'n', FEISHU_KEY, body) };
    },
    dingtalk: () => {
      const t = freshDingtalkTs();
      return { 'content-type': 'application/json', timestamp: t, sign: dingtalkSign(DINGTALK_SECRET, t) };
    },
  };
  const shapes = ['null', '[]', '"text"', '42', 'true', '{}', '{"alerts":null}', '{"alerts":[null]}', '{"alerts":[{"status":null}]}', '{"text":null,"msgId":null}', '{"msgtype":"text","text":{"content":null},"msgId":"m"}', '{"eventId":null}', '{"eventId":"e","cluster":{},"template":[]}', '{"params":null,"eventId":"e","cluster":"demo","template":"small"}', 'command=&text=&user_id='];
  it.each(Object.keys(signedFor).flatMap((source) => shapes.map((body) => [source, body] as const)))('%s: %s', async (source, body) => {
    const calls = h.sandbox.calls.length;
    const reply = await post(source, body, signedFor[source]!(body));
    expect(reply.statusCode).toBeLessThan(500);
    const monitor = await h.invoke({ httpMethod: 'POST', path: '/hooks/tencent-monitor', headers: { 'content-type': 'application/json' }, queryString: { token: 'tcm-token' }, body } as FunctionUrlEvent);
    expect(monitor.statusCode).toBeLessThan(500);
    expect(h.sandbox.calls.length).toBe(calls);
  });
});

// Found by probing after the fact: a Tencent Cloud Monitor alarm whose objDetail nested ~2,250 deep
// passed the JSON parse but overflowed the stack further on (a 500). Every body is now refused past
// 64 levels, before parsing, so nothing recursive after it can overflow on input.
describe('deeply nested bodies', () => {
  const alarm = {
    sessionId: 's',
    alarmStatus: '1',
    alarmType: 'event',
    alarmObjInfo: { region: 'gz', dimensions: { objDetail: '__NESTED__' } },
    alarmPolicyInfo: { policyId: 'policy-n4exeh88', conditions: { eventName: 'guest_reboot', productName: 'cvm' } },
    firstOccurTime: '2026-11-25 16:00:00',
  };
  const nested = (depth: number) => JSON.stringify(alarm).replace('"__NESTED__"', '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

  it.each([10, 60, 65, 500, 2250, 2500, 100_000])('a Tencent Cloud Monitor alarm nested %i deep is answered, never a 500', async (depth) => {
    const reply = await h.invoke({ httpMethod: 'POST', path: '/hooks/tencent-monitor', headers: { 'content-type': 'application/json' }, queryString: { token: 'tcm-token' }, body: nested(depth) } as FunctionUrlEvent);
    expect(reply.statusCode).toBeLessThan(500);
    if (depth + 3 > 64) expect(reply.json.error).toMatchObject({ code: 'InvalidJson', message: 'body is nested deeper than 64 levels, more than any webhook payload' });
    else expect(reply.statusCode).toBe(200);
  });
});
