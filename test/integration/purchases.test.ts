import type { FunctionUrlEvent } from '../../src/scf/event';
import { signSlackRequest } from '../../src/auth/slack-signature';
import { MARK_KEYS } from '../../src/core/marks';
import { RELAXED_THROTTLE } from '../support/fixtures';
import { HEALTH_TOKEN, startHarness, type Harness } from '../support/harness';

/**
 * What the function bought, through the real handler and the sandbox: every call that may have
 * bought is a purchase with its record, marked on the node (labels) and the instance (tags), and
 * listed by `GET /purchases` for whoever holds the health token.
 */
let h: Harness;
afterEach(async () => h?.close());

const list = (query: Record<string, string> = {}, token: string | null = HEALTH_TOKEN) =>
  h.invoke({
    httpMethod: 'GET',
    path: '/purchases',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    queryString: query,
    body: '',
  } as FunctionUrlEvent);

describe('the purchase record', () => {
  it('a purchase is recorded with its instances, and its nodes carry its marks on both sides', async () => {
    h = await startHarness({ config: (doc) => (doc.throttle = RELAXED_THROTTLE) });
    const bought = await h.postGeneric({ eventId: 'buy-1', cluster: 'demo-bj', template: 'multi-disk', count: 2, reason: 'queue depth' });
    expect(bought.json.status).toBe('created');
    const listed = await list();
    expect(listed.statusCode).toBe(200);
    expect(listed.json.purchases).toHaveLength(1);
    const purchase = listed.json.purchases[0];
    expect(purchase).toMatchObject({
      state: 'created',
      cluster: 'demo-bj',
      clusterId: 'cls-nfjdk3n0',
      template: 'multi-disk',
      rung: 1,
      zone: 'ap-beijing-1',
      instanceType: 'S5.LARGE8',
      count: 2,
      instanceIds: bought.json.instanceIds,
      clientToken: bought.json.clientToken,
      askedBy: { source: 'generic', eventId: 'buy-1', reason: 'queue depth' },
    });
    expect(purchase.id).toMatch(/^p-[0-9a-f]{16}$/);
    // The sandbox's instances carry the same marks: tags on the instance, labels for the node.
    const instances = h.sandbox.instancesOf('cls-nfjdk3n0').filter((i) => bought.json.instanceIds.includes(i.InstanceId));
    expect(instances).toHaveLength(2);
    for (const instance of instances) {
      expect(instance.Tags).toEqual(expect.arrayContaining([{ Key: MARK_KEYS.owner, Value: 'tke-scaleout' }, { Key: MARK_KEYS.purchase, Value: purchase.id }]));
      expect(instance.Labels).toEqual(expect.arrayContaining([{ Name: MARK_KEYS.purchase, Value: purchase.id }]));
    }
    // A replay adds no purchase.
    await h.postGeneric({ eventId: 'buy-1', cluster: 'demo-bj', template: 'multi-disk', count: 2, reason: 'queue depth' });
    expect((await list()).json.purchases).toHaveLength(1);
  });

  it('an unknown outcome is a purchase too, without instances; the re-send that completes it fills them in, one record', async () => {
    h = await startHarness({ config: (doc) => (doc.throttle = RELAXED_THROTTLE) });
    h.sandbox.injectFault({ kind: 'drop-after-create', action: 'CreateClusterInstances', times: 10 });
    const lost = await h.postGeneric({ eventId: 'lost-1', cluster: 'demo', template: 'small', count: 1 });
    expect(lost.json.error).toMatchObject({ outcome: 'unknown' });
    const first = (await list()).json.purchases;
    expect(first).toMatchObject([{ state: 'requested', instanceIds: [], askedBy: { eventId: 'lost-1' } }]);
    h.sandbox.clearFaults();
    const done = await h.postGeneric({ eventId: 'lost-1', cluster: 'demo', template: 'small', count: 1 });
    expect(done.json.status).toBe('created');
    const after = (await list()).json.purchases;
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: first[0].id, state: 'created', instanceIds: done.json.instanceIds, requestedAt: first[0].requestedAt });
  });

  it('a call refused outright bought nothing: no purchase is listed; one whose answer was lost is, before its answer was due', async () => {
    h = await startHarness({ config: (doc) => (doc.throttle = RELAXED_THROTTLE) });
    h.sandbox.injectFault({ kind: 'error', code: 'InvalidParameter', action: 'CreateClusterInstances' });
    expect((await h.postGeneric({ eventId: 'refused-1', cluster: 'demo', template: 'small', count: 1 })).statusCode).toBe(422);
    expect((await list()).json).toEqual({ purchases: [] });
    // While the call is in flight, the purchase is already recorded: a crash now leaves it to follow.
    let during: unknown;
    h.sandbox.injectFault({ kind: 'delay', ms: 300, action: 'CreateClusterInstances' });
    const inFlight = h.postGeneric({ eventId: 'slow-1', cluster: 'demo', template: 'small', count: 1 });
    await new Promise((r) => setTimeout(r, 150));
    during = (await list()).json.purchases;
    expect(during).toMatchObject([{ state: 'requested', askedBy: { eventId: 'slow-1' }, instanceIds: [] }]);
    expect((await inFlight).json.status).toBe('created');
    expect((await list()).json.purchases).toMatchObject([{ state: 'created', askedBy: { eventId: 'slow-1' } }]);
  });

  it('filters by cluster (alias or ClusterId) and state, newest first, with a limit', async () => {
    h = await startHarness({ config: (doc) => (doc.throttle = RELAXED_THROTTLE) });
    await h.postGeneric({ eventId: 'a', cluster: 'demo', template: 'small', count: 1 });
    await h.postGeneric({ eventId: 'b', cluster: 'demo-bj', template: 'multi-disk', count: 1 });
    await h.postGeneric({ eventId: 'c', cluster: 'demo', template: 'small', count: 1 });
    expect((await list({ cluster: 'demo' })).json.purchases.map((p: { askedBy: { eventId: string } }) => p.askedBy.eventId)).toEqual(['c', 'a']);
    expect((await list({ cluster: 'cls-nfjdk3n0' })).json.purchases.map((p: { askedBy: { eventId: string } }) => p.askedBy.eventId)).toEqual(['b']);
    expect((await list({ state: 'ready' })).json.purchases).toEqual([]);
    expect((await list({ limit: '1' })).json.purchases).toHaveLength(1);
  });

  it('the authenticated /healthz shows each cluster\'s node budget (used, left, cooldown) and its open purchases', async () => {
    h = await startHarness({ config: (doc) => (doc.throttle = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 }) });
    await h.postGeneric({ eventId: 'hz-1', cluster: 'demo', template: 'small', count: 3 });
    const health = await h.invoke({ httpMethod: 'GET', path: '/healthz', headers: { authorization: `Bearer ${HEALTH_TOKEN}` }, queryString: {}, body: '' } as FunctionUrlEvent);
    expect(health.json.clusters.demo).toMatchObject({ nodeBudget: { used: 3, left: 17, windowSeconds: 3600, cooldownUntil: expect.any(String) }, purchases: { open: 1 } });
    expect(health.json.clusters['demo-bj']).toMatchObject({ nodeBudget: { used: 0, left: 20 }, purchases: { open: 0 } });
  });

  it.each([
    [{ cluster: 'nowhere' }, 'UnknownCluster', /cluster: "nowhere"/],
    [{ state: 'bought' }, 'InvalidState', /state: one of requested/],
    [{ limit: '0' }, 'InvalidLimit', /limit/],
    [{ limit: '1e9' }, 'InvalidLimit', /limit/],
  ])('a bad filter %j is a 400 naming the field', async (query, code, message) => {
    h = await startHarness();
    const reply = await list(query as Record<string, string>);
    expect(reply.statusCode).toBe(400);
    expect(reply.json.error).toMatchObject({ code, message: expect.stringMatching(message) });
  });

  it('takes the health token: none is 401, a wrong one 401, and without a configured token it is not served', async () => {
    h = await startHarness();
    expect((await list({}, null)).statusCode).toBe(401);
    expect((await list({}, 'wrong-token')).statusCode).toBe(401);
    await h.close();
    h = await startHarness({ config: (doc) => delete doc.health });
    expect((await list()).statusCode).toBe(404);
  });
});

describe('/scaleout status in chat', () => {
  const SECRET = 'slack-signing-secret';
  let trigger = 0;
  const slack = (text: string, user = 'U2CERLKJA') => {
    const body = new URLSearchParams({ team_id: 'T0001', channel_id: 'C1', user_id: user, user_name: 'roadrunner', command: '/scaleout', text, response_url: 'https://hooks.slack.com/commands/1/2', trigger_id: `1.2.${++trigger}` }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    return h.invoke({ httpMethod: 'POST', path: '/hooks/slack', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest(SECRET, ts, body) }, body } as FunctionUrlEvent);
  };

  it("answers an allowed user with each cluster's node budget and what was bought, privately; buys nothing", async () => {
    h = await startHarness({ env: { SLACK_SIGNING_SECRET: SECRET, SCALEOUT_CHAT_ALLOW: 'U2CERLKJA', SCALEOUT_FUNCTION_NAME: '' }, config: (doc) => (doc.throttle = { cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 }) });
    await h.postGeneric({ eventId: 'status-1', cluster: 'demo', template: 'small', count: 2 });
    const creates = h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances').length;
    const all = await slack('status');
    expect(all.statusCode).toBe(200);
    expect(all.json.response_type).toBe('ephemeral');
    expect(all.json.text).toMatch(/^demo \(cls-e55paxnt\): node budget: 2 used, 18 left per 3600 s, cooldown for \d+ s; in progress: 1 created\./m);
    expect(all.json.text).toContain(`p-`);
    expect(all.json.text).toMatch(/^demo-bj \(cls-nfjdk3n0\): node budget: 0 used, 20 left per 3600 s; nothing in progress\./m);
    const one = await slack('status demo');
    expect(one.json.text).not.toContain('demo-bj');
    expect(one.json.text).toMatch(/^  p-[0-9a-f]{16} 2 node\(s\) created, 0 min ago$/m);
    expect(h.sandbox.calls.filter((c) => c.action === 'CreateClusterInstances')).toHaveLength(creates);
  });

  it('an unknown cluster gets the help with why; a user not allowed gets nothing of it', async () => {
    h = await startHarness({ env: { SLACK_SIGNING_SECRET: SECRET, SCALEOUT_CHAT_ALLOW: 'U2CERLKJA', SCALEOUT_FUNCTION_NAME: '' } });
    const unknown = await slack('status nowhere');
    expect(unknown.json.text).toMatch(/Not understood: .*nowhere/);
    const stranger = await slack('status', 'U999');
    expect(stranger.json.text).toMatch(/may not scale/);
    expect(stranger.json.text).not.toMatch(/node budget/);
  });
});
