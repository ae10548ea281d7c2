import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScfHttpEvent } from '../../src/scf/event';
import { SANDBOX_CREDENTIAL } from '../../dev/sandbox/tke-sandbox';
import { fixture, marksFor, REPO_ROOT } from '../support/fixtures';
import { GENERIC_TOKEN, HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';

const seed2 = fixture<{ ClusterId: string; RunInstancePara: string; InstanceAdvancedSettings: Record<string, unknown> }>('seed-example-2.json');
let eventCounter = 0;
const newEventId = () => `it-${process.pid}-${++eventCounter}`;

describe('a generic event, end to end through the SDK to the sandbox', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('sends exactly one signed CreateClusterInstances equal to the seed example 2 plus InstanceCount and ClientToken', async () => {
    const eventId = newEventId();
    const nodesBefore = h.sandbox.instancesOf('cls-nfjdk3n0').length;
    const reply = await h.postGeneric({ eventId, cluster: 'demo-bj', template: 'multi-disk' });

    expect(reply.statusCode).toBe(200);
    expect(reply.json).toMatchObject({ status: 'created', eventId, clusterId: 'cls-nfjdk3n0', template: 'multi-disk', count: 1 });
    expect(reply.json.clientToken).toMatch(/^so2-[0-9a-f]{40}$/);
    expect(reply.json.instanceIds).toHaveLength(1);
    expect(reply.json.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const calls = h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances');
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    // The sandbox verified the TC3 signature; it records an error code when it does not.
    expect(call.errorCode).toBeUndefined();
    expect(call).toMatchObject({ region: 'ap-beijing', service: 'tke', host: 'tke.tencentcloudapi.com', secretId: SANDBOX_CREDENTIAL.secretId });
    expect(call.params.ClusterId).toBe(seed2.ClusterId);
    // The seed's request with the function's marks (core/marks.ts) on both sides.
    const marks = marksFor('generic', eventId);
    expect(JSON.parse(call.params.RunInstancePara as string)).toEqual({
      ...JSON.parse(seed2.RunInstancePara),
      TagSpecification: marks.TagSpecification,
      InstanceCount: 1,
      ClientToken: reply.json.clientToken,
    });
    // The SDK drops null fields before signing, so the seed's `"Taints": null` arrives as absent.
    const { Taints, ...seedAdvanced } = seed2.InstanceAdvancedSettings;
    expect(Taints).toBeNull();
    expect(call.params.InstanceAdvancedSettings).toEqual({ ...seedAdvanced, Labels: marks.Labels });
    expect(h.sandbox.instancesOf('cls-nfjdk3n0').length).toBe(nodesBefore + 1);
  });

  it('replays the same event: same instanceIds, no second call, no new node', async () => {
    const eventId = newEventId();
    const first = await h.postGeneric({ eventId, cluster: 'demo', template: 'small', count: 2 });
    const callsAfterFirst = h.sandbox.calls.length;
    const nodesAfterFirst = h.sandbox.instancesOf('cls-e55paxnt').length;

    const second = await h.postGeneric({ eventId, cluster: 'demo', template: 'small', count: 2 });
    expect(first.json.status).toBe('created');
    expect(second.statusCode).toBe(200);
    expect(second.json).toEqual({ ...first.json, status: 'replayed' });
    expect(h.sandbox.calls.length).toBe(callsAfterFirst);
    expect(h.sandbox.instancesOf('cls-e55paxnt').length).toBe(nodesAfterFirst);
  });

  it('treats Idempotency-Key as the event ID', async () => {
    const key = newEventId();
    const first = await h.postGeneric({ cluster: 'demo', template: 'small' }, { 'idempotency-key': key });
    const second = await h.postGeneric({ cluster: 'demo', template: 'small' }, { 'idempotency-key': key });
    expect([first.json.status, second.json.status]).toEqual(['created', 'replayed']);
    expect(second.json.instanceIds).toEqual(first.json.instanceIds);
  });

  it('refuses the same event ID for a different request with 422 naming the difference', async () => {
    const eventId = newEventId();
    await h.postGeneric({ eventId, cluster: 'demo', template: 'small', count: 1 });
    const calls = h.sandbox.calls.length;
    const reply = await h.postGeneric({ eventId, cluster: 'demo', template: 'small', count: 3 });
    expect(reply.statusCode).toBe(422);
    expect(reply.json.error).toEqual({ code: 'EventIdReused', message: expect.stringContaining('count was 1, now 3') });
    expect(h.sandbox.calls.length).toBe(calls);
  });

  it('answers a duplicate delivered while the first is still in flight with 409 and Retry-After', async () => {
    const eventId = newEventId();
    h.sandbox.injectFault({ kind: 'delay', ms: 400, action: 'CreateClusterInstances' });
    const [first, second] = await Promise.all([
      h.postGeneric({ eventId, cluster: 'demo', template: 'small' }),
      new Promise((r) => setTimeout(r, 100)).then(() => h.postGeneric({ eventId, cluster: 'demo', template: 'small' })),
    ]);
    expect(first.json.status).toBe('created');
    expect(second.statusCode).toBe(409);
    expect(second.json.error.code).toBe('EventInFlight');
    expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const third = await h.postGeneric({ eventId, cluster: 'demo', template: 'small' });
    expect(third.json).toEqual({ ...first.json, status: 'replayed' });
  });

  it('serves both SCF event shapes from events/', async () => {
    for (const name of ['generic-function-url.json', 'generic-api-gateway.json']) {
      const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events', name), 'utf8')) as ScfHttpEvent;
      // The samples carry the token `npm start` uses; the harness has its own.
      const headers = Object.fromEntries(
        Object.entries(event.headers ?? {}).map(([k, v]) => [k, k.toLowerCase() === 'authorization' ? `Bearer ${GENERIC_TOKEN}` : v]),
      );
      const reply = await h.invoke({ ...event, headers });
      expect({ name, status: reply.statusCode, body: reply.json.status }).toEqual({ name, status: 200, body: 'created' });
    }
    const gatewayCall = h.sandbox.calls.at(-1)!;
    expect(JSON.parse(gatewayCall.params.RunInstancePara as string)).toMatchObject({ InstanceCount: 2, Placement: { Zone: 'ap-guangzhou-3' } });
  });

  // The summary names ClusterIds and throttle settings, so it is not public.
  it('tells anyone only its status and whether the store answers', async () => {
    const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events', 'healthz-function-url.json'), 'utf8')) as ScfHttpEvent;
    const reply = await h.invoke(event);
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toEqual({ status: 'ok', store: { reachable: true } });
    const wrong = await h.invoke({ ...event, headers: { ...event.headers, authorization: 'Bearer guess' } } as ScfHttpEvent);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain('cls-');
  });

  it('reports its config on /healthz with the health token, without a secret', async () => {
    const event = JSON.parse(readFileSync(join(REPO_ROOT, 'events', 'healthz-function-url.json'), 'utf8')) as ScfHttpEvent;
    const reply = await h.invoke({ ...event, headers: { ...event.headers, authorization: `Bearer ${HEALTH_TOKEN}` } } as ScfHttpEvent);
    expect(reply.statusCode).toBe(200);
    expect(reply.json).toMatchObject({
      status: 'ok',
      clusters: { demo: { clusterId: 'cls-e55paxnt', region: 'ap-guangzhou' }, 'demo-bj': { clusterId: 'cls-nfjdk3n0', region: 'ap-beijing' } },
      templates: ['small', 'multi-disk', 'burst'],
      ladders: { burst: 4 },
      sources: ['generic', 'alertmanager', 'grafana', 'tencent-monitor', 'slack', 'feishu', 'dingtalk'],
      store: { kind: 'memory', shared: false, reachable: true },
      tke: { mode: 'endpoint-override', endpoint: expect.stringContaining('signed as tke.tencentcloudapi.com') },
    });
    for (const secret of [GENERIC_TOKEN, SANDBOX_CREDENTIAL.secretKey, SANDBOX_CREDENTIAL.secretId]) expect(reply.body).not.toContain(secret);
  });

  it('writes one JSON log line per decision, with no secret in any line', async () => {
    const before = h.logLines.length;
    const eventId = newEventId();
    await h.postGeneric({ eventId, cluster: 'demo', template: 'small' });
    await h.postGeneric({ eventId, cluster: 'demo', template: 'small' });
    await h.postGeneric({ eventId: newEventId(), cluster: 'demo', template: 'small' }, { authorization: 'Bearer wrong-token' });
    const lines = h.logLines.slice(before);
    expect(lines.map((l) => [l.msg, l.outcome, l.status])).toEqual([
      ['scale-out decision', 'created', 200],
      ['scale-out decision', 'replayed', 200],
      ['scale-out decision', 'rejected', 401],
    ]);
    expect(lines[0]).toMatchObject({ level: 'info', source: 'generic', eventId, clusterId: 'cls-e55paxnt', template: 'small', count: 1, attempts: 1 });
    expect(lines[0]!.instanceIds).toHaveLength(1);
    expect(lines[2]).toMatchObject({ level: 'warn', error: { code: 'Unauthorized', message: 'wrong bearer token' } });
    const everything = h.rawLog.join('\n');
    for (const secret of [GENERIC_TOKEN, 'wrong-token', SANDBOX_CREDENTIAL.secretKey]) expect(everything).not.toContain(secret);
  });
});

describe('bad input: a precise 4xx and nothing sent to TKE', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  const valid = { eventId: 'bad-input-1', cluster: 'demo', template: 'small' };
  const cases: Array<[string, unknown, Record<string, string>, number, string]> = [
    ['a wrong token', valid, { authorization: 'Bearer nope' }, 401, 'Unauthorized'],
    ['no token', valid, { authorization: '' }, 401, 'Unauthorized'],
    ['malformed JSON', '{"eventId": "x", ', {}, 400, 'InvalidJson'],
    ['a wrong content type', valid, { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UnsupportedMediaType'],
    ['an oversized body', { ...valid, reason: 'x'.repeat(70_000) }, {}, 413, 'PayloadTooLarge'],
    ['an unknown cluster', { ...valid, cluster: 'prod' }, {}, 422, 'UnknownCluster'],
    ['an unknown template', { ...valid, template: 'gpu' }, {}, 422, 'UnknownTemplate'],
    ['an undeclared param', { ...valid, params: { instanceType: 'S6.HUGE' } }, {}, 422, 'UnknownParam'],
    ['a param value not allowed', { ...valid, params: { zone: 'ap-shanghai-2' } }, {}, 422, 'ParamValueNotAllowed'],
    ['a count out of range', { ...valid, count: 50 }, {}, 422, 'CountOutOfRange'],
    ['a negative count', { ...valid, count: -1 }, {}, 422, 'CountOutOfRange'],
    ['a __proto__ key', '{"eventId":"p","cluster":"demo","template":"small","__proto__":{"polluted":true}}', {}, 400, 'ForbiddenKey'],
    ['a constructor key', '{"eventId":"p","cluster":"demo","template":"small","params":{"constructor":1}}', {}, 400, 'ForbiddenKey'],
    ['a 10 KB event ID', { ...valid, eventId: 'e'.repeat(10 * 1024) }, {}, 400, 'InvalidEventId'],
    ['a non-ASCII event ID', { ...valid, eventId: '事件-1' }, {}, 400, 'InvalidEventId'],
    ['a missing event ID', { cluster: 'demo', template: 'small' }, {}, 400, 'MissingEventId'],
  ];

  it.each(cases)('%s', async (_name, body, headers, status, code) => {
    const callsBefore = h.sandbox.calls.length;
    const reply = await h.postGeneric(body, headers);
    expect({ status: reply.statusCode, code: reply.json.error?.code }).toEqual({ status, code });
    expect(typeof reply.json.error.message).toBe('string');
    expect(h.sandbox.calls.length).toBe(callsBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers unknown senders 404, wrong methods 405, and events that are not HTTP 400', async () => {
    const post = (path: string, httpMethod = 'POST') => h.invoke({ httpMethod, path, headers: {}, body: '' });
    expect((await post('/hooks/nagios')).statusCode).toBe(404);
    expect((await post('/nothing-here')).statusCode).toBe(404);
    const wrongMethod = await post('/hooks/generic', 'GET');
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    const timer = await h.function.handler({ Type: 'Timer' } as unknown as ScfHttpEvent, {});
    expect(timer.statusCode).toBe(400);
    expect(h.sandbox.calls).toHaveLength(0);
  });

  it('never answers 500 to a flood of junk', async () => {
    const junk = ['', 'null', '[]', '"x"', '{"eventId":null}', '{"eventId":1,"cluster":2,"template":3}', '\u0000\u0001', '{"params":[]}', '{"count":1e309}'];
    for (const body of junk) {
      const reply = await h.postGeneric(body);
      expect(reply.statusCode).toBeGreaterThanOrEqual(400);
      expect(reply.statusCode).toBeLessThan(500);
    }
    expect(h.sandbox.calls).toHaveLength(0);
  });
});

describe('TKE failures: retries with the same ClientToken, never nodes twice', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ env: {} });
  });
  afterEach(() => h.close());

  it('retries an InternalError and succeeds with the same request', async () => {
    h.sandbox.injectFault({ kind: 'error', code: 'InternalError', action: 'CreateClusterInstances' });
    const reply = await h.postGeneric({ eventId: newEventId(), cluster: 'demo', template: 'small' });
    expect(reply.json.status).toBe('created');
    const calls = h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances');
    expect(calls.map((c) => c.errorCode)).toEqual(['InternalError', undefined]);
    expect(calls[0]!.params).toEqual(calls[1]!.params);
  });

  it('recovers the first instances when the answer was lost after TKE created them', async () => {
    h.sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances' });
    const reply = await h.postGeneric({ eventId: newEventId(), cluster: 'demo', template: 'small', count: 2 });
    expect(reply.json.status).toBe('created');
    // Two calls reached TKE (the first one's answer was lost), but only the first added nodes.
    expect(h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances')).toHaveLength(2);
    expect(h.sandbox.createdCalls).toHaveLength(1);
    expect(reply.json.instanceIds).toEqual(h.sandbox.createdCalls[0]!.instanceIds);
    expect(h.sandbox.instancesOf('cls-e55paxnt')).toHaveLength(3 + 2);
  });

  it('answers a quota error with 409, frees the event, and a later delivery succeeds with the same ClientToken', async () => {
    const eventId = newEventId();
    h.sandbox.injectFault({ kind: 'error', code: 'FailedOperation.QuotaMaxNodLimit', action: 'CreateClusterInstances' });
    const refused = await h.postGeneric({ eventId, cluster: 'demo', template: 'small' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json.error).toMatchObject({ code: 'FailedOperation.QuotaMaxNodLimit', requestId: expect.any(String), attempts: 1 });

    const retried = await h.postGeneric({ eventId, cluster: 'demo', template: 'small' });
    expect(retried.json.status).toBe('created');
    const tokens = h.sandbox.calls.map((c) => JSON.parse(c.params.RunInstancePara as string).ClientToken);
    expect(new Set(tokens).size).toBe(1);
  });

  it('maps the real quota check of the sandbox to 409 with TKE code and RequestId', async () => {
    const reply = await h.postGeneric({ eventId: newEventId(), cluster: 'demo-bj', template: 'multi-disk', count: 10 });
    expect(reply.json.status).toBe('created');
    const more = [];
    for (let i = 0; i < 4; i++) more.push(await h.postGeneric({ eventId: newEventId(), cluster: 'demo-bj', template: 'multi-disk', count: 10 }));
    const last = more.at(-1)!;
    expect(last.statusCode).toBe(409);
    expect(last.json.error.code).toBe('FailedOperation.QuotaMaxNodLimit');
    expect(h.sandbox.instancesOf('cls-nfjdk3n0').length).toBeLessThanOrEqual(50);
  });

  it('gives up on a persistent 5xx with 502 after the configured attempts', async () => {
    h.sandbox.injectFault({ kind: 'http', status: 503, times: 10 });
    const reply = await h.postGeneric({ eventId: newEventId(), cluster: 'demo', template: 'small' });
    expect(reply.statusCode).toBe(502);
    expect(reply.json.error).toMatchObject({ code: 'TkeHttpError', attempts: 4 });
    expect(reply.body).not.toContain('127.0.0.1');
  });

  it('stops at the function deadline with 504, and the redelivery gets the nodes TKE made meanwhile', async () => {
    const eventId = newEventId();
    h.sandbox.injectFault({ kind: 'delay', ms: 1500, action: 'CreateClusterInstances' });
    const timedOut = await h.postGeneric({ eventId, cluster: 'demo', template: 'small' }, {}, 1000);
    expect(timedOut.statusCode).toBe(504);
    expect(timedOut.json.error.code).toBe('TkeTimeout');

    await new Promise((r) => setTimeout(r, 700)); // the sandbox finishes the slow call
    const redelivered = await h.postGeneric({ eventId, cluster: 'demo', template: 'small' });
    expect(redelivered.json.status).toBe('created');
    expect(h.sandbox.createdCalls).toHaveLength(1);
    expect(redelivered.json.instanceIds).toEqual(h.sandbox.createdCalls[0]!.instanceIds);
  });
});

describe('the sandbox judges signatures as TKE does', () => {
  it('refuses a wrong secret key: AuthFailure, 502 to the sender, not retried', async () => {
    const h = await startHarness({ env: { TENCENTCLOUD_SECRETKEY: 'not-the-key' } });
    try {
      const reply = await h.postGeneric({ eventId: 'auth-1', cluster: 'demo', template: 'small' });
      expect(reply.statusCode).toBe(502);
      expect(reply.json.error.code).toBe('AuthFailure.SignatureFailure');
      expect(h.sandbox.calls).toHaveLength(1);
      expect(h.sandbox.instancesOf('cls-e55paxnt')).toHaveLength(3);
    } finally {
      await h.close();
    }
  });

  it('requires the session token for temporary credentials', async () => {
    const temporary = { secretId: 'AKIDtemporary000000000000000000000000', secretKey: 'tmp-key', token: 'session-token-1' };
    const h = await startHarness({
      sandbox: { credentials: [temporary] },
      env: { TENCENTCLOUD_SECRETID: temporary.secretId, TENCENTCLOUD_SECRETKEY: temporary.secretKey },
    });
    try {
      const without = await h.postGeneric({ eventId: 'tmp-1', cluster: 'demo', template: 'small' });
      expect(without.json.error.code).toBe('AuthFailure.TokenFailure');
    } finally {
      await h.close();
    }
    const withToken = await startHarness({
      sandbox: { credentials: [temporary] },
      env: { TENCENTCLOUD_SECRETID: temporary.secretId, TENCENTCLOUD_SECRETKEY: temporary.secretKey, TENCENTCLOUD_SESSIONTOKEN: temporary.token },
    });
    try {
      expect((await withToken.postGeneric({ eventId: 'tmp-2', cluster: 'demo', template: 'small' })).json.status).toBe('created');
    } finally {
      await withToken.close();
    }
  });

  it('answers an unknown cluster with the seed code, which the function maps to 422', async () => {
    const h = await startHarness({ sandbox: { clusters: [{ clusterId: 'cls-nfjdk3n0', region: 'ap-beijing' }] } });
    try {
      const reply = await h.postGeneric({ eventId: 'gone-1', cluster: 'demo', template: 'small' });
      expect(reply.statusCode).toBe(422);
      expect(reply.json.error.code).toBe('FailedOperation.ClusterNotFound');
    } finally {
      await h.close();
    }
  });
});
